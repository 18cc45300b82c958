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

from . import __version__
from .classifier import UNKNOWN, GMMClassifier, open_set_decision
from .evaluate import classification_metrics, confusion_matrix, detection_metrics
from .featstore import compute_features
from .features import FeatureConfig
from .manifest import Utterance
from .recipe import ModelConfig

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
                     cache=None) -> TrainResult:
    """Extract features for ``utts`` and fit one GMM per label.

    Bad files are skipped and reported in ``TrainResult.errors``; a class left with no usable file is an error.
    ``cache`` (a ``featstore.FeatureCache``, its folder, or ``None`` for none) is passed to ``compute_features``.
    """
    fs = compute_features(utts, features, n_jobs=n_jobs, progress=not quiet, desc="features", cache=cache)
    by_class: dict[str, list[np.ndarray]] = defaultdict(list)
    for u, x in fs.ok():
        by_class[u.label].append(x)
    lost = sorted({u.label for u in utts} - set(by_class))
    if lost:
        raise ValueError(f"no usable training file for class(es): {', '.join(lost)}")
    frames = {lab: np.concatenate(xs) for lab, xs in by_class.items()}
    _log(f"training {len(frames)} class models ({model.components} components, "
         f"{features.n_dims} dims) on {sum(len(x) for x in frames.values())} frames", quiet)

    def report(label: str, gmm) -> None:
        _log(f"  {label:<12} {len(frames[label]):>8} frames  {gmm.n_iter_:>3} iterations  "
             f"log-lik/frame {gmm.log_likelihood_history_[-1]:9.3f}"
             f"{'' if gmm.converged_ else '  (not converged)'}", quiet)

    clf = GMMClassifier(**model.gmm_params()).fit(frames, progress=report)
    meta = {
        "features": features.to_dict(),
        "training": {
            "package_version": __version__,
            "recipe": recipe,
            "model": dataclasses.asdict(model),
            "files_per_class": {lab: len(xs) for lab, xs in sorted(by_class.items())},
            "frames_per_class": {lab: int(len(x)) for lab, x in sorted(frames.items())},
            "iterations": {lab: int(m.n_iter_) for lab, m in clf.models_.items()},
            "final_log_likelihood": {lab: float(m.log_likelihood_history_[-1]) for lab, m in clf.models_.items()},
            "converged": {lab: bool(m.converged_) for lab, m in clf.models_.items()},
            "seed": model.seed,
            "skipped_files": [{"file": u.name, "line": u.line, "reason": msg} for u, msg in fs.errors],
        },
    }
    return TrainResult(clf, meta, fs.errors)


def evaluate_classifier(clf: GMMClassifier, features: FeatureConfig, utts: list[Utterance], *,
                        n_jobs: int | None = None, quiet: bool = False, cache=None,
                        open_set: bool = False, reject_below: float | None = None) -> EvalResult:
    """Score every utterance with ``clf`` and compare with its label.

    Files that fail are reported in ``EvalResult.errors`` and left out of the metrics; labels the model does
    not know are listed in ``unknown_labels`` and counted as errors (they can never be predicted). Metrics
    include the one-vs-rest equal error rate (:func:`gmmspeech.evaluate.detection_metrics`). With ``open_set``
    (the model's calibrated thresholds) or ``reject_below`` (one threshold), files no class fits are predicted
    ``unknown``.
    """
    fs = compute_features(utts, features, n_jobs=n_jobs, progress=not quiet, desc="scoring", cache=cache)
    thresholds = clf.open_set_thresholds(reject_below) if (open_set or reject_below is not None) else None
    rows, y_true, y_pred, all_scores = [], [], [], []
    for u, x in fs.ok():
        scores = clf.score(x)
        order = np.argsort(-scores, kind="stable")
        pred = clf.classes_[order[0]]
        if thresholds is not None and open_set_decision(scores, thresholds):
            pred = UNKNOWN
        margin = float(scores[order[0]] - scores[order[1]]) if len(order) > 1 else float("inf")
        row = {"file": u.name, "truth": u.label, "predicted": pred, "correct": int(pred == u.label),
               "margin": round(margin, 6), "n_frames": int(len(x))}
        row.update({f"score_{c}": round(float(s), 6) for c, s in zip(clf.classes_, scores, strict=True)})
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
    metrics["failed_files"] = [{"file": u.name, "line": u.line, "reason": msg} for u, msg in fs.errors]
    cm = confusion_matrix(y_true, y_pred, labels)
    return EvalResult(rows, metrics, cm, labels, fs.errors, unknown)
