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

:class:`UBMClassifier` is the GMM-UBM variant (Reynolds et al. 2000): one universal background model trained on
all classes, each class MAP-adapted from it, scores are log-likelihood ratios against the UBM computed on each
frame's top-C UBM components (:mod:`gmmspeech.map`). It has the same interface.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ..core.gmm import DiagGMM, accumulate_chunks, stacked_params
from ..core.map import check_adapt, map_adapt, topc_scores, topc_tables, train_ubm
from ..infra.errors import DataError
from .decision import UNKNOWN, open_set_decision, posteriors

__all__ = ["GMMClassifier", "UBMClassifier", "UNKNOWN", "posteriors", "open_set_decision", "REJECT_QUANTILE",
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
            n = _n_frames(frames_by_class[label])
            if n < k:
                raise DataError(f"class {label!r} has only {n} frames, fewer than the {k} mixture components")

        def fit_one(label: str) -> DiagGMM:
            if fitter is not None:
                return fitter(dict(self.gmm_params), frames_by_class[label])
            return DiagGMM(**self.gmm_params).fit(frames_by_class[label])

        self.models_ = {}
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
        if cache is None or not _same_key(cache[0], key):
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
            if lab not in frames_by_class or _n_frames(frames_by_class[lab]) == 0:
                continue
            ll = np.concatenate([self.models_[lab].score_samples(b) for b in _blocks(frames_by_class[lab])])
            n_seg = max(1, len(ll) // segment_frames)
            edges = np.arange(n_seg + 1) * segment_frames
            edges[-1] = len(ll)
            seg = np.add.reduceat(ll, edges[:-1]) / np.diff(edges)
            k, d = self.models_[lab].means_.shape
            optimism = (k - 1 + 2 * k * d) / len(ll)
            thr[j] = float(np.quantile(seg, quantile)) - optimism
        self.reject_thresholds_ = thr
        self.calibration_ = {"quantile": float(quantile), "segment_frames": int(segment_frames),
                             "optimism_correction": "aic"}
        return self


def _blocks(frames) -> list[np.ndarray]:
    """A class's frames as a list of (n, D) arrays: an (N, D) array, or a list/tuple of per-file arrays.

    Arrays are kept as they are (a memory-mapped block stays one, so a cluster E-step can still send its path).
    """
    if isinstance(frames, list | tuple):
        return [np.asanyarray(b) for b in frames if len(b)]
    return [np.asanyarray(frames)]


_UBM_KEY = "\0ubm"   # the UBM's slot among the class models in internal tables (no label can be this)
def _n_frames(frames) -> int:
    """Number of frames of an (N, D) array or a list of per-file arrays."""
    return sum(len(b) for b in frames) if isinstance(frames, list | tuple) else len(frames)


def _same_key(k1, k2) -> bool:
    """Cache keys match: same dtype, same labels, and the very same parameter arrays."""
    if k1[0] != k2[0] or len(k1[1]) != len(k2[1]):
        return False
    return all(a[0] == b[0] and all(x is y for x, y in zip(a[1:], b[1:], strict=True))
               for a, b in zip(k1[1], k2[1], strict=True))


class UBMClassifier(GMMClassifier):
    """GMM-UBM classifier: one universal background model, each class MAP-adapted from it.

    Scores are mean per-frame log-likelihood *ratios* of each class model against the UBM (nats per frame),
    computed by default on the top-C UBM components of each frame (:func:`gmmspeech.map.topc_log_likelihoods`);
    ``full=True`` evaluates every component instead. Posteriors, decisions and open-set thresholds work on these
    ratios exactly as :class:`GMMClassifier`'s do on log-likelihoods (the UBM term is the same for every class,
    so the ranking of classes is that of their log-likelihoods).

    Parameters
    ----------
    n_components : K, Gaussians of the UBM (and of every adapted class model).
    relevance : MAP relevance factor r (frames).  adapt : parameters adapted, any of ``"m"``, ``"w"``, ``"v"``.
    top_c : UBM components evaluated per frame when scoring.
    init : UBM initialisation, ``"mixup"`` (binary splitting, default) or ``"kmeans++"`` (see
        :func:`gmmspeech.map.train_ubm`).
    max_iter, tol : EM iterations (and stopping threshold) of the UBM at its final size.
    mixup_iter : EM iterations after each intermediate mix-up round.
    var_floor, random_state, **gmm_params : passed to every :class:`DiagGMM` of the UBM training (``n_jobs``,
        ``chunk_size``, ``dtype``, ...); ``chunk_size``, ``dtype`` and ``n_jobs`` also drive the MAP statistics.

    Attributes
    ----------
    ubm_ : the fitted UBM (:class:`DiagGMM`).
    classes_, models_ : labels and label -> adapted :class:`DiagGMM` (``n_iter_ = 1``, ``converged_ = True``,
        ``log_likelihood_history_ = [UBM log-likelihood per frame of the class's frames]``, ``map_occupancy_``
        (K,) the class's frames per component).
    reject_thresholds_ : (n_classes,) open-set thresholds on the mean log-likelihood ratio per frame, or None.
    """

    def __init__(self, n_components: int = 64, *, relevance: float = 16.0, top_c: int = 5, adapt: str = "m",
                 init: str = "mixup", max_iter: int = 8, tol: float = 1e-4, mixup_iter: int = 3,
                 var_floor: float = 1e-3, random_state: int | None = 0, **gmm_params):
        self.n_components = n_components
        self.relevance = relevance
        self.top_c = top_c
        self.adapt = adapt
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.mixup_iter = mixup_iter
        self.var_floor = var_floor
        self.random_state = random_state
        self.gmm_params = gmm_params

    def _check_settings(self) -> None:
        self.adapt = check_adapt(self.adapt)
        if not (isinstance(self.relevance, int | float) and np.isfinite(self.relevance) and self.relevance > 0):
            raise ValueError(f"relevance must be a positive number, got {self.relevance!r}")
        if not (isinstance(self.top_c, int | np.integer) and self.top_c >= 1):
            raise ValueError(f"top_c must be a positive integer, got {self.top_c!r}")

    @classmethod
    def from_models(cls, ubm: DiagGMM, models: Mapping[str, DiagGMM], *, relevance: float = 16.0, top_c: int = 5,
                    adapt: str = "m") -> UBMClassifier:
        """Wrap a fitted UBM and class models adapted from it (same K and D; labels kept in the given order)."""
        if not models:
            raise ValueError("a classifier needs at least one class model")
        shapes = {m.means_.shape for m in models.values()}
        if shapes != {ubm.means_.shape}:
            raise ValueError(f"class models {sorted(shapes)} and UBM {ubm.means_.shape} disagree on "
                             "(components, dims)")
        clf = cls(ubm.means_.shape[0], relevance=relevance, top_c=top_c, adapt=adapt)
        clf._check_settings()
        clf.ubm_ = ubm
        return clf._with_models(models)

    def fit(self, frames_by_class: Mapping[str, np.ndarray],
            progress: Callable[[str, DiagGMM], None] | None = None) -> UBMClassifier:
        """Train the UBM on all classes' frames, MAP-adapt one model per class, calibrate open-set thresholds.

        Parameters
        ----------
        frames_by_class : label -> (N_c, D) frames, or a list of per-file (n, D) arrays (labels are sorted).
            The UBM streams over the arrays as given (memory-mapped arrays stay on disk).
        progress : optional callback ``progress(label, adapted_gmm)`` after each class.
        """
        self._check_settings()
        if len(frames_by_class) < 1:
            raise DataError("no classes to train")
        labels = sorted(frames_by_class)
        blocks = {lab: _blocks(frames_by_class[lab]) for lab in labels}
        empty = [lab for lab in labels if not blocks[lab]]
        if empty:
            raise DataError(f"class(es) with no frames: {', '.join(map(repr, empty))}")
        total = sum(len(b) for lab in labels for b in blocks[lab])
        if total < self.n_components:
            raise DataError(f"only {total} frames in all, fewer than the {self.n_components} UBM components")
        # the per-file list goes to the EM as it is: short files are joined into E-step batches there
        # (gmm.batch_plan), the same way locally and on cluster workers (DiagGMM(accumulator=...))
        accumulator = self.gmm_params.get("accumulator")
        everything = [b for lab in labels for b in blocks[lab]]
        ubm = train_ubm(everything, self.n_components,
                        init=self.init, max_iter=self.max_iter, tol=self.tol, mixup_iter=self.mixup_iter,
                        var_floor=self.var_floor, random_state=self.random_state, **self.gmm_params)
        K, D = ubm.means_.shape
        chunk_size = self.gmm_params.get("chunk_size", 2048)
        dtype = self.gmm_params.get("dtype", np.float32)
        self.ubm_ = ubm
        self.models_ = {}
        for lab in labels:
            # the MAP statistics are one more E-step: run it where the EM ran
            stats = (accumulator or accumulate_chunks)(blocks[lab], ubm.weights_, ubm.means_, ubm.variances_,
                                                       chunk_size=chunk_size, dtype=dtype)
            w, mu, var = map_adapt(ubm, stats, relevance=self.relevance, adapt=self.adapt, var_floor=ubm.var_floor_)
            g = DiagGMM(K)
            g.weights_, g.means_, g.variances_ = w, mu, var
            g.n_iter_, g.converged_, g.var_floor_ = 1, True, ubm.var_floor_
            g.log_likelihood_history_ = [stats.loglik / stats.n_frames]
            g.lower_bound_ = g.log_likelihood_history_[-1]
            g.map_occupancy_ = stats.n
            self.models_[lab] = g
            if progress:
                progress(lab, g)
        self.classes_ = labels
        self.calibrate_rejection(frames_by_class)
        return self

    # ------------------------------------------------------------------ scoring
    def _tables(self, dtype):
        """Top-C scoring tables (see :func:`gmmspeech.map.topc_tables`), cached until an array is replaced."""
        ubm = self.ubm_
        key = (np.dtype(dtype).str, [(_UBM_KEY, ubm.weights_, ubm.means_, ubm.variances_)]
               + [(lab, m.weights_, m.means_, m.variances_) for lab, m in self.models_.items()])
        cache = getattr(self, "_tables_cache", None)
        if cache is None or not _same_key(cache[0], key):
            models = [self.models_[c] for c in self.classes_]
            tables = topc_tables(ubm.weights_, ubm.means_, ubm.variances_, np.stack([m.weights_ for m in models]),
                                  np.stack([m.means_ for m in models]), np.stack([m.variances_ for m in models]),
                                  dtype)
            cache = (key, tables)
            self._tables_cache = cache
        return cache[1]

    def _checked(self, X) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise DataError(f"expected frames of shape (N, {self.n_features}), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise DataError("the frames contain NaN or infinite values")
        return X

    def frame_scores(self, X: np.ndarray, *, full: bool = False, chunk_size: int = 512,
                     dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame log-likelihoods under the UBM (N,) and every class (N, n_classes), float64 nats.

        Parameters
        ----------
        X : (N, D) frames.
        full : evaluate every component (exact) instead of the top-C UBM components of each frame.
        chunk_size : frames per block.  dtype : compute precision (float32 default).
        """
        X = self._checked(X)
        if full:   # the UBM and every class in one stacked pass, as GMMClassifier scores its classes
            both = getattr(self, "_full_cache", None)
            if (both is None or both.models_[_UBM_KEY] is not self.ubm_
                    or any(both.models_[c] is not self.models_[c] for c in self.classes_)):
                both = GMMClassifier.from_models({_UBM_KEY: self.ubm_, **{c: self.models_[c] for c in self.classes_}})
                self._full_cache = both
            ll = both.frame_log_likelihoods(X, dtype=dtype)
            return ll[:, 0], ll[:, 1:]
        return topc_scores(X, self._tables(dtype), int(self.top_c), max(1, int(chunk_size)), dtype)

    def frame_log_likelihoods(self, X: np.ndarray, *, full: bool = False, chunk_size: int = 512,
                              dtype=np.float32) -> np.ndarray:
        """Per-frame log-likelihood under every class model, shape (N, n_classes), float64 nats.

        Not ratios: the UBM term is not subtracted. Top-C approximated unless ``full`` (a lower bound, tight
        when the top-C UBM components hold nearly all of each frame's posterior; see
        :func:`gmmspeech.map.topc_log_likelihoods`).
        """
        return self.frame_scores(X, full=full, chunk_size=chunk_size, dtype=dtype)[1]

    def frame_llrs(self, X: np.ndarray, *, full: bool = False) -> np.ndarray:
        """Per-frame log-likelihood ratio of every class against the UBM, shape (N, n_classes), nats."""
        ubm_ll, cls_ll = self.frame_scores(X, full=full)
        return cls_ll - ubm_ll[:, None]

    def score(self, X: np.ndarray, *, full: bool = False) -> np.ndarray:
        """Mean log-likelihood ratio per frame of each class against the UBM, shape (n_classes,), nats.

        Top-C scoring unless ``full``.
        """
        return self.frame_llrs(X, full=full).mean(axis=0)

    def calibrate_rejection(self, frames_by_class: Mapping[str, np.ndarray], *, quantile: float = REJECT_QUANTILE,
                            segment_frames: int = CALIBRATION_FRAMES) -> UBMClassifier:
        """Per-class open-set thresholds on the mean log-likelihood ratio per frame (the units of :meth:`score`).

        As :meth:`GMMClassifier.calibrate_rejection`: the ``quantile`` of each class's own ``segment_frames``-
        frame training-segment scores, lowered by the model's optimism on its training data. A MAP-adapted
        model's parameters are shrunk towards the UBM, so it counts its *effective* parameters,
        ``sum_k alpha_k`` times the parameters adapted per component (D for means, D for variances, 1 for
        weights), with ``alpha_k = n_k / (n_k + r)``: the optimism is that over ``N_c`` nats per frame.
        """
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must be in (0, 1), got {quantile}")
        K, D = self.ubm_.means_.shape
        per_comp = D * ("m" in self.adapt) + D * ("v" in self.adapt) + ("w" in self.adapt)
        thr = np.full(len(self.classes_), -np.inf)
        self.train_scores_ = {}
        for j, lab in enumerate(self.classes_):
            if lab not in frames_by_class or _n_frames(frames_by_class[lab]) == 0:
                continue
            blocks = _blocks(frames_by_class[lab])
            llr = np.concatenate([self.frame_llrs(b)[:, j] for b in blocks])
            n_seg = max(1, len(llr) // segment_frames)
            edges = np.arange(n_seg + 1) * segment_frames
            edges[-1] = len(llr)
            seg = np.add.reduceat(llr, edges[:-1]) / np.diff(edges)
            occ = getattr(self.models_[lab], "map_occupancy_", None)
            if occ is None or not np.isclose(occ.sum(), len(llr), rtol=1e-6):
                ubm = self.ubm_
                occ = accumulate_chunks(blocks, ubm.weights_, ubm.means_, ubm.variances_).n
            effective = float((occ / (occ + self.relevance)).sum()) * per_comp
            thr[j] = float(np.quantile(seg, quantile)) - effective / len(llr)
            self.train_scores_[lab] = float(llr.mean())
        self.reject_thresholds_ = thr
        self.calibration_ = {"quantile": float(quantile), "segment_frames": int(segment_frames),
                             "optimism_correction": "aic_effective_map"}
        return self
