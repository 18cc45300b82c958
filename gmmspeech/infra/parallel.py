"""The one place that decides where work runs: local worker processes (joblib), or a Dask cluster.

Everything parallel in gmmspeech goes through :func:`parallel_map` (feature extraction, batch scoring) or, for
the E-step of every EM iteration, through :mod:`gmmspeech.model.cluster` (which uses the client and the failure
handling defined here). Without a scheduler address everything stays on this machine. With one
(``tcp://HOST:PORT``), the same functions run as Dask tasks; what travels through the scheduler is small -- file
paths, feature-cache keys, model parameters and summed statistics -- never the frames themselves, so the workers
must see the same filesystem paths (audio and feature cache) as the client, and have the same gmmspeech version
installed (checked when connecting).

Lost workers: Dask re-runs the tasks of a worker that dies; a task that keeps killing workers ends the run with
a :class:`ClusterError` naming it. Nothing is written half-way in either case (cache entries, models and reports
are written atomically).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import joblib

from .errors import GmmspeechError

__all__ = ["effective_jobs", "parallel_map", "ClusterError", "DASK_MISSING", "get_client", "cluster_workers",
           "cluster_failure", "infrastructure_errors", "RETRIES"]

#: Message given when ``--scheduler`` is used without Dask installed.
DASK_MISSING = ("--scheduler needs Dask distributed, which is not installed: pip install 'gmmspeech[dask]' "
                "(the same version of gmmspeech and Dask must be installed on every worker)")
#: How often Dask re-runs a task that raised an infrastructure error before the run fails.
RETRIES = 2

_CLIENTS: dict[str, Any] = {}
_LOCK = threading.Lock()


class ClusterError(GmmspeechError, RuntimeError):
    """The Dask cluster cannot be used or lost work it could not recover; the message says what and where."""


def effective_jobs(n_jobs: int | None) -> int:
    """Number of worker processes for ``n_jobs`` (``None`` or ``-1``: all cores; ``-2``: all but one...)."""
    cores = os.cpu_count() or 1
    if n_jobs is None or n_jobs == 0:
        return cores
    if n_jobs < 0:
        return max(1, cores + 1 + n_jobs)
    return n_jobs


def _package_version() -> str:
    from .. import __version__

    return __version__


def get_client(scheduler: str, *, timeout: float = 20.0):
    """A ``distributed.Client`` connected to ``scheduler`` (``tcp://HOST:PORT``), shared per address.

    Checks that at least one worker is connected and that every worker runs this gmmspeech version.

    Raises
    ------
    ClusterError
        when Dask is not installed, the scheduler cannot be reached, no worker joins within ``timeout`` seconds,
        or a worker cannot import gmmspeech or runs another version of it.
    """
    try:
        from distributed import Client
    except ImportError:
        raise ClusterError(DASK_MISSING) from None
    with _LOCK:
        client = _CLIENTS.get(scheduler)
        if client is not None and client.status == "running":
            return client
        try:
            client = Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (TimeoutError, OSError):
            client.close()
            raise ClusterError(f"no Dask worker is connected to the scheduler at {scheduler} "
                               f"(waited {timeout:g} s); start some with: dask worker {scheduler} --nthreads 1"
                               ) from None
        try:
            versions = client.run(_package_version)
        except Exception as exc:  # noqa: BLE001 - e.g. ModuleNotFoundError raised on a worker
            client.close()
            raise ClusterError(f"Dask workers at {scheduler} cannot run gmmspeech ({type(exc).__name__}: {exc}); "
                               "install the same gmmspeech version on every worker") from None
        mine = _package_version()
        wrong = {w: v for w, v in versions.items() if v != mine}
        if wrong:
            client.close()
            raise ClusterError(f"Dask workers run another gmmspeech version than this client ({mine}): "
                               + ", ".join(f"{w} has {v}" for w, v in sorted(wrong.items())))
        _CLIENTS[scheduler] = client
        return client


def cluster_workers(scheduler: str) -> int:
    """Number of worker threads (task slots) the cluster at ``scheduler`` has now."""
    return max(1, sum(get_client(scheduler).nthreads().values()))


def cluster_failure(scheduler: str, what: str, exc: BaseException) -> ClusterError:
    return ClusterError(f"the Dask cluster at {scheduler} failed while running {what}: {type(exc).__name__}: "
                        f"{exc} (workers lost more often than Dask's retries allow?)")


def _dask_results(scheduler: str, func: Callable, items: list, what: str, shared: Any = None) -> Iterator[Any]:
    """Submit ``func`` over ``items`` to the cluster and yield results in order."""
    client = get_client(scheduler)
    if shared is None:
        futures = client.map(func, items, pure=False, retries=RETRIES)
    else:
        # one copy per worker (replicas survive the loss of a worker), not one per task
        [ref] = client.scatter([shared], broadcast=True, hash=False)
        futures = client.map(func, items, [ref] * len(items), pure=False, retries=RETRIES)
    try:
        for fut in futures:
            try:
                yield fut.result()
            except infrastructure_errors() as exc:
                raise cluster_failure(scheduler, what, exc) from None
    finally:
        for fut in futures:
            fut.release()
        if shared is not None:
            ref.release()


def infrastructure_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the cluster (not the task's own code) failed."""
    import asyncio
    import concurrent.futures

    from distributed import KilledWorker
    from distributed.comm import CommClosedError

    return (KilledWorker, CommClosedError, TimeoutError, asyncio.CancelledError, concurrent.futures.CancelledError)


def parallel_map(func: Callable[..., Any], items: Iterable[Any], *, n_jobs: int | None = None,
                 scheduler: str | None = None, shared: Any = None) -> Iterator[Any]:
    """Yield ``func(item)`` (or ``func(item, shared)``) for every item, in order: locally or on a Dask cluster.

    Parameters
    ----------
    func : a picklable module-level function. It should catch its own per-item errors and return them: an
        exception it raises ends the run (after Dask's retries, on a cluster).
    items : small picklable arguments (paths, configs) -- they travel to the workers.
    n_jobs : local worker processes (``None``: all cores), each limited to one BLAS/OpenMP thread; with one job
        (or one item) everything runs in this process. Ignored with a scheduler.
    scheduler : Dask scheduler address (``tcp://HOST:PORT``); ``None`` runs locally.
    shared : an object every call needs (e.g. a classifier), passed as the second argument; on a cluster it is
        sent once to every worker rather than with every task.

    Raises
    ------
    ClusterError
        if the cluster cannot be reached or loses a task for good.
    """
    items = list(items)
    if scheduler:
        yield from _dask_results(scheduler, func, items, getattr(func, "__name__", "a task"), shared)
        return
    extra = () if shared is None else (shared,)
    jobs = min(effective_jobs(n_jobs), max(1, len(items)))
    if jobs == 1:
        yield from (func(item, *extra) for item in items)
        return
    with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
        yield from joblib.Parallel(n_jobs=jobs, return_as="generator", batch_size=1)(
            joblib.delayed(func)(item, *extra) for item in items)
