"""Threads for the E-step: how many to use, BLAS held to one thread inside each, results in a fixed order.

The E-step's matrix products are small (chunk x 2D x K); BLAS's own threads gain little on them and spin badly
when the cores are shared, so parallelism comes from threads over ranges of frames (numpy and BLAS release the
GIL) with BLAS held to one thread. The BLAS limit needs ``threadpoolctl``, which scikit-learn depends on; without
it everything stays on one thread.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from typing import Any

__all__ = ["available_cores", "effective_threads", "blas_limit", "ordered_map", "thread_pool"]

_CONTROLLER: Any = None   # threadpoolctl.ThreadpoolController, False when threadpoolctl is missing


def _controller():
    global _CONTROLLER
    if _CONTROLLER is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _CONTROLLER = False
        else:
            _CONTROLLER = ThreadpoolController()
    return _CONTROLLER or None


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:   # not on Linux
        return os.cpu_count() or 1


def _blas_threads() -> int | None:
    """Threads the loaded BLAS libraries would use now (their smallest setting), or None if unknown."""
    ctl = _controller()
    if ctl is None:
        return None
    counts = [lib.num_threads for lib in ctl.select(user_api="blas").lib_controllers]
    return min(counts) if counts else None


def effective_threads(n_jobs: int | None) -> int:
    """Threads for the E-step.

    Parameters
    ----------
    n_jobs : ``None``: all cores, or fewer when BLAS is held to fewer threads in this process (e.g. inside a
        worker of a process pool that limits its workers to one thread each, such as joblib's loky backend or a
        Dask worker) -- so nested parallelism never oversubscribes the cores; ``-1``: all cores; ``-2``: all
        but one, ...; ``k >= 1``: k threads.

    Returns
    -------
    int >= 1; always 1 without ``threadpoolctl`` (BLAS could not be held to one thread per thread).
    """
    if _controller() is None:
        return 1
    cores = available_cores()
    if n_jobs is None:
        limit = _blas_threads()
        return max(1, min(cores, limit)) if limit else cores
    if n_jobs < 0:
        return max(1, cores + 1 + int(n_jobs))
    return max(1, int(n_jobs))


def blas_limit():
    """Context holding BLAS to one thread (a no-op without ``threadpoolctl``)."""
    ctl = _controller()
    return contextlib.nullcontext() if ctl is None else ctl.limit(limits=1, user_api="blas")


def ordered_map(pool: Executor | None, func: Callable, tasks: Iterable[tuple], ahead: int) -> Iterator[Any]:
    """``func(*args)`` for every ``args`` in ``tasks``, yielded in order.

    Parameters
    ----------
    pool : executor running the calls, or None to run them here, one after the other.
    func, tasks : the work; ``tasks`` is consumed lazily.
    ahead : at most this many calls submitted and not yet yielded (bounds the memory held by pending work).
    """
    if pool is None:
        for args in tasks:
            yield func(*args)
        return
    pending: deque = deque()
    try:
        for args in tasks:
            pending.append(pool.submit(func, *args))
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for fut in pending:
            fut.cancel()


def thread_pool(n_threads: int):
    """Context giving a ``ThreadPoolExecutor`` of ``n_threads`` threads, or None for one thread."""
    if n_threads <= 1:
        return contextlib.nullcontext()
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(n_threads, thread_name_prefix="gmmspeech-estep")
