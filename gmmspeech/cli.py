"""The ``gmmspeech`` command line: parses, calls the library, prints. Exit codes: 0 ok, 1 bad input, 2 usage."""

from __future__ import annotations

import contextlib
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .app.recipe import RecipeError, resolve_settings
from .app.settings import TASKS, SettingsError
from .data.manifest import ManifestError, check_split, read_manifest
from .frontend.audio import AudioError
from .infra.parallel import ClusterError
from .model.modelio import ModelFileError

app = typer.Typer(
    help="Train and evaluate GMM classifiers of languages, genres or speakers from audio.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)

JobsOpt = Annotated[int | None, typer.Option("--jobs", "-j", help="Worker processes (default: all cores).")]
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
    from .data.featstore import FeatureCache

    return None if no_cache else FeatureCache(cache)


class ModelType(StrEnum):
    per_class = "per_class"
    ubm_map = "ubm_map"


Task = StrEnum("Task", {t: t for t in TASKS})
TaskOpt = Annotated[Task | None, typer.Option(
    "--task", help="Task preset: feature and model settings measured for language, speaker or genre "
                   "(under --config and explicit options; see README's preset table). Default: none.")]
ConfigOpt = Annotated[Path | None, typer.Option(
    help="TOML with settings: a recipe (its task, \\[features] and \\[model] tables) or top-level "
         "FeatureConfig keys. Overrides --task's preset; explicit options override it.")]


def _settings(task, config: Path | None, options: dict | None = None):
    """Effective settings of a command (see :func:`gmmspeech.recipe.resolve_settings`)."""
    return resolve_settings(None if task is None else task.value, config, options)


class Fmt(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _err(msg: str) -> None:
    typer.secho(f"error: {msg}", fg=typer.colors.RED, err=True)


@contextlib.contextmanager
def _user_errors():
    """Turn bad-input exceptions into a one-line (or listed) message and exit code 1."""
    try:
        yield
    except (AudioError, ManifestError, RecipeError, SettingsError, ModelFileError, ValueError, FileNotFoundError,
            ClusterError) as exc:
        _err(str(exc))
        raise typer.Exit(1) from None


def _report_skipped(errors, what: str) -> None:
    if errors:
        _err(f"{len(errors)} file(s) skipped during {what}:")
        for u, msg in errors:
            typer.echo(f"  {u.name}{f' (manifest line {u.line})' if u.line else ''}: {msg}", err=True)


def _print_evaluation(res) -> None:
    from .app.report import format_confusion, format_metrics

    typer.echo(format_metrics(res.metrics))
    typer.echo("")
    typer.echo("confusion matrix (rows: true class, columns: predicted)")
    typer.echo(format_confusion(res.confusion, res.labels))
    if res.unknown_labels:
        _err(f"test labels unknown to the model (always counted wrong): {', '.join(res.unknown_labels)}")


@app.command()
def run(
    recipe: Annotated[Path, typer.Argument(help="Recipe TOML file, e.g. recipes/demo_lid.toml.")],
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    scheduler: SchedulerOpt = None,
):
    """Run a recipe end to end: features, training, model file, evaluation report."""
    import time

    from .app.pipeline import evaluate_classifier, train_classifier
    from .app.recipe import load_recipe
    from .app.report import write_report
    from .model.modelio import save_model

    t0 = time.perf_counter()
    with _user_errors():
        r = load_recipe(recipe)
        n_jobs = jobs if jobs is not None else r.jobs
        scheduler = scheduler or r.scheduler
        train_utts = read_manifest(r.train)
        test_utts = read_manifest(r.test) if r.test else None
        split_problems = check_split(train_utts, test_utts, min_files=r.min_files,
                                     names=(r.train.name, r.test.name if r.test else "test"))
        if split_problems:
            raise ManifestError(f"{r.train} / {r.test}", [(0, m) for m in split_problems])
        fcache = _feature_cache(cache, no_cache)
        res = train_classifier(train_utts, r.features, r.model, n_jobs=n_jobs, quiet=quiet, recipe=r.name,
                               cache=fcache, scheduler=scheduler, settings=r.settings)
        _report_skipped(res.errors, "training")
        model_path = r.model_path or Path("models") / f"{r.name}.npz"
        save_model(res.classifier, model_path, res.meta)
        typer.echo(f"model saved to {model_path}", err=True)
        if test_utts is None:
            return
        ev = evaluate_classifier(res.classifier, r.features, test_utts, n_jobs=n_jobs, quiet=quiet, cache=fcache,
                                 scheduler=scheduler)
        _report_skipped(ev.errors, "evaluation")
        report_dir = r.report_dir or Path("reports") / r.name
        write_report(report_dir, ev.predictions, ev.metrics, ev.confusion, ev.labels)
        typer.echo(f"recipe {r.name}: {len(train_utts)} training files, {len(test_utts)} test files, "
                   f"{time.perf_counter() - t0:.1f} s")
        _print_evaluation(ev)
        typer.echo(f"report written to {report_dir}", err=True)


@app.command()
def train(
    manifest: Annotated[Path, typer.Argument(help="Training manifest (CSV with path,label columns).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model file to write (.npz).")],
    task: TaskOpt = None,
    config: ConfigOpt = None,
    components: Annotated[int | None, typer.Option(help="Gaussians per class (ubm_map: of the UBM). "
                                                        "Default 64, or the task preset's.")] = None,
    iterations: Annotated[int | None, typer.Option(help="Maximum EM iterations (default: 50 per class; "
                                                        "ubm_map: 8 at the UBM's full size).")] = None,
    tol: Annotated[float | None, typer.Option(help="Convergence threshold on log-likelihood per frame "
                                                   "(default 1e-4).")] = None,
    init: Annotated[str | None, typer.Option(help="Initialisation: kmeans++, random or split (default: "
                                                  "kmeans++); ubm_map: mixup (default) or kmeans++.")] = None,
    var_floor: Annotated[float | None, typer.Option(help="Variance floor relative to the global variance "
                                                         "(default 1e-3).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 0).")] = None,
    model_type: Annotated[ModelType | None, typer.Option("--model-type", help="per_class (default): one GMM per "
                                                         "label trained by EM; ubm_map: one UBM on all labels, each "
                                                         "label MAP-adapted from it (GMM-UBM).")] = None,
    relevance: Annotated[float | None, typer.Option(help="ubm_map: MAP relevance factor in frames "
                                                         "(default 16).")] = None,
    top_c: Annotated[int | None, typer.Option("--top-c", help="ubm_map: UBM components scored per frame "
                                                              "(default 5).")] = None,
    adapt: Annotated[str | None, typer.Option(help="ubm_map: adapted parameters, any of m (means), w (weights), "
                                                   "v (variances); default m.")] = None,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    scheduler: SchedulerOpt = None,
):
    """Train one GMM per label of a manifest (or a GMM-UBM with --model-type ubm_map) and save the model.

    Settings: built-in defaults, then the --task preset, then --config, then the options given here.
    """
    from .app.pipeline import train_classifier
    from .model.modelio import save_model

    with _user_errors():
        st = _settings(task, config, {
            "components": components, "iterations": iterations, "tolerance": tol, "init": init,
            "var_floor": var_floor, "seed": seed, "type": None if model_type is None else model_type.value,
            "relevance": relevance, "top_c": top_c, "adapt": adapt})
        utts = read_manifest(manifest)
        res = train_classifier(utts, st.features, st.model, n_jobs=jobs, quiet=quiet,
                               cache=_feature_cache(cache, no_cache), scheduler=scheduler, settings=st)
        _report_skipped(res.errors, "training")
        save_model(res.classifier, output, res.meta)
        typer.echo(f"model saved to {output} ({len(res.classifier.classes_)} classes)")


def _model_features(meta: dict, model: Path):
    """The FeatureConfig stored in a model's metadata; a clear error naming the file if it is missing."""
    from .frontend.features import FeatureConfig

    if not isinstance(meta.get("features"), dict):
        raise ValueError(f"{model}: the model file holds no feature configuration ('features' in its metadata)")
    try:
        return FeatureConfig.from_dict(meta["features"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{model}: invalid feature configuration in the model ({exc})") from None


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
):
    """Tell which class each audio file (or segment) belongs to; exit code 1 if any file failed.

    Posteriors are the softmax of the per-class mean log-likelihoods per frame (flat prior).
    """
    from .app.scoring import expand_inputs, format_rows, score_row, split_segments
    from .data.featstore import compute_features
    from .model.modelio import load_model
    from .model.novelty import file_novelty, read_novelty

    with _user_errors():
        clf, meta = load_model(model)
        cfg = _model_features(meta, model)
        thresholds = clf.open_set_thresholds(reject_below) if (open_set or reject_below is not None) else None
        novelty_cal = read_novelty(meta, str(model)) if novelty else None
        utts = expand_inputs(paths)
        if not utts:
            raise ValueError("no audio files found in the given paths")
        if segment is not None:
            utts = split_segments(utts, segment)
        fs = compute_features(utts, cfg, n_jobs=jobs, progress=not quiet, desc="scoring",
                              cache=_feature_cache(cache, no_cache))
    rows = [score_row(u, clf.score(x), clf.classes_, len(x), top=top, thresholds=thresholds,
                      novelty=None if novelty_cal is None else file_novelty(clf, x, novelty_cal)) for u, x in fs.ok()]
    extra = {"model": str(model), "open_set_thresholds": None if thresholds is None else
             {c: float(t) for c, t in zip(clf.classes_, thresholds, strict=True)}, "novelty": novelty_cal}
    typer.echo(format_rows(rows, clf.classes_, fmt.value, failed=[(u.name, m) for u, m in fs.errors], extra=extra))
    _report_skipped(fs.errors, "scoring")
    if fs.errors:
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
):
    """Score a labelled test set: accuracy, per-class metrics, equal error rate and the confusion matrix."""
    from .app.pipeline import evaluate_classifier
    from .app.report import PLOT_MISSING, write_report
    from .model.modelio import load_model
    from .model.novelty import read_novelty

    with _user_errors():
        clf, meta = load_model(model)
        utts = read_manifest(manifest)
        ev = evaluate_classifier(clf, _model_features(meta, model), utts, n_jobs=jobs, quiet=quiet,
                                 cache=_feature_cache(cache, no_cache), open_set=open_set, reject_below=reject_below,
                                 scheduler=scheduler, novelty=read_novelty(meta, str(model)) if novelty else None)
        _report_skipped(ev.errors, "evaluation")
        _print_evaluation(ev)
        if report is not None:
            written = write_report(report, ev.predictions, ev.metrics, ev.confusion, ev.labels)
            if not any(p.name == "confusion.png" for p in written):
                typer.echo(f"note: {PLOT_MISSING}", err=True)
            typer.echo(f"report written to {report}: {', '.join(p.name for p in written)}", err=True)


@app.command()
def inspect(
    model: Annotated[Path, typer.Argument(help="Model file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the metadata as JSON.")] = False,
):
    """Show a model's classes, components, feature configuration and training summary."""
    from .model.modelio import load_model

    with _user_errors():
        clf, meta = load_model(model)
    if as_json:
        typer.echo(json.dumps(meta, indent=2, sort_keys=True))
        return
    k, d = next(iter(clf.models_.values())).means_.shape
    typer.echo(f"model        {model}")
    typer.echo(f"format       v{meta.get('format_version')} (written by gmmspeech {meta.get('package_version')})")
    typer.echo(f"classes      {len(clf.classes_)}: {', '.join(clf.classes_)}")
    typer.echo(f"components   {k} per class, diagonal covariances, {d} feature dims")
    ubm = getattr(clf, "ubm_", None)
    if ubm is not None:
        typer.echo(f"model type   ubm_map: classes MAP-adapted from a {k}-component UBM (relevance {clf.relevance:g}, "
                   f"adapted '{clf.adapt}'); scores: log-likelihood ratio per frame vs the UBM, top-{clf.top_c} "
                   "components per frame")
    else:
        typer.echo("model type   per_class: one GMM per class trained by EM; scores: log-likelihood per frame")
    sources = meta.get("settings_sources") or {}
    typer.echo(f"task         {meta.get('task') or 'none (built-in defaults)'}")
    typer.echo("settings     value (where it came from: default, preset:TASK, recipe, config:FILE, option)")
    tr = meta.get("training", {})
    for section, values in (("features", meta.get("features", {})), ("model", tr.get("model", {}))):
        for key, val in values.items():
            typer.echo(f"  {section + '.' + key:<28} {val!s:<16} {sources.get(f'{section}.{key}', 'default')}")
    if tr:
        typer.echo(f"training     recipe={tr.get('recipe')} seed={tr.get('seed')}")
        if ubm is not None:
            u = tr.get("ubm", {})
            typer.echo(f"  UBM          init={u.get('init')} iterations={u.get('iterations')} "
                       f"loglik/frame={u.get('final_log_likelihood', float('nan')):.3f} "
                       f"mix-up rounds={len(u.get('rounds', []))}")
            for lab in clf.classes_:
                typer.echo(f"  {lab:<12} files={tr.get('files_per_class', {}).get(lab)} "
                           f"frames={tr.get('frames_per_class', {}).get(lab)} "
                           f"train LLR/frame={tr.get('train_llr', {}).get(lab, float('nan')):.3f}")
        for lab in clf.classes_ if ubm is None else ():
            typer.echo(f"  {lab:<12} files={tr.get('files_per_class', {}).get(lab)} "
                       f"frames={tr.get('frames_per_class', {}).get(lab)} "
                       f"iterations={tr.get('iterations', {}).get(lab)} "
                       f"loglik/frame={tr.get('final_log_likelihood', {}).get(lab, float('nan')):.3f} "
                       f"converged={tr.get('converged', {}).get(lab)}")
    thr = getattr(clf, "reject_thresholds_", None)
    if thr is not None:
        cal = getattr(clf, "calibration_", None) or {}
        unit = "log-lik" if ubm is None else "LLR"
        typer.echo(f"open set     per-class thresholds (mean {unit}/frame; quantile {cal.get('quantile')} of "
                   f"{cal.get('segment_frames')}-frame training segments): "
                   + ", ".join(f"{c}={t:.3f}" for c, t in zip(clf.classes_, thr, strict=True)))
    else:
        typer.echo("open set     no calibrated thresholds (use score --reject-below T)")


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
                                                              "without an official split).")] = None,
    dev_fraction: Annotated[float | None, typer.Option(help="Share of each class for dev.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the split and of --max-per-class.")] = None,
    max_per_class: Annotated[int | None, typer.Option(help="Keep at most N files per class (seeded).")] = None,
    speaker_regex: Annotated[str | None, typer.Option(help="folders: regex on the file name giving the speaker "
                                                           "(first group); speakers stay on one side.")] = None,
    speakers: Annotated[Path | None, typer.Option(help="folders: CSV with speaker and path/file columns.")] = None,
    languages: Annotated[str | None, typer.Option(help="commonvoice: comma-separated language folders.")] = None,
    split: Annotated[str | None, typer.Option(help="gtzan: random or filtered.")] = None,
    split_lists: Annotated[Path | None, typer.Option(help="gtzan: folder with train/valid/test_filtered.txt.")]
    = None,
    split_file: Annotated[Path | None, typer.Option(help="voxceleb1: iden_split.txt if not in ROOT.")] = None,
    min_files: Annotated[int, typer.Option(help="Refuse classes with fewer training files.")] = 1,
    no_probe: Annotated[bool, typer.Option("--no-probe", help="Do not read file headers (faster; no hours, "
                                                              "unreadable files not caught).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
):
    """Build train/test (and dev) manifests from a corpus in its published layout."""
    from .data.prepare import prepare as build
    from .data.prepare import write_prepared

    with _user_errors():
        prep = build(layout.value, root, probe=not no_probe, test_fraction=test_fraction, dev_fraction=dev_fraction,
                     seed=seed, max_per_class=max_per_class, speaker_regex=speaker_regex, speakers=speakers,
                     languages=languages.split(",") if languages else None, split=split, split_lists=split_lists,
                     split_file=split_file)
        written = write_prepared(prep, output, min_files=min_files)
    typer.echo(json.dumps(prep.summary(), indent=2) if as_json else prep.format_summary())
    typer.echo(f"wrote {', '.join(str(p) for p in written)}", err=True)


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
    """Extract the features of every file of a manifest into the feature cache; list the files that fail."""
    import time

    from .data.featstore import compute_features

    t0 = time.perf_counter()
    with _user_errors():
        cfg = _settings(task, config).features
        utts = read_manifest(manifest)
        fcache = _feature_cache(cache, no_cache)
        if scheduler and fcache is None:
            raise ValueError("--scheduler needs the feature cache (shared by the client and the workers): "
                             "do not combine it with --no-cache")
        fs = compute_features(utts, cfg, n_jobs=jobs, progress=not quiet, desc="features", cache=fcache,
                              scheduler=scheduler)
    ok = fs.ok()
    summary = {"files": len(utts), "ok": len(ok), "failed": len(fs.errors), "from_cache": fs.cached,
               "frames": int(sum(len(x) for _, x in ok)), "dims": cfg.n_dims,
               "cache": None if fcache is None else str(fcache.root),
               "seconds": round(time.perf_counter() - t0, 3),
               "errors": [{"file": u.name, "line": u.line, "reason": m} for u, m in fs.errors]}
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        typer.echo(f"{summary['ok']}/{summary['files']} files ({summary['from_cache']} from cache): "
                   f"{summary['frames']} frames x {summary['dims']} dims in {summary['seconds']:.2f} s; "
                   f"cache: {summary['cache'] or 'off'}")
    _report_skipped(fs.errors, "feature extraction")
    if fs.errors:
        raise typer.Exit(1)


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
    manifest: Annotated[Path, typer.Argument(help="Manifest (CSV with path,label) of the training files.")],
    components: Annotated[str, typer.Option(help="Candidate numbers of Gaussians, comma-separated.")]
    = "4,8,16,32,64",
    pooled: Annotated[bool, typer.Option("--pooled", help="One table for all classes' frames together "
                                                          "(default: one table per class).")] = False,
    heldout: Annotated[float, typer.Option(help="Share of files held out of each fit and scored as a third "
                                                "criterion (0 = off; e.g. 0.2).",
                                           min=0.0, max=0.9)] = 0.0,
    task: TaskOpt = None,
    config: ConfigOpt = None,
    iterations: Annotated[int | None, typer.Option(help="Maximum EM iterations (default 50).")] = None,
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
    """Fit a GMM for every candidate K (per class or pooled): log-likelihood, BIC, AIC; * marks the best K."""
    from collections import defaultdict

    from .data.featstore import compute_features
    from .model.selection import format_selection, plot_selection, select_per_class

    ks = _parse_components(components)

    def progress(label, row):
        if not quiet:
            typer.echo(f"  {label or 'pooled':<12} K={row['k']:<5} loglik/frame {row['log_likelihood_per_frame']:9.3f}"
                       f"  {row['iterations']:>3} iterations  {row['seconds']:.1f} s", err=True)

    with _user_errors():
        st = _settings(task, config, {"iterations": iterations, "seed": seed})
        cfg, mc = st.features, st.model
        utts = read_manifest(manifest)
        fs = compute_features(utts, cfg, n_jobs=jobs, progress=not quiet, desc="features",
                              cache=_feature_cache(cache, no_cache))
        _report_skipped(fs.errors, "feature extraction")
        by_class: dict[str, list] = defaultdict(list)
        for u, x in fs.ok():
            by_class[u.label].append(x)
        lost = sorted({u.label for u in utts} - set(by_class))
        if lost:
            raise ValueError(f"no usable file for class(es): {', '.join(lost)}")
        tables = select_per_class(by_class, ks, pooled=pooled, heldout=heldout, seed=mc.seed, max_iter=mc.iterations,
                                  tol=mc.tolerance, var_floor=mc.var_floor,
                                  init=mc.init if mc.type == "per_class" else "kmeans++",
                                  n_init=n_init, n_jobs=jobs, progress=progress)
    if as_json:
        typer.echo(json.dumps({"manifest": str(manifest), "components": sorted(ks), "pooled": pooled,
                               "heldout": heldout, "seed": mc.seed, "n_init": n_init, "task": st.task,
                               "features": cfg.to_dict(),
                               "criteria": "bic = -2 logL + p ln N, aic = -2 logL + 2p (lower is better), "
                                           "p = K-1+2KD; heldout = mean log-lik per frame of held-out files "
                                           "(higher is better)",
                               "tables": [t.to_dict() for t in tables]}, indent=2))
    else:
        typer.echo(format_selection(tables))
    if plot is not None:
        try:
            plot_selection(tables, plot)
        except ImportError as exc:
            _err(str(exc))
            raise typer.Exit(1) from None
        typer.echo(f"plot written to {plot}", err=True)


def _version_callback(value: bool):
    if value:
        typer.echo(f"gmmspeech {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version_callback, is_eager=True,
                                                help="Show the version and exit.")] = False):
    """gmmspeech: language, genre and speaker identification with MFCCs and diagonal GMMs."""


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
