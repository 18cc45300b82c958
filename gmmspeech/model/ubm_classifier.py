"""The GMM-UBM classifier (Reynolds et al. 2000): one universal background model, each class MAP-adapted from it.

Scores are log-likelihood ratios against the UBM on each frame's top-C UBM components
(:func:`gmmspeech.core.map.topc_log_likelihoods`); the interface is :class:`GMMClassifier`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ..core.gmm import DiagGMM, accumulate_chunks
from ..core.map import check_adapt, map_adapt, topc_scores, topc_tables, train_ubm
from ..infra.errors import DataError
from .classifier import CALIBRATION_FRAMES, REJECT_QUANTILE, GMMClassifier
from .frames import UBM_KEY, count_frames, frame_blocks, quiet_convergence, same_params_key

__all__ = ["UBMClassifier"]


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
        blocks = {lab: frame_blocks(frames_by_class[lab]) for lab in labels}
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
        with quiet_convergence():   # ubm.converged_ records it
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
        key = (np.dtype(dtype).str, [(UBM_KEY, ubm.weights_, ubm.means_, ubm.variances_)]
               + [(lab, m.weights_, m.means_, m.variances_) for lab, m in self.models_.items()])
        cache = getattr(self, "_tables_cache", None)
        if cache is None or not same_params_key(cache[0], key):
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
            if (both is None or both.models_[UBM_KEY] is not self.ubm_
                    or any(both.models_[c] is not self.models_[c] for c in self.classes_)):
                both = GMMClassifier.from_models({UBM_KEY: self.ubm_, **{c: self.models_[c] for c in self.classes_}})
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
            if lab not in frames_by_class or count_frames(frames_by_class[lab]) == 0:
                continue
            blocks = frame_blocks(frames_by_class[lab])
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
