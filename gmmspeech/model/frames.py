"""Small shared helpers of the classifiers: a class's frames as blocks, frame counts, parameter-cache keys."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

__all__ = ["frame_blocks", "count_frames", "same_params_key", "quiet_convergence", "LoadedMixture", "UBM_KEY"]

#: The UBM's slot among the class models in internal tables (no label can be this).
UBM_KEY = "\0ubm"


def frame_blocks(frames) -> list[np.ndarray]:
    """A class's frames as a list of (n, D) arrays: an (N, D) array, or a list/tuple of per-file arrays.

    Arrays are kept as they are (a memory-mapped block stays one, so a cluster E-step can still send its path).
    """
    if isinstance(frames, list | tuple):
        return [np.asanyarray(b) for b in frames if len(b)]
    return [np.asanyarray(frames)]


def count_frames(frames) -> int:
    """Number of frames of an (N, D) array or a list of per-file arrays."""
    return sum(len(b) for b in frames) if isinstance(frames, list | tuple) else len(frames)


def same_params_key(k1, k2) -> bool:
    """Scoring-cache keys match: same dtype, same labels, and the very same parameter arrays (identity)."""
    if k1[0] != k2[0] or len(k1[1]) != len(k2[1]):
        return False
    return all(a[0] == b[0] and all(x is y for x, y in zip(a[1:], b[1:], strict=True))
               for a, b in zip(k1[1], k2[1], strict=True))


@contextlib.contextmanager
def quiet_convergence():
    """Silence scikit-learn's ``ConvergenceWarning`` from the EM fits inside: the classifiers record each model's
    ``converged_`` and the application reports non-convergence once, in words (not as a Python warning line)."""
    from sklearn.exceptions import ConvergenceWarning  # only where EM runs (scoring never imports sklearn)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


class LoadedMixture:
    """A fitted diagonal GMM's parameters as read from a model file: what scoring needs, without scikit-learn.

    Attributes ``weights_`` (K,), ``means_`` (K, D), ``variances_`` (K, D) as a fitted
    :class:`gmmspeech.core.gmm.DiagGMM` has them; :meth:`to_estimator` gives the full estimator.
    """

    converged_ = True

    def __init__(self, weights: np.ndarray, means: np.ndarray, variances: np.ndarray):
        self.weights_ = np.asarray(weights, dtype=np.float64)
        self.means_ = np.asarray(means, dtype=np.float64)
        self.variances_ = np.asarray(variances, dtype=np.float64)
        self.n_components = len(self.weights_)

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Log-likelihood of each frame, shape (N,), nats."""
        from scipy.special import logsumexp

        from ..core.estep import estimate_log_prob

        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.means_.shape[1] or not np.all(np.isfinite(X)):
            raise ValueError(f"expected finite frames of shape (N, {self.means_.shape[1]}), got {X.shape}")
        return logsumexp(estimate_log_prob(X, self.weights_, self.means_, self.variances_), axis=1)

    def to_estimator(self):
        """The parameters as a fitted :class:`gmmspeech.core.gmm.DiagGMM` (imports scikit-learn)."""
        from ..core.gmm import DiagGMM

        g = DiagGMM(n_components=self.n_components)
        g.weights_, g.means_, g.variances_ = self.weights_, self.means_, self.variances_
        return g
