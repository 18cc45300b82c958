"""The one decision rule: from a file's per-class scores to a label (closed set, open set, novelty).

``score``, ``evaluate`` and :meth:`gmmspeech.model.fileclassifier.FileClassifier.classify` all decide through
:func:`decide`, so they can never disagree on the same scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Decision", "decide", "posteriors", "open_set_decision", "UNKNOWN"]

#: Label given to a file that no class fits (open-set mode or novelty).
UNKNOWN = "unknown"


def posteriors(scores: np.ndarray) -> np.ndarray:
    """Class posteriors from mean per-frame log-likelihoods: ``softmax(scores)`` along the last axis.

    Parameters
    ----------
    scores : (..., C) mean log-likelihood per frame under each class (nats).

    Returns
    -------
    (..., C) probabilities summing to one (flat prior over classes).
    """
    s = np.asarray(scores, dtype=np.float64)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def open_set_decision(scores: np.ndarray, thresholds: np.ndarray | float) -> np.ndarray:
    """Which rows of ``scores`` no class fits: every class's score is below its threshold.

    Parameters
    ----------
    scores : (..., C) mean log-likelihoods per frame.
    thresholds : scalar or (C,) thresholds in the same units.

    Returns
    -------
    bool array (...,): True where the item should be labelled unknown.
    """
    return np.all(np.asarray(scores) < np.asarray(thresholds), axis=-1)


@dataclass(frozen=True)
class Decision:
    """What a model says about one file or segment.

    Attributes
    ----------
    label : the decided class, or ``"unknown"`` when rejected (open set) or novel.
    best : the best-scoring class (even when ``label`` is unknown).
    scores : class -> score (mean log-likelihood per frame, or LLR per frame against the UBM; nats).
    posteriors : class -> posterior probability (softmax of the scores, flat prior).
    ranked : classes, best first.
    margin : best score minus the second best (nats per frame; ``inf`` with one class).
    n_frames : frames scored.
    rejected : True when every score is below its open-set threshold.
    novel, outlier_fraction : novelty flag and share of outlier frames (None without novelty calibration).
    """

    label: str
    best: str
    scores: Mapping[str, float]
    posteriors: Mapping[str, float]
    ranked: tuple[str, ...]
    margin: float
    n_frames: int
    rejected: bool = False
    novel: bool | None = None
    outlier_fraction: float | None = None


def decide(scores: np.ndarray, classes: Sequence[str], n_frames: int, *,
           thresholds: np.ndarray | float | None = None, novelty: Mapping[str, Any] | None = None,
           backend: Any = None) -> Decision:
    """Decide one item from its scores.

    Parameters
    ----------
    scores : (C,) per-class scores (nats per frame).
    classes : the C labels, in the order of ``scores``.
    n_frames : frames the scores were computed on.
    thresholds : open-set thresholds (scalar or (C,)), or None for a closed-set decision.
    novelty : the item's ``file_novelty`` result (``outlier_fraction``, ``novel``) or None.
    backend : a score back-end (``transform((N, C) scores) -> log-posteriors``) or None. With one, the open-set
        verdict is still taken on the raw ``scores`` (the scale the thresholds were calibrated on), and the
        decision, ``scores`` and posteriors are those of the calibrated log-posteriors.

    Returns
    -------
    :class:`Decision`; its label is ``"unknown"`` when the open-set test rejects the item or it is novel.
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(s) != len(classes) or len(s) == 0:
        raise ValueError(f"expected {len(classes)} scores, got shape {np.shape(scores)}")
    post = posteriors(s)
    order = np.argsort(-s, kind="stable")
    best = classes[order[0]]
    rejected = thresholds is not None and bool(open_set_decision(s, thresholds))
    if backend is not None:
        s = np.asarray(backend.transform(s[None, :]), dtype=np.float64)[0]
    novel = None if novelty is None else bool(novelty["novel"])
    return Decision(
        label=UNKNOWN if (rejected or novel) else best, best=best,
        scores={c: float(v) for c, v in zip(classes, s, strict=True)},
        posteriors={c: float(p) for c, p in zip(classes, post, strict=True)},
        ranked=tuple(classes[i] for i in order),
        margin=float(s[order[0]] - s[order[1]]) if len(s) > 1 else float("inf"),
        n_frames=int(n_frames), rejected=rejected, novel=novel,
        outlier_fraction=None if novelty is None else float(novelty["outlier_fraction"]))
