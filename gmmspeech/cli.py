"""The ``gmmspeech`` command line: parses, calls the library, prints. Exit codes: 0 ok, 1 bad input, 2 usage."""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .audio import AUDIO_EXTENSIONS, AudioError
from .manifest import ManifestError, Utterance, read_manifest
from .modelio import ModelFileError
from .recipe import ModelConfig, RecipeError

app = typer.Typer(
    help="Train and evaluate GMM classifiers of languages, genres or speakers from audio.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)

JobsOpt = Annotated[int | None, typer.Option("--jobs", "-j", help="Worker processes (default: all cores).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output on stderr.")]


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
    except (AudioError, ManifestError, RecipeError, ModelFileError, ValueError, FileNotFoundError) as exc:
        _err(str(exc))
        raise typer.Exit(1) from None


def _report_skipped(errors, what: str) -> None:
    if errors:
        _err(f"{len(errors)} file(s) skipped during {what}:")
        for u, msg in errors:
            typer.echo(f"  {u.name} (manifest line {u.line}): {msg}", err=True)


def _print_evaluation(res) -> None:
    from .evaluate import format_confusion, format_metrics

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
):
    """Run a recipe end to end: features, training, model file, evaluation report."""
    import time

    from .evaluate import write_report
    from .modelio import save_model
    from .pipeline import evaluate_classifier, train_classifier
    from .recipe import load_recipe

    t0 = time.perf_counter()
    with _user_errors():
        r = load_recipe(recipe)
        n_jobs = jobs if jobs is not None else r.jobs
        train_utts = read_manifest(r.train)
        test_utts = read_manifest(r.test) if r.test else None
        res = train_classifier(train_utts, r.features, r.model, n_jobs=n_jobs, quiet=quiet, recipe=r.name)
        _report_skipped(res.errors, "training")
        model_path = r.model_path or Path("models") / f"{r.name}.npz"
        save_model(res.classifier, model_path, res.meta)
        typer.echo(f"model saved to {model_path}", err=True)
        if test_utts is None:
            return
        ev = evaluate_classifier(res.classifier, r.features, test_utts, n_jobs=n_jobs, quiet=quiet)
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
    components: Annotated[int, typer.Option(help="Gaussians per class.")] = ModelConfig.components,
    iterations: Annotated[int, typer.Option(help="Maximum EM iterations.")] = ModelConfig.iterations,
    tol: Annotated[float, typer.Option(help="Convergence threshold on log-likelihood per frame.")]
    = ModelConfig.tolerance,
    init: Annotated[str, typer.Option(help="Initialisation: kmeans++ or random.")] = ModelConfig.init,
    var_floor: Annotated[float, typer.Option(help="Variance floor relative to the global variance.")]
    = ModelConfig.var_floor,
    seed: Annotated[int, typer.Option(help="Random seed.")] = ModelConfig.seed,
    config: Annotated[Path | None, typer.Option(help="TOML file with feature settings ([features] table "
                                                     "or top-level keys).")] = None,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
):
    """Train one GMM per label of a manifest and save the model."""
    import tomllib

    from .features import FeatureConfig
    from .modelio import save_model
    from .pipeline import train_classifier

    with _user_errors():
        feats = FeatureConfig()
        if config is not None:
            try:
                doc = tomllib.loads(config.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ValueError(f"{config}: cannot read feature config ({exc})") from None
            try:
                feats = FeatureConfig.from_dict(doc.get("features", doc))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{config}: {exc}") from None
        model = ModelConfig(components=components, iterations=iterations, tolerance=tol, init=init,
                            var_floor=var_floor, seed=seed)
        utts = read_manifest(manifest)
        res = train_classifier(utts, feats, model, n_jobs=jobs, quiet=quiet)
        _report_skipped(res.errors, "training")
        save_model(res.classifier, output, res.meta)
        typer.echo(f"model saved to {output} ({len(res.classifier.classes_)} classes)")


def _collect_inputs(paths: list[Path]) -> list[Utterance]:
    utts: list[Utterance] = []
    for p in paths:
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.suffix.lower() in AUDIO_EXTENSIONS and q.is_file())
            utts.extend(Utterance(q, "") for q in found)
        elif p.suffix.lower() == ".csv":
            utts.extend(read_manifest(p))
        else:
            utts.append(Utterance(p, ""))
    return utts


@app.command()
def score(
    model: Annotated[Path, typer.Argument(help="Model file.")],
    paths: Annotated[list[Path], typer.Argument(help="Audio files, folders (searched recursively) or manifests.")],
    top: Annotated[int, typer.Option(help="How many best classes to list per file.")] = 3,
    fmt: Annotated[Fmt, typer.Option("--format", help="Output format.")] = Fmt.table,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
):
    """Tell which class each audio file belongs to."""
    import numpy as np

    from .featstore import compute_features
    from .features import FeatureConfig
    from .modelio import load_model

    with _user_errors():
        clf, meta = load_model(model)
        cfg = FeatureConfig.from_dict(meta["features"])
        utts = _collect_inputs(paths)
        if not utts:
            raise ValueError("no audio files found in the given paths")
        fs = compute_features(utts, cfg, n_jobs=jobs, progress=not quiet, desc="scoring")
    rows = []
    for u, x in fs.ok():
        s = clf.score(x)
        post = clf.predict_proba(x)
        order = np.argsort(s)[::-1]
        rows.append({
            "file": u.name, "predicted": clf.classes_[order[0]], "score": round(float(s[order[0]]), 4),
            "margin": round(float(s[order[0]] - s[order[1]]), 4) if len(order) > 1 else None,
            "top": [{"class": clf.classes_[i], "score": round(float(s[i]), 4),
                     "posterior": round(float(post[i]), 4)} for i in order[:top]],
        })
    if fmt is Fmt.json:
        typer.echo(json.dumps({"results": rows, "failed": [{"file": u.name, "reason": m} for u, m in fs.errors]},
                              indent=2))
    elif fmt is Fmt.csv:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["file", "predicted", "score", "margin", "top"])
        for r in rows:
            w.writerow([r["file"], r["predicted"], r["score"], r["margin"],
                        " ".join(f"{t['class']}:{t['posterior']}" for t in r["top"])])
    else:
        width = max([4, *(len(r["file"]) for r in rows)])
        typer.echo(f"{'file':<{width}}  {'predicted':<12} {'score':>9} {'margin':>8}  top classes (posterior)")
        for r in rows:
            tops = ", ".join(f"{t['class']} {t['posterior']:.2f}" for t in r["top"])
            margin = "" if r["margin"] is None else f"{r['margin']:8.3f}"
            typer.echo(f"{r['file']:<{width}}  {r['predicted']:<12} {r['score']:9.3f} {margin:>8}  {tops}")
    _report_skipped(fs.errors, "scoring")
    if fs.errors:
        raise typer.Exit(1)


@app.command()
def evaluate(
    model: Annotated[Path, typer.Argument(help="Model file.")],
    manifest: Annotated[Path, typer.Argument(help="Test manifest (CSV with path,label).")],
    report: Annotated[Path | None, typer.Option(help="Folder for predictions.csv, metrics.json, "
                                                     "confusion.csv.")] = None,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
):
    """Score a labelled test set and print accuracy, per-class metrics and the confusion matrix."""
    from .evaluate import write_report
    from .features import FeatureConfig
    from .modelio import load_model
    from .pipeline import evaluate_classifier

    with _user_errors():
        clf, meta = load_model(model)
        utts = read_manifest(manifest)
        ev = evaluate_classifier(clf, FeatureConfig.from_dict(meta["features"]), utts, n_jobs=jobs, quiet=quiet)
        _report_skipped(ev.errors, "evaluation")
        _print_evaluation(ev)
        if report is not None:
            write_report(report, ev.predictions, ev.metrics, ev.confusion, ev.labels)
            typer.echo(f"report written to {report}", err=True)


@app.command()
def inspect(
    model: Annotated[Path, typer.Argument(help="Model file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the metadata as JSON.")] = False,
):
    """Show a model's classes, components, feature configuration and training summary."""
    from .modelio import load_model

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
    typer.echo("features     " + ", ".join(f"{key}={val}" for key, val in meta.get("features", {}).items()))
    tr = meta.get("training", {})
    if tr:
        typer.echo(f"training     recipe={tr.get('recipe')} seed={tr.get('seed')}")
        for lab in clf.classes_:
            typer.echo(f"  {lab:<12} files={tr.get('files_per_class', {}).get(lab)} "
                       f"frames={tr.get('frames_per_class', {}).get(lab)} "
                       f"iterations={tr.get('iterations', {}).get(lab)} "
                       f"loglik/frame={tr.get('final_log_likelihood', {}).get(lab, float('nan')):.3f} "
                       f"converged={tr.get('converged', {}).get(lab)}")


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
