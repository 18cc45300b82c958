"""GMM-UBM: one universal background model trained on every class's frames, classes derived by MAP adaptation.

The recipe of Reynolds, Quatieri & Dunn (2000), as in Kaldi's and SIDEKIT's GMM-UBM systems:

* :func:`train_ubm` -- one diagonal GMM on all the data with the chunked EM core (:class:`gmm.DiagGMM`), grown
  by *mix-up* (Kaldi's ``gmm-global-init-from-feats`` / ``train_diag_ubm.sh``): start from one Gaussian, split
  the heaviest components until K, a few EM iterations over the full data after every round and more at the
  end. Every round is a warm-started ``DiagGMM.fit`` on the full data source, so it streams chunk by chunk in
  bounded memory whatever that source is (array, memory-mapped ``.npy`` files, callable). k-means++
  initialisation on a subsample is the alternative.
* :func:`map_adapt` -- a class model from its sufficient statistics against the UBM: each component moves
  towards the class's data in proportion to ``alpha_k = n_k / (n_k + r)`` (``r``: the relevance factor), so
  components the class barely touches keep the UBM's parameters.
* :func:`topc_log_likelihoods` -- fast scoring: a frame's likelihood under an adapted model is dominated by the
  components that dominate it under the UBM, so only the top-C UBM components of each frame are evaluated in
  every class model.

Everything here is pure numerics (arrays in, arrays out); only :mod:`numpy` and :mod:`gmmspeech.core.gmm` are
used. Progress goes to the logger ``gmmspeech.core.map`` (INFO with ``verbose=True``, DEBUG otherwise).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from .gmm import DiagGMM, SuffStats, split_component, stacked_params, verbose_logging

logger = logging.getLogger(__name__)

__all__ = ["train_ubm", "map_adapt", "topc_log_likelihoods", "ADAPT_CHOICES", "UBM_INITS"]

#: Letters ``map_adapt`` understands: means, weights, variances.
ADAPT_CHOICES = frozenset("mwv")
#: UBM initialisations: ``"mixup"`` (alias ``"split"``), ``"kmeans++"``, ``"random"``.
UBM_INITS = ("mixup", "split", "kmeans++", "random")
# log-terms below this (relative to the largest) are clamped before exp: exp(-80) is negligible, and it keeps
# float32 exp away from denormals, which slow the following arithmetic many times on some CPUs
_LOG_MIN = -80.0
# keyword arguments train_ubm sets itself on every DiagGMM it creates
_OWN_KWARGS = {"n_components", "max_iter", "tol", "init", "weights_init", "means_init", "variances_init"}


def _mixup_sizes(n_components: int, step: int | None) -> list[int]:
    """Component counts of the mix-up rounds after the first one-Gaussian fit, ending with ``n_components``."""
    sizes, k = [], 1
    while k < n_components:
        k = min(n_components, 2 * k if step is None else k + step)
        sizes.append(k)
    return sizes


def train_ubm(data, n_components: int, *, init: str = "mixup", max_iter: int = 8, tol: float = 1e-4,
              mixup_iter: int = 3, mixup_step: int | None = None, perturb: float = 0.2, verbose: bool = False,
              **gmm_kwargs: Any) -> DiagGMM:
    """Train a universal background model on all the data.

    Parameters
    ----------
    data : anything :meth:`gmm.DiagGMM.fit` accepts: an (N, D) array, a list of (n, D) arrays or ``.npy``
        paths (memory-mapped, reopened on every pass), or a callable returning an iterable of arrays.
    n_components : K, Gaussians of the UBM.
    init : ``"mixup"`` (or ``"split"``): one Gaussian, then rounds that split the heaviest components (each into
        two copies moved by +-``perturb`` standard deviations) up to K, each round ``mixup_iter`` EM iterations
        over the full data; ``"kmeans++"`` / ``"random"``: :class:`DiagGMM`'s own initialisation on a subsample.
    max_iter : EM iterations at the final size K (stopping early when the log-likelihood per frame changes by
        less than ``tol`` nats).
    tol : convergence threshold of the final EM (nats per frame).
    mixup_iter : EM iterations after each intermediate mix-up round.
    mixup_step : components added per round; ``None`` doubles them (Kaldi adds a fixed number per round).
    perturb : mean shift of a split, in standard deviations of the split component.
    verbose : one line per round, logged at INFO level (shown on stderr when logging is not configured);
        without it the lines are logged at DEBUG level.
    **gmm_kwargs : passed to every :class:`DiagGMM` created (``n_jobs``, ``chunk_size``, ``dtype``,
        ``var_floor``, ``random_state``, ...), so all E-steps run the way the caller configured them.

    Returns
    -------
    A fitted :class:`DiagGMM` with K components. ``mixup_history_`` lists ``(K, EM iterations, log-likelihood
    per frame)`` for every round (one entry for the k-means++/random initialisation).

    Raises
    ------
    ValueError
        for a bad ``init`` / iteration count, or whatever :meth:`DiagGMM.fit` refuses in the data.
    """
    clash = _OWN_KWARGS & set(gmm_kwargs)
    if clash:
        raise TypeError(f"train_ubm sets {', '.join(sorted(clash))} itself; use its own arguments instead")
    if init not in UBM_INITS:
        raise ValueError(f"UBM init must be one of {', '.join(UBM_INITS)}, got {init!r}")
    if not (isinstance(n_components, int | np.integer) and n_components >= 1):
        raise ValueError(f"n_components must be a positive integer, got {n_components!r}")
    if max_iter < 1 or mixup_iter < 1:
        raise ValueError("max_iter and mixup_iter must be at least 1")
    if mixup_step is not None and mixup_step < 1:
        raise ValueError(f"mixup_step must be a positive integer or None, got {mixup_step!r}")
    K = int(n_components)

    def fit(k, iters, stop, **warm):
        t0 = time.perf_counter()
        g = DiagGMM(k, max_iter=iters, tol=stop, **warm, **gmm_kwargs).fit(data)
        history.append((k, g.n_iter_, float(g.lower_bound_)))
        logger.log(logging.INFO if verbose else logging.DEBUG,
                   "UBM %5d components  %3d EM iterations  log-lik/frame %9.4f  %6.2fs", k, g.n_iter_,
                   g.lower_bound_, time.perf_counter() - t0)
        return g

    history: list[tuple[int, int, float]] = []
    with verbose_logging(logger, verbose):
        if init in ("kmeans++", "random"):
            g = fit(K, max_iter, tol, init=init)
        else:
            # one Gaussian: a single EM iteration from any start gives the data's exact mean and variance
            # (tol=0: a fixed number of iterations, so no convergence warning)
            g = fit(1, max_iter if K == 1 else 1, tol if K == 1 else 0.0, init="kmeans++")
            for k in _mixup_sizes(K, mixup_step):
                w, mu, var = _grow(g.weights_, g.means_, g.variances_, k, perturb)
                last = k == K
                g = fit(k, max_iter if last else mixup_iter, tol if last else 0.0,
                        weights_init=w, means_init=mu, variances_init=var)
    g.mixup_history_ = history
    return g


def _grow(weights, means, variances, k: int, perturb: float):
    """Parameters grown to ``k`` components by splitting the heaviest one ``k - K`` times (float64 copies)."""
    K, D = means.shape
    w = np.concatenate([weights, np.zeros(k - K)])
    mu = np.concatenate([means, np.zeros((k - K, D))])
    var = np.concatenate([variances, np.ones((k - K, D))])
    for j in range(K, k):
        split_component(w, mu, var, j, int(np.argmax(w)), perturb)
    return w / w.sum(), mu, var


# ---------------------------------------------------------------------------------------------- MAP adaptation
def check_adapt(adapt: str) -> str:
    if not isinstance(adapt, str) or not adapt or not set(adapt) <= ADAPT_CHOICES:
        raise ValueError(f"adapt must be a non-empty combination of 'm' (means), 'w' (weights) and 'v' "
                         f"(variances), got {adapt!r}")
    return "".join(c for c in "mwv" if c in adapt)


def map_adapt(ubm: DiagGMM, stats: SuffStats, *, relevance: float = 16.0, adapt: str = "m",
              var_floor: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MAP adaptation of a UBM to one class (Reynolds, Quatieri & Dunn 2000, eqs. 11-14).

    With occupancies ``n_k``, ``E_k[x] = s_k / n_k``, ``E_k[x^2] = q_k / n_k`` and ``alpha_k = n_k / (n_k + r)``:

    * means: ``mu_k' = alpha_k E_k[x] + (1 - alpha_k) mu_k``;
    * weights: ``w_k' ~ alpha_k n_k / T + (1 - alpha_k) w_k``, rescaled to sum to one (``T = sum_k n_k``);
    * variances: ``var_k' = alpha_k E_k[x^2] + (1 - alpha_k)(var_k + mu_k^2) - mu_k'^2``.

    Parameters
    ----------
    ubm : fitted :class:`DiagGMM`, K components, D dims.
    stats : the class's :class:`SuffStats` accumulated against the UBM (:func:`gmm.accumulate_stats`).
    relevance : r > 0, in frames: a component needs about r frames of the class to move halfway.
    adapt : which parameters to adapt, any of ``"m"``, ``"w"``, ``"v"`` (e.g. ``"mv"``); the rest are the UBM's.
    var_floor : scalar or (D,) absolute floor on adapted variances.

    Returns
    -------
    weights (K,), means (K, D), variances (K, D): float64 arrays (new copies; the UBM is not modified).
    A component with ``n_k = 0`` keeps the UBM's parameters exactly.
    """
    adapt = check_adapt(adapt)
    if not (isinstance(relevance, int | float | np.floating) and np.isfinite(relevance) and relevance > 0):
        raise ValueError(f"relevance must be a positive number of frames, got {relevance!r}")
    w0 = np.asarray(ubm.weights_, dtype=np.float64)
    mu0 = np.asarray(ubm.means_, dtype=np.float64)
    var0 = np.asarray(ubm.variances_, dtype=np.float64)
    n = np.asarray(stats.n, dtype=np.float64)
    if n.shape != w0.shape or np.shape(stats.sc) != mu0.shape or np.shape(stats.qc) != mu0.shape:
        raise ValueError(f"statistics of shape n {n.shape}, s {np.shape(stats.sc)} do not match the UBM "
                         f"({mu0.shape[0]} components, {mu0.shape[1]} dims)")
    # moments about each component's reference point c (the E-step puts it near the component), so the
    # variance update below keeps its digits however far the data lie from the origin
    c, sc, qc = stats.centred()
    if not (np.all(np.isfinite(n)) and np.all(np.isfinite(sc)) and np.all(np.isfinite(qc))):
        raise ValueError("the class statistics are not finite (NaN or infinite frames?)")
    if np.any(n < 0):
        raise ValueError("occupancies must be non-negative")
    alpha = (n / (n + relevance))[:, None]
    safe = np.maximum(n, 1e-300)[:, None]
    ex = c + sc / safe          # E_k[x]
    ex2c = qc / safe            # E_k[(x - c)^2]
    weights, means, variances = w0.copy(), mu0.copy(), var0.copy()
    if "m" in adapt:
        means = alpha * ex + (1 - alpha) * mu0
    if "w" in adapt and n.sum() > 0:
        weights = alpha[:, 0] * n / n.sum() + (1 - alpha[:, 0]) * w0
        weights /= weights.sum()
    if "v" in adapt:   # the equation above, translated by c (exact algebra)
        variances = alpha * ex2c + (1 - alpha) * (var0 + (mu0 - c) ** 2) - (means - c) ** 2
        variances = np.where(alpha > 0, variances, var0)   # untouched components: exactly the UBM's
        floor = np.maximum(var_floor, 1e-10 * var0.mean(0))
        variances = np.maximum(variances, floor)
    return weights, means, variances


# ----------------------------------------------------------------------------------------------- top-C scoring
def topc_tables(ubm_weights, ubm_means, ubm_variances, weights, means, variances, dtype) -> dict[str, Any]:
    """Parameters arranged for :func:`topc_scores`; built once per model and reused for every file.

    When every class shares the UBM's variances (no variance adaptation), a class component's log-density is
    the UBM component's plus a function *linear* in x, so only D (not 2D) numbers per (component, class) are
    gathered: ``log N(x|m, v) - log N(x|mu, v) = x . (m - mu)/v - 0.5 sum((m^2 - mu^2)/v)``.
    """
    uw = np.asarray(ubm_weights, np.float64)
    umu = np.asarray(ubm_means, np.float64)
    uvar = np.asarray(ubm_variances, np.float64)
    w = np.asarray(weights, np.float64)
    mu = np.asarray(means, np.float64)
    var = np.asarray(variances, np.float64)
    C, K, D = mu.shape
    if uw.shape != (K,) or umu.shape != (K, D) or uvar.shape != (K, D) or w.shape != (C, K) or var.shape != mu.shape:
        raise ValueError(f"parameter shapes disagree: UBM weights {uw.shape}, means {umu.shape}, variances "
                         f"{uvar.shape}; classes weights {w.shape}, means {mu.shape}, variances {var.shape}")
    a_u, b_u = stacked_params(uw, umu, uvar, np.float64)   # (K, 2D), (K,)
    tables: dict[str, Any] = {"ubm_a": np.ascontiguousarray(a_u.T, dtype=dtype), "ubm_b": b_u.astype(dtype),
                              "K": K, "C": C, "D": D}
    if np.array_equal(var, np.broadcast_to(uvar, var.shape)):
        prec = 1.0 / uvar                                                      # (K, D)
        lin = (mu - umu) * prec                                                # (C, K, D)
        with np.errstate(divide="ignore", invalid="ignore"):
            off = np.log(w) - np.log(uw) - 0.5 * ((mu * mu - umu * umu) * prec).sum(2)   # (C, K)
        off[np.isnan(off)] = -np.inf   # a zero-weight UBM component: never a likely one
        tables["shared_var"] = True
        tables["lin"] = np.ascontiguousarray(lin.transpose(1, 0, 2), dtype=dtype)    # (K, C, D)
        tables["off"] = np.ascontiguousarray(off.T, dtype=dtype)                     # (K, C)
    else:
        blocks = [stacked_params(w[c], mu[c], var[c], np.float64) for c in range(C)]
        tables["shared_var"] = False
        tables["lin"] = np.ascontiguousarray(np.stack([b[0] for b in blocks], 1), dtype=dtype)   # (K, C, 2D)
        tables["off"] = np.ascontiguousarray(np.stack([b[1] for b in blocks], 1), dtype=dtype)   # (K, C)
    return tables


def _top_components(lp: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
    """The c largest entries of each row of (N, K) ``lp``, slot-major: indices (c, N) and values (c, N).

    Slot 0 holds each row's maximum. ``lp`` may be overwritten (chosen entries set to ``-inf``).
    """
    N, K = lp.shape
    rows = np.arange(N)
    if c > 8 or c >= K:
        c = min(c, K)
        idx = np.ascontiguousarray(np.argpartition(lp, K - c, axis=1)[:, K - c:] if c < K
                                   else np.broadcast_to(np.arange(K), (N, K)))
        vals = np.take_along_axis(lp, idx, axis=1)
        first = vals.argmax(axis=1)   # move each row's maximum to slot 0
        i0, v0 = idx[:, 0].copy(), vals[:, 0].copy()
        idx[:, 0], vals[:, 0] = idx[rows, first], vals[rows, first]
        idx[rows, first], vals[rows, first] = i0, v0
        return np.ascontiguousarray(idx.T), np.ascontiguousarray(vals.T)
    idx = np.empty((c, N), dtype=np.intp)
    vals = np.empty((c, N), dtype=lp.dtype)
    for j in range(c):   # c passes of argmax beat argpartition several times over for small c
        a = lp.argmax(axis=1)
        idx[j] = a
        vals[j] = lp[rows, a]
        lp[rows, a] = -np.inf
    return idx, vals


def topc_scores(X: np.ndarray, tables: dict[str, Any], top_c: int, chunk_size: int,
                 dtype) -> tuple[np.ndarray, np.ndarray]:
    """Chunked top-C scoring with prepared ``tables``; returns ubm (N,), classes (N, C), float64.

    Work arrays are slot-major, (top_c, n, C), so the reductions over the top-C slots are elementwise
    operations between contiguous (n, C) planes rather than reductions along a short axis.
    """
    N, D = X.shape
    C = tables["C"]
    ubm_ll = np.empty(N)
    cls_ll = np.empty((N, C))
    a_u, b_u, lin, off = tables["ubm_a"], tables["ubm_b"], tables["lin"], tables["off"]
    for s in range(0, N, chunk_size):
        x = np.asarray(X[s:s + chunk_size], dtype=dtype)
        z = np.concatenate([x * x, x], axis=1)
        lp = z @ a_u
        lp += b_u                                                       # (n, K) UBM weighted log-densities
        idx, top = _top_components(lp, top_c)                           # (c, n) each, top[0] the row maximum
        m = top[0].copy()
        m[~np.isfinite(m)] = 0.0
        top -= m
        if tables["shared_var"]:
            # class log-density = UBM component's + x . lin + off, gathered for each frame's top components
            delta = np.matmul(np.take(lin, idx, axis=0), x[None, :, :, None])[..., 0]   # (c, n, C)
            delta += top[:, :, None]
        else:
            delta = np.matmul(np.take(lin, idx, axis=0), z[None, :, :, None])[..., 0]
            delta -= m[None, :, None]
        delta += np.take(off, idx, axis=0)
        np.maximum(top, _LOG_MIN, out=top)       # no denormals from exp (they slow everything after them)
        np.exp(top, out=top)
        with np.errstate(divide="ignore"):
            ubm_ll[s:s + chunk_size] = np.log(top.sum(axis=0), dtype=np.float64) + m
            mc = delta.max(axis=0)                                      # (n, C)
            mc[~np.isfinite(mc)] = 0.0
            delta -= mc
            np.maximum(delta, _LOG_MIN, out=delta)
            np.exp(delta, out=delta)
            cls_ll[s:s + chunk_size] = (np.log(delta.sum(axis=0), dtype=np.float64) + mc
                                        + m[:, None].astype(np.float64))
    return ubm_ll, cls_ll


def topc_log_likelihoods(X: np.ndarray, ubm_weights: np.ndarray, ubm_means: np.ndarray, ubm_variances: np.ndarray,
                         weights: np.ndarray, means: np.ndarray, variances: np.ndarray, *, top_c: int = 5,
                         chunk_size: int = 256, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame log-likelihoods under the UBM and every adapted class model, evaluating only top-C components.

    For each frame, the UBM's C most likely components are found (one matrix product over all K); the UBM
    and every class model are then evaluated on those C components only (gathered per frame, no loop over
    frames). This is the standard GMM-UBM approximation (Reynolds et al. 2000, section 3.3): a class model
    adapted from the UBM has its mass where the UBM's is, so the dropped components contribute almost nothing
    -- the approximation is a lower bound on each log-likelihood, tight when the top-C components hold
    nearly all of the frame's UBM posterior. Using the same components for the UBM and the classes makes the
    errors largely cancel in the log-likelihood ratio ``class - ubm``. ``top_c >= K`` gives exact values.

    Parameters
    ----------
    X : (N, D) frames.
    ubm_weights : (K,).  ubm_means, ubm_variances : (K, D).
    weights : (C, K).  means, variances : (C, K, D) -- the class models, component k adapted from UBM
        component k.
    top_c : components evaluated per frame (>= 1).
    chunk_size : frames per block (bounds the (chunk, K) and (chunk, top_c, C, 2D) work arrays).
    dtype : compute precision; float32 (default) agrees with float64 to about 1e-4 nats per frame.

    Returns
    -------
    ubm (N,) and classes (N, C): log-likelihoods per frame (nats, float64), both over the top-C components.
    """
    X = np.asarray(X)
    if not (isinstance(top_c, int | np.integer) and top_c >= 1):
        raise ValueError(f"top_c must be a positive integer, got {top_c!r}")
    tables = topc_tables(ubm_weights, ubm_means, ubm_variances, weights, means, variances, dtype)
    if X.ndim != 2 or X.shape[1] != tables["D"]:
        raise ValueError(f"expected frames of shape (N, {tables['D']}), got {X.shape}")
    return topc_scores(X, tables, int(top_c), max(1, int(chunk_size)), dtype)
