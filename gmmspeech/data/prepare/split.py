"""Seeded, class-stratified splitting and capping, for layouts that do not come with an official split."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from ...infra.errors import UsageError
from ..manifest import Utterance

__all__ = ["stratified_split", "cap_per_class"]


def stratified_split(utts: list[Utterance], *, test_fraction: float = 0.2, dev_fraction: float = 0.0,
                     seed: int = 0, group: Callable[[Utterance], str] | None = None) -> list[Utterance]:
    """Assign every utterance to train/dev/test, per class in the given proportions, reproducibly.

    Parameters
    ----------
    utts : utterances (their ``split`` is overwritten).
    test_fraction, dev_fraction : share of each class's files that go to test and dev (0 <= sum < 1).
    seed : seed of the shuffle; the same inputs and seed give the same split.
    group : key of the unit that must stay on one side (e.g. the speaker); ``None`` splits file by file. A group
        that spans several classes is placed once, on the side chosen for its first class (in sorted order).

    Returns
    -------
    list of Utterance with ``split`` set, in the input order.
    """
    if not (0 <= test_fraction < 1 and 0 <= dev_fraction < 1 and test_fraction + dev_fraction < 1):
        raise UsageError(f"need 0 <= test_fraction, dev_fraction and their sum < 1, got "
                         f"{test_fraction} and {dev_fraction}")
    key = group or (lambda u: f"{u.path}|{u.start}|{u.end}")
    rng = np.random.default_rng(seed)
    side: dict[str, str] = {}
    by_class: dict[str, list[Utterance]] = {}
    for u in utts:
        by_class.setdefault(u.label, []).append(u)
    for label in sorted(by_class):
        items = by_class[label]
        sizes: dict[str, int] = {}
        for u in items:
            sizes[key(u)] = sizes.get(key(u), 0) + 1
        n = len(items)
        target = {"test": round(test_fraction * n), "dev": round(dev_fraction * n)}
        if test_fraction > 0 and len(sizes) > 1:
            target["test"] = max(1, target["test"])
        have = {"train": 0, "dev": 0, "test": 0}
        for g, k in sizes.items():
            if g in side:
                have[side[g]] += k
        free = sorted(g for g in sizes if g not in side)
        free = [free[i] for i in rng.permutation(len(free))]
        for i, g in enumerate(free):
            last_for_train = have["train"] == 0 and i == len(free) - 1
            if not last_for_train and have["test"] < target["test"]:
                side[g] = "test"
            elif not last_for_train and have["dev"] < target["dev"]:
                side[g] = "dev"
            else:
                side[g] = "train"
            have[side[g]] += sizes[g]
    return [dataclasses.replace(u, split=side[key(u)]) for u in utts]


def cap_per_class(utts: list[Utterance], max_per_class: int | None, seed: int) -> list[Utterance]:
    """At most ``max_per_class`` utterances per label (a seeded random subset, input order kept; ``None``: all)."""
    if max_per_class is None:
        return utts
    if max_per_class < 1:
        raise UsageError(f"max_per_class must be >= 1, got {max_per_class}")
    rng = np.random.default_rng(seed)
    keep: set[int] = set()
    by_class: dict[str, list[int]] = {}
    for i, u in enumerate(utts):
        by_class.setdefault(u.label, []).append(i)
    for label in sorted(by_class):
        idx = by_class[label]
        keep.update(idx if len(idx) <= max_per_class else rng.choice(idx, max_per_class, replace=False).tolist())
    return [u for i, u in enumerate(utts) if i in keep]
