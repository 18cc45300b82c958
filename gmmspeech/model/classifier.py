"""A classifier made of one diagonal GMM per class: the class whose model explains the frames best wins.

Scoring is one pass for all classes: the parameters of every component of every class are stacked into one
(C*K, 2D) matrix, so per-frame log-densities come from a single matrix product ``[x**2, x] @ A.T + b`` and a
per-class log-sum-exp -- not a Python loop over class models.

Posteriors are the softmax of the *mean per-frame* log-likelihoods (equivalently, of the total log-likelihoods
at a temperature equal to the number of frames). Frames of one recording are far from independent, so the
softmax of totals would claim near-certainty (0/1 posteriors) on any file longer than a second; the per-frame
scale keeps posteriors comparable between short and long files.

Open-set use: a file is ``unknown`` when *no* class fits it, i.e. every class's mean log-likelihood per frame is
below that class's threshold. Thresholds are either one number given by the user or per-class values
calibrated on the training frames (:meth:`GMMClassifier.calibrate_rejection`, run by :meth:`GMMClassifier.fit`).

:class:`gmmspeech.model.ubm_classifier.UBMClassifier` is the GMM-UBM variant (Reynolds et al. 2000) with the
same interface: one universal background model trained on all classes, each class MAP-adapted from it, scores
are log-likelihood ratios against the UBM on each frame's top-C UBM components.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:   # scikit-learn (under DiagGMM) is imported only to train, never to score
    from ..core.gmm import DiagGMM

from ..core.choices import n_parameters
from ..core.plan import stacked_params
from ..infra.errors import DataError
from .decision import UNKNOWN, open_set_decision, posteriors
from .frames import count_frames, frame_blocks, quiet_convergence, same_params_key

__all__ = ["GMMClassifier", "UNKNOWN", "posteriors", "open_set_decision", "REJECT_QUANTILE",
           "CALIBRATION_FRAMES"]

#: Default quantile of a class's own training-segment scores used as its rejection threshold.
REJECT_QUANTILE = 0.01
#: Default length, in frames, of the training segments scored for calibration (0.5 s at a 10 ms hop: about the
#: shortest recording worth scoring; shorter segments spread more, so thresholds err towards accepting).
CALIBRATION_FRAMES = 50


def _logsumexp_groups(lp: np.ndarray, n_groups: int) -> np.ndarray:
    """Log-sum-exp over equal consecutive column groups, in place: (N, G*K) -> (N, G)."""
    g = lp.reshape(lp.shape[0], n_groups, -1)
    m = g.max(axis=2, keepdims=True)  # finite: frames are finite and every class has a positive weight
    g -= m
    np.exp(g, out=g)
    return np.log(g.sum(axis=2), dtype=np.float64) + m[:, :, 0]


class GMMClassifier:
    """Per-class diagonal GMMs; scores are mean log-likelihoods per frame.

    Parameters
    ----------
    **gmm_params : keyword arguments for every class's :class:`DiagGMM` (``n_components``, ``max_iter``, ...).

    Attributes
    ----------
    classes_ : list of class labels, in model order.
    models_ : dict label -> fitted DiagGMM.
    reject_thresholds_ : (n_classes,) per-class open-set thresholds (mean log-likelihood per frame), or None.
    calibration_ : dict describing how the thresholds were set (``quantile``, ``segment_frames``), or None.
    """

    def __init__(self, **gmm_params):
        self.gmm_params = gmm_params

    @classmethod
    def from_models(cls, models: Mapping[str, DiagGMM]) -> GMMClassifier:
        """Wrap already-fitted GMMs, one per label (labels are kept in the given order)."""
        if not models:
            raise ValueError("a classifier needs at least one class model")
        dims = {m.means_.shape[1] for m in models.values()}
        if len(dims) != 1:
            raise ValueError(f"class models disagree on the feature dimension: {sorted(dims)}")
        clf = cls()
        return clf._with_models(models)

    def _with_models(self, models: Mapping[str, DiagGMM]):
        """Set fitted class models (in the given order) with no open-set calibration; returns self."""
        self.models_ = dict(models)
        self.classes_ = list(models)
        self.reject_thresholds_ = None
        self.calibration_ = None
        return self

    def fit(self, frames_by_class: Mapping[str, np.ndarray],
            progress: Callable[[str, DiagGMM], None] | None = None, *, concurrent: int = 1,
            fitter: Callable[[dict, object], DiagGMM] | None = None) -> GMMClassifier:
        """Train one GMM per class, then calibrate the open-set thresholds on the same frames.

        Parameters
        ----------
        frames_by_class : label -> (N_c, D) frames of that class, or a list of per-file (n, D) arrays (labels
            are sorted for a stable order).
        progress : optional callback ``progress(label, fitted_gmm)`` after each class.
        concurrent : classes trained at the same time, on threads. Worth it when the E-steps run elsewhere
            (``accumulator=``, a cluster): the client mostly waits, and several classes keep the workers busy.
            Results do not depend on it.
        fitter : optional ``fitter(gmm_params, frames) -> fitted DiagGMM`` replacing ``DiagGMM(**gmm_params).fit``
            (e.g. :class:`gmmspeech.parallel.ClusterFitter`, which fits on a Dask cluster).
        """
        if len(frames_by_class) < 1:
            raise DataError("no classes to train")
        labels = sorted(frames_by_class)
        k = self.gmm_params.get("n_components", 64)
        for label in labels:
            n = count_frames(frames_by_class[label])
            if n < k:
                raise DataError(f"class {label!r} has only {n} frames, fewer than the {k} mixture components")

        def fit_one(label: str) -> DiagGMM:
            if fitter is not None:
                return fitter(dict(self.gmm_params), frames_by_class[label])
            from ..core.gmm import DiagGMM

            return DiagGMM(**self.gmm_params).fit(frames_by_class[label])

        self.models_ = {}
        with quiet_convergence():   # each model's converged_ records it; the caller reports it once
            if concurrent > 1 and len(labels) > 1:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(min(concurrent, len(labels))) as pool:
                    fitted = dict(zip(labels, pool.map(fit_one, labels), strict=True))
            else:
                fitted = None
            for label in labels:
                gmm = fitted[label] if fitted else fit_one(label)
                self.models_[label] = gmm
                if progress:
                    progress(label, gmm)
        self.classes_ = list(self.models_)
        self.calibrate_rejection(frames_by_class)
        return self

    @property
    def n_features(self) -> int:
        """Feature dimension D the models expect."""
        return next(iter(self.models_.values())).means_.shape[1]

    def _stack(self, dtype) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """Stacked parameters of all classes, cached until a class model's arrays are replaced.

        Returns A (sum K_c, 2D), b (sum K_c,) in ``dtype`` and the component counts K_c per class.
        """
        # the key holds the arrays themselves (compared by identity), so a replaced array invalidates the cache
        key = (np.dtype(dtype).str, [(lab, m.weights_, m.means_, m.variances_) for lab, m in self.models_.items()])
        cache = getattr(self, "_stack_cache", None)
        if cache is None or not same_params_key(cache[0], key):
            blocks = [stacked_params(m.weights_, m.means_, m.variances_, np.float64) for m in self.models_.values()]
            a = np.ascontiguousarray(np.concatenate([blk[0] for blk in blocks]).T, dtype=dtype)  # (2D, sum K)
            b = np.concatenate([blk[1] for blk in blocks]).astype(dtype)
            cache = (key, a, b, [blk[1].shape[0] for blk in blocks])
            self._stack_cache = cache
        return cache[1], cache[2], cache[3]

    def frame_log_likelihoods(self, X: np.ndarray, *, chunk_size: int = 128, dtype=np.float32) -> np.ndarray:
        """Per-frame log-likelihood under every class, shape (N, n_classes), float64.

        Parameters
        ----------
        X : (N, D) feature frames.
        chunk_size : frames per block; bounds the (chunk, C*K) work array and keeps it in cache.
        dtype : compute precision of the matrix product and exponentials. float32 (default) is about twice
            as fast as float64 and agrees with it to about 1e-5 nats per frame; sums are taken in float64.

        Notes
        -----
        All classes' components are scored by one matrix product over stacked parameters.
        """
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise DataError(f"expected frames of shape (N, {self.n_features}), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise DataError("the frames contain NaN or infinite values")
        a, b, sizes = self._stack(dtype)
        out = np.empty((X.shape[0], len(sizes)))
        equal = len(set(sizes)) == 1
        bounds = np.cumsum([0, *sizes])
        for i in range(0, X.shape[0], chunk_size):
            x = np.asarray(X[i:i + chunk_size], dtype=dtype)
            lp = np.concatenate([x * x, x], axis=1) @ a
            lp += b
            if equal:
                out[i:i + chunk_size] = _logsumexp_groups(lp, len(sizes))
            else:
                for j in range(len(sizes)):
                    out[i:i + chunk_size, j] = _logsumexp_groups(
                        np.ascontiguousarray(lp[:, bounds[j]:bounds[j + 1]]), 1)[:, 0]
        return out

    def score(self, X: np.ndarray) -> np.ndarray:
        """Mean log-likelihood per frame under each class, shape (n_classes,), in nats."""
        return self.frame_log_likelihoods(X).mean(axis=0)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class posteriors, shape (n_classes,): softmax of the mean per-frame log-likelihoods.

        Per-frame means (not totals) keep posteriors from saturating to 0/1 on long files, where frames are
        far from independent.
        """
        return posteriors(self.score(X))

    def predict(self, X: np.ndarray) -> str:
        """The label whose model gives the highest mean log-likelihood."""
        return self.classes_[int(np.argmax(self.score(X)))]

    def predict_open_set(self, X: np.ndarray, reject_below: float | None = None) -> str:
        """Like :meth:`predict`, but :data:`UNKNOWN` when no class fits ``X``.

        Parameters
        ----------
        X : (N, D) frames.
        reject_below : one threshold on the mean log-likelihood per frame for all classes; ``None`` uses the
            calibrated per-class ``reject_thresholds_``.
        """
        s = self.score(X)
        thr = self.open_set_thresholds(reject_below)
        return UNKNOWN if open_set_decision(s, thr) else self.classes_[int(np.argmax(s))]

    def open_set_thresholds(self, reject_below: float | None = None) -> np.ndarray:
        """Per-class rejection thresholds, shape (n_classes,): ``reject_below`` for all, else the calibrated ones.

        Raises ``ValueError`` when no threshold is given and the model has none calibrated.
        """
        if reject_below is not None:
            return np.full(len(self.classes_), float(reject_below))
        if getattr(self, "reject_thresholds_", None) is None:
            raise ValueError("this model has no calibrated open-set thresholds; give a threshold explicitly")
        return np.asarray(self.reject_thresholds_)

    def calibrate_rejection(self, frames_by_class: Mapping[str, np.ndarray], *, quantile: float = REJECT_QUANTILE,
                            segment_frames: int = CALIBRATION_FRAMES) -> GMMClassifier:
        """Set per-class open-set thresholds from each class's own frames.

        Each class's frames are cut into consecutive segments of ``segment_frames`` (a shorter tail is merged
        into the previous segment) and scored by that class's model; the threshold is the ``quantile`` of those
        mean log-likelihoods per frame, lowered by the model's optimism on its own training data,
        ``n_parameters / N_c`` nats per frame (the AIC estimate of how much better a model fits the frames it
        was trained on than new ones). Classes missing from ``frames_by_class`` get ``-inf`` (never reject).

        Parameters
        ----------
        frames_by_class : label -> (N_c, D) frames or a list of per-file arrays (the training frames).
        quantile : in (0, 1); about the fraction of in-class segments that would be rejected.
        segment_frames : segment length in frames (50 = 0.5 s at a 10 ms hop).
        """
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must be in (0, 1), got {quantile}")
        thr = np.full(len(self.classes_), -np.inf)
        for j, lab in enumerate(self.classes_):
            if lab not in frames_by_class or count_frames(frames_by_class[lab]) == 0:
                continue
            ll = np.concatenate([self.models_[lab].score_samples(b) for b in frame_blocks(frames_by_class[lab])])
            n_seg = max(1, len(ll) // segment_frames)
            edges = np.arange(n_seg + 1) * segment_frames
            edges[-1] = len(ll)
            seg = np.add.reduceat(ll, edges[:-1]) / np.diff(edges)
            k, d = self.models_[lab].means_.shape
            optimism = n_parameters(k, d) / len(ll)
            thr[j] = float(np.quantile(seg, quantile)) - optimism
        self.reject_thresholds_ = thr
        self.calibration_ = {"quantile": float(quantile), "segment_frames": int(segment_frames),
                             "optimism_correction": "aic"}
        return self

