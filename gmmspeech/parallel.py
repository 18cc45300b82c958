"""The one place that decides how work is spread over cores (and, later, over a cluster)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import joblib

__all__ = ["effective_jobs", "parallel_map"]


def effective_jobs(n_jobs: int | None) -> int:
    """Number of worker processes for ``n_jobs`` (``None`` or ``-1``: all cores; ``-2``: all but one...)."""
    cores = os.cpu_count() or 1
    if n_jobs is None or n_jobs == 0:
        return cores
    if n_jobs < 0:
        return max(1, cores + 1 + n_jobs)
    return n_jobs


def parallel_map(func: Callable[[Any], Any], items: Iterable[Any], *, n_jobs: int | None = None) -> Iterator[Any]:
    """Yield ``func(item)`` for every item, in order, using local worker processes.

    Each worker is limited to one BLAS/OpenMP thread so ``n_jobs`` processes do not oversubscribe the cores.
    With one job (or one item) everything runs in this process.
    """
    items = list(items)
    jobs = min(effective_jobs(n_jobs), max(1, len(items)))
    if jobs == 1:
        yield from map(func, items)
        return
    with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
        yield from joblib.Parallel(n_jobs=jobs, return_as="generator", batch_size=1)(
            joblib.delayed(func)(item) for item in items)
