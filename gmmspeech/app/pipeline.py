"""The use cases as library functions: train from a manifest, evaluate on one, run a whole recipe.

The CLI only parses arguments and prints; everything it does is here so scripts and tests can call it. The
``*_model`` / ``run_recipe`` functions take paths and return result objects; ``train_classifier`` and
``evaluate_classifier`` are the in-memory stages they are built from.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..core.backend import LogisticBackend
from ..core.folds import fold_indices
from ..core.metrics import classification_metrics, confusion_matrix, detection_metrics, lre_metrics
from ..data.featstore import FeatureCache, compute_features, load_or_compute
from ..data.manifest import ManifestError, Utterance, check_split, read_manifest
from ..frontend.features import FeatureConfig
from ..infra.errors import GmmspeechError, UsageError
from ..infra.outputs import check_output_file
from ..infra.parallel import check_scheduler_address, parallel_map
from ..infra.progress import Progress
from ..model.classifier import GMMClassifier
from ..model.cluster import ClusterAccumulator, ClusterFitter
from ..model.decision import UNKNOWN, decide
from ..model.meta import ModelMeta, TrainingSummary
from ..model.modelio import load_backend, load_model, save_model
from ..model.novelty import calibrate_novelty, file_novelty, read_novelty
from ..model.ubm_classifier import UBMClassifier
from .cache import open_cache
from .recipe import Recipe, RecipeError, load_recipe
from .report import check_report_dir, write_report
from .settings import ModelConfig, Settings

__all__ = ["TrainResult", "EvalResult", "RunResult", "train_classifier", "evaluate_classifier", "train_model",
           "summarise_scores", "fit_classifier",
           "evaluate_model", "run_recipe", "open_cache", "group_by_class",
           "SchedulerNeedsCache", "NoTrainingData"]


#: Default duration buckets (seconds of scored speech): <= 3 s, 3-10 s, > 10 s, as NIST LRE's 3/10/30 s conditions.
DURATION_BUCKETS = (3.0, 10.0)
#: The LRE figures copied to the top level of metrics.json.
LRE_KEYS = ("cavg", "min_cavg", "cllr", "min_cllr", "act_dcf", "min_dcf", "p_oos", "by_duration")


class SchedulerNeedsCache(GmmspeechError, ValueError):
    """``--scheduler`` was combined with ``--no-cache`` (workers read features through the shared cache)."""

    def __init__(self):
        super().__init__("--scheduler needs the feature cache (a folder the client and the workers share): "
                         "do not combine it with --no-cache")


class NoTrainingData(GmmspeechError, ValueError):
    """Every file of one or more classes failed; the message lists each file's reason."""


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


@dataclass
class TrainResult:
    """A trained classifier, the metadata to save with it, and the files that were skipped."""

    classifier: GMMClassifier
    meta: ModelMeta
    errors: list[tuple[Utterance, str]] = field(default_factory=list)


@dataclass
class EvalResult:
    """Per-file predictions, metrics and confusion matrix of an evaluation."""

    predictions: list[dict[str, Any]]
    metrics: dict[str, Any]
    confusion: np.ndarray
    labels: list[str]
    errors: list[tuple[Utterance, str]] = field(default_factory=list)
    unknown_labels: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)


def train_classifier(utts: list[Utterance], features: FeatureConfig, model: ModelConfig, *,
                     n_jobs: int | None = None, quiet: bool = False, recipe: str | None = None,
                     cache=None, scheduler: str | None = None, settings: Settings | None = None) -> TrainResult:
    """Extract features for ``utts`` and fit one GMM per label (``model.type = "per_class"``), or a UBM on all
    labels with one MAP-adapted model per label (``"ubm_map"``, a :class:`classifier.UBMClassifier`).

    Bad files are skipped and reported in ``TrainResult.errors``; a class left with no usable file is an error.
    ``cache`` (a ``featstore.FeatureCache``, its folder, or ``None`` for none) is passed to ``compute_features``.
    With ``scheduler`` (a Dask address) features and every EM iteration's E-step run on that cluster; the
    models are the same as a local run's (same seed) to rounding. A cluster needs the (shared) feature cache.
    Each class is trained from its files' feature blocks in manifest order, locally or not. ``settings``
    (from :func:`gmmspeech.settings.resolve`) records the task and where each setting came from in the metadata.
    """
    if scheduler and cache is None:
        raise SchedulerNeedsCache()
    if scheduler:
        check_scheduler_address(scheduler)
    labels = sorted({u.label for u in utts})
    if len(labels) < 2:
        raise NoTrainingData(f"the training data has {len(labels)} class{'es' if not labels else ''} "
                             f"({', '.join(labels) or 'no files'}): a classifier needs at least two labels")
    fs = compute_features(utts, features, n_jobs=n_jobs, progress=not quiet, desc="features", cache=cache,
                          scheduler=scheduler)
    by_class = group_by_class(utts, fs, "usable training")
    n_frames = {lab: sum(len(x) for x in xs) for lab, xs in by_class.items()}
    _log(f"training {len(n_frames)} class models ({model.components} components, "
         f"{features.n_dims} dims) on {sum(n_frames.values())} frames", quiet)

    def report(label: str, gmm) -> None:
        _log(f"  {label:<12} {n_frames[label]:>8} frames  {gmm.n_iter_:>3} iterations  "
             f"log-lik/frame {gmm.log_likelihood_history_[-1]:9.3f}"
             f"{'' if gmm.converged_ else '  (not converged)'}", quiet)

    def report_map(label: str, gmm) -> None:
        occ = gmm.map_occupancy_
        _log(f"  {label:<12} {int(round(occ.sum())):>8} frames  MAP-adapted ({model.adapt}), mean alpha "
             f"{float(np.mean(occ / (occ + model.relevance))):.2f}", quiet)

    # each class trains on its per-file blocks, in manifest order (short files are joined into E-step batches);
    # on a cluster the blocks are memory-mapped cache entries and only their paths go to the workers
    if model.type == "ubm_map":
        _log(f"  UBM: {model.components} components ({model.init}), {model.iterations} EM iterations at full size; "
             f"MAP relevance {model.relevance:g}, top-{model.top_c} scoring", quiet)
    clf = fit_classifier(by_class, model, scheduler=scheduler, progress=report_map if model.type == "ubm_map"
                         else report)
    ubm_summary = train_llr = None
    if model.type == "ubm_map":
        ubm = clf.ubm_
        ubm_summary = {"components": int(ubm.means_.shape[0]), "init": model.init,
                       "rounds": [list(r) for r in ubm.mixup_history_], "iterations": int(ubm.n_iter_),
                       "converged": bool(ubm.converged_), "final_log_likelihood": float(ubm.lower_bound_)}
        train_llr = {lab: float(v) for lab, v in clf.train_scores_.items()}
    training = TrainingSummary(
        recipe=recipe, seed=model.seed, model=dataclasses.asdict(model), package_version=__version__,
        files_per_class={lab: len(xs) for lab, xs in sorted(by_class.items())},
        frames_per_class={lab: int(n) for lab, n in sorted(n_frames.items())},
        iterations={lab: int(m.n_iter_) for lab, m in clf.models_.items()},
        final_log_likelihood={lab: float(m.log_likelihood_history_[-1]) for lab, m in clf.models_.items()},
        converged={lab: bool(m.converged_) for lab, m in clf.models_.items()},
        skipped_files=[{"file": u.name, "line": u.line, "reason": msg} for u, msg in fs.errors],
        ubm=ubm_summary, train_llr=train_llr)
    calibration = None
    if model.calibration != "none":
        _log(f"  score back-end: {model.calibration}, trained on out-of-fold scores of the training files "
             f"({model.calibration_folds} folds)", quiet)
        calibration = train_backend(fs, model, scheduler=scheduler)
    meta = ModelMeta(classes=tuple(clf.classes_), features=features, model_type=model.type,
                     task=None if settings is None else settings.task,
                     settings_sources={} if settings is None else dict(settings.sources), training=training,
                     novelty=calibrate_novelty(clf, by_class),  # frame/file outlier thresholds
                     calibration=calibration)
    return TrainResult(clf, meta, fs.errors)


def train_backend(fs, model: ModelConfig, *, scheduler: str | None = None) -> dict[str, Any]:
    """A score back-end trained on out-of-fold scores of the training files: ``model.calibration_folds`` folds
    (stratified, grouped by speaker when every file names one), each file scored by a model that did not see
    it. Returns the back-end as a JSON-ready dict (stored as ``ModelMeta.calibration``)."""
    ok = fs.ok()
    labels = [u.label for u, _ in ok]
    speakers = [u.speaker for u, _ in ok]
    groups = speakers if all(speakers) else None
    try:
        plan = fold_indices(labels, groups, model.calibration_folds, model.seed)
    except UsageError:
        plan = fold_indices(labels, None, model.calibration_folds, model.seed)   # too few speakers: by file
        groups = None
    classes = sorted(set(labels))
    scores = np.zeros((len(ok), len(classes)))
    for train_idx, test_idx in plan:
        by_class: dict[str, list[np.ndarray]] = defaultdict(list)
        for i in train_idx:
            by_class[labels[i]].append(ok[i][1])
        fold_clf = fit_classifier(dict(by_class), model, scheduler=scheduler)
        for i in test_idx:
            scores[i] = fold_clf.score(ok[i][1])
    backend = LogisticBackend().fit(scores, labels, classes)
    return {**backend.to_dict(), "trained_on": f"out-of-fold scores of {len(ok)} training files, "
            f"{model.calibration_folds} folds{' grouped by speaker' if groups else ''}"}


def fit_classifier(by_class: dict[str, list[np.ndarray]], model: ModelConfig, *, scheduler: str | None = None,
                   progress=None) -> GMMClassifier:
    """Fit the classifier ``model`` describes on per-class lists of (n, D) feature blocks.

    ``per_class``: one EM-trained GMM per label; ``ubm_map``: a UBM on all labels with one MAP-adapted model per
    label. With ``scheduler`` the E-steps run on that Dask cluster (the blocks must be cache files).
    ``progress(label, gmm)`` is called after each class.
    """
    if model.type == "ubm_map":
        remote = {} if not scheduler else {"accumulator": ClusterAccumulator(scheduler)}
        return UBMClassifier(**model.ubm_params(), **remote).fit(by_class, progress=progress)
    if scheduler:   # small classes are fitted whole by one task each, large ones by per-iteration E-step tasks
        return GMMClassifier(**model.gmm_params()).fit(by_class, progress=progress, concurrent=len(by_class),
                                                       fitter=ClusterFitter(scheduler))
    return GMMClassifier(**model.gmm_params()).fit(by_class, progress=progress)


def evaluate_classifier(clf: GMMClassifier, features: FeatureConfig, utts: list[Utterance], *,
                        n_jobs: int | None = None, quiet: bool = False, cache=None,
                        open_set: bool = False, reject_below: float | None = None,
                        scheduler: str | None = None, novelty: dict[str, Any] | None = None,
                        backend=None, raw: bool = False) -> EvalResult:
    """Score every utterance with ``clf`` and compare with its label.

    Files that fail are reported in ``EvalResult.errors`` and left out of the metrics; labels the model does
    not know are listed in ``unknown_labels`` and counted as errors (they can never be predicted). Metrics
    include the one-vs-rest equal error rate (:func:`gmmspeech.evaluate.detection_metrics`). With ``open_set``
    (the model's calibrated thresholds) or ``reject_below`` (one threshold), files no class fits are predicted
    ``unknown``. With ``backend`` (a trained score back-end) decisions and figures use calibrated log-posteriors
    (``raw``: the uncalibrated scores). With ``novelty`` (a model's ``meta["novelty"]``), files flagged novel are
    predicted ``unknown``
    too and rows gain ``outlier_fraction`` and ``novel`` (:func:`gmmspeech.novelty.file_novelty`).
    """
    thresholds = clf.open_set_thresholds(reject_below) if (open_set or reject_below is not None) else None
    if scheduler:
        results, errors = _score_on_cluster(clf, features, utts, cache, scheduler, novelty, quiet)
    else:
        fs = compute_features(utts, features, n_jobs=n_jobs, progress=not quiet, desc="scoring", cache=cache)
        results = [(u, *score_features(x, (clf, novelty))) for u, x in fs.ok()]
        errors = fs.errors
    return summarise_scores(clf.classes_, results, errors, thresholds=thresholds,
                            frame_shift_s=features.frame_shift_ms / 1000, backend=None if raw else backend)


def summarise_scores(classes: list[str], results: list[tuple[Utterance, np.ndarray, int, dict | None]],
                     errors: list[tuple[Utterance, str]] = (), *, thresholds=None,
                     frame_shift_s: float | None = None,
                     bucket_edges: tuple[float, ...] = DURATION_BUCKETS, backend=None) -> EvalResult:
    """Decide every scored item and compute the metrics: the evaluation of ``(utterance, scores (C,), n_frames,
    novelty or None)`` tuples (as scored by :func:`score_features`). Used by ``evaluate`` and ``crossval``.

    Besides accuracy and per-class figures, the metrics hold the NIST LRE measures (Cavg, Cllr, min Cllr,
    actual and minimum DCF, pooled and per class; :func:`gmmspeech.core.metrics.lre_metrics`) and, with
    ``frame_shift_s`` (the hop, s), the same per duration bucket of scored speech (``n_frames * hop``; edges
    ``bucket_edges`` in seconds). With ``backend`` (``transform(scores (N, C)) -> log-posteriors``), every
    item is decided, and every figure computed, on its calibrated log-posteriors; open-set thresholds stay on
    the raw scale."""
    errors = list(errors)
    rows, y_true, y_pred, all_scores = [], [], [], []
    for u, scores, n_frames, nov in results:
        d = decide(scores, classes, n_frames, thresholds=thresholds, novelty=nov, backend=backend)
        row = {"file": u.name, "truth": u.label, "predicted": d.label, "correct": int(d.label == u.label),
               "margin": round(d.margin, 6), "n_frames": d.n_frames}
        if frame_shift_s:
            row["seconds"] = round(d.n_frames * frame_shift_s, 3)
        row.update({f"score_{c}": round(v, 6) for c, v in d.scores.items()})
        if nov is not None:
            row.update(outlier_fraction=d.outlier_fraction, novel=int(bool(d.novel)))
        rows.append(row)
        y_true.append(u.label)
        y_pred.append(d.label)
        all_scores.append(list(d.scores.values()))   # calibrated with a back-end: the figures judge those
    unknown = sorted(set(y_true) - set(classes))
    labels = list(classes) + unknown
    if UNKNOWN in y_pred and UNKNOWN not in labels:
        labels.append(UNKNOWN)
    metrics = classification_metrics(y_true, y_pred, labels)
    score_matrix = np.array(all_scores).reshape(len(all_scores), len(classes))
    metrics.update(detection_metrics(score_matrix, y_true, classes))
    if len(classes) >= 2 and len(y_true):
        durations = None if not frame_shift_s else [r["seconds"] for r in rows]
        lre = lre_metrics(score_matrix, y_true, classes, durations=durations, bucket_edges=bucket_edges)
        metrics.update({k: lre[k] for k in LRE_KEYS if k in lre})
        metrics["lre_per_class"] = lre.get("per_class")
        metrics["lre_conventions"] = lre.get("conventions")
    metrics["unknown_labels"] = unknown
    metrics["failed_files"] = [{"file": u.name, "line": u.line, "reason": msg} for u, msg in errors]
    cm = confusion_matrix(y_true, y_pred, labels)
    return EvalResult(rows, metrics, cm, labels, errors, unknown)


def group_by_class(utts: list[Utterance], fs, what: str) -> dict[str, list[np.ndarray]]:
    """Per-class lists of the feature blocks that succeeded (manifest order), from ``compute_features``'s result.

    Raises :class:`NoTrainingData` when every file of a class failed, listing each of those files' reasons.
    """
    by_class: dict[str, list[np.ndarray]] = defaultdict(list)
    for u, x in fs.ok():
        by_class[u.label].append(x)
    lost = sorted({u.label for u in utts} - set(by_class))
    if lost:
        reasons = "".join(f"\n  {u.name}{f' (manifest line {u.line})' if u.line else ''}: {msg}"
                          for u, msg in fs.errors if u.label in lost)
        raise NoTrainingData(f"no {what} file for class(es): {', '.join(lost)}{reasons}")
    return dict(by_class)


def score_features(x: np.ndarray, model: tuple[GMMClassifier, dict[str, Any] | None]
                   ) -> tuple[np.ndarray, int, dict[str, Any] | None]:
    """What evaluation needs from one file's (n_frames, D) features: ``(class scores (C,), n_frames, novelty)``.

    ``model`` is ``(classifier, novelty calibration or None)``; novelty is ``file_novelty``'s dict or None.
    """
    clf, novelty = model
    return clf.score(x), len(x), (None if novelty is None else file_novelty(clf, x, novelty))


def _score_task(job: tuple[Utterance, FeatureConfig, Any], model) -> tuple[tuple | None, str | None]:
    """Cluster task: load or compute one file's features where it runs and score them (nothing big travels)."""
    utt, cfg, cache = job
    x, _, err, _ = load_or_compute(utt, cfg, cache)
    if err is not None:
        return None, err
    return score_features(x, model), None


def _score_on_cluster(clf, features, utts, cache, scheduler, novelty, quiet):
    """Per-file (utterance, scores, n_frames, novelty) and errors, scored by the cluster's workers."""
    bar = Progress(len(utts), "scoring", enabled=not quiet)
    results, errors = [], []
    jobs = [(u, features, cache) for u in utts]
    for u, (res, err) in zip(utts, parallel_map(_score_task, jobs, scheduler=scheduler, shared=(clf, novelty)),
                             strict=True):
        if err is not None:
            errors.append((u, err))
        else:
            results.append((u, *res))
        bar.update()
    bar.close()
    return results, errors


def train_model(manifest: str | os.PathLike, output: str | os.PathLike, settings: Settings, *,
                n_jobs: int | None = None, quiet: bool = False, cache: FeatureCache | None = None,
                scheduler: str | None = None) -> TrainResult:
    """Read a manifest, train with ``settings`` (:func:`gmmspeech.app.settings.resolve`) and save the model file.

    Returns the :class:`TrainResult` (skipped files in ``errors``); the model is written atomically to ``output``.
    """
    check_output_file(output)
    utts = read_manifest(manifest)
    res = train_classifier(utts, settings.features, settings.model, n_jobs=n_jobs, quiet=quiet, cache=cache,
                           scheduler=scheduler, settings=settings)
    res.meta = save_model(res.classifier, output, res.meta)
    return res


def evaluate_model(model: str | os.PathLike, manifest: str | os.PathLike, *, report: str | os.PathLike | None = None,
                   open_set: bool = False, reject_below: float | None = None, novelty: bool = False,
                   n_jobs: int | None = None, quiet: bool = False, cache: FeatureCache | None = None,
                   scheduler: str | None = None, raw: bool = False) -> EvalResult:
    """Evaluate a model file on a labelled manifest; with ``report``, write the report files there.

    A model with a score back-end is evaluated on calibrated scores unless ``raw``.

    The files written are listed in ``EvalResult.written``.
    """
    if report is not None:
        check_report_dir(report)
    clf, meta = load_model(model)
    utts = read_manifest(manifest)
    ev = evaluate_classifier(clf, meta.features, utts, n_jobs=n_jobs, quiet=quiet, cache=cache, open_set=open_set,
                             reject_below=reject_below, scheduler=scheduler,
                             novelty=read_novelty(meta, str(model)) if novelty else None,
                             backend=load_backend(meta, str(model)), raw=raw)
    if report is not None:
        ev.written = write_report(report, ev.predictions, ev.metrics, ev.confusion, ev.labels)
    return ev


@dataclass
class RunResult:
    """What :func:`run_recipe` did: the recipe, training, the model file, the evaluation and its report."""

    recipe: Recipe
    training: TrainResult
    model_path: Path
    n_train: int
    n_test: int = 0
    evaluation: EvalResult | None = None
    report_dir: Path | None = None
    report_error: str | None = None
    seconds: float = 0.0


def run_recipe(recipe: str | os.PathLike | Recipe, *, n_jobs: int | None = None, quiet: bool = False,
               cache: FeatureCache | None = None, scheduler: str | None = None) -> RunResult:
    """Run a recipe (a file, or a :class:`Recipe`) end to end: check the split, train, save the model, evaluate,
    write the report.

    Defaults: model ``models/NAME.npz`` and report ``reports/NAME`` under the current folder unless the recipe
    names them. A report that cannot be written does not lose the evaluation: the reason is in
    ``RunResult.report_error`` and the metrics are still returned. Missing manifests are reported with the
    recipe's ``prepare`` command when it has one.
    """
    t0 = time.perf_counter()
    r = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    for m in (r.train, r.test):
        if m is not None and not m.exists():
            command = re.sub(r"-o \S+", f"-o {m.parent}", r.prepare) if r.prepare else None
            hint = f"; make it with: {command}" if command else ""
            raise RecipeError(f"{m}: no such manifest (named by recipe {r.path.name}){hint}")
    n_jobs = n_jobs if n_jobs is not None else r.jobs
    if scheduler or r.scheduler:
        source = "--scheduler" if scheduler else f"recipe {r.path.name}"
        scheduler = scheduler or r.scheduler
        check_scheduler_address(scheduler)
        _log(f"Dask scheduler {scheduler} (from {source})", quiet)
    train_utts = read_manifest(r.train)
    test_utts = read_manifest(r.test) if r.test else None
    problems = check_split(train_utts, test_utts, min_files=r.min_files,
                           names=(r.train.name, r.test.name if r.test else "test"))
    if problems:
        raise ManifestError(f"{r.train} / {r.test}", [(0, m) for m in problems])
    model_path = check_output_file(r.model_path or Path("models") / f"{r.name}.npz")
    report_dir = (r.report_dir or Path("reports") / r.name) if test_utts is not None else None
    if report_dir is not None:
        check_report_dir(report_dir)
    res = train_classifier(train_utts, r.features, r.model, n_jobs=n_jobs, quiet=quiet, recipe=r.name, cache=cache,
                           scheduler=scheduler, settings=r.settings)
    res.meta = save_model(res.classifier, model_path, res.meta)
    out = RunResult(r, res, model_path, len(train_utts))
    if test_utts is not None:
        out.n_test = len(test_utts)
        out.evaluation = evaluate_classifier(res.classifier, r.features, test_utts, n_jobs=n_jobs, quiet=quiet,
                                             cache=cache, scheduler=scheduler,
                                             backend=load_backend(res.meta, str(model_path)))
        out.report_dir = report_dir
        ev = out.evaluation
        try:
            ev.written = write_report(out.report_dir, ev.predictions, ev.metrics, ev.confusion, ev.labels)
        except OSError as exc:
            out.report_error = f"{out.report_dir}: report not written ({exc.strerror or exc})"
    out.seconds = time.perf_counter() - t0
    return out
