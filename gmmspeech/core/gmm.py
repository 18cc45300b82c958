"""Diagonal-covariance Gaussian mixture models trained with EM.

An EM iteration is a map-reduce over sufficient statistics (see DESIGN.md section 1):

* :func:`estimate_log_prob` -- per-frame, per-component weighted log-densities of a block of frames;
* :func:`accumulate_stats` -- the E-step over a block: occupancies, first and second moments, log-likelihood.
  Statistics of separate blocks add up (``stats_a + stats_b``);
* :func:`maximize` -- the M-step: summed statistics to new weights, means and (floored) variances.

:class:`DiagGMM` wraps them in a scikit-learn-style estimator. Nothing ever holds an N x K responsibility
matrix for more than one chunk of frames.

How the E-step is fast: the log-densities of a chunk are one matrix product of ``[x**2, x, 1]`` (frames
centred on the mixture mean) with the stacked parameters; the log-sum-exp is done in place (row max, subtract,
exp, row sum); the responsibilities are never normalised -- the frames are scaled by ``1 / row sum`` instead
(D + 1 columns instead of K) and a second product ``[x**2, x, 1]^T / sum @ exp`` yields all statistics at once.
Work is float32 by default, each chunk's statistics are added up in float64, and with ``n_jobs > 1`` chunks
run on threads (BLAS and numpy release the GIL) with BLAS limited to one thread each (needs ``threadpoolctl``,
installed with the ``fast`` or ``test`` extras; without it the work stays on one thread and BLAS threads the
products itself).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SuffStats", "DiagGMM", "estimate_log_prob", "accumulate_stats", "accumulate_chunks", "batch_plan",
           "maximize", "BATCH_FRAMES"]

_LOG_2PI = float(np.log(2 * np.pi))
# float32 log-responsibilities below this (relative to the frame's best component) are clamped before exp, so
# exp never makes denormal floats, which slow the following products many times on some CPUs
_LOG_RESP_MIN = -80.0
_MIN_REL_FLOOR = 1e-10   # variances never fall below this fraction of the global variance, even with var_floor=0
_SCAN_ROWS = 65536
#: Short blocks (e.g. one per file) are joined into batches of about this many frames for the E-step: the
#: per-block set-up costs 20-40 % of the time on files of a few hundred frames. Blocks this long or longer are
#: used as they are (memory-mapped files stay on disk).
BATCH_FRAMES = 65536


@dataclass
class SuffStats:
    """Summable EM statistics of a block of frames (all float64).

    Attributes
    ----------
    n : (K,) occupancy of each component, ``sum_i r_ik``.
    s : (K, D) first moments, ``sum_i r_ik x_i``.
    q : (K, D) second moments, ``sum_i r_ik x_i**2``.
    loglik : total log-likelihood of the block's frames (nats).
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


def stacked_params(weights, means, variances, dtype):
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
    dtype : compute precision (float32 is about twice as fast).

    Returns
    -------
    (N, K) array of ``dtype`` (nats); a zero-weight component gives ``-inf``.
    """
    a, b = stacked_params(weights, means, variances, dtype)
    X = np.asarray(X, dtype=dtype)
    return np.concatenate([X * X, X], axis=1) @ a.T + b


def _logsumexp_rows(lp: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp of (N, K) ``lp``, computed in place (``lp`` is overwritten); returns (N,)."""
    mx = lp.max(axis=1, keepdims=True)
    mx[~np.isfinite(mx)] = 0.0
    lp -= mx
    np.exp(lp, out=lp)
    with np.errstate(divide="ignore"):
        return np.log(lp.sum(axis=1)) + mx[:, 0]


# ---------------------------------------------------------------------------------------------- the E-step kernel
def _extended_params(weights, means, variances, center, dtype) -> np.ndarray:
    """(2D+1, K) matrix M such that ``[(x-c)**2, x-c, 1] @ M`` are the weighted log-densities of x."""
    a, b = stacked_params(weights, np.asarray(means, dtype=np.float64) - center, variances, np.float64)
    return np.ascontiguousarray(np.concatenate([a, b[:, None]], axis=1).T, dtype=dtype)


def _estep_range(X, lo: int, hi: int, mat: np.ndarray, center: np.ndarray, chunk_size: int, dtype):
    """E-step over rows ``lo:hi`` of X; returns ((2D+1, K) float64 moments of the centred frames, loglik)."""
    D = X.shape[1]
    W, K = mat.shape
    flush = np.dtype(dtype) == np.float32
    c = max(1, min(chunk_size, hi - lo))
    xx = np.empty((c, W), dtype)
    xx[:, 2 * D] = 1.0
    yy = np.empty((c, W), dtype)
    lp = np.empty((c, K), dtype)
    acc = np.zeros((W, K))
    loglik = 0.0
    cen = center.astype(dtype)
    for s in range(lo, hi, c):
        m = min(s + c, hi) - s
        x = xx[:m, D:2 * D]
        np.subtract(X[s:s + m], cen, out=x, casting="unsafe")
        np.multiply(x, x, out=xx[:m, :D])
        ell = lp[:m]
        np.matmul(xx[:m], mat, out=ell)
        mx = ell.max(axis=1, keepdims=True)
        ell -= mx
        if flush:
            np.maximum(ell, _LOG_RESP_MIN, out=ell)
        np.exp(ell, out=ell)
        tot = ell.sum(axis=1, keepdims=True)
        # r = exp / tot, so r^T @ z == exp^T @ (z / tot): scale the (D+1)-wide frames, not the K-wide block
        np.divide(xx[:m], tot, out=yy[:m])
        acc += yy[:m].T @ ell
        loglik += float(mx.sum(dtype=np.float64)) + float(np.log(tot).sum(dtype=np.float64))
    return acc, loglik


_CONTROLLER = None


def _blas_limit():
    """Context holding BLAS to one thread per calling thread (no-op without threadpoolctl).

    The E-step's products are small (chunk x 2D x K); BLAS's own threads gain little on them and spin badly
    when the cores are shared, so parallelism comes from ``n_jobs`` threads over chunks instead.
    """
    global _CONTROLLER
    try:
        if _CONTROLLER is None:
            from threadpoolctl import ThreadpoolController
            _CONTROLLER = ThreadpoolController()
        return _CONTROLLER.limit(limits=1, user_api="blas")
    except ImportError:
        return contextlib.nullcontext()


def _threads_ok(n_jobs: int) -> int:
    """Usable thread count: several threads only when BLAS can be held to one thread each."""
    if n_jobs <= 1:
        return 1
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return 1
    return n_jobs


def _resolve_jobs(n_jobs: int | None) -> int:
    cores = os.cpu_count() or 1
    if n_jobs is None or n_jobs == 0:
        return cores
    return max(1, cores + 1 + n_jobs) if n_jobs < 0 else int(n_jobs)


def _accumulate(X, weights, means, variances, chunk_size, dtype, n_jobs, pool=None) -> SuffStats:
    """:func:`accumulate_stats` without argument checks or BLAS thread limiting (the caller does those)."""
    N, D = X.shape
    K = len(weights)
    if N == 0:
        return SuffStats.zeros(K, D)
    w = np.asarray(weights, dtype=np.float64)
    mu = np.asarray(means, dtype=np.float64)
    center = (w / w.sum()) @ mu
    mat = _extended_params(w, mu, variances, center, dtype)
    jobs = min(n_jobs, max(1, -(-N // chunk_size)))
    if jobs <= 1:
        parts = [_estep_range(X, 0, N, mat, center, chunk_size, dtype)]
    else:
        import joblib
        step = -(-N // (jobs * chunk_size)) * chunk_size   # whole chunks per job: same chunking as one job
        tasks = (joblib.delayed(_estep_range)(X, lo, min(lo + step, N), mat, center, chunk_size, dtype)
                 for lo in range(0, N, step))
        parts = (pool or joblib.Parallel(n_jobs=jobs, backend="threading"))(tasks)
    acc = parts[0][0].copy()
    loglik = parts[0][1]
    for a, ll in parts[1:]:
        acc += a
        loglik += ll
    n = acc[2 * D].copy()
    sc = acc[D:2 * D].T
    qc = acc[:D].T
    # back from centred to raw coordinates (exact algebra, in float64)
    s = sc + n[:, None] * center
    q = qc + 2 * sc * center + n[:, None] * center**2
    return SuffStats(n, np.ascontiguousarray(s), np.ascontiguousarray(q), loglik, N)


def accumulate_stats(X: np.ndarray, weights: np.ndarray, means: np.ndarray, variances: np.ndarray,
                     *, chunk_size: int = 2048, dtype=np.float32, n_jobs: int | None = 1) -> SuffStats:
    """E-step over a block of frames, chunk by chunk.

    Parameters
    ----------
    X : (N, D) frames (may be a memory-mapped array; any float dtype). N may be 0.
    weights : (K,).  means, variances : (K, D).
    chunk_size : frames per chunk; bounds the temporary (chunk_size, K) work array.
    dtype : compute precision of the log-densities and per-chunk products; the returned statistics are float64.
    n_jobs : threads over chunks (``-1``: all cores). Results depend on ``n_jobs`` only at rounding level.

    Returns
    -------
    SuffStats of the block; blocks add up, ``accumulate_stats(X[:m]) + accumulate_stats(X[m:])`` equals
    ``accumulate_stats(X)`` up to rounding.
    """
    if np.ndim(X) != 2 or np.shape(X)[1] != np.shape(means)[1]:
        raise ValueError(f"expected frames of shape (N, {np.shape(means)[1]}), got {np.shape(X)}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    jobs = _threads_ok(_resolve_jobs(n_jobs))
    with _blas_limit():
        return _accumulate(X, weights, means, variances, int(chunk_size), dtype, jobs)


def accumulate_chunks(chunks, weights: np.ndarray, means: np.ndarray, variances: np.ndarray, *,
                      chunk_size: int = 2048, dtype=np.float32) -> SuffStats:
    """E-step over a list of blocks (arrays or ``.npy`` paths, memory-mapped), summed in order, on one thread.

    This is exactly the per-iteration computation :meth:`DiagGMM.fit` does on a list, so statistics of a list
    computed in several pieces (e.g. on cluster workers, see ``DiagGMM(accumulator=...)``) and added up in
    order agree with a local fit to float64 rounding.

    Parameters
    ----------
    chunks : list of (n, D) arrays or ``.npy`` paths; empty blocks are skipped.
    weights : (K,).  means, variances : (K, D).
    chunk_size, dtype : as in :func:`accumulate_stats`.

    Returns
    -------
    SuffStats summed over all blocks.
    """
    src = FrameSource(list(chunks))
    stats = SuffStats.zeros(*np.shape(means))
    with _blas_limit():
        for name, arr in src.batches():
            if arr.shape[1] != np.shape(means)[1]:
                raise ValueError(f"{name}: has {arr.shape[1]} feature dimensions, expected {np.shape(means)[1]}")
            stats = stats + _accumulate(arr, weights, means, variances, int(chunk_size), dtype, 1)
    return stats


def batch_plan(lengths: Iterable[int], target: int = BATCH_FRAMES) -> list[tuple[int, int]]:
    """How a list of blocks is joined into E-step batches: ``[(lo, hi), ...]`` item ranges, in order.

    A block of ``target`` frames or more is a batch of its own; shorter consecutive blocks are joined until
    they reach ``target`` frames (or the next block is a long one, or the list ends). The plan of a list that
    starts at a batch boundary is the same as that part of the whole list's plan, so statistics computed on
    groups of whole batches (e.g. by cluster workers) add up to exactly the local E-step's.
    """
    plan, lo, size, n_items = [], 0, 0, 0
    for i, n in enumerate(lengths):
        n_items = i + 1
        if n >= target:
            if i > lo:
                plan.append((lo, i))
            plan.append((i, i + 1))
            lo, size = i + 1, 0
            continue
        size += n
        if size >= target:
            plan.append((lo, i + 1))
            lo, size = i + 1, 0
    if n_items > lo:
        plan.append((lo, n_items))
    return plan


# ---------------------------------------------------------------------------------------------------- the M-step
def split_component(weights, means, variances, k: int, h: int, scale: float) -> None:
    """In place: component k becomes a copy of h shifted by +scale sigma, h by -scale sigma; weight halved."""
    step = scale * np.sqrt(variances[h])
    weights[k] = weights[h] = weights[h] / 2
    means[k] = means[h] + step
    means[h] = means[h] - step
    variances[k] = variances[h]


def maximize(stats: SuffStats, var_floor: np.ndarray | float = 0.0, *, weight_floor: float = 0.0,
             min_occupancy: float = 1e-3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """M-step: new parameters from summed statistics.

    Parameters
    ----------
    stats : statistics summed over all the data.
    var_floor : scalar or (D,) absolute variance floor applied to every component. Variances also never fall
        below 1e-10 times the data's global variance (computed from ``stats``), so a zero floor cannot give 0.
    weight_floor : a component whose weight falls below this is re-seeded (see ``min_occupancy``).
    min_occupancy : a component with less occupancy than this (in frames) is re-seeded by splitting the
        heaviest component along all dimensions (+-0.5 sigma), as Kaldi's mix-up does, instead of giving NaN.

    Returns
    -------
    weights (K,), means (K, D), variances (K, D), all float64; weights sum to one.

    Raises
    ------
    ValueError
        if the statistics are empty or hold non-finite values.
    """
    n = np.asarray(stats.n, dtype=np.float64)
    total = n.sum()
    if not total > 0:
        raise ValueError("no frames were accumulated: cannot estimate a GMM from empty statistics")
    if not (np.all(np.isfinite(stats.s)) and np.all(np.isfinite(stats.q)) and np.isfinite(total)):
        raise ValueError("the accumulated statistics are not finite (NaN or infinite frames?)")
    gmean = stats.s.sum(0) / total
    gvar = np.maximum(stats.q.sum(0) / total - gmean**2, 0.0)
    floor = np.maximum(var_floor, _MIN_REL_FLOOR * gvar)
    floor = np.where(floor > 0, floor, np.finfo(np.float64).tiny)
    safe = np.maximum(n, 1e-300)[:, None]
    means = stats.s / safe
    variances = np.maximum(stats.q / safe - means**2, floor)
    weights = n / total
    dead = np.flatnonzero((n < min_occupancy) | (weights < weight_floor))
    alive = np.setdiff1d(np.arange(len(n)), dead)
    if len(alive) == 0:
        raise ValueError("every component collapsed: no component has occupancy above min_occupancy")
    for k in dead:
        weights[k] = 0.0
    for k in dead:
        h = int(np.argmax(weights))
        split_component(weights, means, variances, k, h, 0.5)
    weights /= weights.sum()
    return weights, means, variances


# ----------------------------------------------------------------------------------------------- initialisation
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
        lab = _nearest(X, centres)
        for j in range(k):
            members = X[lab == j]
            if len(members):
                centres[j] = members.mean(0)
    return centres


def _nearest(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (Euclidean) for every row of X, shape (N,)."""
    return ((X * X).sum(1)[:, None] - 2 * X @ centres.T + (centres * centres).sum(1)).argmin(1)


def _hard_params(sub, means, global_var):
    """Weights and variances from a hard assignment of ``sub`` to ``means``."""
    K = len(means)
    lab = _nearest(sub, means)
    counts = np.bincount(lab, minlength=K).astype(np.float64)
    weights = (counts + 1.0) / (counts.sum() + K)
    variances = np.tile(global_var, (K, 1))
    for k in range(K):
        members = sub[lab == k]
        if len(members) > 1:
            variances[k] = members.var(0)
    return weights, variances


def _mixup(sub, K, global_var, floor, n_em: int = 4):
    """Binary splitting from one component: split the heaviest until K, with a few EM iterations per round."""
    w = np.ones(1)
    mu = sub.mean(0, keepdims=True)
    var = global_var[None, :].copy()
    while len(w) < K:
        cur, target = len(w), min(2 * len(w), K)
        w = np.concatenate([w, np.zeros(target - cur)])
        mu = np.concatenate([mu, np.zeros((target - cur, mu.shape[1]))])
        var = np.concatenate([var, np.ones((target - cur, var.shape[1]))])
        for k in range(cur, target):
            split_component(w, mu, var, k, int(np.argmax(w)), 0.2)
        for _ in range(n_em):
            w, mu, var = maximize(_accumulate(sub, w, mu, var, 4096, np.float64, 1), floor)
    return w, mu, var


# --------------------------------------------------------------------------------------------------- data sources
class FrameSource:
    """Frames given as one array, a list of arrays / ``.npy`` paths, or a callable yielding arrays."""

    def __init__(self, X):
        self._factory = None
        self._items = None
        if callable(X):
            self._factory = X
        elif isinstance(X, (list, tuple)):
            self._items = list(X)
        else:
            arr = np.asarray(X)
            if arr.ndim != 2:
                raise ValueError(f"expected a 2-D array of frames (N, D), got shape {arr.shape}")
            self._items = [arr]
        self.n_features = None

    @property
    def items(self) -> list | None:
        """The list of blocks (arrays or paths) as given, or None for a callable source."""
        return self._items

    def blocks(self) -> Iterator[tuple[str, np.ndarray]]:
        """Yield (name, (n, D) array) for every non-empty block, opened anew (files memory-mapped)."""
        raw: Iterable = self._factory() if self._factory is not None else self._items
        for i, item in enumerate(raw):
            name = str(item) if isinstance(item, (str, os.PathLike)) else f"chunk {i}"
            if isinstance(item, (str, os.PathLike)):
                try:
                    arr = np.load(Path(item), mmap_mode="r", allow_pickle=False)
                except (OSError, ValueError) as e:
                    raise ValueError(f"{item}: cannot read feature chunk ({e})") from None
            else:
                arr = np.asarray(item)
            if arr.ndim != 2:
                raise ValueError(f"{name}: expected a 2-D array of frames (N, D), got shape {arr.shape}")
            if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(f"{name}: frames must be numbers, got dtype {arr.dtype}")
            if self.n_features is not None and arr.shape[1] != self.n_features and arr.shape[0]:
                raise ValueError(f"{name}: has {arr.shape[1]} feature dimensions, expected {self.n_features}")
            if arr.shape[0] == 0:
                continue   # an empty chunk contributes nothing
            self.n_features = arr.shape[1]
            yield name, arr

    def batches(self) -> Iterator[tuple[str, np.ndarray]]:
        """Like :meth:`blocks`, but short consecutive blocks joined into batches as :func:`batch_plan` says."""
        if self._items is None:
            yield from self.blocks()
            return
        pending: list[tuple[str, np.ndarray]] = []
        size = 0

        def flush():
            if len(pending) == 1:
                return pending[0]
            return pending[0][0], np.concatenate([a for _, a in pending])

        for name, arr in self.blocks():
            if arr.shape[0] >= BATCH_FRAMES:
                if pending:
                    yield flush()
                    pending, size = [], 0
                yield name, arr
                continue
            pending.append((name, arr))
            size += arr.shape[0]
            if size >= BATCH_FRAMES:
                yield flush()
                pending, size = [], 0
        if pending:
            yield flush()

    def scan(self):
        """One pass: checks every value is finite; returns (n_frames, mean (D,), variance (D,)) in float64."""
        n, mean, m2 = 0, None, None
        for name, arr in self.blocks():
            for s in range(0, arr.shape[0], _SCAN_ROWS):
                x = np.asarray(arr[s:s + _SCAN_ROWS], dtype=np.float64)
                if not np.all(np.isfinite(x)):
                    row = s + int(np.flatnonzero(~np.all(np.isfinite(x), axis=1))[0])
                    raise ValueError(f"{name}: the data contain NaN or infinite values (first at frame {row})")
                cm = x.mean(0)
                cm2 = ((x - cm) ** 2).sum(0)
                if mean is None:
                    n, mean, m2 = x.shape[0], cm, cm2
                else:   # Chan et al.'s pairwise update: stable for any number of frames
                    tot = n + x.shape[0]
                    delta = cm - mean
                    mean = mean + delta * x.shape[0] / tot
                    m2 = m2 + cm2 + delta**2 * n * x.shape[0] / tot
                    n = tot
        if n == 0:
            raise ValueError("no frames to train on (the data or every chunk is empty)")
        return n, mean, m2 / n

    def gather(self, idx: np.ndarray) -> np.ndarray:
        """Rows at sorted global indices ``idx`` as a float64 (len(idx), D) array."""
        out, offset = [], 0
        for _, arr in self.blocks():
            lo, hi = np.searchsorted(idx, [offset, offset + arr.shape[0]])
            if hi > lo:
                out.append(np.asarray(arr[idx[lo:hi] - offset], dtype=np.float64))
            offset += arr.shape[0]
        return np.concatenate(out)


# ---------------------------------------------------------------------------------------------------- estimator
class DiagGMM:
    """Diagonal-covariance Gaussian mixture model trained by chunked EM.

    Parameters
    ----------
    n_components : K, number of Gaussians.
    max_iter : maximum EM iterations.
    tol : convergence threshold on the change of mean log-likelihood per frame (nats) between iterations.
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
    random_state : seed; seeded fits are bit-for-bit reproducible (for a fixed ``n_jobs``).
    dtype : compute precision of the E-step (float32 default; statistics are summed in float64).
    weights_init, means_init, variances_init : warm start; when ``means_init`` is given, ``init`` is skipped
        (missing weights are uniform, missing variances the global variance).
    subsample : frames drawn for the initialisation.
    chunk_size : frames per E-step chunk (bounds memory: about chunk_size x K x 4 bytes per job).
    n_jobs : threads for the E-step (``-1``: all cores).
    accumulator : optional callable ``accumulator(items, weights, means, variances, *, chunk_size, dtype)``
        returning the summed :class:`SuffStats` of all items of a list given to ``fit`` -- the E-step run
        elsewhere, e.g. on a Dask cluster (``gmmspeech.parallel.ClusterAccumulator``). It must equal
        :func:`accumulate_chunks` of the items; initialisation and M-steps stay in this process.
    verbose : print one line per iteration to stderr.

    Attributes
    ----------
    weights_ (K,), means_ (K, D), variances_ (K, D) : learned parameters (float64).
    converged_ : whether ``tol`` was reached.  n_iter_ : EM iterations run (best initialisation).
    log_likelihood_history_ : mean log-likelihood per frame before each M-step.  lower_bound_ : its last value.
    var_floor_ : (D,) absolute variance floor used.

    ``fit`` accepts an (N, D) array (possibly memory-mapped), a list of arrays or ``.npy`` paths (opened with
    memory mapping on every pass, so data larger than memory can be trained on), or a callable returning an
    iterable of (n, D) arrays, called anew on every pass and expected to yield the same frames each time.
    Empty chunks are skipped.
    """

    def __init__(self, n_components: int = 64, *, max_iter: int = 100, tol: float = 1e-4,
                 init: str = "kmeans++", var_floor: float = 1e-3, weight_floor: float = 1e-5, n_init: int = 1,
                 random_state: int | None = 0, dtype=np.float32, weights_init=None, means_init=None,
                 variances_init=None, subsample: int = 20000, chunk_size: int = 2048, n_jobs: int | None = 1,
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

    # ------------------------------------------------------------------ fitting
    def _check_params(self):
        if not (isinstance(self.n_components, (int, np.integer)) and self.n_components >= 1):
            raise ValueError(f"n_components must be a positive integer, got {self.n_components!r}")
        if self.init not in ("kmeans++", "random", "split"):
            raise ValueError(f"init must be 'kmeans++', 'random' or 'split', got {self.init!r}")
        if self.max_iter < 1 or self.n_init < 1 or self.chunk_size < 1:
            raise ValueError("max_iter, n_init and chunk_size must be at least 1")
        if self.var_floor < 0 or self.tol < 0 or not 0 <= self.weight_floor < 1:
            raise ValueError("var_floor and tol must be >= 0 and weight_floor in [0, 1)")
        if np.dtype(self.dtype) not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")

    def _warm_start(self, K: int, D: int, global_var: np.ndarray):
        means = np.asarray(self.means_init, dtype=np.float64)
        if means.shape != (K, D):
            raise ValueError(f"means_init has shape {means.shape}, expected {(K, D)}")
        weights = np.full(K, 1.0 / K) if self.weights_init is None else np.asarray(self.weights_init, np.float64)
        if weights.shape != (K,) or np.any(weights < 0) or not weights.sum() > 0:
            raise ValueError(f"weights_init must be {K} non-negative numbers with a positive sum")
        variances = (np.tile(global_var, (K, 1)) if self.variances_init is None
                     else np.asarray(self.variances_init, dtype=np.float64))
        if variances.shape != (K, D) or not np.all(variances > 0):
            raise ValueError(f"variances_init must have shape {(K, D)} and be positive")
        if not (np.all(np.isfinite(means)) and np.all(np.isfinite(variances))):
            raise ValueError("means_init and variances_init must be finite")
        return weights / weights.sum(), means.copy(), variances.copy()

    def _initialize(self, src: FrameSource, n_frames: int, rng: np.random.Generator, global_var: np.ndarray):
        K = self.n_components
        m = min(n_frames, max(self.subsample, K))
        idx = np.arange(n_frames) if m == n_frames else np.sort(rng.choice(n_frames, m, replace=False))
        sub = src.gather(idx)
        if self.init == "split":
            return _mixup(sub, K, global_var, self.var_floor_)
        if self.init == "random":
            means = sub[rng.choice(sub.shape[0], K, replace=False)]
        else:
            means = _kmeanspp(sub, K, rng)
        weights, variances = _hard_params(sub, means, global_var)
        return weights, means, variances

    def _em(self, src: FrameSource, n_frames: int, w, mu, var, pool, jobs):
        history: list[float] = []
        converged, prev = False, -np.inf
        chunk = int(self.chunk_size)
        for it in range(1, self.max_iter + 1):
            t0 = time.perf_counter()
            if self.accumulator is not None:
                stats = self.accumulator(src.items, w, mu, var, chunk_size=chunk, dtype=self.dtype)
            else:
                stats = SuffStats.zeros(*mu.shape)
                for _, arr in src.batches():
                    stats = stats + _accumulate(arr, w, mu, var, chunk, self.dtype, jobs, pool)
            ll = stats.loglik / stats.n_frames
            history.append(ll)
            w, mu, var = maximize(stats, self.var_floor_, weight_floor=self.weight_floor)
            if self.verbose:
                print(f"  EM iteration {it:3d}  log-lik/frame {ll:.6f}  change {ll - prev:.2e}  "
                      f"{time.perf_counter() - t0:.2f}s", file=sys.stderr)
            if abs(ll - prev) < self.tol:
                converged = True
                break
            prev = ll
        return w, mu, var, history, converged

    def fit(self, X) -> DiagGMM:
        """Estimate the parameters with EM; returns self.

        Parameters
        ----------
        X : (N, D) frames, or a list of (n, D) arrays / ``.npy`` paths, or a callable returning such chunks.

        Raises
        ------
        ValueError
            for NaN/Inf values (naming the chunk and frame), fewer frames than components, a constant
            feature dimension, chunks disagreeing on D, or unreadable chunk files.
        """
        self._check_params()
        src = FrameSource(X)
        if self.accumulator is not None and src.items is None:
            raise ValueError("an accumulator needs the frames as a list of arrays or .npy paths, not a callable")
        n_frames, _, global_var = src.scan()
        K = self.n_components
        if n_frames < K:
            raise ValueError(f"{n_frames} frames are fewer than n_components={K}")
        const = np.flatnonzero(global_var <= 0)
        if len(const):
            raise ValueError(f"feature dimension(s) {const.tolist()} are constant over all frames (zero variance); "
                             "drop them before training")
        self.var_floor_ = max(self.var_floor, _MIN_REL_FLOOR) * global_var
        rng = np.random.default_rng(self.random_state)
        jobs = _threads_ok(_resolve_jobs(self.n_jobs))
        best = None
        with _blas_limit(), contextlib.ExitStack() as stack:
            pool = None
            if jobs > 1:
                import joblib
                pool = stack.enter_context(joblib.Parallel(n_jobs=jobs, backend="threading"))
            for _ in range(self.n_init):
                if self.means_init is not None:
                    w, mu, var = self._warm_start(K, src.n_features, global_var)
                else:
                    w, mu, var = self._initialize(src, n_frames, rng, global_var)
                var = np.maximum(var, self.var_floor_)
                run = self._em(src, n_frames, w, mu, var, pool, jobs)
                if best is None or run[3][-1] > best[3][-1]:
                    best = run
        self.weights_, self.means_, self.variances_, history, self.converged_ = best
        self.log_likelihood_history_ = history
        self.lower_bound_ = history[-1]
        self.n_iter_ = len(history)
        return self

    # ------------------------------------------------------------------ using
    def _check_fitted(self):
        if not hasattr(self, "means_"):
            raise RuntimeError("this DiagGMM is not fitted yet: call fit() first")

    def _checked(self, X) -> np.ndarray:
        self._check_fitted()
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.means_.shape[1]:
            raise ValueError(f"expected frames of shape (N, {self.means_.shape[1]}), got {X.shape}")
        return X

    def _log_prob(self, X) -> np.ndarray:
        return estimate_log_prob(self._checked(X), self.weights_, self.means_, self.variances_, dtype=np.float64)

    def score_samples(self, X) -> np.ndarray:
        """Log-likelihood of each frame (nats), shape (N,); computed chunk by chunk in float64."""
        X = self._checked(X)
        out = np.empty(X.shape[0])
        step = max(1, int(self.chunk_size))
        for s in range(0, X.shape[0], step):
            lp = estimate_log_prob(X[s:s + step], self.weights_, self.means_, self.variances_)
            out[s:s + step] = _logsumexp_rows(lp)
        return out

    def score(self, X) -> float:
        """Mean log-likelihood per frame (nats)."""
        return float(self.score_samples(X).mean())

    def predict_proba(self, X) -> np.ndarray:
        """Responsibilities (posterior of each component per frame), shape (N, K); rows sum to one."""
        lp = self._log_prob(X)
        lse = _logsumexp_rows(lp.copy())
        return np.exp(lp - lse[:, None])

    def predict(self, X) -> np.ndarray:
        """Most likely component of each frame (hard clustering), shape (N,)."""
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

