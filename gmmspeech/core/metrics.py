"""Classification and detection metrics: pure functions of label lists and score arrays.

Equal error rate (detection-style use, "is this file language X?"): every (file, class) pair is a trial --
a *target* trial when the file's true label is that class, a *non-target* trial otherwise (files whose label the
model does not know are non-target trials for every class). A trial's score is the detection log-likelihood
ratio ``s_c - log(mean_{j != c} exp(s_j))`` of the per-class mean log-likelihoods ``s``, which removes the
per-file offset that raw likelihoods share across classes. The pooled EER is the error rate at the threshold
where the false-rejection rate of target trials equals the false-acceptance rate of non-target trials
(interpolated linearly between the two operating points that bracket the crossing); per-class EERs use only
that class's trials.

Language-recognition figures (:func:`lre_metrics` gathers them all, overall and per duration bucket):

* **Cavg** (:func:`cavg`, :func:`min_cavg`) -- the average detection cost of the NIST LRE 2007 and 2009
  evaluation plans (see :func:`cavg` for the formula), on detection log-likelihood ratios.
* **Multiclass Cllr** (:func:`multiclass_cllr`, :func:`min_multiclass_cllr`) -- Brümmer & du Preez's
  log-likelihood-ratio cost in its multiclass form (Brümmer & van Leeuwen 2006, FoCal Multi-class), in bits,
  and its value after the optimal affine calibration.
* **DCF** (:func:`act_dcf`, :func:`min_dcf`) -- the normalised detection cost of one detector's target and
  non-target scores, at the Bayes threshold or at the best threshold.

Scores given to these functions as an (N, C) matrix are *log-likelihood-like*: raw mean log-likelihoods, or
calibrated log-posteriors under a flat prior (:mod:`gmmspeech.core.backend`), which equal calibrated
log-likelihoods up to a per-file constant. Figures read at a fixed threshold (Cavg, actual DCF) and Cllr measure
calibration too and mean something only for calibrated scores; minCavg, minDCF, min Cllr and EER do not depend
on calibration.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
from scipy.special import log_softmax

from ..infra.errors import DataError, UsageError
from .backend import LogisticBackend, class_balanced_weights, label_indices

__all__ = ["operating_points", "confusion_matrix", "classification_metrics", "equal_error_rate", "detection_scores",
           "detection_metrics", "bayes_threshold", "act_dcf", "min_dcf", "cavg", "min_cavg", "multiclass_cllr",
           "min_multiclass_cllr", "duration_buckets", "lre_metrics", "DEFAULT_BUCKET_EDGES"]


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


def operating_points(target_scores: np.ndarray, nontarget_scores: np.ndarray, what: str = "a DET curve"
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Miss and false-alarm rates at every distinct threshold (the DET curve's points).

    A trial is accepted when its score is >= the threshold. Thresholds are the distinct scores in increasing
    order followed by ``+inf``, so the points run from ``(p_miss, p_fa) = (0, 1)`` to ``(1, 0)``.

    Parameters
    ----------
    target_scores : (Nt,) scores of target trials (higher = more target-like).
    nontarget_scores : (Nn,) scores of non-target trials.
    what : what needs the points, for the error message.

    Returns
    -------
    (p_miss, p_fa, thresholds) : three (M,) float arrays; ``p_miss`` (targets below the threshold) never
    decreases and ``p_fa`` (non-targets at or above it) never increases.

    Raises
    ------
    ValueError : when either set is empty or a score is not finite.
    """
    t = np.sort(np.asarray(target_scores, dtype=np.float64).ravel())
    n = np.sort(np.asarray(nontarget_scores, dtype=np.float64).ravel())
    if t.size == 0 or n.size == 0:
        raise ValueError(f"{what} needs at least one target and one non-target trial")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(n))):
        raise ValueError("detection scores must be finite")
    thr = np.unique(np.concatenate([t, n, [np.inf]]))
    p_miss = np.searchsorted(t, thr, side="left") / t.size           # targets strictly below the threshold
    p_fa = 1.0 - np.searchsorted(n, thr, side="left") / n.size       # non-targets at or above it
    return p_miss, p_fa, thr


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
    frr, far, thr = operating_points(target_scores, nontarget_scores, "the equal error rate")
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


# ----------------------------------------------------------------------------------------------------------------
# detection costs (NIST conventions)

#: default duration bucket edges in seconds: <= 3 s, 3-10 s, > 10 s (the LRE 3/10/30-second conditions)
DEFAULT_BUCKET_EDGES = (3.0, 10.0)


def _check_costs(p_target: float, c_miss: float, c_fa: float) -> None:
    for name, v in (("p_target", p_target), ("c_miss", c_miss), ("c_fa", c_fa)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v):
            raise UsageError(f"{name} must be a finite number, got {v!r}")
    if not 0 < p_target < 1:
        raise UsageError(f"p_target must be in (0, 1), got {p_target!r}")
    if not (c_miss > 0 and c_fa > 0):
        raise UsageError(f"c_miss and c_fa must be > 0, got {c_miss!r} and {c_fa!r}")


def _check_vector(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).ravel()
    if a.size == 0:
        raise DataError(f"{name} is empty: the cost needs at least one target and one non-target trial")
    if not np.all(np.isfinite(a)):
        raise DataError(f"{name} must be finite")
    return a


def _check_matrix(scores: Any, n_classes: int, name: str = "scores") -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != n_classes:
        raise DataError(f"{name} must have shape (files, {n_classes}), got {s.shape}")
    if not np.all(np.isfinite(s)):
        raise DataError(f"{name} must be finite")
    return s


def _cost_at(scores: np.ndarray, is_target: np.ndarray, w: np.ndarray, threshold: float) -> float:
    """Weighted cost of accepting every trial with score >= threshold: misses + false alarms."""
    accept = scores >= threshold
    return float(w[is_target & ~accept].sum() + w[~is_target & accept].sum())


def _min_cost(scores: np.ndarray, is_target: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """(lowest weighted cost over all thresholds, the lowest threshold reaching it) -- one sort, O(T log T).

    The candidate thresholds are the distinct scores and +inf (reject all); threshold u accepts scores >= u.
    """
    order = np.argsort(scores, kind="stable")
    s, t, ws = scores[order], is_target[order], w[order]
    cum_t = np.concatenate([[0.0], np.cumsum(np.where(t, ws, 0.0))])   # target weight among the k lowest
    cum_n = np.concatenate([[0.0], np.cumsum(np.where(t, 0.0, ws))])
    uniq, first = np.unique(s, return_index=True)
    k = np.append(first, s.size)                                        # trials below threshold k are rejected
    cost = cum_t[k] + (cum_n[-1] - cum_n[k])
    i = int(np.argmin(cost))
    return float(max(cost[i], 0.0)), float(uniq[i]) if i < uniq.size else math.inf


def bayes_threshold(p_target: float = 0.5, c_miss: float = 1.0, c_fa: float = 1.0) -> float:
    """Bayes decision threshold on a calibrated log-likelihood ratio: ``log(C_fa (1 - P_t) / (C_miss P_t))``.

    Accepting trials whose LLR is >= this minimises the expected cost; it is 0 at ``P_t = 0.5``, ``C_miss =
    C_fa``.
    """
    _check_costs(p_target, c_miss, c_fa)
    return math.log(c_fa * (1.0 - p_target) / (c_miss * p_target))


def _dcf_trials(target_scores, nontarget_scores, p_target, c_miss, c_fa):
    _check_costs(p_target, c_miss, c_fa)
    t = _check_vector(target_scores, "target_scores")
    n = _check_vector(nontarget_scores, "nontarget_scores")
    scores = np.concatenate([t, n])
    is_target = np.r_[np.ones(t.size, bool), np.zeros(n.size, bool)]
    w = np.r_[np.full(t.size, c_miss * p_target / t.size), np.full(n.size, c_fa * (1 - p_target) / n.size)]
    return scores, is_target, w, min(c_miss * p_target, c_fa * (1 - p_target))


def act_dcf(target_scores: Any, nontarget_scores: Any, *, p_target: float = 0.5, c_miss: float = 1.0,
            c_fa: float = 1.0, threshold: float | None = None, normalize: bool = True) -> float:
    """Actual detection cost ``C_miss P_t P_miss + C_fa (1 - P_t) P_fa`` at a fixed threshold.

    A trial is accepted when its score is >= ``threshold``; the default threshold is
    :func:`bayes_threshold` ``(p_target, c_miss, c_fa)``, right for calibrated log-likelihood ratios. The
    defaults ``P_t = 0.5, C_miss = C_fa = 1`` are those of NIST LRE 2007/2009 (SRE uses e.g. ``P_t = 0.01``).

    Parameters
    ----------
    target_scores : (Nt,) scores of target trials (higher = more target-like).
    nontarget_scores : (Nn,) scores of non-target trials.
    p_target, c_miss, c_fa : prior of a target trial and the costs of a miss and of a false alarm.
    threshold : accept scores >= this (score units); None: the Bayes threshold for LLRs.
    normalize : divide by ``min(C_miss P_t, C_fa (1 - P_t))``, the cost of the better trivial system (always
        accept or always reject), so 1 means "no better than not looking at the scores".

    Returns
    -------
    The (normalised) cost, >= 0.
    """
    scores, is_target, w, norm = _dcf_trials(target_scores, nontarget_scores, p_target, c_miss, c_fa)
    thr = bayes_threshold(p_target, c_miss, c_fa) if threshold is None else float(threshold)
    cost = _cost_at(scores, is_target, w, thr)
    return cost / norm if normalize else cost


def min_dcf(target_scores: Any, nontarget_scores: Any, *, p_target: float = 0.5, c_miss: float = 1.0,
            c_fa: float = 1.0, normalize: bool = True) -> tuple[float, float]:
    """Minimum detection cost over all thresholds, and the threshold reaching it.

    Same cost and conventions as :func:`act_dcf`; the minimum is taken over every distinct score (accept
    scores >= it) and +inf (reject all), so it never exceeds 1 when normalised.

    Returns
    -------
    (min_dcf, threshold) : the (normalised) cost and the lowest threshold attaining it (``inf``: reject all).
    """
    scores, is_target, w, norm = _dcf_trials(target_scores, nontarget_scores, p_target, c_miss, c_fa)
    cost, thr = _min_cost(scores, is_target, w)
    return (cost / norm if normalize else cost), thr


# ----------------------------------------------------------------------------------------------------------------
# Cavg


def _cavg_trials(llrs, y_true, classes, p_target, c_miss, c_fa, p_oos):
    """(scores, is_target, weights, p_oos) of the Cavg trials: Cavg(t) = weighted misses + false alarms at t."""
    _check_costs(p_target, c_miss, c_fa)
    classes = list(classes)
    s = _check_matrix(llrs, len(classes), "llrs")
    if len(y_true) != s.shape[0]:
        raise DataError(f"{len(y_true)} labels for {s.shape[0]} score rows")
    idx = label_indices(y_true, classes)
    counts = np.bincount(idx[idx >= 0], minlength=len(classes))
    present = np.flatnonzero(counts)
    n_lang = present.size
    if n_lang < 2:
        raise DataError(f"Cavg needs trials of at least 2 target languages, got {n_lang}")
    n_oos = int(np.count_nonzero(idx < 0))
    if p_oos is None:
        p_oos = 0.2 if n_oos else 0.0
    if isinstance(p_oos, bool) or not isinstance(p_oos, numbers.Real) or not 0 <= p_oos < 1 - p_target:
        raise UsageError(f"p_oos must be in [0, 1 - p_target), got {p_oos!r}")
    if p_oos > 0 and n_oos == 0:
        raise DataError(f"p_oos = {p_oos:g} but there are no out-of-set trials")
    p_non = (1.0 - p_target - p_oos) / (n_lang - 1)
    # weight of each file as a non-target trial of any target language: per pair (L_T, L_N) the false-alarm
    # rate over L_N's files, weighted P_NonTarget; out-of-set files share P_Out-of-Set
    w_file = np.zeros(s.shape[0])
    in_set = idx >= 0
    w_file[in_set] = c_fa * p_non / counts[idx[in_set]]
    if n_oos:
        w_file[~in_set] = c_fa * p_oos / n_oos
    rows = np.flatnonzero(in_set | (p_oos > 0))
    sc, tg, wt = [], [], []
    for lt in present:
        is_t = idx[rows] == lt
        sc.append(s[rows, lt])
        tg.append(is_t)
        wt.append(np.where(is_t, c_miss * p_target / counts[lt], w_file[rows]) / n_lang)
    return np.concatenate(sc), np.concatenate(tg), np.concatenate(wt), float(p_oos)


def cavg(llrs: Any, y_true: Sequence[Hashable], classes: Sequence[Hashable], *, threshold: float | None = None,
         p_target: float = 0.5, c_miss: float = 1.0, c_fa: float = 1.0, p_oos: float | None = None) -> float:
    """Average detection cost Cavg of NIST LRE 2007/2009, with decisions by thresholding detection LLRs.

    As defined in *The 2007 NIST Language Recognition Evaluation Plan* (performance measure) and kept in the
    LRE 2009 plan: for target language L_T and non-target language L_N,

        C_avg = 1/N_L * sum_{L_T} [ C_miss P_target P_miss(L_T)
                                    + sum_{L_N != L_T} C_fa P_NonTarget P_fa(L_T, L_N)
                                    + C_fa P_OOS P_fa(L_T, L_O) ]
        P_NonTarget = (1 - P_target - P_OOS) / (N_L - 1)

    with ``P_target = 0.5``, ``C_miss = C_fa = 1``, ``P_OOS = 0`` for closed-set and 0.2 for open-set tests.
    ``P_miss(L_T)`` is the fraction of L_T's files rejected by the L_T detector, ``P_fa(L_T, L_N)`` the
    fraction of L_N's files it accepts (false alarms are averaged per language pair, not pooled), ``P_fa(L_T,
    L_O)`` the fraction of out-of-set files it accepts. The detector for L_T accepts a file when its
    detection LLR for L_T (column ``L_T`` of ``llrs``) is >= ``threshold``. (This is the per-pair form of the
    public Kaldi-style LRE scoring scripts too; they sweep a grid of thresholds for the minimum.)

    Conventions here: the target languages are the classes with at least one file (N_L of them, at least 2);
    files labelled outside ``classes`` are the out-of-set files; ``p_oos=None`` means 0.2 when there are any
    and 0 otherwise. Cavg lies in [0, 1]: rejecting everything costs ``C_miss P_target`` (0.5).

    Parameters
    ----------
    llrs : (N, C) detection log-likelihood ratios, one column per class (e.g.
        :func:`detection_scores` of calibrated log-posteriors or log-likelihoods).
    y_true : N true labels.
    classes : the C class labels, in column order.
    threshold : accept LLRs >= this; None: :func:`bayes_threshold` (0 at the LRE costs). For calibrated
        detection LLRs ``log p(x|L_T) / mean_{j != T} p(x|L_j)`` this is the Bayes decision of each detector,
        since Cavg spreads the in-set non-target prior evenly over the other languages (out-of-set files are
        not modelled by that LLR).
    p_target, c_miss, c_fa, p_oos : the cost parameters above.

    Returns
    -------
    Cavg (a fraction; multiply by 100 for the percentages NIST reports).
    """
    scores, is_target, w, _ = _cavg_trials(llrs, y_true, classes, p_target, c_miss, c_fa, p_oos)
    thr = bayes_threshold(p_target, c_miss, c_fa) if threshold is None else float(threshold)
    return _cost_at(scores, is_target, w, thr)


def min_cavg(llrs: Any, y_true: Sequence[Hashable], classes: Sequence[Hashable], *, p_target: float = 0.5,
             c_miss: float = 1.0, c_fa: float = 1.0, p_oos: float | None = None) -> tuple[float, float]:
    """Lowest :func:`cavg` over one threshold shared by all target languages, and that threshold.

    Every distinct LLR value (and +inf) is tried, exactly, in one sort (the common scripts sweep a grid of
    thresholds instead). Per-language thresholds could go lower; this is the calibration-insensitive figure
    usually reported next to Cavg.

    Returns
    -------
    (min_cavg, threshold) : the cost and the lowest threshold attaining it (``inf``: reject all).
    """
    scores, is_target, w, _ = _cavg_trials(llrs, y_true, classes, p_target, c_miss, c_fa, p_oos)
    return _min_cost(scores, is_target, w)


# ----------------------------------------------------------------------------------------------------------------
# Cllr


def _cllr_inputs(scores: Any, y_true: Sequence[Hashable], classes: Sequence[Hashable]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked ``(scores (N, C), class index per file (-1: out of set), in-set mask)`` for the Cllr functions."""
    s = _check_matrix(scores, len(classes))
    if len(y_true) != s.shape[0]:
        raise DataError(f"{len(y_true)} labels for {s.shape[0]} score rows")
    idx = label_indices(y_true, list(classes))
    ok = idx >= 0
    if not ok.any():
        raise DataError("Cllr needs at least one file whose label is one of the classes")
    return s, idx, ok


def multiclass_cllr(scores: Any, y_true: Sequence[Hashable], classes: Sequence[Hashable]) -> float:
    """Multiclass log-likelihood-ratio cost, in bits.

    Brümmer & du Preez's Cllr (Computer Speech and Language 20, 2006) in the multiclass form of Brümmer & van
    Leeuwen (Odyssey 2006) and the FoCal Multi-class toolkit:

    ``Cllr = -1/K sum_i 1/N_i sum_{t in class i} log2 P(i | x_t)`` where ``P(i | x_t) = softmax(scores_t)_i``
    is the posterior under a flat prior (scores are log-likelihoods, or log-posteriors under a flat prior),
    ``N_i`` the number of files of class i and K the number of classes with files: each class weighs the same
    whatever its count. 0 is perfect; a system that always outputs flat posteriors scores ``log2(C)``; files
    labelled outside ``classes`` are left out.

    Parameters
    ----------
    scores : (N, C) log-likelihoods (natural log), columns in ``classes`` order.
    y_true : N true labels.
    classes : the C class labels.

    Returns
    -------
    Cllr in bits (>= 0).
    """
    s, idx, ok = _cllr_inputs(scores, y_true, classes)
    w = class_balanced_weights(idx, len(classes))[ok]
    lp = log_softmax(s[ok], axis=1)[np.arange(w.size), idx[ok]]
    return float(max(-np.dot(w, lp), 0.0) / math.log(2))


def min_multiclass_cllr(scores: Any, y_true: Sequence[Hashable], classes: Sequence[Hashable]) -> float:
    """Multiclass Cllr after the best affine calibration of these very scores (bits).

    The calibration is FoCal Multiclass's: ``s' = alpha * s + beta`` with one scalar ``alpha`` and one offset
    per class, fitted without regularisation by multiclass logistic regression (the same prior-weighted
    objective, :class:`gmmspeech.core.backend.LogisticBackend` with ``reg=0``), so this is the minimum of
    :func:`multiclass_cllr` over that family -- a measure of discrimination with calibration factored out.
    Classes without files are left out of the softmax (the limit of their offsets going to minus infinity);
    with files of one class only, it is 0. Because the identity map is in the family, ``min <= Cllr``.

    Parameters
    ----------
    scores : (N, C) log-likelihoods, columns in ``classes`` order.
    y_true : N true labels (labels outside ``classes`` are left out).
    classes : the C class labels.

    Returns
    -------
    min Cllr in bits.
    """
    s, idx, ok = _cllr_inputs(scores, y_true, classes)
    present = np.unique(idx[ok])
    if present.size == 1:
        return 0.0
    sub = s[np.ix_(ok, present)]
    y = np.searchsorted(present, idx[ok])
    k = list(range(present.size))
    calibrated = LogisticBackend(reg=0.0).fit(sub, y, k).transform(sub)
    return multiclass_cllr(calibrated, y, k)


# ----------------------------------------------------------------------------------------------------------------
# everything at once, per duration bucket


def duration_buckets(durations: Any, edges: Sequence[float] = DEFAULT_BUCKET_EDGES
                     ) -> list[tuple[str, float | None, float | None, np.ndarray]]:
    """Split files by duration: ``d <= e_1``, ``e_1 < d <= e_2``, ..., ``d > e_last``.

    Parameters
    ----------
    durations : (N,) durations in seconds (finite, >= 0).
    edges : increasing bucket edges in seconds (default 3 and 10: "<=3s", "3-10s", ">10s").

    Returns
    -------
    list of (name, lower (exclusive) or None, upper (inclusive) or None, mask (N,) bool), empty buckets too.
    """
    d = np.asarray(durations, dtype=np.float64).ravel()
    if not (np.all(np.isfinite(d)) and np.all(d >= 0)):
        raise DataError("durations must be finite and >= 0 (seconds)")
    e = [float(x) for x in edges]
    if not e or not all(np.isfinite(e)) or any(b <= a for a, b in zip(e, e[1:], strict=False)) or e[0] <= 0:
        raise UsageError(f"bucket edges must be positive, finite and increasing, got {list(edges)!r}")
    out = [(f"<={e[0]:g}s", None, e[0], d <= e[0])]
    out += [(f"{a:g}-{b:g}s", a, b, (d > a) & (d <= b)) for a, b in zip(e, e[1:], strict=False)]
    out.append((f">{e[-1]:g}s", e[-1], None, d > e[-1]))
    return out


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _or_none(fn, *args, **kwargs):
    """fn(...) or None when the figure is undefined for these trials (DataError)."""
    try:
        return fn(*args, **kwargs)
    except DataError:
        return None


def _figures(s: np.ndarray, y: list, classes: list, costs: dict, p_oos: float | None) -> dict[str, Any]:
    """Every LRE figure of one set of files (see :func:`lre_metrics`)."""
    llr = detection_scores(s)
    idx = label_indices(y, classes)
    truth = idx[:, None] == np.arange(len(classes))[None, :]
    in_set = idx >= 0
    out: dict[str, Any] = {"n_items": int(s.shape[0]), "n_out_of_set": int(np.count_nonzero(~in_set)),
                           "accuracy": float(np.mean(np.argmax(s[in_set], axis=1) == idx[in_set]))
                           if in_set.any() else None}
    used_oos = p_oos if p_oos is not None else (0.2 if (~in_set).any() else 0.0)
    thr = bayes_threshold(**costs)
    out["p_oos"] = used_oos
    out["cavg"] = _or_none(cavg, llr, y, classes, threshold=thr, p_oos=used_oos, **costs)
    mc = _or_none(min_cavg, llr, y, classes, p_oos=used_oos, **costs)
    out["min_cavg"], out["min_cavg_threshold"] = (mc[0], _num(mc[1])) if mc else (None, None)
    out["cllr"] = _or_none(multiclass_cllr, s, y, classes)
    out["min_cllr"] = _or_none(min_multiclass_cllr, s, y, classes)

    def detection(tgt, non):
        if tgt.size == 0 or non.size == 0:
            return {"eer": None, "eer_threshold": None, "act_dcf": None, "min_dcf": None, "min_dcf_threshold": None}
        eer, eer_thr = equal_error_rate(tgt, non)
        m, m_thr = min_dcf(tgt, non, **costs)
        return {"eer": eer, "eer_threshold": _num(eer_thr), "act_dcf": act_dcf(tgt, non, threshold=thr, **costs),
                "min_dcf": m, "min_dcf_threshold": _num(m_thr)}

    out.update(detection(llr[truth], llr[~truth]))
    out["per_class"] = {}
    for j, c in enumerate(classes):
        tgt, non = llr[truth[:, j], j], llr[~truth[:, j], j]
        figs = detection(tgt, non)
        out["per_class"][str(c)] = {"n_target": int(tgt.size), "n_nontarget": int(non.size), "eer": figs["eer"],
                                    "act_dcf": figs["act_dcf"], "min_dcf": figs["min_dcf"]}
    return out


def lre_metrics(scores: Any, y_true: Sequence[Hashable], classes: Sequence[Hashable], *,
                durations: Any = None, bucket_edges: Sequence[float] = DEFAULT_BUCKET_EDGES,
                p_target: float = 0.5, c_miss: float = 1.0, c_fa: float = 1.0,
                p_oos: float | None = None) -> dict[str, Any]:
    """Language-recognition figures as a JSON-ready dict (plain floats, ints, None, str keys).

    From the (N, C) score matrix: the detection LLRs are :func:`detection_scores` ``(scores)``; then

    * ``accuracy`` -- closed-set accuracy of the arg-max over the files whose label is a class;
    * ``cavg`` (at :func:`bayes_threshold`, 0 by default) and ``min_cavg`` / ``min_cavg_threshold``
      (:func:`cavg`, :func:`min_cavg`; ``p_oos`` is the out-of-set prior used);
    * ``cllr`` / ``min_cllr`` (bits; :func:`multiclass_cllr`, :func:`min_multiclass_cllr`);
    * pooled over all (file, class) trials: ``eer`` / ``eer_threshold``, ``act_dcf`` (at the Bayes threshold)
      and ``min_dcf`` / ``min_dcf_threshold`` (normalised; :func:`act_dcf`, :func:`min_dcf`);
    * ``per_class`` -- label -> ``n_target``, ``n_nontarget``, ``eer``, ``act_dcf``, ``min_dcf`` of that class's
      detector;
    * ``by_duration`` (when ``durations`` is given) -- bucket name -> the same figures for the files in that
      bucket plus ``min_s`` / ``max_s`` (its edges in seconds, None when open); empty buckets are left out.

    A figure that is undefined for the files at hand (no target or no non-target trials, fewer than two
    languages, ...) is None. ``cavg``, ``act_dcf`` and ``cllr`` judge calibration too and are meaningful for
    calibrated scores (a back-end's log-posteriors); the others are not affected by calibration.

    Parameters
    ----------
    scores : (N, C) log-likelihoods or calibrated log-posteriors (flat prior), columns in ``classes`` order.
    y_true : N true labels; labels not in ``classes`` are out-of-set files (non-target trials only).
    classes : the C >= 2 class labels.
    durations : (N,) file durations in seconds, or None for no per-duration figures.
    bucket_edges : increasing edges in seconds (default 3, 10: "<=3s", "3-10s", ">10s").
    p_target, c_miss, c_fa : detection-cost parameters (default: NIST LRE 2007/2009, 0.5, 1, 1).
    p_oos : out-of-set prior for Cavg; None: 0.2 when the files include out-of-set ones, else 0.

    Returns
    -------
    dict as above, plus ``conventions`` (the cost parameters, the threshold and the bucket edges).
    """
    classes = list(classes)
    if len(classes) < 2:
        raise DataError(f"language-recognition metrics need at least 2 classes, got {len(classes)}")
    s = _check_matrix(scores, len(classes))
    y = list(y_true)
    if len(y) != s.shape[0]:
        raise DataError(f"{len(y)} labels for {s.shape[0]} score rows")
    costs = {"p_target": p_target, "c_miss": c_miss, "c_fa": c_fa}
    _check_costs(**costs)
    out = _figures(s, y, classes, costs, p_oos)
    out["conventions"] = {**{k: float(v) for k, v in costs.items()}, "threshold": bayes_threshold(**costs),
                          "p_oos": "0.2 when out-of-set files are present, else 0" if p_oos is None else p_oos,
                          "detection_score": "s_c - log(mean_{j!=c} exp(s_j)) of the score matrix",
                          "bucket_edges_s": [float(e) for e in bucket_edges] if durations is not None else None}
    if durations is not None:
        d = np.asarray(durations, dtype=np.float64).ravel()
        if d.size != s.shape[0]:
            raise DataError(f"{d.size} durations for {s.shape[0]} score rows")
        out["by_duration"] = {}
        for name, lo, hi, mask in duration_buckets(d, bucket_edges):
            if mask.any():
                rows = np.flatnonzero(mask)
                out["by_duration"][name] = {"min_s": lo, "max_s": hi,
                                            **_figures(s[rows], [y[i] for i in rows], classes, costs, p_oos)}
    return out
