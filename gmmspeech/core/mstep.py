"""The M-step of diagonal GMMs: summed sufficient statistics to new weights, means and floored variances."""

from __future__ import annotations

import numpy as np

from ..infra.errors import DataError
from .suffstats import SuffStats

__all__ = ["maximize", "split_component", "MIN_REL_FLOOR"]

#: Variances never fall below this fraction of the global variance, even with ``var_floor=0``.
MIN_REL_FLOOR = 1e-10


def split_component(weights, means, variances, k: int, h: int, scale: float) -> None:
    """In place: component k becomes a copy of h shifted by +scale sigma, h by -scale sigma; h's weight halved.

    Parameters
    ----------
    weights : (K,).  means, variances : (K, D) -- float arrays, modified in place.
    k, h : component indices.  scale : shift in standard deviations of component h.
    """
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
    weights (K,), means (K, D), variances (K, D), all float64; weights sum to one. Means and variances are
    computed about each component's centring point (:attr:`SuffStats.center`), so they keep their digits
    however far the data lie from the origin.

    Raises
    ------
    DataError
        if the statistics are empty or hold non-finite values, or every component collapsed.
    """
    n = np.asarray(stats.n, dtype=np.float64)
    total = n.sum()
    if not total > 0:
        raise DataError("no frames were accumulated: cannot estimate a GMM from empty statistics")
    centre, sc, qc = stats.centred()
    if not (np.all(np.isfinite(sc)) and np.all(np.isfinite(qc)) and np.isfinite(total)):
        raise DataError("the accumulated statistics are not finite (NaN or infinite frames?)")
    safe = np.maximum(n, 1e-300)[:, None]
    shift = sc / safe
    means = centre + shift
    variances = qc / safe - shift**2
    # global variance about the global mean, from each component's sums about its own centre (no cancellation)
    gmean = (n @ means) / total
    d = centre - gmean
    gvar = np.maximum((qc + 2 * d * sc + n[:, None] * d**2).sum(0) / total, 0.0)
    floor = np.maximum(var_floor, MIN_REL_FLOOR * gvar)
    floor = np.where(floor > 0, floor, np.finfo(np.float64).tiny)
    variances = np.maximum(variances, floor)
    weights = n / total
    dead = np.flatnonzero((n < min_occupancy) | (weights < weight_floor))
    if len(dead) == len(n):
        raise DataError("every component collapsed: no component has occupancy above min_occupancy")
    weights[dead] = 0.0
    for k in dead:
        split_component(weights, means, variances, k, int(np.argmax(weights)), 0.5)
    weights /= weights.sum()
    return weights, means, variances
