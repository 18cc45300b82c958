"""How one E-step computes log-densities accurately and fast: components grouped around centring points.

The expanded quadratic form ``[(x-c)**2, x-c, 1] @ M`` turns a chunk's log-densities into one matrix product,
but loses the digits of ``|x - c|**2 / var`` when a component lies far from the centring point ``c`` in its own
standard deviations. :func:`component_groups` puts each component near a point float32 can resolve it from (one
point for ordinary data), computing the few that float32 cannot place in float64 instead; :class:`EStepPlan`
holds the stacked parameters per group and :class:`ChunkWork` the per-thread work arrays of the kernel
(:mod:`.estep`).
"""

from __future__ import annotations

import numpy as np

from .suffstats import SuffStats

__all__ = ["stacked_params", "component_groups", "EStepPlan", "ChunkWork"]

_LOG_2PI = float(np.log(2 * np.pi))
# A component is computed in the compute dtype about its group's centring point when its squared distance to it, in
# its own variances, is at most the first number summed over dimensions and the second in any one dimension.
# The rounding error of a log-density grows as eps times that distance (float32: about 4e-9 nats per unit, so 1024
# keeps it within ~5e-6 nats), that of a variance as the float32 sums' error (about 2e-6 relative over a
# 2048-frame chunk) times one plus the one-dimension figure (128 = 11 sigma: within ~3e-4 at the limit, ~1e-5 for
# a typical component). Components beyond the float32 limits but within the float64 ones are computed in float64
# about the same point (a few rows in float64 cost less than another centring); beyond those, another group is
# centred near them. On real MFCC data no component needs either.
_LIMITS = {np.dtype(np.float32): (1024.0, 128.0), np.dtype(np.float64): (2.0**20, 2.0**18)}


def stacked_params(weights, means, variances, dtype):
    """Parameters arranged so that ``[x**2, x] @ A.T + b`` gives weighted log-densities.

    Parameters
    ----------
    weights : (K,).  means, variances : (K, D).
    dtype : dtype of the results.

    Returns
    -------
    A (K, 2D) and b (K,); a zero weight gives ``b = -inf``.
    """
    w = np.asarray(weights, dtype=np.float64)
    mu = np.asarray(means, dtype=np.float64)
    var = np.asarray(variances, dtype=np.float64)
    prec = 1.0 / var
    a = np.concatenate([-0.5 * prec, mu * prec], axis=1)
    with np.errstate(divide="ignore"):
        b = np.log(w) - 0.5 * (mu.shape[1] * _LOG_2PI + np.log(var).sum(1) + (mu * mu * prec).sum(1))
    return a.astype(dtype), b.astype(dtype)


def component_groups(weights, means, variances, dtype) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Components grouped around centring points close enough for ``dtype`` arithmetic.

    Parameters
    ----------
    weights : (K,).  means, variances : (K, D), float64.
    dtype : compute precision. A component is computed in it about its group's point when it lies within 1024
        squared standard deviations of it in all and 128 in any one dimension (float32; 2**20 and 2**18 for
        float64), in float64 about the same point when only float64's limits hold.

    Returns
    -------
    list of ``(centre (D,) float64, indices in dtype (ascending), indices in float64 (ascending))``; every
    component is in exactly one list; each centre is exactly representable in ``dtype``. The first group is
    centred on the weighted mean of all components, so ordinary data give one group and no float64 rows.
    """
    dtype = np.dtype(dtype)
    limits = _LIMITS[dtype]
    limits64 = _LIMITS[np.dtype(np.float64)] if dtype != np.float64 else None

    def centre_of(idx):
        ww = weights[idx]
        c = (ww / ww.sum()) @ means[idx] if ww.sum() > 0 else means[idx].mean(0)
        return c.astype(dtype).astype(np.float64)

    def fits(idx, c, lim):
        r = (means[idx] - c) ** 2 / variances[idx]
        return (r.sum(1) <= lim[0]) & (r.max(1) <= lim[1])

    groups = []
    left = np.arange(len(weights))
    c = centre_of(left)
    ok = fits(left, c, limits)
    while True:
        ok64 = fits(left, c, limits64) & ~ok if limits64 else np.zeros_like(ok)
        if ok.any() or ok64.any():
            groups.append((c, left[ok], left[ok64]))
            left = left[~(ok | ok64)]
        if not len(left):
            return groups
        seed = int(np.argmax(weights[left]))   # the heaviest component left, and those near it
        c = centre_of(left[seed:seed + 1])
        ok = fits(left, c, limits)
        ok[seed] = True   # even if its own centre cannot be represented closely enough
        c2 = centre_of(left[ok])
        ok2 = fits(left, c2, limits)
        if ok2[seed] and ok2.sum() >= ok.sum():
            c, ok = c2, ok2


class EStepPlan:
    """Parameters of one E-step, grouped and stacked for the chunked kernel.

    Parameters
    ----------
    weights : (K,).  means, variances : (K, D).
    dtype : compute precision (float32 or float64).

    Attributes
    ----------
    order : (K,) components in kernel order.  groups : list of ``(lo, mid, hi, M, M64)``, one per centring point:
    rows ``lo:mid`` of the kernel's (K, chunk) block are ``M @ [(x-c)**2, x-c, 1].T`` in ``dtype`` and rows
    ``mid:hi`` the same in float64 with ``M64`` (either may be empty, its matrix then None).
    centres : (G, D) float64 centring points.  component_centres : (K, D) each component's point (input order).
    refined : whether any rows are computed in float64 although ``dtype`` is float32.
    """

    def __init__(self, weights, means, variances, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        w = np.asarray(weights, dtype=np.float64)
        mu = np.asarray(means, dtype=np.float64)
        var = np.asarray(variances, dtype=np.float64)
        K, D = mu.shape
        found = component_groups(w, mu, var, self.dtype)
        self.n_components, self.n_features = K, D
        self.order = np.concatenate([np.concatenate([i32, i64]) for _, i32, i64 in found])
        self.identity = bool(np.array_equal(self.order, np.arange(K)))
        self.centres = np.stack([c for c, _, _ in found])
        self._centres32 = self.centres.astype(np.float32) if self.dtype == np.float32 else None
        self.component_centres = np.empty((K, D))
        self.groups = []
        self.refined = False

        def stack(idx, c, dt):
            if not len(idx):
                return None
            a, b = stacked_params(w[idx], mu[idx] - c, var[idx], np.float64)
            return np.ascontiguousarray(np.concatenate([a, b[:, None]], axis=1), dtype=dt)

        lo = 0
        for c, i32, i64 in found:
            mid, hi = lo + len(i32), lo + len(i32) + len(i64)
            self.groups.append((lo, mid, hi, stack(i32, c, self.dtype), stack(i64, c, np.float64)))
            self.component_centres[i32] = c
            self.component_centres[i64] = c
            self.refined |= bool(len(i64))
            lo = hi

    @property
    def n_groups(self) -> int:
        """Number of centring points G."""
        return len(self.groups)

    def _centres_for(self, x_dtype) -> np.ndarray:
        # float32 frames are centred in float32 (exact centres, same rounding as in float64)
        return self._centres32 if self._centres32 is not None and x_dtype == np.float32 else self.centres

    def log_prob_t(self, x: np.ndarray) -> np.ndarray:
        """Weighted log-densities of frames ``x`` (m, D), shape (K, m) in kernel order, in ``dtype``."""
        work = ChunkWork(self, x.shape[0], x.dtype)
        out = np.empty((self.n_components, x.shape[0]), self.dtype)
        work.fill(x, out)
        return out

    def stats(self, acc: np.ndarray, loglik: float, n_frames: int) -> SuffStats:
        """:class:`SuffStats` from the kernel's summed (K, 2D+1) moments (kernel order, about the centres)."""
        D = self.n_features
        full = acc if self.identity else np.empty_like(acc)
        if not self.identity:
            full[self.order] = acc
        return SuffStats(full[:, 2 * D].copy(), np.ascontiguousarray(full[:, D:2 * D]),
                         np.ascontiguousarray(full[:, :D]), loglik, n_frames, center=self.component_centres)


class ChunkWork:
    """Work arrays of one thread for chunks of up to ``c`` frames, and the two products of the E-step kernel.

    Holds the centred frames ``[(x-c)**2, x-c, 1]`` in the compute dtype (``z``; ``z64`` for float64 rows) and
    their scaled copies, recomputed only when another group's centre is needed.

    Parameters
    ----------
    plan : the E-step's :class:`EStepPlan`.  c : largest chunk, in frames.  x_dtype : dtype of the frames.
    """

    def __init__(self, plan: EStepPlan, c: int, x_dtype):
        D, dt = plan.n_features, plan.dtype
        self.plan, self.m, self.x = plan, c, None
        self.centres = plan._centres_for(x_dtype)
        # x - c is formed in float64 unless both the frames and the compute dtype are float32 (same rounding)
        self.z, self.y = np.empty((c, 2 * D + 1), dt), np.empty((c, 2 * D + 1), dt)
        self.t = np.empty((c, D), np.float32 if self.centres.dtype == np.float32 else np.float64)
        self.z[:, 2 * D] = 1.0
        self.held = [-1, -1]   # the group whose centred frames z and z64 hold
        if plan.refined:
            self.z64, self.y64, self.t64 = np.empty((c, 2 * D + 1)), np.empty((c, 2 * D + 1)), np.empty((c, D))
            self.z64[:, 2 * D] = 1.0

    def centred(self, g: int, wide: bool) -> np.ndarray:
        """The current frames centred on group g's point: ``z`` (compute dtype) or ``z64`` (float64), (m, 2D+1)."""
        z, t, c = (self.z64, self.t64, self.plan.centres) if wide else (self.z, self.t, self.centres)
        z, t = z[:self.m], t[:self.m]
        if self.held[wide] != g:
            D = t.shape[1]
            np.subtract(self.x, c[g], out=t, casting="unsafe")   # contiguous, then copied: faster than strided
            z[:, D:2 * D] = t
            np.multiply(t, t, out=z[:, :D], casting="unsafe")
            self.held[wide] = g
        return z

    def fill(self, x: np.ndarray, out: np.ndarray) -> None:
        """Weighted log-densities of frames ``x`` (m, D) into ``out`` (K, m), kernel order."""
        self.x, self.m, self.held = x, x.shape[0], [-1, -1]
        for g, (lo, mid, hi, mat, mat64) in enumerate(self.plan.groups):
            if mat is not None:
                np.matmul(mat, self.centred(g, False).T, out=out[lo:mid])
            if mat64 is not None:
                out[mid:hi] = mat64 @ self.centred(g, True).T

    def accumulate(self, e: np.ndarray, tot: np.ndarray, acc: np.ndarray) -> None:
        """``acc += (e / tot) @ z`` group by group: the (K, 2D+1) float64 moments of the responsibilities.

        ``e`` (K, m) holds unnormalised responsibilities and ``tot`` (m,) their column sums. The narrower of
        ``e`` and ``z`` is scaled: ``(e / tot) @ z == e @ (z / tot)``.
        """
        m = self.m
        scale_e = e.shape[0] < self.z.shape[1]
        if scale_e:
            e /= tot
        for g in range(self.plan.n_groups - 1, -1, -1):   # the last group's centred frames are still held
            lo, mid, hi, mat, mat64 = self.plan.groups[g]
            if mat is not None:
                z = self.centred(g, False)
                if not scale_e:
                    z = np.divide(z, tot[:, None], out=self.y[:m])
                acc[lo:mid] += e[lo:mid] @ z
            if mat64 is not None:
                z = self.centred(g, True)
                if not scale_e:
                    z = np.divide(z, tot[:, None], out=self.y64[:m])
                acc[mid:hi] += e[mid:hi].astype(np.float64) @ z
