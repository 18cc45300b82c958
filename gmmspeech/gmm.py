"""Diagonal-covariance Gaussian mixture models trained with EM.

An EM iteration is a map-reduce over sufficient statistics (see DESIGN.md section 1):

* :func:`estimate_log_prob` -- per-frame, per-component weighted log-densities of a block of frames;
* :func:`accumulate_stats` -- the E-step over a block: occupancies, first and second moments, log-likelihood.
  Statistics of separate blocks add up (``stats_a + stats_b``);
* :func:`maximize` -- the M-step: summed statistics to new weights, means and (floored) variances.

:class:`DiagGMM` wraps them in a scikit-learn-style estimator. Nothing ever holds an N x K responsibility
matrix for more than one chunk of frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

__all__ = ["SuffStats", "DiagGMM", "estimate_log_prob", "accumulate_stats", "maximize"]

_LOG_2PI = float(np.log(2 * np.pi))
_LOG_RESP_MIN = -80.0


@dataclass
class SuffStats:
    """Summable EM statistics of a block of frames (all float64).

    Attributes
    ----------
    n : (K,) occupancy of each component, ``sum_i r_ik``.
    s : (K, D) first moments, ``sum_i r_ik x_i``.
    q : (K, D) second moments, ``sum_i r_ik x_i**2``.
    loglik : total log-likelihood of the block's frames.
    n_frames : number of frames in the block.
    """

    n: np.ndarray
    s: np.ndarray
    q: np.ndarray
    loglik: float
    n_frames: int

    def __add__(self, other: SuffStats) -> SuffStats:
        return SuffStats(self.n + other.n, self.s + other.s, self.q + other.q,
                         self.loglik + other.loglik, self.n_frames + other.n_frames)

    @classmethod
    def zeros(cls, n_components: int, n_features: int) -> SuffStats:
        """Empty statistics, the neutral element of ``+``."""
        return cls(np.zeros(n_components), np.zeros((n_components, n_features)),
                   np.zeros((n_components, n_features)), 0.0, 0)


def _stacked_params(weights, means, variances, dtype):
    """Parameters arranged so that ``[x**2, x] @ A.T + b`` gives weighted log-densities.

    Returns A of shape (K, 2D) and b of shape (K,).
    """
    w = np.asarray(weights, dtype=np.float64)
    mu = np.asarray(means, dtype=np.float64)
    var = np.asarray(variances, dtype=np.float64)
    prec = 1.0 / var
    a = np.concatenate([-0.5 * prec, mu * prec], axis=1)
    with np.errstate(divide="ignore"):
        b = np.log(w) - 0.5 * (mu.shape[1] * _LOG_2PI + np.log(var).sum(1) + (mu * mu * prec).sum(1))
    return a.astype(dtype), b.astype(dtype)


def estimate_log_prob(X: np.ndarray, weights: np.ndarray, means: np.ndarray, variances: np.ndarray,
                      *, dtype=np.float64) -> np.ndarray:
    """Weighted log-densities ``log w_k + log N(x_i | mu_k, diag(var_k))``.

    Parameters
    ----------
    X : (N, D) frames.
    weights : (K,) mixture weights.  means, variances : (K, D).
    dtype : compute precision (float32 is about twice as fast; statistics are still summed in float64).

    Returns
    -------
    (N, K) array of ``dtype``; a zero-weight component gives ``-inf``.
    """
    a, b = _stacked_params(weights, means, variances, dtype)
    X = np.asarray(X, dtype=dtype)
    return np.concatenate([X * X, X], axis=1) @ a.T + b


def accumulate_stats(X: np.ndarray, weights: np.ndarray, means: np.ndarray, variances: np.ndarray,
                     *, chunk_size: int = 4096, dtype=np.float32) -> SuffStats:
    """E-step over a block of frames, chunk by chunk.

    Parameters
    ----------
    X : (N, D) frames (may be a memory-mapped array).
    weights : (K,).  means, variances : (K, D).
    chunk_size : frames per chunk; bounds the temporary N x K work arrays.
    dtype : compute precision of the log-densities; the returned statistics are float64.

    Returns
    -------
    SuffStats of the block.
    """
    K, D = np.shape(means)
    a, b = _stacked_params(weights, means, variances, dtype)
    stats = SuffStats.zeros(K, D)
    for start in range(0, X.shape[0], chunk_size):
        x = np.asarray(X[start:start + chunk_size], dtype=dtype)
        x2 = x * x
        lp = np.concatenate([x2, x], axis=1) @ a.T + b
        lse = logsumexp(lp, axis=1, keepdims=True)
        d = lp - lse
        # responsibilities below e^-80 are flushed to zero: denormal floats would slow the products 10x
        np.maximum(d, _LOG_RESP_MIN, out=d)
        r = np.exp(d)
        r[d <= _LOG_RESP_MIN] = 0
        stats.n += r.sum(axis=0, dtype=np.float64)
        stats.s += (r.T @ x).astype(np.float64)
        stats.q += (r.T @ x2).astype(np.float64)
        stats.loglik += float(lse.sum(dtype=np.float64))
        stats.n_frames += x.shape[0]
    return stats


def maximize(stats: SuffStats, var_floor: np.ndarray | float = 0.0, *,
             min_occupancy: float = 1e-3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """M-step: new parameters from summed statistics.

    Parameters
    ----------
    stats : statistics summed over all the data.
    var_floor : scalar or (D,) absolute variance floor applied to every component.
    min_occupancy : a component with less occupancy than this (in frames) is re-seeded by splitting the
        heaviest component along its largest-variance direction, as Kaldi's mix-up does.

    Returns
    -------
    weights (K,), means (K, D), variances (K, D), all float64.
    """
    n = stats.n.astype(np.float64)
    total = n.sum()
    if total <= 0:
        raise ValueError("no frames were accumulated: cannot estimate a GMM from empty statistics")
    safe = np.maximum(n, 1e-300)[:, None]
    means = stats.s / safe
    variances = stats.q / safe - means**2
    variances = np.maximum(variances, np.maximum(var_floor, 1e-10))
    weights = n / total
    dead = np.flatnonzero(n < min_occupancy)
    for k in dead:
        h = int(np.argmax(weights))
        dim = int(np.argmax(variances[h]))
        step = np.zeros(means.shape[1])
        step[dim] = 0.5 * np.sqrt(variances[h, dim])
        weights[k] = weights[h] = weights[h] / 2
        means[k] = means[h] + step
        means[h] = means[h] - step
        variances[k] = variances[h]
    return weights, means, variances


def _kmeanspp(X: np.ndarray, k: int, rng: np.random.Generator, n_lloyd: int = 5) -> np.ndarray:
    """k-means++ seeding followed by a few Lloyd iterations; returns (k, D) centres."""
    n = X.shape[0]
    centres = np.empty((k, X.shape[1]), dtype=np.float64)
    centres[0] = X[rng.integers(n)]
    d2 = ((X - centres[0]) ** 2).sum(1)
    for j in range(1, k):
        tot = d2.sum()
        idx = rng.integers(n) if tot <= 0 else rng.choice(n, p=d2 / tot)
        centres[j] = X[idx]
        d2 = np.minimum(d2, ((X - centres[j]) ** 2).sum(1))
    for _ in range(n_lloyd):
        dist = (X * X).sum(1)[:, None] - 2 * X @ centres.T + (centres * centres).sum(1)
        lab = dist.argmin(1)
        for j in range(k):
            members = X[lab == j]
            if len(members):
                centres[j] = members.mean(0)
    return centres


class DiagGMM:
    """Diagonal-covariance Gaussian mixture model trained by chunked EM.

    Parameters
    ----------
    n_components : K, number of Gaussians.
    max_iter : maximum EM iterations.
    tol : convergence threshold on the change of mean log-likelihood per frame between iterations.
    init : ``"kmeans++"`` (k-means++ seeding + Lloyd on a subsample) or ``"random"`` (random frames).
    var_floor : variance floor relative to the data's global variance per dimension (1e-3 keeps a
        component from collapsing onto a few identical frames without biasing ordinary components).
    random_state : seed; seeded fits are reproducible.
    dtype : compute precision of the E-step (float32 default; statistics are summed in float64).
    weights_init, means_init, variances_init : warm start; when given, ``init`` is skipped.
    chunk_size : frames per E-step chunk (bounds memory).
    n_jobs : parallel jobs for the E-step (reserved; 1 runs in-process).
    """

    def __init__(self, n_components: int = 64, *, max_iter: int = 100, tol: float = 1e-4,
                 init: str = "kmeans++", var_floor: float = 1e-3, random_state: int | None = 0,
                 dtype=np.float32, weights_init=None, means_init=None, variances_init=None,
                 chunk_size: int = 4096, n_jobs: int = 1):
        self.n_components = n_components
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.var_floor = var_floor
        self.random_state = random_state
        self.dtype = dtype
        self.weights_init = weights_init
        self.means_init = means_init
        self.variances_init = variances_init
        self.chunk_size = chunk_size
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ fitting
    def _validate(self, X) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"expected a 2-D array of frames (N, D), got shape {X.shape}")
        if X.shape[0] < self.n_components:
            raise ValueError(f"{X.shape[0]} frames are fewer than n_components={self.n_components}")
        if not np.all(np.isfinite(X)):
            raise ValueError("the data contain NaN or infinite values")
        if self.init not in ("kmeans++", "random"):
            raise ValueError(f"init must be 'kmeans++' or 'random', got {self.init!r}")
        return X

    def _initialize(self, X: np.ndarray, rng: np.random.Generator, global_var: np.ndarray):
        K = self.n_components
        if self.means_init is not None:
            means = np.asarray(self.means_init, dtype=np.float64)
            weights = (np.full(K, 1.0 / K) if self.weights_init is None
                       else np.asarray(self.weights_init, dtype=np.float64))
            variances = (np.tile(global_var, (K, 1)) if self.variances_init is None
                         else np.asarray(self.variances_init, dtype=np.float64))
            return weights, means, variances
        sub = X if X.shape[0] <= 20000 else X[np.sort(rng.choice(X.shape[0], 20000, replace=False))]
        sub = np.asarray(sub, dtype=np.float64)
        if self.init == "random":
            means = sub[rng.choice(sub.shape[0], K, replace=False)]
        else:
            means = _kmeanspp(sub, K, rng)
        # one hard-assignment M-step gives weights and variances consistent with the centres
        lab = ((sub * sub).sum(1)[:, None] - 2 * sub @ means.T + (means * means).sum(1)).argmin(1)
        counts = np.bincount(lab, minlength=K).astype(np.float64)
        weights = (counts + 1.0) / (counts.sum() + K)
        variances = np.tile(global_var, (K, 1))
        for k in range(K):
            members = sub[lab == k]
            if len(members) > 1:
                variances[k] = members.var(0)
        return weights, means, variances

    def fit(self, X) -> DiagGMM:
        """Estimate the parameters from frames X of shape (N, D) with EM; returns self."""
        X = self._validate(X)
        rng = np.random.default_rng(self.random_state)
        global_var = np.asarray(X, dtype=np.float64).var(axis=0)
        self.var_floor_ = self.var_floor * global_var
        w, mu, var = self._initialize(X, rng, global_var)
        var = np.maximum(var, np.maximum(self.var_floor_, 1e-10))
        self.converged_ = False
        self.log_likelihood_history_: list[float] = []
        prev = -np.inf
        self.n_iter_ = 0
        for it in range(1, self.max_iter + 1):
            stats = accumulate_stats(X, w, mu, var, chunk_size=self.chunk_size, dtype=self.dtype)
            ll = stats.loglik / stats.n_frames
            self.log_likelihood_history_.append(ll)
            w, mu, var = maximize(stats, self.var_floor_)
            self.n_iter_ = it
            if abs(ll - prev) < self.tol:
                self.converged_ = True
                break
            prev = ll
        self.weights_, self.means_, self.variances_ = w, mu, var
        return self

    # ------------------------------------------------------------------ using
    def _check_fitted(self):
        if not hasattr(self, "means_"):
            raise RuntimeError("this DiagGMM is not fitted yet: call fit() first")

    def _log_prob(self, X) -> np.ndarray:
        self._check_fitted()
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.means_.shape[1]:
            raise ValueError(f"expected frames of shape (N, {self.means_.shape[1]}), got {X.shape}")
        return estimate_log_prob(X, self.weights_, self.means_, self.variances_, dtype=np.float64)

    def score_samples(self, X) -> np.ndarray:
        """Log-likelihood of each frame, shape (N,)."""
        return logsumexp(self._log_prob(X), axis=1)

    def score(self, X) -> float:
        """Mean log-likelihood per frame."""
        return float(self.score_samples(X).mean())

    def predict_proba(self, X) -> np.ndarray:
        """Responsibilities (posterior of each component per frame), shape (N, K)."""
        lp = self._log_prob(X)
        return np.exp(lp - logsumexp(lp, axis=1, keepdims=True))

    def predict(self, X) -> np.ndarray:
        """Most likely component of each frame, shape (N,)."""
        return self._log_prob(X).argmax(axis=1)

    def _n_parameters(self) -> int:
        K, D = self.means_.shape
        return K - 1 + 2 * K * D

    def bic(self, X) -> float:
        """Bayesian information criterion on X (lower is better)."""
        X = np.asarray(X)
        return -2 * self.score(X) * X.shape[0] + self._n_parameters() * np.log(X.shape[0])

    def aic(self, X) -> float:
        """Akaike information criterion on X (lower is better)."""
        X = np.asarray(X)
        return -2 * self.score(X) * X.shape[0] + 2 * self._n_parameters()

    def sample(self, n_samples: int = 1, random_state: int | None = None):
        """Draw frames from the model; returns (X (n, D), component labels (n,))."""
        self._check_fitted()
        rng = np.random.default_rng(random_state)
        labels = rng.choice(self.n_components, size=n_samples, p=self.weights_ / self.weights_.sum())
        X = self.means_[labels] + rng.standard_normal((n_samples, self.means_.shape[1])) * np.sqrt(
            self.variances_[labels])
        return X, labels
