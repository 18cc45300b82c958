"""EM for diagonal GMMs as a map-reduce over sufficient statistics (DESIGN.md section 1).

* :func:`accumulate_stats` / :func:`accumulate_chunks` -- the E-step over frames: occupancies, first and
  second moments, log-likelihood (:class:`SuffStats`). Statistics of separate blocks add up (``a + b``);
* :func:`maximize` -- the M-step (:mod:`.mstep`, re-exported here): summed statistics to new parameters;
* :func:`estimate_log_prob` -- weighted log-densities of frames under every component.

How the E-step is fast: a chunk's log-densities are one matrix product of ``[(x-c)**2, x-c, 1]`` with the stacked
parameters (:class:`EStepPlan`); the log-sum-exp runs in place on a (K, chunk) block (reductions over the
contiguous axis); responsibilities are never normalised -- the frames are scaled by ``1 / row sum`` instead
(2D + 1 columns instead of K) and a second product yields all statistics at once. Work is float32 by default;
each chunk's statistics are added up in float64.

How it stays accurate (:mod:`.plan`): the expanded quadratic form loses the digits of ``|x - c|**2 / var`` when a
component lies far from the centring point ``c`` in its own standard deviations, so components are grouped
(:func:`component_groups`) around points float32 can resolve them from (the few it cannot are computed in
float64); the statistics stay about those points (:attr:`SuffStats.center`) through the M-step. Ordinary data need
one group and no float64 (one product, as fast as ever); components 1000 sigma apart still agree with float64 to
about 1e-6 nats per frame.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numpy as np

from ..infra.errors import DataError
from .mstep import maximize, split_component
from .plan import ChunkWork, EStepPlan, component_groups, stacked_params
from .sources import BATCH_FRAMES, FrameSource, batch_plan
from .suffstats import SuffStats
from .threads import blas_limit, effective_threads, ordered_map, thread_pool

__all__ = ["SuffStats", "EStepPlan", "component_groups", "stacked_params", "estimate_log_prob", "accumulate_stats",
           "accumulate_chunks", "accumulate_plan", "maximize", "split_component", "batch_plan", "BATCH_FRAMES"]

# float32 log-responsibilities below this (relative to the frame's best component) are clamped before exp, so
# exp never makes denormal floats, which slow exp and the following products many times on some CPUs
_LOG_RESP_MIN = -80.0
#: Frames per E-step task: fixed, so the statistics do not depend on the number of threads; small enough to keep
#: the threads evenly busy on 100k frames.
RANGE_FRAMES = 16384


def _estep_range(X, lo: int, hi: int, plan: EStepPlan, chunk_size: int, local) -> tuple[np.ndarray, float]:
    """E-step over rows ``lo:hi`` of X; returns ((K, 2D+1) float64 moments in kernel order, loglik).

    ``local`` (a ``threading.local``) keeps each thread's work arrays from one task to the next.
    """
    work = getattr(local, "work", None)
    if work is None or work.key != (X.dtype, chunk_size):
        work = local.work = ChunkWork(plan, chunk_size, X.dtype)
        work.key = (X.dtype, chunk_size)
        local.ell = np.empty((plan.n_components, chunk_size), plan.dtype)
    acc = np.zeros((plan.n_components, 2 * plan.n_features + 1))
    clamp = plan.dtype == np.float32
    loglik = 0.0
    for s in range(lo, hi, chunk_size):
        m = min(s + chunk_size, hi) - s
        e = local.ell[:, :m]
        work.fill(X[s:s + m], e)
        mx = e.max(axis=0)
        e -= mx
        if clamp:
            np.maximum(e, _LOG_RESP_MIN, out=e)
        np.exp(e, out=e)
        tot = e.sum(axis=0)
        loglik += float(mx.sum(dtype=np.float64)) + float(np.log(tot).sum(dtype=np.float64))
        work.accumulate(e, tot, acc)
    return acc, loglik


def accumulate_plan(arrays: Iterable[np.ndarray], plan: EStepPlan, chunk_size: int, pool=None,
                    ahead: int = 1) -> SuffStats:
    """E-step over a sequence of (n, D) arrays under a prepared plan (no argument checks, no BLAS limiting).

    Each array is cut into tasks of :data:`RANGE_FRAMES` frames, run on ``pool`` (an executor, or None for this
    thread) at most ``ahead`` at a time beyond the one being summed, and summed in order -- so the result does
    not depend on the pool.
    """
    step = chunk_size * max(1, RANGE_FRAMES // chunk_size)
    count = [0]
    local = threading.local()   # per-thread work arrays, for this E-step

    def tasks():
        for arr in arrays:
            n = arr.shape[0]
            count[0] += n
            for lo in range(0, n, step):
                yield arr, lo, min(lo + step, n), plan, chunk_size, local

    acc = np.zeros((plan.n_components, 2 * plan.n_features + 1))
    loglik = 0.0
    for a, ll in ordered_map(pool, _estep_range, tasks(), ahead):
        acc += a
        loglik += ll
    if count[0] == 0:
        return SuffStats.zeros(plan.n_components, plan.n_features)
    return plan.stats(acc, loglik, count[0])


def accumulate_stats(X: np.ndarray, weights: np.ndarray, means: np.ndarray, variances: np.ndarray, *,
                     chunk_size: int = 2048, dtype=np.float32, n_jobs: int | None = None) -> SuffStats:
    """E-step over a block of frames, chunk by chunk.

    Parameters
    ----------
    X : (N, D) frames (may be memory-mapped; any float or integer dtype). N may be 0.
    weights : (K,).  means, variances : (K, D).
    chunk_size : frames per chunk; bounds the (K, chunk_size) work array of each thread.
    dtype : compute precision of the log-densities and per-chunk products; the statistics are float64.
    n_jobs : threads (``None``: all cores, see :func:`gmmspeech.core.threads.effective_threads`). The
        result does not depend on it.

    Returns
    -------
    SuffStats of the block; blocks add up: ``accumulate_stats(X[:m]) + accumulate_stats(X[m:])`` equals
    ``accumulate_stats(X)`` up to rounding.
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != np.shape(means)[1]:
        raise DataError(f"expected frames of shape (N, {np.shape(means)[1]}), got {X.shape}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    plan = EStepPlan(weights, means, variances, dtype)
    jobs = effective_threads(n_jobs)
    with blas_limit(), thread_pool(jobs) as pool:
        return accumulate_plan([X], plan, int(chunk_size), pool, 2 * jobs)


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
    D = np.shape(means)[1]
    plan = EStepPlan(weights, means, variances, dtype)

    def arrays():
        for name, arr in src.batches():
            if arr.shape[1] != D:
                raise DataError(f"{name}: has {arr.shape[1]} feature dimensions, expected {D}")
            yield arr

    with blas_limit():
        return accumulate_plan(arrays(), plan, int(chunk_size))


def estimate_log_prob(X: np.ndarray, weights: np.ndarray, means: np.ndarray, variances: np.ndarray,
                      *, dtype=np.float64, chunk_size: int = 4096) -> np.ndarray:
    """Weighted log-densities ``log w_k + log N(x_i | mu_k, diag(var_k))``.

    Parameters
    ----------
    X : (N, D) frames.
    weights : (K,) mixture weights.  means, variances : (K, D).
    dtype : compute precision (float32 is about twice as fast).
    chunk_size : frames per product (bounds the temporary memory).

    Returns
    -------
    (N, K) array of ``dtype`` (nats); a zero-weight component gives ``-inf``.
    """
    X = np.asarray(X)
    plan = EStepPlan(weights, means, variances, dtype)
    out = np.empty((X.shape[0], plan.n_components), plan.dtype)
    for s in range(0, X.shape[0], chunk_size):
        block = plan.log_prob_t(X[s:s + chunk_size]).T
        if plan.identity:
            out[s:s + chunk_size] = block
        else:
            out[s:s + chunk_size, plan.order] = block
    return out
