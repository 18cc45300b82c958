"""Classification and detection metrics: pure functions of label lists and score arrays.

Equal error rate (detection-style use, "is this file language X?"): every (file, class) pair is a trial --
a *target* trial when the file's true label is that class, a *non-target* trial otherwise (files whose label the
model does not know are non-target trials for every class). A trial's score is the detection log-likelihood
ratio ``s_c - log(mean_{j != c} exp(s_j))`` of the per-class mean log-likelihoods ``s``, which removes the
per-file offset that raw likelihoods share across classes. The pooled EER is the error rate at the threshold
where the false-rejection rate of target trials equals the false-acceptance rate of non-target trials
(interpolated linearly between the two operating points that bracket the crossing); per-class EERs use only
that class's trials.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["confusion_matrix", "classification_metrics", "equal_error_rate", "detection_scores",
           "detection_metrics"]


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Counts ``cm[i, j]`` of items of true class ``labels[i]`` predicted as ``labels[j]``, shape (C, C) int."""
    index = {lab: i for i, lab in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        cm[index[t], index[p]] += 1
    return cm


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str],
                           labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro-F1 and per-class precision/recall/F1/support.

    ``labels`` fixes the class order (default: sorted union of truths and predictions). Classes with no
    support are left out of the balanced accuracy; undefined precision/recall count as 0 (as scikit-learn's
    ``zero_division=0``).
    """
    labels = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred))
    cm = confusion_matrix(y_true, y_pred, labels)
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), 0.0)
        recall = np.where(support > 0, tp / np.maximum(support, 1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
    n = int(cm.sum())
    has = support > 0
    return {
        "n_items": n,
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "balanced_accuracy": float(recall[has].mean()) if has.any() else 0.0,
        "macro_f1": float(f1[has].mean()) if has.any() else 0.0,
        "labels": labels,
        "per_class": {lab: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                            "support": int(support[i])} for i, lab in enumerate(labels)},
    }


def equal_error_rate(target_scores: np.ndarray, nontarget_scores: np.ndarray) -> tuple[float, float]:
    """Equal error rate of a detector and the threshold where it occurs.

    A trial is accepted when its score is >= the threshold. The false-rejection rate (targets below) and the
    false-acceptance rate (non-targets at or above) are evaluated at every distinct score; the EER is read where
    they cross, interpolating linearly between the two bracketing operating points.

    Parameters
    ----------
    target_scores : (Nt,) scores of target trials (higher = more target-like).
    nontarget_scores : (Nn,) scores of non-target trials.

    Returns
    -------
    (eer, threshold) : eer in [0, 1]; threshold in score units.
    """
    t = np.sort(np.asarray(target_scores, dtype=np.float64).ravel())
    n = np.sort(np.asarray(nontarget_scores, dtype=np.float64).ravel())
    if t.size == 0 or n.size == 0:
        raise ValueError("the equal error rate needs at least one target and one non-target trial")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(n))):
        raise ValueError("detection scores must be finite")
    thr = np.unique(np.concatenate([t, n, [np.inf]]))
    frr = np.searchsorted(t, thr, side="left") / t.size           # targets strictly below the threshold
    far = 1.0 - np.searchsorted(n, thr, side="left") / n.size     # non-targets at or above it
    d = frr - far                                                  # rises from <= 0 to 1
    i = int(np.argmax(d >= 0))
    if i == 0 or d[i] == 0:
        return float((frr[i] + far[i]) / 2), float(thr[i])
    alpha = -d[i - 1] / (d[i] - d[i - 1])
    eer = far[i - 1] + alpha * (far[i] - far[i - 1])
    lo = thr[i - 1]
    hi = thr[i] if np.isfinite(thr[i]) else lo
    return float(eer), float(lo + alpha * (hi - lo))


def detection_scores(scores: np.ndarray) -> np.ndarray:
    """One-vs-rest detection log-likelihood ratios from per-class scores.

    Parameters
    ----------
    scores : (N, C) mean log-likelihoods per frame of N items under C classes.

    Returns
    -------
    (N, C) ``s_c - log(mean_{j != c} exp(s_j))``; with one class the scores are returned unchanged.
    """
    s = np.asarray(scores, dtype=np.float64)
    c = s.shape[1]
    if c < 2:
        return s.copy()
    out = np.empty_like(s)
    for j in range(c):
        others = np.delete(s, j, axis=1)
        m = others.max(axis=1)
        out[:, j] = s[:, j] - (m + np.log(np.exp(others - m[:, None]).mean(axis=1)))
    return out


def detection_metrics(scores: np.ndarray, y_true: Sequence[str], classes: Sequence[str]) -> dict[str, Any]:
    """Pooled and per-class one-vs-rest equal error rates (see the module docstring).

    Parameters
    ----------
    scores : (N, C) mean log-likelihoods per frame, columns in ``classes`` order.
    y_true : N true labels (labels outside ``classes`` give only non-target trials).
    classes : the model's C class labels.

    Returns
    -------
    dict with ``eer`` and ``eer_threshold`` (pooled; None when there are no target or no non-target trials),
    ``eer_per_class`` (label -> EER or None) and ``eer_score`` (what was thresholded).
    """
    llr = detection_scores(scores)
    truth = np.array([[t == c for c in classes] for t in y_true], dtype=bool).reshape(len(y_true), len(classes))

    def eer_of(tgt, non):
        return equal_error_rate(tgt, non) if tgt.size and non.size else (None, None)

    eer, thr = eer_of(llr[truth], llr[~truth])
    per = {c: eer_of(llr[truth[:, j], j], llr[~truth[:, j], j])[0] for j, c in enumerate(classes)}
    return {"eer": eer, "eer_threshold": thr, "eer_per_class": per,
            "eer_score": "one-vs-rest detection log-likelihood ratio s_c - log(mean_{j!=c} exp(s_j)) of the "
                         "per-class mean log-likelihoods per frame; target and non-target trials pooled over classes"}
