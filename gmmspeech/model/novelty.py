"""Novelty (anomaly) flags: frames and files that look like none of the classes a model was trained on.

A frame's **novelty score** is the best class's log-likelihood of it, ``max_c log p(x | c)`` (nats), taken from
``clf.frame_log_likelihoods(X)`` -- any classifier with that (N, C) method works (per-class EM or UBM-MAP).

Calibration (:func:`calibrate_novelty`, run at training time and stored in the model's ``meta["novelty"]``):

1. Score the training frames. The **frame threshold** is their ``frame_quantile`` (default 1 %) quantile,
   lowered by the models' optimism on their own training data, ``sum_c p_c / N`` nats per frame (``p_c`` the
   free parameters of class c's GMM, ``N`` all training frames: the AIC estimate of how much better a model
   fits the frames it was fitted on than new ones, averaged over the training frames). A frame scoring below
   it is an **outlier frame**; the aim is about ``frame_quantile`` of new in-class frames (more when new
   recordings differ from the training ones more than the optimism estimate allows: 2.5 % on the demo).
2. Cut every training file into segments of ``segment_frames`` (default 50, 0.5 s at a 10 ms hop; a shorter
   tail joins the previous segment) and compute each segment's share of outlier frames, judging training frames
   by the *unlowered* quantile (training scores, shifted down by the optimism, stand in for new recordings').
   The **file threshold** is the ``file_quantile`` (default 99 %) quantile of those shares, and at least
   ``min_fraction`` (default 0.1) so a file is never flagged for a stray outlier frame or two.
3. A file (or segment) is **novel** when its share of outlier frames is *above* the file threshold.

Training segments of 0.5 s spread more than whole files, so the file threshold errs towards not flagging
recordings of known classes. For MAP-adapted models the optimism is an upper bound (classes share the UBM and
move less than ``p_c`` free parameters), which again errs towards not flagging.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core.choices import n_parameters
from ..infra.errors import GmmspeechError

__all__ = ["frame_novelty", "outlier_frames", "segment_fractions", "calibrate_novelty", "file_novelty",
           "read_novelty", "validate_novelty", "NoveltyUnavailable",
           "FRAME_QUANTILE", "FILE_QUANTILE", "MIN_FRACTION", "SEGMENT_FRAMES", "MAX_FRAMES"]

#: Default quantile of the training frames' novelty scores used as the frame threshold.
FRAME_QUANTILE = 0.01
#: Default quantile of the training segments' outlier shares used as the file threshold.
FILE_QUANTILE = 0.99
#: Smallest file threshold: a file is novel only when more than this share of its frames are outliers.
MIN_FRACTION = 0.1
#: Length, in frames, of the training segments whose outlier shares set the file threshold.
SEGMENT_FRAMES = 50
#: Most training frames scored for calibration (whole segments drawn at random beyond that; bounds the cost).
MAX_FRAMES = 100_000

class NoveltyUnavailable(GmmspeechError, ValueError):
    """Novelty flags were asked for, but the model holds no novelty calibration."""


_REQUIRED = ("frame_threshold", "file_threshold", "frame_quantile", "file_quantile", "segment_frames")


def frame_novelty(clf: Any, X: np.ndarray) -> np.ndarray:
    """Novelty score of every frame: the best class's log-likelihood, shape (N,), nats (lower = more novel).

    Parameters
    ----------
    clf : a fitted classifier with ``frame_log_likelihoods(X) -> (N, C)``.
    X : (N, D) feature frames.
    """
    ll = np.asarray(clf.frame_log_likelihoods(X), dtype=np.float64)
    if ll.ndim != 2 or ll.shape[0] != len(X):
        raise ValueError(f"frame_log_likelihoods returned shape {ll.shape}, expected ({len(X)}, n_classes)")
    return ll.max(axis=1)


def outlier_frames(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Which frames are outliers: ``scores < threshold``; (N,) bool from (N,) novelty scores (nats)."""
    return np.asarray(scores) < threshold


def _segment_edges(n: int, segment_frames: int) -> np.ndarray:
    """Edges of consecutive segments tiling ``n`` frames (a short tail joins the previous segment)."""
    n_seg = max(1, n // segment_frames)
    edges = np.arange(n_seg + 1) * segment_frames
    edges[-1] = n
    return edges


def segment_fractions(flags: np.ndarray, segment_frames: int = SEGMENT_FRAMES) -> np.ndarray:
    """Share of outlier frames in each consecutive segment of one file, shape (S,), values in [0, 1].

    Parameters
    ----------
    flags : (N,) bool outlier flags of one file's frames, N >= 1.
    segment_frames : segment length in frames; a shorter tail joins the previous segment.
    """
    flags = np.asarray(flags, dtype=np.float64)
    if flags.ndim != 1 or len(flags) == 0:
        raise ValueError(f"segment_fractions needs a non-empty (N,) flag array, got shape {flags.shape}")
    if segment_frames < 1:
        raise ValueError(f"segment_frames must be at least 1, got {segment_frames}")
    edges = _segment_edges(len(flags), int(segment_frames))
    return np.add.reduceat(flags, edges[:-1]) / np.diff(edges)


def _files(frames: Any) -> list[np.ndarray]:
    """Per-file arrays from one (N, D) array, a list of arrays, or a mapping label -> array | list of arrays."""
    if isinstance(frames, np.ndarray):
        return [frames]
    if isinstance(frames, Mapping):
        out: list[np.ndarray] = []
        for v in frames.values():
            out.extend([v] if isinstance(v, np.ndarray) else list(v))
        return out
    return list(frames)


def _optimism(clf: Any, n_frames: int) -> float:
    """``sum_c p_c / N`` nats per frame from the class models' shapes (0 when the classifier exposes none)."""
    models = getattr(clf, "models_", None)
    if not isinstance(models, Mapping) or n_frames == 0:
        return 0.0
    p = 0
    for m in models.values():
        p += n_parameters(*np.shape(m.means_))
    return float(p / n_frames)


def calibrate_novelty(clf: Any, frames: np.ndarray | Sequence[np.ndarray] | Mapping[str, Any], *,
                      frame_quantile: float = FRAME_QUANTILE, file_quantile: float = FILE_QUANTILE,
                      segment_frames: int = SEGMENT_FRAMES, min_fraction: float = MIN_FRACTION,
                      optimism: float | None = None, max_frames: int = MAX_FRAMES, seed: int = 0) -> dict[str, Any]:
    """Frame and file thresholds for novelty flags from a classifier's training data (see the module docstring).

    Parameters
    ----------
    clf : fitted classifier with ``frame_log_likelihoods(X) -> (N, C)``.
    frames : the training frames: per-file (n_i, D) arrays (a list, or a mapping label -> array or list);
        one (N, D) array counts as one file.
    frame_quantile : in (0, 1); about the share of new in-class frames flagged as outliers.
    file_quantile : in (0, 1]; quantile of the training segments' outlier shares used as the file threshold.
    segment_frames : training segment length in frames.
    min_fraction : in [0, 1); lower bound of the file threshold.
    optimism : nats per frame to lower the frame threshold by; ``None`` estimates ``sum_c p_c / N`` from
        ``clf.models_`` (0 if the classifier has none).
    max_frames : score at most about this many training frames (whole segments drawn with ``seed`` beyond it).
    seed : seed of that draw.

    Returns
    -------
    JSON-able dict: ``frame_threshold`` (nats), ``file_threshold`` (share of frames), the settings above,
    ``optimism``, ``training_frames`` and ``calibration_frames`` / ``calibration_segments`` (what was scored).
    """
    if not 0 < frame_quantile < 1:
        raise ValueError(f"frame_quantile must be in (0, 1), got {frame_quantile}")
    if not 0 < file_quantile <= 1:
        raise ValueError(f"file_quantile must be in (0, 1], got {file_quantile}")
    if not 0 <= min_fraction < 1:
        raise ValueError(f"min_fraction must be in [0, 1), got {min_fraction}")
    if segment_frames < 1 or max_frames < 1:
        raise ValueError("segment_frames and max_frames must be at least 1")
    files = [np.asarray(x) for x in _files(frames) if len(x)]
    if not files:
        raise ValueError("no training frames to calibrate novelty flags on")
    n_total = int(sum(len(x) for x in files))
    # every segment as (file, start, end); draw whole segments when there are too many frames
    segs: list[tuple[int, int, int]] = []
    for i, x in enumerate(files):
        e = _segment_edges(len(x), int(segment_frames))
        segs.extend((i, int(a), int(b)) for a, b in zip(e[:-1], e[1:], strict=True))
    if n_total > max_frames:
        order = np.random.default_rng(seed).permutation(len(segs))
        sizes = np.array([b - a for _, a, b in segs])[order]
        keep = order[:max(1, int(np.searchsorted(np.cumsum(sizes), max_frames)) + 1)]
        segs = [segs[j] for j in sorted(keep)]
    scores = []
    for i in sorted({s[0] for s in segs}):
        mine = [(a, b) for f, a, b in segs if f == i]
        idx = np.concatenate([np.arange(a, b) for a, b in mine])
        s = frame_novelty(clf, files[i][idx] if len(idx) < len(files[i]) else files[i])
        pos = 0
        for a, b in mine:
            scores.append(s[pos:pos + b - a])
            pos += b - a
    raw = float(np.quantile(np.concatenate(scores), frame_quantile))
    shift = _optimism(clf, n_total) if optimism is None else float(optimism)
    shares = np.array([np.mean(outlier_frames(s, raw)) for s in scores])
    file_thr = max(float(np.quantile(shares, file_quantile)), float(min_fraction))
    return {"frame_threshold": raw - shift, "file_threshold": file_thr, "frame_quantile": float(frame_quantile),
            "file_quantile": float(file_quantile), "segment_frames": int(segment_frames),
            "min_fraction": float(min_fraction), "optimism": shift, "training_frames": n_total,
            "calibration_frames": int(sum(len(s) for s in scores)), "calibration_segments": len(scores),
            "score": "max over classes of the per-frame log-likelihood (nats)"}


def file_novelty(clf: Any, X: np.ndarray, calibration: Mapping[str, Any]) -> dict[str, Any]:
    """Novelty of one file (or segment): its share of outlier frames and whether it is novel.

    Parameters
    ----------
    clf : fitted classifier with ``frame_log_likelihoods``.
    X : (N, D) frames of the file, N >= 1.
    calibration : the dict from :func:`calibrate_novelty` (e.g. ``meta["novelty"]``, checked by
        :func:`read_novelty`).

    Returns
    -------
    dict: ``outlier_fraction`` (share of frames below the frame threshold, rounded to 4 places) and ``novel``
    (bool, share above the file threshold).
    """
    if len(X) == 0:
        raise ValueError("cannot judge the novelty of a file with no frames")
    frac = float(np.mean(outlier_frames(frame_novelty(clf, X), float(calibration["frame_threshold"]))))
    return {"outlier_fraction": round(frac, 4), "novel": bool(frac > float(calibration["file_threshold"]))}


def validate_novelty(block: Any) -> dict[str, Any]:
    """A copy of a novelty calibration block (``calibrate_novelty``'s dict) after checking its fields.

    Raises ``ValueError`` saying which field is missing or out of range.
    """
    if not isinstance(block, Mapping):
        raise ValueError("'novelty' metadata must be a JSON object")
    missing = [k for k in _REQUIRED if k not in block]
    if missing:
        raise ValueError(f"'novelty' metadata lacks {', '.join(missing)}")
    for k in _REQUIRED:
        v = block[k]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ValueError(f"'novelty' {k} must be a finite number, got {v!r}")
    if not 0 <= block["file_threshold"] <= 1:
        raise ValueError(f"'novelty' file_threshold must be a share in [0, 1], got {block['file_threshold']}")
    if block["segment_frames"] < 1 or not 0 < block["frame_quantile"] < 1:
        raise ValueError("'novelty' segment_frames must be >= 1 and frame_quantile in (0, 1)")
    return dict(block)


def read_novelty(meta: Any, source: str = "model") -> dict[str, Any]:
    """The novelty calibration of a model (its ``ModelMeta.novelty``, validated when the model was loaded).

    Raises :class:`NoveltyUnavailable` naming ``source`` when the model has none (trained before novelty
    calibration existed).
    """
    if meta.novelty is None:
        raise NoveltyUnavailable(f"{source}: the model has no novelty calibration ('novelty' in its metadata); "
                                 "retrain it with this version of gmmspeech")
    return dict(meta.novelty)
