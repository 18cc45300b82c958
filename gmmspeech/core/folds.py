"""Cross-validation folds: stratified by class and, with groups, group-aware (one speaker never on both sides)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..infra.errors import UsageError

__all__ = ["fold_indices"]


def fold_indices(labels: list[str], groups: list[str] | None, folds: int, seed: int = 0
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train indices, test indices)`` of each fold: stratified by label, and group-aware with ``groups``.

    Raises :class:`UsageError` when a class has fewer files (or groups) than folds.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = np.asarray(labels)
    if folds < 2:
        raise UsageError(f"--folds must be at least 2, got {folds}")
    per_class: dict[str, set] = defaultdict(set)
    for i, lab in enumerate(labels):
        per_class[lab].add(groups[i] if groups is not None else i)
    thin = {lab: len(v) for lab, v in per_class.items() if len(v) < folds}
    if thin:
        unit = "groups" if groups is not None else "files"
        raise UsageError(f"{folds} folds need at least {folds} {unit} per class; "
                         + ", ".join(f"{lab} has {n}" for lab, n in sorted(thin.items())))
    if groups is None:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        return [(tr, te) for tr, te in splitter.split(np.zeros(len(y)), y)]
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in splitter.split(np.zeros(len(y)), y, np.asarray(groups))]
