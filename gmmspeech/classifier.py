"""A classifier made of one diagonal GMM per class: the class whose model explains the frames best wins."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from scipy.special import logsumexp

from .gmm import DiagGMM, _stacked_params

__all__ = ["GMMClassifier"]


class GMMClassifier:
    """Per-class diagonal GMMs; scores are mean log-likelihoods per frame.

    Parameters
    ----------
    **gmm_params : keyword arguments for every class's :class:`DiagGMM` (``n_components``, ``max_iter``, ...).

    Attributes
    ----------
    classes_ : list of class labels, in model order.
    models_ : dict label -> fitted DiagGMM.
    """

    def __init__(self, **gmm_params):
        self.gmm_params = gmm_params

    @classmethod
    def from_models(cls, models: Mapping[str, DiagGMM]) -> GMMClassifier:
        """Wrap already-fitted GMMs, one per label (labels are kept in the given order)."""
        if not models:
            raise ValueError("a classifier needs at least one class model")
        dims = {m.means_.shape[1] for m in models.values()}
        if len(dims) != 1:
            raise ValueError(f"class models disagree on the feature dimension: {sorted(dims)}")
        clf = cls()
        clf.models_ = dict(models)
        clf.classes_ = list(models)
        return clf

    def fit(self, frames_by_class: Mapping[str, np.ndarray],
            progress: Callable[[str, DiagGMM], None] | None = None) -> GMMClassifier:
        """Train one GMM per class.

        Parameters
        ----------
        frames_by_class : label -> (N_c, D) frames of that class (labels are sorted for a stable order).
        progress : optional callback ``progress(label, fitted_gmm)`` after each class.
        """
        if len(frames_by_class) < 1:
            raise ValueError("no classes to train")
        self.models_ = {}
        for label in sorted(frames_by_class):
            X = frames_by_class[label]
            if len(X) < self.gmm_params.get("n_components", 64):
                raise ValueError(f"class {label!r} has only {len(X)} frames, fewer than the "
                                 f"{self.gmm_params.get('n_components', 64)} mixture components")
            gmm = DiagGMM(**self.gmm_params).fit(X)
            self.models_[label] = gmm
            if progress:
                progress(label, gmm)
        self.classes_ = list(self.models_)
        return self

    @property
    def n_features(self) -> int:
        """Feature dimension D the models expect."""
        return next(iter(self.models_.values())).means_.shape[1]

    def frame_log_likelihoods(self, X: np.ndarray, *, chunk_size: int = 4096) -> np.ndarray:
        """Per-frame log-likelihood under every class, shape (N, n_classes).

        All classes' components are scored by one matrix product over stacked parameters, ``chunk_size``
        frames at a time so memory stays bounded on long files.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected frames of shape (N, {self.n_features}), got {X.shape}")
        blocks = [_stacked_params(m.weights_, m.means_, m.variances_, np.float64) for m in self.models_.values()]
        a = np.concatenate([blk[0] for blk in blocks])
        b = np.concatenate([blk[1] for blk in blocks])
        sizes = [blk[1].shape[0] for blk in blocks]
        bounds = np.cumsum([0] + sizes)
        out = np.empty((X.shape[0], len(sizes)))
        for i in range(0, X.shape[0], chunk_size):
            x = X[i:i + chunk_size]
            lp = np.concatenate([x * x, x], axis=1) @ a.T + b
            for j in range(len(sizes)):
                out[i:i + chunk_size, j] = logsumexp(lp[:, bounds[j]:bounds[j + 1]], axis=1)
        return out

    def score(self, X: np.ndarray) -> np.ndarray:
        """Mean log-likelihood per frame under each class, shape (n_classes,)."""
        return self.frame_log_likelihoods(X).mean(axis=0)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class posteriors, shape (n_classes,): softmax of the mean per-frame log-likelihoods.

        Per-frame means (not totals) keep posteriors from saturating to 0/1 on long files, where frames are
        far from independent.
        """
        s = self.score(X)
        return np.exp(s - logsumexp(s))

    def predict(self, X: np.ndarray) -> str:
        """The label whose model gives the highest mean log-likelihood."""
        return self.classes_[int(np.argmax(self.score(X)))]
