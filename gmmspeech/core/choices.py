"""Names of model options shared by every layer, and the parameter count (no imports: cheap anywhere)."""

from __future__ import annotations

__all__ = ["MODEL_TYPES", "GMM_INITS", "UBM_INITS", "ADAPT_CHOICES", "check_adapt", "n_parameters"]

#: Model types: one EM-trained GMM per class, or a UBM with MAP-adapted class models.
MODEL_TYPES = ("per_class", "ubm_map")
#: Initialisations of a per-class EM fit (DiagGMM's ``init``).
GMM_INITS = ("kmeans++", "random", "split")
#: Initialisations of a UBM (``train_ubm``'s ``init``).
UBM_INITS = ("mixup", "split", "kmeans++", "random")
#: Letters of the MAP-adapted parameters: means, weights, variances.
ADAPT_CHOICES = frozenset("mwv")


def check_adapt(adapt: str) -> str:
    """The MAP ``adapt`` string in canonical order (``"vm"`` -> ``"mv"``); ``ValueError`` when it is not a
    non-empty combination of ``m``, ``w`` and ``v``."""
    if not isinstance(adapt, str) or not adapt or not set(adapt) <= ADAPT_CHOICES:
        raise ValueError(f"adapt must be a non-empty combination of 'm' (means), 'w' (weights) and 'v' "
                         f"(variances), got {adapt!r}")
    return "".join(c for c in "mwv" if c in adapt)


def n_parameters(k: int, d: int) -> int:
    """Free parameters of a K-component diagonal GMM in D dimensions: ``K - 1 + 2 K D``."""
    return int(k - 1 + 2 * k * d)
