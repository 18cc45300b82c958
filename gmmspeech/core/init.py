"""Initial parameters of a diagonal GMM from a subsample of the frames.

* ``"kmeans++"`` -- scikit-learn's greedy k-means++ seeding (:func:`sklearn.cluster.kmeans_plusplus`), a few
  Lloyd iterations, then weights and variances of the hard clusters;
* ``"random"`` -- K distinct random frames as means;
* ``"split"`` -- binary splitting from one Gaussian (Kaldi's mix-up): the heaviest components split until K,
  a few EM iterations on the subsample after every round.
"""

from __future__ import annotations

import numpy as np

from .estep import EStepPlan, accumulate_plan
from .mstep import maximize, split_component
from .sources import FrameSource

__all__ = ["INITS", "initial_params", "kmeans_centres", "nearest", "mixup"]

#: Initialisation methods :func:`initial_params` knows.
INITS = ("kmeans++", "random", "split")
_NEAREST_ROWS = 4096   # rows per block of the nearest-centre search (bounds its (rows, K) distance block)


def initial_params(src: FrameSource, n_frames: int, n_components: int, init: str, rng: np.random.Generator,
                   global_var: np.ndarray, var_floor: np.ndarray, subsample: int):
    """Initial weights (K,), means (K, D) and variances (K, D), float64, from a random subsample.

    Parameters
    ----------
    src : the frames.  n_frames : their number (at least ``n_components``).
    n_components : K.  init : one of :data:`INITS`.  rng : random generator (drawn from; seeded fits repeat).
    global_var : (D,) variance of all frames (the variance of clusters with fewer than two frames).
    var_floor : (D,) absolute variance floor (used by the EM of ``"split"``).
    subsample : frames drawn (at least K; all frames when there are fewer).
    """
    K = n_components
    m = min(n_frames, max(subsample, K))
    idx = np.arange(n_frames) if m == n_frames else np.sort(rng.choice(n_frames, m, replace=False))
    sub = src.gather(idx)
    if init == "split":
        return mixup(sub, K, global_var, var_floor)
    if init == "random":
        means = sub[rng.choice(sub.shape[0], K, replace=False)]
    else:
        means = kmeans_centres(sub, K, rng)
    return _hard_params(sub, means, global_var)


def kmeans_centres(X: np.ndarray, k: int, rng: np.random.Generator, n_lloyd: int = 5) -> np.ndarray:
    """k-means++ seeding (scikit-learn's greedy variant) and ``n_lloyd`` Lloyd iterations.

    Parameters
    ----------
    X : (n, D) float64 frames, n >= k.  k : number of centres.  rng : random generator.

    Returns
    -------
    (k, D) centres.
    """
    from sklearn.cluster import kmeans_plusplus

    seed = int(rng.integers(2**31 - 1))
    centres, _ = kmeans_plusplus(X, k, random_state=seed)
    centres = np.array(centres, dtype=np.float64)
    for _ in range(n_lloyd):
        lab = nearest(X, centres)
        counts = np.bincount(lab, minlength=k)
        sums = np.zeros_like(centres)
        np.add.at(sums, lab, X)
        used = counts > 0
        centres[used] = sums[used] / counts[used, None]
    return centres


def nearest(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (Euclidean) for every row of X (n, D); shape (n,), in blocks of rows."""
    cc = (centres * centres).sum(1)
    out = np.empty(X.shape[0], dtype=np.intp)
    for s in range(0, X.shape[0], _NEAREST_ROWS):
        x = X[s:s + _NEAREST_ROWS]
        d = x @ centres.T
        d *= -2
        d += cc
        out[s:s + _NEAREST_ROWS] = d.argmin(1)   # |x|^2 is the same for every centre
    return out


def _hard_params(sub: np.ndarray, means: np.ndarray, global_var: np.ndarray):
    """Weights (K,), means (K, D) and variances (K, D) of a hard assignment of ``sub`` to ``means``.

    Weights are add-one smoothed cluster sizes; a cluster of fewer than two frames keeps the global variance.
    """
    K = len(means)
    lab = nearest(sub, means)
    counts = np.bincount(lab, minlength=K).astype(np.float64)
    weights = (counts + 1.0) / (counts.sum() + K)
    variances = np.tile(global_var, (K, 1))
    order = np.argsort(lab, kind="stable")
    bounds = np.searchsorted(lab[order], np.arange(K + 1))
    for k in range(K):
        members = sub[order[bounds[k]:bounds[k + 1]]]
        if len(members) > 1:
            variances[k] = members.var(0)
    return weights, np.array(means, dtype=np.float64), variances


def mixup(sub: np.ndarray, K: int, global_var: np.ndarray, floor, n_em: int = 4):
    """Binary splitting from one component: split the heaviest until K, with ``n_em`` EM iterations per round.

    Parameters
    ----------
    sub : (n, D) float64 frames.  K : final number of components.  global_var : (D,) variance of the data.
    floor : scalar or (D,) absolute variance floor of the EM.

    Returns
    -------
    weights (K,), means (K, D), variances (K, D).
    """
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
            stats = accumulate_plan([sub], EStepPlan(w, mu, var, np.float64), 4096)
            w, mu, var = maximize(stats, floor)
    return w, mu, var
