"""Checks of DiagGMM's parameters and data, with messages that name the parameter or dimension at fault."""

from __future__ import annotations

import numbers

import numpy as np

from ..infra.errors import DataError, UsageError
from .init import INITS

__all__ = ["check_params", "check_init_arrays", "check_dimensions", "as_generator"]

_ROUNDING_STD = 2.0**-43          # a dimension whose std is below this fraction of |mean| is constant up to rounding
_F32_VAR_RANGE = (1e-30, 1e30)    # variances float32 arithmetic handles (squares neither underflow nor overflow)


def check_params(est) -> None:
    """Raise :class:`UsageError` (a ValueError) naming the first bad constructor parameter of a DiagGMM."""
    for name in ("n_components", "max_iter", "n_init", "chunk_size", "subsample"):
        v = getattr(est, name)
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise UsageError(f"{name} must be a positive integer, got {v!r}")
    if est.init not in INITS:
        raise UsageError(f"init must be 'kmeans++', 'random' or 'split', got {est.init!r}")
    for name in ("tol", "var_floor"):
        v = getattr(est, name)
        if not isinstance(v, numbers.Real) or not 0 <= v < np.inf:
            raise UsageError(f"{name} must be a finite number >= 0, got {v!r}")
    if not isinstance(est.weight_floor, numbers.Real) or not 0 <= est.weight_floor < 1:
        raise UsageError(f"weight_floor must be in [0, 1), got {est.weight_floor!r}")
    try:
        ok = np.dtype(est.dtype) in (np.float32, np.float64)
    except TypeError:
        ok = False
    if not ok:
        raise UsageError(f"dtype must be float32 or float64, got {est.dtype!r}")
    jobs = est.n_jobs
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, numbers.Integral) or jobs == 0):
        raise UsageError(f"n_jobs must be None or a non-zero integer, got {jobs!r}")
    if est.accumulator is not None and not callable(est.accumulator):
        raise UsageError(f"accumulator must be callable, got {est.accumulator!r}")


def check_init_arrays(weights_init, means_init, variances_init, K: int, D: int):
    """Validated warm-start arrays.

    Parameters
    ----------
    weights_init, means_init, variances_init : as given to DiagGMM (each may be None).
    K, D : number of components and of feature dimensions.

    Returns
    -------
    weights (K,) normalised to sum to one, means (K, D), variances (K, D): float64 copies, or None where not given.

    Raises
    ------
    UsageError
        naming the parameter: wrong shape (with the expected one), non-finite values, negative weights or a zero
        sum, non-positive variances.
    """
    out = []
    for name, value, shape, what in (("weights_init", weights_init, (K,), "(n_components,)"),
                                     ("means_init", means_init, (K, D), "(n_components, n_features)"),
                                     ("variances_init", variances_init, (K, D), "(n_components, n_features)")):
        if value is None:
            out.append(None)
            continue
        try:
            a = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise UsageError(f"{name} must be an array of numbers of shape {shape} {what}") from None
        if a.shape != shape:
            raise UsageError(f"{name} has shape {a.shape}, expected {shape} {what}")
        if not np.all(np.isfinite(a)):
            raise UsageError(f"{name} must be finite")
        out.append(a)
    w, mu, var = out
    if w is not None:
        if np.any(w < 0) or not w.sum() > 0:
            raise UsageError(f"weights_init must be {K} non-negative numbers with a positive sum")
        w = w / w.sum()
    if var is not None and not np.all(var > 0):
        raise UsageError("variances_init must be positive")
    return w, mu, var


def check_dimensions(mean: np.ndarray, var: np.ndarray, dtype) -> None:
    """Refuse feature dimensions a GMM cannot represent, naming them.

    Parameters
    ----------
    mean, var : (D,) mean and variance of all frames.  dtype : compute precision of the E-step.

    Raises
    ------
    DataError
        for a constant dimension, one constant up to rounding (standard deviation below about 1e-13 of its
        mean: the frames hold no more than rounding noise), or -- for float32 -- a variance outside [1e-30, 1e30].
    """
    const = np.flatnonzero(var <= 0)
    if len(const):
        raise DataError(f"feature dimension(s) {const.tolist()} are constant over all frames (zero variance); "
                        "drop them before training")
    std = np.sqrt(var)
    rounding = np.flatnonzero(std <= _ROUNDING_STD * np.abs(mean))
    if len(rounding):
        d = int(rounding[0])
        raise DataError(f"feature dimension(s) {rounding.tolist()} are constant up to rounding (dimension {d}: "
                        f"standard deviation {std[d]:.3g} around a mean of {mean[d]:.6g}); drop them")
    if np.dtype(dtype) == np.float32:
        lo, hi = _F32_VAR_RANGE
        bad = np.flatnonzero((var < lo) | (var > hi))
        if len(bad):
            raise DataError(f"feature dimension(s) {bad.tolist()} have variances ({var[bad[0]]:.3g}, ...) outside "
                            f"float32's range [{lo:g}, {hi:g}]: rescale them or use dtype=np.float64")


def as_generator(random_state) -> np.random.Generator:
    """A numpy Generator from an int, None, a Generator (used as is) or a legacy RandomState (seeds a new one)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31 - 1))
    return np.random.default_rng(random_state)
