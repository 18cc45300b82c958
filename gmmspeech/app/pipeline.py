"""The stages a recipe runs -- train from a manifest, evaluate on a manifest -- as plain functions.

The CLI only parses arguments and prints; everything it does is here so scripts and tests can call it.
"""

from __future__ import annotations

import dataclasses
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import __version__
from ..core.metrics import classification_metrics, confusion_matrix, detection_metrics
from ..data.featstore import compute_features, load_or_compute
from ..data.manifest import Utterance
from ..frontend.features import FeatureConfig
from ..infra.parallel import parallel_map
from ..infra.progress import Progress
from ..model.classifier import UNKNOWN, GMMClassifier, UBMClassifier, open_set_decision
from ..model.cluster import ClusterAccumulator, ClusterFitter
from ..model.novelty import calibrate_novelty, file_novelty
from .settings import ModelConfig, Settings

__all__ = ["TrainResult", "EvalResult", "train_classifier", "evaluate_classifier"]


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


@dataclass
class TrainResult:
    """A trained classifier, the metadata to save with it, and the files that were skipped."""

    classifier: GMMClassifier
    meta: dict[str, Any]
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
        raise ValueError("--scheduler needs the feature cache (a folder the client and the workers share): "
                         "do not combine it with --no-cache")
    fs = compute_features(utts, features, n_jobs=n_jobs, progress=not quiet, desc="features", cache=cache,
                          scheduler=scheduler)
    by_class: dict[str, list[np.ndarray]] = defaultdict(list)
    for u, x in fs.ok():
        by_class[u.label].append(x)
    lost = sorted({u.label for u in utts} - set(by_class))
    if lost:
        raise ValueError(f"no usable training file for class(es): {', '.join(lost)}")
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
        remote = {} if not scheduler else {"accumulator": ClusterAccumulator(scheduler)}
        clf = UBMClassifier(**model.ubm_params(), **remote).fit(by_class, progress=report_map)
    elif scheduler:   # small classes are fitted whole by one task each, large ones by per-iteration E-step tasks
        clf = GMMClassifier(**model.gmm_params()).fit(by_class, progress=report, concurrent=len(by_class),
                                                      fitter=ClusterFitter(scheduler))
    else:
        clf = GMMClassifier(**model.gmm_params()).fit(by_class, progress=report)
    meta = {
        "model_type": model.type,
        "task": None if settings is None else settings.task,
        "settings_sources": {} if settings is None else dict(settings.sources),
        "features": features.to_dict(),
        "training": {
            "package_version": __version__,
            "recipe": recipe,
            "model": dataclasses.asdict(model),
            "files_per_class": {lab: len(xs) for lab, xs in sorted(by_class.items())},
            "frames_per_class": {lab: int(n) for lab, n in sorted(n_frames.items())},
            "iterations": {lab: int(m.n_iter_) for lab, m in clf.models_.items()},
            "final_log_likelihood": {lab: float(m.log_likelihood_history_[-1]) for lab, m in clf.models_.items()},
            "converged": {lab: bool(m.converged_) for lab, m in clf.models_.items()},
            "seed": model.seed,
            "skipped_files": [{"file": u.name, "line": u.line, "reason": msg} for u, msg in fs.errors],
        },
    }
    if model.type == "ubm_map":
        ubm = clf.ubm_
        meta["training"]["ubm"] = {"components": int(ubm.means_.shape[0]), "init": model.init,
                                   "rounds": [list(r) for r in ubm.mixup_history_],
                                   "iterations": int(ubm.n_iter_), "converged": bool(ubm.converged_),
                                   "final_log_likelihood": float(ubm.lower_bound_)}
        meta["training"]["train_llr"] = {lab: float(v) for lab, v in clf.train_scores_.items()}
    meta["novelty"] = calibrate_novelty(clf, by_class)  # frame/file outlier thresholds, see gmmspeech.novelty
    return TrainResult(clf, meta, fs.errors)


def evaluate_classifier(clf: GMMClassifier, features: FeatureConfig, utts: list[Utterance], *,
                        n_jobs: int | None = None, quiet: bool = False, cache=None,
                        open_set: bool = False, reject_below: float | None = None,
                        scheduler: str | None = None, novelty: dict[str, Any] | None = None) -> EvalResult:
    """Score every utterance with ``clf`` and compare with its label.

    Files that fail are reported in ``EvalResult.errors`` and left out of the metrics; labels the model does
    not know are listed in ``unknown_labels`` and counted as errors (they can never be predicted). Metrics
    include the one-vs-rest equal error rate (:func:`gmmspeech.evaluate.detection_metrics`). With ``open_set``
    (the model's calibrated thresholds) or ``reject_below`` (one threshold), files no class fits are predicted
    ``unknown``. With ``novelty`` (a model's ``meta["novelty"]``), files flagged novel are predicted ``unknown``
    too and rows gain ``outlier_fraction`` and ``novel`` (:func:`gmmspeech.novelty.file_novelty`).
    """
    thresholds = clf.open_set_thresholds(reject_below) if (open_set or reject_below is not None) else None
    if scheduler:
        results, errors = _score_on_cluster(clf, features, utts, cache, scheduler, novelty, quiet)
    else:
        fs = compute_features(utts, features, n_jobs=n_jobs, progress=not quiet, desc="scoring", cache=cache)
        results = [(u, *score_features(x, (clf, novelty))) for u, x in fs.ok()]
        errors = fs.errors
    rows, y_true, y_pred, all_scores = [], [], [], []
    for u, scores, n_frames, nov in results:
        order = np.argsort(-scores, kind="stable")
        pred = clf.classes_[order[0]]
        if thresholds is not None and open_set_decision(scores, thresholds):
            pred = UNKNOWN
        if nov is not None and nov["novel"]:
            pred = UNKNOWN
        margin = float(scores[order[0]] - scores[order[1]]) if len(order) > 1 else float("inf")
        row = {"file": u.name, "truth": u.label, "predicted": pred, "correct": int(pred == u.label),
               "margin": round(margin, 6), "n_frames": int(n_frames)}
        row.update({f"score_{c}": round(float(s), 6) for c, s in zip(clf.classes_, scores, strict=True)})
        if nov is not None:
            row.update(outlier_fraction=nov["outlier_fraction"], novel=int(nov["novel"]))
        rows.append(row)
        y_true.append(u.label)
        y_pred.append(pred)
        all_scores.append(scores)
    unknown = sorted(set(y_true) - set(clf.classes_))
    labels = list(clf.classes_) + unknown
    if UNKNOWN in y_pred and UNKNOWN not in labels:
        labels.append(UNKNOWN)
    metrics = classification_metrics(y_true, y_pred, labels)
    score_matrix = np.array(all_scores).reshape(len(all_scores), len(clf.classes_))
    metrics.update(detection_metrics(score_matrix, y_true, clf.classes_))
    metrics["unknown_labels"] = unknown
    metrics["failed_files"] = [{"file": u.name, "line": u.line, "reason": msg} for u, msg in errors]
    cm = confusion_matrix(y_true, y_pred, labels)
    return EvalResult(rows, metrics, cm, labels, errors, unknown)


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
