"""Diagonal-covariance Gaussian mixture models trained by chunked EM: :class:`DiagGMM`, a scikit-learn estimator.

The numerics live next door: :mod:`.estep` (chunked E-step kernel), :mod:`.suffstats` (:class:`SuffStats`),
:mod:`.mstep` (M-step), :mod:`.init` (initialisation), :mod:`.sources` (arrays, ``.npy`` lists, callables),
:mod:`.threads` (E-step threads), :mod:`.checks` (parameter and data checks), :mod:`.logs` (``verbose``); the
public names the rest of gmmspeech uses are re-exported here. Nothing ever holds an N x K responsibility matrix
for more than one chunk.
"""

from __future__ import annotations

import logging
import numbers
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from ..infra.errors import DataError, UsageError
from .checks import as_generator, check_dimensions, check_init_arrays, check_params
from .estep import EStepPlan, accumulate_chunks, accumulate_plan, accumulate_stats, estimate_log_prob, stacked_params
from .init import initial_params
from .logs import verbose_logging
from .mstep import MIN_REL_FLOOR, maximize, split_component
from .sources import BATCH_FRAMES, FrameSource, batch_plan, is_block_list
from .suffstats import SuffStats
from .threads import blas_limit, effective_threads, thread_pool

__all__ = ["SuffStats", "DiagGMM", "estimate_log_prob", "accumulate_stats", "accumulate_chunks", "batch_plan",
           "maximize", "BATCH_FRAMES", "FrameSource", "stacked_params", "split_component", "verbose_logging"]

logger = logging.getLogger(__name__)
_SCORE_ROWS = 4096          # frames per block when scoring (bounds the (K, rows) float64 work block)
_FINITE_ROWS = 65536        # frames per block of the NaN/Inf check of scored frames


class DiagGMM(DensityMixin, BaseEstimator):
    """Diagonal-covariance Gaussian mixture model trained by chunked EM (a scikit-learn estimator).

    Parameters
    ----------
    n_components : K, number of Gaussians.
    max_iter : maximum EM iterations.
    tol : convergence threshold on the change of mean log-likelihood per frame (nats) between iterations.
        ``0`` runs exactly ``max_iter`` iterations (and warns of nothing).
    init : ``"kmeans++"`` (k-means++ seeding + Lloyd on a subsample, default), ``"random"`` (random frames as
        means) or ``"split"`` (binary splitting from one component, mix-up to any K by splitting the heaviest).
    var_floor : variance floor relative to the data's global variance per dimension, applied in every M-step.
        1e-3 keeps a component from collapsing onto a few (near-)identical frames -- a likelihood spike that
        grows without bound -- while sitting far below the spread of any ordinary component. Relative, because
        MFCC dimensions differ in scale by orders of magnitude. ``0`` disables it (a 1e-10 guard remains).
    weight_floor : a component whose weight falls below this (or whose occupancy falls below 1e-3 frames) is
        re-seeded by splitting the heaviest component, so a collapse never gives NaN. (EM never lowers the
        log-likelihood, except in an iteration where a floor binds or a component is re-seeded.)
    n_init : number of initialisations; the run with the best final log-likelihood is kept.
    random_state : seed (int, None, or a numpy Generator / RandomState); seeded fits are bit-for-bit
        reproducible, whatever ``n_jobs``.
    dtype : compute precision of the E-step (float32 default; statistics are summed in float64).
    weights_init : (K,), means_init : (K, D), variances_init : (K, D) -- warm start, each validated whenever
        given. With ``means_init`` the initialisation is skipped (missing weights are uniform, missing variances
        the global variance); without it, given weights / variances replace the initialisation's.
    subsample : frames drawn for the initialisation.
    chunk_size : frames per E-step chunk (bounds memory: about chunk_size x K x 4 bytes per thread).
    n_jobs : E-step threads: ``None`` (default) all cores -- fewer when BLAS is held to fewer threads in this
        process, e.g. in a worker of a process pool, so nested parallelism does not oversubscribe; ``-1`` all
        cores, ``k`` k threads. Results do not depend on it.
    accumulator : optional callable ``accumulator(items, weights, means, variances, *, chunk_size, dtype)``
        returning the summed :class:`SuffStats` of all items of a list given to ``fit`` -- the E-step run
        elsewhere, e.g. on a Dask cluster (``gmmspeech.model.cluster.ClusterAccumulator``). It must equal
        :func:`accumulate_chunks` of the items; initialisation and M-steps stay in this process.
    verbose : log one line per EM iteration at INFO level (shown on stderr when logging is not configured);
        otherwise the lines are logged at DEBUG level (logger ``gmmspeech.core.gmm``).

    Attributes
    ----------
    weights_ (K,), means_ (K, D), variances_ (K, D) : learned parameters (float64).
    converged_ : whether ``tol`` was reached.  n_iter_ : EM iterations run (best initialisation).
    log_likelihood_history_ : mean log-likelihood per frame before each M-step.  lower_bound_ : its last value.
    var_floor_ : (D,) absolute variance floor used.  n_features_in_ : D.

    ``fit`` accepts an (N, D) array-like (possibly memory-mapped), a list of (n, D) arrays or ``.npy`` paths
    (opened with memory mapping on every pass, so data larger than memory can be trained on), or a callable
    returning an iterable of (n, D) arrays, called anew on every pass and expected to yield the same frames each
    time. Empty chunks are skipped. Scoring methods take (N, D) array-likes.
    """

    def __init__(self, n_components: int = 64, *, max_iter: int = 100, tol: float = 1e-4,
                 init: str = "kmeans++", var_floor: float = 1e-3, weight_floor: float = 1e-5, n_init: int = 1,
                 random_state=0, dtype=np.float32, weights_init=None, means_init=None,
                 variances_init=None, subsample: int = 20000, chunk_size: int = 2048, n_jobs: int | None = None,
                 accumulator=None, verbose: bool = False):
        self.n_components = n_components
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.var_floor = var_floor
        self.weight_floor = weight_floor
        self.n_init = n_init
        self.random_state = random_state
        self.dtype = dtype
        self.weights_init = weights_init
        self.means_init = means_init
        self.variances_init = variances_init
        self.subsample = subsample
        self.chunk_size = chunk_size
        self.n_jobs = n_jobs
        self.accumulator = accumulator
        self.verbose = verbose

    def _frames(self, X, reset: bool) -> tuple[FrameSource, bool]:
        """The frames of ``fit``: (source, whether X was one validated array)."""
        if callable(X) or is_block_list(X):
            return FrameSource(X), False
        X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False)
        return FrameSource(X), True

    def _checked(self, X) -> np.ndarray:
        """Scored frames: fitted model, an (N, D) float array, every value finite."""
        check_is_fitted(self, ["weights_", "means_", "variances_"])
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32], ensure_all_finite=False)
        D = self.means_.shape[1]
        if X.shape[1] != D:
            raise DataError(f"expected frames of shape (N, {D}), got {X.shape}")
        for s in range(0, X.shape[0], _FINITE_ROWS):
            ok = np.isfinite(X[s:s + _FINITE_ROWS]).all(axis=1)
            if not ok.all():
                raise DataError(f"X contains NaN or infinite values (first at frame {s + int(np.argmin(ok))})")
        return X

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None) -> DiagGMM:
        """Estimate the parameters with EM; returns self.

        Parameters
        ----------
        X : (N, D) frames, or a list of (n, D) arrays / ``.npy`` paths, or a callable returning such chunks.
        y : ignored (scikit-learn API).

        Raises
        ------
        DataError
            for NaN/Inf values (naming the chunk and frame), fewer frames than components, a constant (or
            constant up to rounding) feature dimension, chunks disagreeing on D, or unreadable chunk files.
        UsageError
            for bad parameters, including warm-start arrays of the wrong shape or values (both are ValueErrors).
        """
        check_params(self)
        src, validated = self._frames(X, reset=True)
        if self.accumulator is not None and src.items is None:
            raise UsageError("an accumulator needs the frames as a list of arrays or .npy paths, not a callable")
        n_frames, mean, global_var = src.scan()
        K, D = self.n_components, src.n_features
        if not validated:
            self.n_features_in_ = D
            self.__dict__.pop("feature_names_in_", None)
        w0, mu0, var0 = check_init_arrays(self.weights_init, self.means_init, self.variances_init, K, D)
        if n_frames < K:
            raise DataError(f"{n_frames} samples (frames) are fewer than n_components={K}")
        if n_frames < 2:
            raise DataError("got 1 sample (frame): a GMM needs at least 2 to estimate a variance")
        check_dimensions(mean, global_var, self.dtype)
        self.var_floor_ = max(self.var_floor, MIN_REL_FLOOR) * global_var
        rng = as_generator(self.random_state)
        jobs = effective_threads(self.n_jobs)
        best = None
        with verbose_logging(logger, self.verbose), blas_limit(), thread_pool(jobs) as pool:
            for _ in range(self.n_init):
                if mu0 is not None:
                    w, mu = (np.full(K, 1.0 / K) if w0 is None else w0), mu0
                    var = np.tile(global_var, (K, 1)) if var0 is None else var0
                else:
                    w, mu, var = initial_params(src, n_frames, K, self.init, rng, global_var, self.var_floor_,
                                                self.subsample)
                    w = w if w0 is None else w0
                    var = var if var0 is None else var0
                run = self._em(src, w.copy(), mu.copy(), np.maximum(var, self.var_floor_), pool, jobs)
                if best is None or run[3][-1] > best[3][-1]:
                    best = run
        self.weights_, self.means_, self.variances_, history, self.converged_ = best
        self.log_likelihood_history_ = history
        self.lower_bound_ = history[-1]
        self.n_iter_ = len(history)
        if not self.converged_ and self.tol > 0:
            change = history[-1] - history[-2] if len(history) > 1 else float("nan")
            warnings.warn(f"DiagGMM did not converge in {self.max_iter} EM iterations (last change of the mean "
                          f"log-likelihood {change:.2e} nats per frame, tol={self.tol:g}); increase max_iter or "
                          "tol, try another init, or check the data", ConvergenceWarning, stacklevel=2)
        return self

    def _em(self, src: FrameSource, w, mu, var, pool, jobs: int):
        history: list[float] = []
        converged, prev = False, -np.inf
        chunk = int(self.chunk_size)
        dtype = np.dtype(self.dtype)
        level = logging.INFO if self.verbose else logging.DEBUG
        for it in range(1, self.max_iter + 1):
            t0 = time.perf_counter()
            if self.accumulator is not None:
                stats = self.accumulator(src.items, w, mu, var, chunk_size=chunk, dtype=self.dtype)
            else:
                plan = EStepPlan(w, mu, var, dtype)
                stats = accumulate_plan((arr for _, arr in src.batches()), plan, chunk, pool, 2 * jobs)
            ll = stats.loglik / stats.n_frames
            history.append(ll)
            w, mu, var = maximize(stats, self.var_floor_, weight_floor=self.weight_floor)
            logger.log(level, "EM iteration %3d  log-lik/frame %.6f  change %.2e  %.3fs", it, ll, ll - prev,
                       time.perf_counter() - t0)
            if abs(ll - prev) < self.tol:
                converged = True
                break
            prev = ll
        return w, mu, var, history, converged

    def fit_predict(self, X, y=None) -> np.ndarray:
        """Fit, then the most likely component of every frame of X (in order), shape (N,).

        Parameters
        ----------
        X : anything :meth:`fit` accepts.  y : ignored.
        """
        self.fit(X)
        if callable(X) or is_block_list(X):
            labels = [self.predict(arr) for _, arr in FrameSource(X).blocks()]
            return np.concatenate(labels) if labels else np.zeros(0, dtype=np.intp)
        return self.predict(X)

    # ------------------------------------------------------------------ using
    def _log_prob_blocks(self, X):
        """Yield (start, (K, m) float64 weighted log-densities in kernel order) over blocks of X; and the plan."""
        plan = EStepPlan(self.weights_, self.means_, self.variances_, np.float64)
        for s in range(0, X.shape[0], _SCORE_ROWS):
            yield s, plan.log_prob_t(X[s:s + _SCORE_ROWS]), plan

    def score_samples(self, X) -> np.ndarray:
        """Log-likelihood of each frame (nats), shape (N,); float64, computed block by block.

        Raises
        ------
        DataError
            for NaN or infinite values, or frames of the wrong dimension. NotFittedError before fit.
        """
        X = self._checked(X)
        out = np.empty(X.shape[0])
        for s, lp, _ in self._log_prob_blocks(X):
            out[s:s + lp.shape[1]] = _logsumexp_cols(lp)
        return out

    def score(self, X, y=None) -> float:
        """Mean log-likelihood per frame of X (nats); higher is better (GridSearchCV's default score)."""
        return float(self.score_samples(X).mean())

    def predict_proba(self, X) -> np.ndarray:
        """Responsibilities (posterior of each component per frame), shape (N, K); rows sum to one."""
        X = self._checked(X)
        out = np.empty((X.shape[0], self.means_.shape[0]))
        for s, lp, plan in self._log_prob_blocks(X):
            lse = _logsumexp_cols(lp.copy())
            p = np.exp(lp - lse).T
            if plan.identity:
                out[s:s + p.shape[0]] = p
            else:
                out[s:s + p.shape[0], plan.order] = p
        return out

    def predict(self, X) -> np.ndarray:
        """Most likely component of each frame (hard clustering), shape (N,)."""
        X = self._checked(X)
        out = np.empty(X.shape[0], dtype=np.intp)
        for s, lp, plan in self._log_prob_blocks(X):
            out[s:s + lp.shape[1]] = plan.order[lp.argmax(axis=0)]
        return out

    def _n_parameters(self) -> int:
        K, D = self.means_.shape
        return K - 1 + 2 * K * D

    def bic(self, X) -> float:
        """Bayesian information criterion on X (N, D) (lower is better)."""
        ll = self.score_samples(X)
        return float(-2 * ll.sum() + self._n_parameters() * np.log(len(ll)))

    def aic(self, X) -> float:
        """Akaike information criterion on X (N, D) (lower is better)."""
        return float(-2 * self.score_samples(X).sum() + 2 * self._n_parameters())

    def sample(self, n_samples: int = 1, random_state=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw frames from the model.

        Returns
        -------
        X (n_samples, D) float64 and the component label of each frame (n_samples,).
        """
        check_is_fitted(self, ["weights_", "means_", "variances_"])
        if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise UsageError(f"n_samples must be a positive integer, got {n_samples!r}")
        rng = as_generator(random_state)
        labels = rng.choice(len(self.weights_), size=n_samples, p=self.weights_ / self.weights_.sum())
        X = self.means_[labels] + rng.standard_normal((n_samples, self.means_.shape[1])) * np.sqrt(
            self.variances_[labels])
        return X, labels


def _logsumexp_cols(lp: np.ndarray) -> np.ndarray:
    """Column-wise log-sum-exp of (K, m) ``lp``, computed in place (``lp`` is overwritten); returns (m,)."""
    mx = lp.max(axis=0)
    mx[~np.isfinite(mx)] = 0.0
    lp -= mx
    np.exp(lp, out=lp)
    with np.errstate(divide="ignore"):
        return np.log(lp.sum(axis=0)) + mx
