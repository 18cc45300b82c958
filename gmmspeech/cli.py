"""The ``gmmspeech`` command line: parses, calls one library function (:mod:`gmmspeech.app`), prints.

Exit codes: 0 ok, 1 bad input (an ``error:`` line naming the file, line or key), 2 usage, 3 internal error (a bug:
the message asks for a report; ``--debug`` shows the traceback).
"""

from __future__ import annotations

import contextlib
import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand

from . import __version__
from .app.tasks import TASKS
from .infra.errors import GmmspeechError, UsageError
from .infra.text import terminal_safe

#: How each parameter's value is shown in --help (by parameter name; flags show none).
METAVARS = {
    "recipe": "RECIPE", "manifest": "MANIFEST", "model": "MODEL", "paths": "PATH", "layout": "LAYOUT",
    "root": "ROOT", "jobs": "N", "cache": "DIR", "task": "language|speaker|genre", "config": "FILE",
    "components": "K", "iterations": "N", "tol": "X", "init": "METHOD", "var_floor": "X", "seed": "N",
    "model_type": "per_class|ubm_map", "relevance": "R", "top_c": "C", "adapt": "[mwv]", "top": "K",
    "segment": "SECONDS", "fmt": "table|csv|json", "report": "DIR", "reject_below": "T", "test_fraction": "F",
    "dev_fraction": "F", "max_per_class": "N", "speaker_regex": "REGEX", "speakers": "FILE", "languages": "LANGS",
    "split": "random|filtered", "split_lists": "DIR", "split_file": "FILE", "min_files": "N", "heldout": "F",
    "n_init": "N", "plot": "FILE", "scheduler": "tcp://HOST:PORT", "out": "DIR", "name": "NAME", "folds": "K",
    "group": "COLUMN", "calibration": "none|logistic",
}


class _Command(TyperCommand):
    """Usage lines that read ``gmmspeech train [OPTIONS] MANIFEST`` (required arguments bare, optional ones in
    brackets, repeatable ones with ``...``) and plain metavars (:data:`METAVARS`) instead of types."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.name in METAVARS and not getattr(param, "is_flag", False):
                param.metavar = METAVARS[param.name]
            if param.name == "output":
                param.metavar = "DIR" if self.name == "prepare" else "MODEL"
            if self.name == "select" and param.name == "manifest":
                param.metavar = "MANIFEST|RECIPE"

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = (param.metavar or (param.name or "").upper()) + ("..." if param.nargs != 1 else "")
                pieces.append(name if param.required else f"[{name}]")
        return pieces


class _App(typer.Typer):
    """The app, every command rendered by :class:`_Command`."""

    def command(self, *args, **kwargs):
        kwargs.setdefault("cls", _Command)
        return super().command(*args, **kwargs)


app = _App(
    help="Train and evaluate GMM classifiers of languages, genres or speakers from audio.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)

JobsOpt = Annotated[int | None, typer.Option("--jobs", "-j", help="Worker processes (default: as many as pay "
                                                                  "off, up to all cores).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output on stderr.")]
CacheOpt = Annotated[Path | None, typer.Option("--cache", help="Feature cache folder (default: $GMMSPEECH_CACHE "
                                                               "or ~/.cache/gmmspeech/features).")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Do not read or write the feature cache.")]
SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler", metavar="tcp://HOST:PORT",
    help="Run feature extraction, EM E-steps and scoring on this Dask scheduler's workers (needs the 'dask' "
         "extra; workers must share the audio and cache paths). Default: local processes.")]


def _feature_cache(cache: Path | None, no_cache: bool):
    """The FeatureCache the options ask for, or None when caching is off."""
    from .app.cache import open_cache

    return open_cache(cache, enabled=not no_cache)


class Calibration(StrEnum):
    none = "none"
    logistic = "logistic"


class ModelType(StrEnum):
    per_class = "per_class"
    ubm_map = "ubm_map"


Task = StrEnum("Task", {t: t for t in TASKS})
TaskOpt = Annotated[Task | None, typer.Option(
    "--task", help="Task preset: feature and model settings measured for language, speaker or genre "
                   "(under --config and explicit options; see README's preset table). Default: none.")]
ConfigOpt = Annotated[Path | None, typer.Option(
    help="TOML with settings: a recipe (its task, [features] and [model] tables) or top-level "
         "FeatureConfig keys. Overrides --task's preset; explicit options override it.")]


def _settings(task, config: Path | None, options: dict | None = None):
    """Effective settings of a command (see :func:`gmmspeech.app.recipe.resolve_settings`)."""
    from .app.recipe import resolve_settings

    return resolve_settings(None if task is None else task.value, config, options)


class Fmt(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


_DEBUG = {"on": bool(os.environ.get("GMMSPEECH_DEBUG"))}
#: Exit status of an internal error (a bug in gmmspeech rather than bad input).
EXIT_INTERNAL = 3


def _echo(text: str = "", *, err: bool = False) -> None:
    """Print ``text`` with control characters made visible (labels and paths come from users' files)."""
    typer.echo(terminal_safe(str(text)), err=err)


def _err(msg: str) -> None:
    typer.secho(terminal_safe(f"error: {msg}"), fg=typer.colors.RED, err=True)


def _warn(msg: str) -> None:
    typer.secho(terminal_safe(f"warning: {msg}"), fg=typer.colors.YELLOW, err=True)


@contextlib.contextmanager
def _user_errors():
    """Bad input (a :class:`GmmspeechError`, or an ``OSError`` on a path the user gave) becomes one ``error:``
    message and exit status 1 (2 for a :class:`UsageError`); anything else is reported as an internal error."""
    try:
        yield
    except (typer.Exit, typer.Abort, typer.BadParameter, KeyboardInterrupt):
        raise
    except GmmspeechError as exc:
        _err(str(exc))
        raise typer.Exit(2 if isinstance(exc, UsageError) else 1) from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        _err(f"{where}{exc.strerror or exc}")
        raise typer.Exit(1) from None
    except Exception as exc:
        if _DEBUG["on"]:
            raise
        _err(f"internal error -- please report it with the command you ran ({type(exc).__name__}: {exc}); "
             "run with --debug (or GMMSPEECH_DEBUG=1) for the traceback")
        raise typer.Exit(EXIT_INTERNAL) from None


def _one_open_set(open_set: bool, reject_below: float | None) -> None:
    if open_set and reject_below is not None:
        raise UsageError("--open-set and --reject-below both set the open-set thresholds: give one of them "
                         "(--open-set: per-class thresholds calibrated at training; --reject-below T: one for all)")


def _report_skipped(errors, what: str, *, fatal: bool = False) -> None:
    """List files that failed: an ``error:`` when the command will exit non-zero, else a ``warning:``."""
    if errors:
        (_err if fatal else _warn)(f"{len(errors)} file(s) skipped during {what}:")
        for u, msg in errors:
            _echo(f"  {u.name}{f' (manifest line {u.line})' if u.line else ''}: {msg}", err=True)


def _print_evaluation(res) -> None:
    from .app.report import format_confusion, format_metrics

    _echo(format_metrics(res.metrics))
    _echo("")
    _echo("confusion matrix (rows: true class, columns: predicted)")
    _echo(format_confusion(res.confusion, res.labels))
    if res.unknown_labels:
        _warn(f"test labels unknown to the model (always counted wrong): {', '.join(res.unknown_labels)}")


@app.command()
def run(
    recipe: Annotated[str, typer.Argument(help="Recipe TOML file, or a bundled recipe: demo (language ID), "
                                               "demo-genre (music genre); see `gmmspeech recipes`.")],
    out: Annotated[Path | None, typer.Option("--out", help="Folder for models/ and reports/ (default: the "
                                             "recipe's paths; for a bundled demo, the current folder).")] = None,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    scheduler: SchedulerOpt = None,
):
    """Run a recipe end to end: features, training, model file, evaluation report.

    \b
    Examples:
      gmmspeech run demo                       # bundled 6-language demo, writes ./models and ./reports
      gmmspeech run recipes/gtzan_genre.toml -j 2
    """
    from .app.bundled import bundled_run
    from .app.pipeline import run_recipe

    with _user_errors():
        res = run_recipe(bundled_run(recipe, out), n_jobs=jobs, quiet=quiet, cache=_feature_cache(cache, no_cache),
                         scheduler=scheduler)
        _report_skipped(res.training.errors, "training")
        _note_convergence(res.training.meta)
        _echo(f"model saved to {res.model_path}", err=True)
        ev = res.evaluation
        if ev is None:
            return
        _report_skipped(ev.errors, "evaluation")
        _echo(f"recipe {res.recipe.name}: {res.n_train} training files, {res.n_test} test files, "
              f"{res.seconds:.1f} s")
        _print_evaluation(ev)
        if res.report_error:
            _err(res.report_error)
            raise typer.Exit(1)
        _echo(f"report written to {res.report_dir}", err=True)


def _note_convergence(meta) -> None:
    """Say what '(not converged)' in the training lines means, once, when it applies."""
    tr = meta.training
    if tr is None or not tr.not_converged:
        return
    model = tr.model or {}
    _echo(f"note: EM stopped at the {model.get('iterations')}-iteration limit before the log-likelihood changed by "
          f"less than {model.get('tolerance')} per frame for {len(tr.not_converged)} of {len(tr.converged)} "
          "class(es) ('not converged'). The models are usable; the last iterations only refine them. Raise "
          "--iterations (or [model] iterations) if held-out accuracy still improves with more.", err=True)


recipes_app = _App(no_args_is_help=False, invoke_without_command=True, rich_markup_mode=None,
                   context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
app.add_typer(recipes_app, name="recipes")


@recipes_app.callback()
def recipes_list(ctx: typer.Context):
    """The recipes shipped with gmmspeech: list them (name, task, description), copy one out to edit.

    \b
    Examples:
      gmmspeech recipes
      gmmspeech recipes copy gtzan_genre .     # then edit its [data] paths and run it
    """
    if ctx.invoked_subcommand is not None:
        return
    from .app.bundled import ALIASES, bundled_recipes

    with _user_errors():
        rows = bundled_recipes()
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        where = "runs anywhere (data bundled)" if r["runs_anywhere"] else "needs its corpus"
        _echo(f"{r['name']:<{width}}  {r['task'] or '-':<8}  {where:<28}  {r['description']}")
    _echo("aliases: " + ", ".join(f"{a} = {n}" for a, n in ALIASES.items()) + " (gmmspeech run demo)")


@recipes_app.command("copy")
def recipes_copy(
    name: Annotated[str, typer.Argument(help="Bundled recipe name (see `gmmspeech recipes`).")],
    dest: Annotated[Path, typer.Argument(help="Folder (or file name) to copy it to.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
):
    """Copy a bundled recipe out for editing.

    \b
    Examples:
      gmmspeech recipes copy gtzan_genre .
      gmmspeech recipes copy demo my_lid.toml
    """
    from .app.bundled import copy_recipe

    with _user_errors():
        target = copy_recipe(name, dest, overwrite=force)
    _echo(f"copied to {target}")


@app.command()
def train(
    manifest: Annotated[Path, typer.Argument(help="Training manifest (CSV with path,label columns).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model file to write (.npz).")],
    task: TaskOpt = None,
    config: ConfigOpt = None,
    components: Annotated[int | None, typer.Option(help="Gaussians per class (ubm_map: of the UBM). "
                                                        "Default 64, or the task preset's.", min=1)] = None,
    iterations: Annotated[int | None, typer.Option(help="Maximum EM iterations (default: 50 per class; "
                                                        "ubm_map: 8 at the UBM's full size).", min=1)] = None,
    tol: Annotated[float | None, typer.Option(help="Convergence threshold on log-likelihood per frame "
                                                   "(default 1e-4).", min=0.0)] = None,
    init: Annotated[str | None, typer.Option(help="Initialisation: kmeans++, random or split (default: "
                                                  "kmeans++); ubm_map: mixup (default) or kmeans++.")] = None,
    var_floor: Annotated[float | None, typer.Option(help="Variance floor relative to the global variance "
                                                         "(default 1e-3).", min=0.0)] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 0).", min=0)] = None,
    model_type: Annotated[ModelType | None, typer.Option("--model-type", help="per_class (default): one GMM per "
                                                         "label trained by EM; ubm_map: one UBM on all labels, each "
                                                         "label MAP-adapted from it (GMM-UBM).")] = None,
    relevance: Annotated[float | None, typer.Option(help="ubm_map: MAP relevance factor in frames "
                                                         "(default 16).", min=1e-6)] = None,
    top_c: Annotated[int | None, typer.Option("--top-c", help="ubm_map: UBM components scored per frame "
                                                              "(default 5).", min=1)] = None,
    adapt: Annotated[str | None, typer.Option(help="ubm_map: adapted parameters, any of m (means), w (weights), "
                                                   "v (variances); default m.")] = None,
    calibration: Annotated[Calibration | None, typer.Option(help="Score back-end: none, or logistic (multiclass "
                                                               "logistic regression on out-of-fold scores of the "
                                                               "training files). Default none, or the preset's.")]
    = None,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    scheduler: SchedulerOpt = None,
):
    """Train one GMM per label of a manifest (or a GMM-UBM with --model-type ubm_map) and save the model.

    Settings: built-in defaults, then the --task preset, then --config, then the options given here.

    \b
    Examples:
      gmmspeech train data_manifests/demo/train.csv -o lid.npz --task language
      gmmspeech train train.csv -o spk.npz --task speaker --model-type ubm_map --components 256
    """
    from .app.pipeline import train_model

    with _user_errors():
        st = _settings(task, config, {
            "components": components, "iterations": iterations, "tolerance": tol, "init": init,
            "var_floor": var_floor, "seed": seed, "type": None if model_type is None else model_type.value,
            "relevance": relevance, "top_c": top_c, "adapt": adapt,
            "calibration": None if calibration is None else calibration.value})
        res = train_model(manifest, output, st, n_jobs=jobs, quiet=quiet, cache=_feature_cache(cache, no_cache),
                          scheduler=scheduler)
        _report_skipped(res.errors, "training")
        _echo(f"model saved to {output} ({len(res.classifier.classes_)} classes)")


@app.command()
def score(
    model: Annotated[Path, typer.Argument(help="Model file.")],
    paths: Annotated[list[Path], typer.Argument(help="Audio files, folders (searched recursively) or manifests.")],
    top: Annotated[int, typer.Option(help="How many best classes to list per file.", min=1)] = 3,
    segment: Annotated[float | None, typer.Option(help="Score consecutive segments of this many seconds "
                                                       "(one row per segment).", min=0.1)] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="Output format.")] = Fmt.table,
    reject_below: Annotated[float | None, typer.Option(
        help="Open set: label a file 'unknown' when every class's mean log-likelihood per frame is below T.",
        metavar="T")] = None,
    open_set: Annotated[bool, typer.Option("--open-set", help="Open set with the per-class thresholds "
                                                              "calibrated at training time.")] = False,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    novelty: Annotated[bool, typer.Option("--novelty", help="Label a file 'unknown' when more of its frames than "
                                          "calibrated at training time look like no class (outlier frames); "
                                          "adds outlier-fraction and novel columns.")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="With a score back-end in the model: decide on the raw "
                                      "mean log-likelihoods instead of calibrated log-posteriors.")] = False,
):
    """Tell which class each audio file (or segment) belongs to; exit code 1 if any file failed.

    Posteriors are the softmax of the per-class mean log-likelihoods per frame (flat prior).

    \b
    Examples:
      gmmspeech score models/demo_lid.npz clip.flac
      gmmspeech score models/demo_lid.npz recordings/ --segment 3 --format csv > scores.csv
    """
    from .app.scoring import score_files

    with _user_errors():
        _one_open_set(open_set, reject_below)
        res = score_files(model, paths, top=top, segment=segment, open_set=open_set, reject_below=reject_below,
                          novelty=novelty, n_jobs=jobs, quiet=quiet, cache=_feature_cache(cache, no_cache), raw=raw)
        _echo(res.format(fmt.value))
        for w in res.warnings:
            _warn(w)
        _report_skipped(res.errors, "scoring", fatal=True)
    if res.errors:
        raise typer.Exit(1)


@app.command()
def evaluate(
    model: Annotated[Path, typer.Argument(help="Model file.")],
    manifest: Annotated[Path, typer.Argument(help="Test manifest (CSV with path,label).")],
    report: Annotated[Path | None, typer.Option(help="Folder for predictions.csv, metrics.json, "
                                                     "confusion.csv and confusion.png.")] = None,
    reject_below: Annotated[float | None, typer.Option(
        help="Open set: predict 'unknown' when every class's mean log-likelihood per frame is below T.",
        metavar="T")] = None,
    open_set: Annotated[bool, typer.Option("--open-set", help="Open set with the per-class thresholds "
                                                              "calibrated at training time.")] = False,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    scheduler: SchedulerOpt = None,
    novelty: Annotated[bool, typer.Option("--novelty", help="Label a file 'unknown' when more of its frames than "
                                          "calibrated at training time look like no class (outlier frames); "
                                          "adds outlier-fraction and novel columns.")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="With a score back-end in the model: decide on the raw "
                                      "mean log-likelihoods instead of calibrated log-posteriors.")] = False,
):
    """Score a labelled test set: accuracy, per-class metrics, equal error rate and the confusion matrix.

    \b
    Examples:
      gmmspeech evaluate models/demo_lid.npz data_manifests/demo/test.csv
      gmmspeech evaluate lid.npz test.csv --report reports/lid --open-set
    """
    from .app.pipeline import evaluate_model
    from .app.report import PLOT_MISSING

    with _user_errors():
        _one_open_set(open_set, reject_below)
        ev = evaluate_model(model, manifest, report=report, open_set=open_set, reject_below=reject_below,
                            novelty=novelty, n_jobs=jobs, quiet=quiet, cache=_feature_cache(cache, no_cache),
                            scheduler=scheduler, raw=raw)
        _report_skipped(ev.errors, "evaluation")
        _print_evaluation(ev)
        if report is not None:
            if not any(p.name == "confusion.png" for p in ev.written):
                _echo(f"note: {PLOT_MISSING}", err=True)
            _echo(f"report written to {report}: {', '.join(p.name for p in ev.written)}", err=True)


@app.command()
def inspect(
    model: Annotated[Path, typer.Argument(help="Model file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the metadata as JSON.")] = False,
):
    """Show a model's classes, components, feature configuration and training summary.

    \b
    Examples:
      gmmspeech inspect models/demo_lid.npz
      gmmspeech inspect models/demo_lid.npz --json
    """
    from .app.inspection import inspect_model

    with _user_errors():
        _echo(inspect_model(model, as_json=as_json))


class Layout(StrEnum):
    folders = "folders"
    gtzan = "gtzan"
    voxlingua107 = "voxlingua107"
    commonvoice = "commonvoice"
    voxceleb1 = "voxceleb1"
    kaldi = "kaldi"


@app.command()
def prepare(
    layout: Annotated[Layout, typer.Argument(help="Corpus layout.")],
    root: Annotated[Path, typer.Argument(help="The corpus folder, as published.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for train.csv, test.csv (dev.csv), "
                                                                "summary.json, e.g. data_manifests/NAME.")],
    test_fraction: Annotated[float | None, typer.Option(help="Share of each class for test (layouts "
                                                              "without an official split).", min=0.0, max=0.95)]
    = None,
    dev_fraction: Annotated[float | None, typer.Option(help="Share of each class for dev.", min=0.0, max=0.95)]
    = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the split and of --max-per-class.")] = None,
    max_per_class: Annotated[int | None, typer.Option(help="Keep at most N files per class (seeded).", min=1)]
    = None,
    speaker_regex: Annotated[str | None, typer.Option(help="folders: regex on the file name giving the speaker "
                                                           "(first group); speakers stay on one side.")] = None,
    speakers: Annotated[Path | None, typer.Option(help="folders: CSV with speaker and path/file columns.")] = None,
    languages: Annotated[str | None, typer.Option(help="commonvoice: comma-separated language folders.")] = None,
    split: Annotated[str | None, typer.Option(help="gtzan: random or filtered.")] = None,
    split_lists: Annotated[Path | None, typer.Option(help="gtzan: folder with train/valid/test_filtered.txt.")]
    = None,
    split_file: Annotated[Path | None, typer.Option(help="voxceleb1: iden_split.txt if not in ROOT.")] = None,
    min_files: Annotated[int, typer.Option(help="Refuse classes with fewer training files.", min=1)] = 1,
    no_probe: Annotated[bool, typer.Option("--no-probe", help="Do not read file headers (faster; no hours, "
                                                              "unreadable files not caught).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
):
    """Build train/test (and dev) manifests from a corpus in its published layout.

    \b
    Examples:
      gmmspeech prepare gtzan /data/GTZAN -o data_manifests/gtzan
      gmmspeech prepare folders /data/mine -o data_manifests/mine --test-fraction 0.2 --speaker-regex '^(\\w+?)_'
    """
    from .app.corpora import prepare_corpus

    with _user_errors():
        prep, written = prepare_corpus(
            layout.value, root, output, min_files=min_files, probe=not no_probe, test_fraction=test_fraction,
            dev_fraction=dev_fraction, seed=seed, max_per_class=max_per_class, speaker_regex=speaker_regex,
            speakers=speakers, languages=languages.split(",") if languages else None, split=split,
            split_lists=split_lists, split_file=split_file)
    _echo(json.dumps(prep.summary(), indent=2) if as_json else prep.format_summary())
    _echo(f"wrote {', '.join(str(p) for p in written)}", err=True)


@app.command("features")
def features_cmd(
    manifest: Annotated[Path, typer.Argument(help="Manifest (CSV with path,label) of the files to process.")],
    task: TaskOpt = None,
    config: ConfigOpt = None,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    scheduler: SchedulerOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
):
    """Extract the features of every file of a manifest into the feature cache; list the files that fail.

    \b
    Examples:
      gmmspeech features data_manifests/demo/train.csv --task language
      gmmspeech features train.csv --config recipes/gtzan_genre.toml --json
    """
    from .app.explore import extract_manifest

    with _user_errors():
        summary, errors = extract_manifest(manifest, _settings(task, config), n_jobs=jobs, quiet=quiet,
                                           cache=_feature_cache(cache, no_cache), scheduler=scheduler)
    if as_json:
        _echo(json.dumps(summary, indent=2))
    else:
        _echo(f"{summary['ok']}/{summary['files']} files ({summary['from_cache']} from cache): "
                   f"{summary['frames']} frames x {summary['dims']} dims in {summary['seconds']:.2f} s; "
                   f"cache: {summary['cache'] or 'off'}")
    _report_skipped(errors, "feature extraction", fatal=True)
    if errors:
        raise typer.Exit(1)


@app.command("crossval")
def crossval_cmd(
    inputs: Annotated[list[str], typer.Argument(help="Manifests (CSV), or one recipe (file, or bundled name: demo, "
                                                     "demo-genre) whose train and test files are pooled.")],
    folds: Annotated[int, typer.Option(help="Number of folds (stratified by class).", min=2)] = 10,
    group: Annotated[str | None, typer.Option(help="Keep each value of this manifest column (speaker, artist, "
                                                   "...) on one side of every fold.")] = None,
    task: TaskOpt = None,
    config: ConfigOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the fold assignment.", min=0)] = 0,
    report: Annotated[Path | None, typer.Option(help="Folder for the pooled report files (predictions.csv, "
                                                     "metrics.json with per-fold figures, confusion).")] = None,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
):
    """k-fold cross-validation: mean and standard deviation over folds, per-fold rows, summed confusion matrix.

    \b
    Examples:
      gmmspeech crossval demo --folds 4 --group speaker
      gmmspeech crossval data_manifests/gtzan/train.csv data_manifests/gtzan/test.csv --task genre --folds 10
    """
    from .app.crossval import crossval, crossval_inputs

    def progress(fold, n_train, n_test, acc):
        if not quiet:
            _echo(f"  fold {fold}/{folds}: {n_train} train, {n_test} test files, accuracy {acc:.2%}", err=True)

    with _user_errors():
        manifests, settings_file = crossval_inputs(inputs, config)
        res = crossval(manifests, _settings(task, settings_file), folds=folds, group=group, seed=seed, n_jobs=jobs,
                       quiet=quiet, cache=_feature_cache(cache, no_cache), report=report, progress=progress)
        _report_skipped(res.errors, "feature extraction")
        mean, std = res.summary("accuracy")
        cmean, cstd = res.summary("cavg")
        _echo(f"{folds}-fold cross-validation{f' grouped by {group}' if group else ''}: accuracy "
              f"{mean:.2%} +- {std:.2%}, Cavg {cmean:.4f} +- {cstd:.4f} (mean +- standard deviation over folds)")
        _echo("fold  train  test  accuracy    Cavg")
        for f in res.folds:
            cavg = f.evaluation.metrics.get("cavg")
            _echo(f"{f.fold:>4}  {f.n_train:>5}  {f.n_test:>4}  {f.evaluation.metrics['accuracy']:>8.2%}  "
                  f"{'-' if cavg is None else f'{cavg:.4f}':>6}")
        _echo("")
        _echo("all folds pooled:")
        _print_evaluation(res.pooled)
        if report is not None:
            _echo(f"report written to {report}", err=True)


def _parse_components(text: str) -> list[int]:
    try:
        ks = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        ks = []
    if not ks or min(ks) < 1 or len(set(ks)) != len(ks):
        raise typer.BadParameter(f"expected distinct positive integers separated by commas, got {text!r}",
                                 param_hint="--components")
    return ks


@app.command("select")
def select_cmd(
    manifest: Annotated[Path, typer.Argument(help="Manifest (CSV with path,label) of the training files, or a "
                                                  "recipe (its training manifest and its settings).")],
    components: Annotated[str, typer.Option(help="Candidate numbers of Gaussians, comma-separated.")]
    = "4,8,16,32,64",
    pooled: Annotated[bool, typer.Option("--pooled", help="One table for all classes' frames together "
                                                          "(default: one table per class).")] = False,
    heldout: Annotated[float, typer.Option(help="Share of files held out of each fit and scored as a third "
                                                "criterion (0 = off; e.g. 0.2).",
                                           min=0.0, max=0.9)] = 0.0,
    task: TaskOpt = None,
    config: ConfigOpt = None,
    iterations: Annotated[int | None, typer.Option(help="Maximum EM iterations (default 50).", min=1)] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed, the same for every K (default 0).")] = None,
    n_init: Annotated[int, typer.Option(help="Initialisations per K; the best fit is kept (guards against a "
                                             "local optimum picking the wrong K).", min=1)] = 3,
    plot: Annotated[Path | None, typer.Option(help="Write the criteria against K to this PNG "
                                                   "(needs the `plot` extra).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the tables as JSON.")] = False,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
):
    """Fit a GMM for every candidate K (per class or pooled): log-likelihood, BIC, AIC; * marks the best K.

    \b
    Examples:
      gmmspeech select data_manifests/demo/train.csv --task language --components 8,16,32,64
      gmmspeech select train.csv --pooled --heldout 0.2 --plot select.png
    """
    from .app.explore import select_for_manifest, select_inputs

    ks = _parse_components(components)

    def progress(label, row):
        if not quiet:
            _echo(f"  {label or 'pooled':<12} K={row['k']:<5} loglik/frame {row['log_likelihood_per_frame']:9.3f}"
                       f"  {row['iterations']:>3} iterations  {row['seconds']:.1f} s", err=True)

    with _user_errors():
        manifest, config = select_inputs(manifest, config)
        res = select_for_manifest(manifest, _settings(task, config, {"iterations": iterations, "seed": seed}), ks,
                                  pooled=pooled, heldout=heldout, n_init=n_init, n_jobs=jobs, quiet=quiet,
                                  cache=_feature_cache(cache, no_cache), progress=progress, plot=plot)
        _report_skipped(res.errors, "feature extraction")
        if as_json:
            _echo(json.dumps(res.to_dict(str(manifest), ks, pooled, heldout, n_init), indent=2))
        else:
            _echo(res.format())
        for line in res.edge_warnings():
            _warn(line)
        if plot is not None:
            _echo(f"plot written to {plot}", err=True)


def _version_callback(value: bool):
    if value:
        _echo(f"gmmspeech {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version_callback, is_eager=True,
                                                help="Show the version and exit.")] = False,
          debug: Annotated[bool, typer.Option("--debug", help="Show the Python traceback of an internal error "
                                                              "(also: GMMSPEECH_DEBUG=1).")] = False):
    """gmmspeech: language, genre and speaker identification with MFCCs and diagonal GMMs."""
    _DEBUG["on"] = debug or bool(os.environ.get("GMMSPEECH_DEBUG"))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
