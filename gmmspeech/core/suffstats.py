"""Sufficient statistics of a diagonal GMM: what an E-step over a block of frames yields, summable over blocks."""

from __future__ import annotations

import numpy as np

__all__ = ["SuffStats"]


class SuffStats:
    """Summable EM statistics of a block of frames (all float64).

    The moments are kept about a reference point per component (``center``), which the E-step puts near the
    component: ``s`` and ``q`` about the origin lose the digits of a variance that is small next to the squared
    mean, so the M-step works from the centred sums.

    Parameters
    ----------
    n : (K,) occupancy of each component, ``sum_i r_ik``.
    s : (K, D) first moments ``sum_i r_ik (x_i - c_k)``.
    q : (K, D) second moments ``sum_i r_ik (x_i - c_k)**2``.
    loglik : total log-likelihood of the block's frames (nats).
    n_frames : number of frames in the block.
    center : (K, D) or (D,) reference points ``c_k``, or None for the origin (then ``s``, ``q`` are the raw
        moments ``sum r x``, ``sum r x**2``).

    Attributes
    ----------
    n, loglik, n_frames, center : as given.  sc, qc : the moments about ``center`` as given.
    s, q : (K, D) raw moments ``sum_i r_ik x_i`` and ``sum_i r_ik x_i**2`` (read-only properties; the very arrays
        given when ``center`` is None).

    Blocks add up: ``a + b`` is the statistics of both blocks (re-expressed about ``a.center`` when the centres
    differ -- exact algebra).
    """

    def __init__(self, n, s, q, loglik: float, n_frames: int, center=None):
        self.n = np.asarray(n, dtype=np.float64)
        self.sc = np.asarray(s, dtype=np.float64)
        self.qc = np.asarray(q, dtype=np.float64)
        self.loglik = loglik
        self.n_frames = n_frames
        self.center = None if center is None else np.asarray(center, dtype=np.float64)

    @property
    def s(self) -> np.ndarray:
        """(K, D) raw first moments ``sum_i r_ik x_i``."""
        if self.center is None:
            return self.sc
        return self.sc + self.n[:, None] * self.center

    @property
    def q(self) -> np.ndarray:
        """(K, D) raw second moments ``sum_i r_ik x_i**2``."""
        if self.center is None:
            return self.qc
        return self.qc + 2 * self.center * self.sc + self.n[:, None] * self.center**2

    def centred(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(center (K, D), s, q)``: the reference points (zeros for the origin) and the moments about them."""
        c = np.zeros_like(self.sc) if self.center is None else np.broadcast_to(self.center, self.sc.shape)
        return c, self.sc, self.qc

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-component mean (K, D) and variance (K, D) of the frames, weighted by occupancy (no floor).

        A component with zero occupancy gets its reference point as mean and variance 0.
        """
        c, sc, qc = self.centred()
        safe = np.maximum(self.n, 1e-300)[:, None]
        shift = sc / safe
        return c + shift, qc / safe - shift**2

    def about(self, center) -> SuffStats:
        """The same statistics with moments about ``center`` ((K, D), (D,) or None for the origin)."""
        c, sc, qc = self.centred()
        new = np.zeros_like(c) if center is None else np.broadcast_to(np.asarray(center, np.float64), c.shape)
        d = c - new
        n = self.n[:, None]
        return SuffStats(self.n.copy(), sc + n * d, qc + 2 * d * sc + n * d**2, self.loglik, self.n_frames,
                         center)

    def copy(self) -> SuffStats:
        """A deep copy."""
        return SuffStats(self.n.copy(), self.sc.copy(), self.qc.copy(), self.loglik, self.n_frames,
                         None if self.center is None else self.center.copy())

    def _empty(self) -> bool:
        return self.n_frames == 0 and not self.n.any() and not self.sc.any() and not self.qc.any()

    def __add__(self, other: SuffStats) -> SuffStats:
        if not isinstance(other, SuffStats):
            return NotImplemented
        if other._empty():
            return self.copy()
        if self._empty():
            return other.copy()
        if not _same_center(self.center, other.center):
            other = other.about(self.center)
        return SuffStats(self.n + other.n, self.sc + other.sc, self.qc + other.qc, self.loglik + other.loglik,
                         self.n_frames + other.n_frames, None if self.center is None else self.center.copy())

    @classmethod
    def zeros(cls, n_components: int, n_features: int) -> SuffStats:
        """Empty statistics, the neutral element of ``+``."""
        return cls(np.zeros(n_components), np.zeros((n_components, n_features)),
                   np.zeros((n_components, n_features)), 0.0, 0)

    def __repr__(self) -> str:
        K, D = self.sc.shape
        return (f"SuffStats(K={K}, D={D}, n_frames={self.n_frames}, loglik={self.loglik:.6g}, "
                f"centred={self.center is not None})")


def _same_center(a, b) -> bool:
    if a is b:
        return True
    if a is None or b is None:
        return False
    return a.shape == b.shape and np.array_equal(a, b)
