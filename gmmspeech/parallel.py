"""The one place that decides where work runs: local worker processes (joblib), or a Dask cluster.

Everything parallel in gmmspeech goes through :func:`parallel_map` (feature extraction, batch scoring) or, for
the E-step of every EM iteration, through a :class:`ClusterAccumulator` handed to ``DiagGMM(accumulator=...)``.
Without a scheduler address everything stays on this machine. With one (``tcp://HOST:PORT``), the same
functions run as Dask tasks; what travels through the scheduler is small -- file paths, feature-cache keys,
model parameters and summed statistics -- never the frames themselves, so the workers must see the same
filesystem paths (audio and feature cache) as the client, and have the same gmmspeech version installed
(checked when connecting).

Lost workers: Dask re-runs the tasks of a worker that dies; a task that keeps killing workers ends the run with
a :class:`ClusterError` naming it. Nothing is written half-way in either case (cache entries, models and reports
are written atomically).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import joblib

__all__ = ["effective_jobs", "parallel_map", "ClusterError", "DASK_MISSING", "get_client", "cluster_workers",
           "ClusterAccumulator", "ClusterFitter"]

#: Message given when ``--scheduler`` is used without Dask installed.
DASK_MISSING = ("--scheduler needs Dask distributed, which is not installed: pip install 'gmmspeech[dask]' "
                "(the same version of gmmspeech and Dask must be installed on every worker)")
#: How often Dask re-runs a task that raised an infrastructure error before the run fails.
RETRIES = 2

_CLIENTS: dict[str, Any] = {}
_LOCK = threading.Lock()


class ClusterError(RuntimeError):
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
    from . import __version__

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


def _cluster_failure(scheduler: str, what: str, exc: BaseException) -> ClusterError:
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
            except _infrastructure_errors() as exc:
                raise _cluster_failure(scheduler, what, exc) from None
    finally:
        for fut in futures:
            fut.release()
        if shared is not None:
            ref.release()


def _infrastructure_errors() -> tuple[type[BaseException], ...]:
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


def _group(items: Sequence, n_groups: int) -> list[list]:
    """Split ``items`` into at most ``n_groups`` contiguous, nearly equal groups (order kept)."""
    n = len(items)
    n_groups = max(1, min(n_groups, n))
    bounds = [round(i * n / n_groups) for i in range(n_groups + 1)]
    return [list(items[bounds[i]:bounds[i + 1]]) for i in range(n_groups)]


def _n_rows(item) -> int:
    """Frames in a block: an array's length, or read from a ``.npy`` file's header."""
    if not isinstance(item, str | os.PathLike):
        return len(item)
    import numpy as np

    try:
        with open(item, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape = read(f)[0]
    except (OSError, ValueError) as exc:
        raise ValueError(f"{item}: cannot read feature chunk ({exc})") from None
    return int(shape[0]) if shape else 0


def _as_file(item) -> str:
    """The ``.npy`` file behind a block: a path, or an array memory-mapped from a whole ``.npy`` file."""
    if isinstance(item, str | os.PathLike):
        return os.fspath(item)
    name = getattr(item, "filename", None)
    if name is not None and os.path.isfile(name):
        nbytes = item.size * item.itemsize
        if item.offset + nbytes == os.path.getsize(name) and item.flags.c_contiguous:
            return os.fspath(name)
    raise ValueError("cluster E-steps take feature files: .npy paths or arrays memory-mapped from a whole .npy "
                     "file (as the feature cache returns them), not in-memory arrays")


#: Bytes of E-step batches a worker process keeps in memory between EM iterations (least recently used first
#: out); a group of files larger than this is read from disk on every iteration instead.
WORKER_CACHE_BYTES = 512 * 2**20
_BATCHES: OrderedDict[tuple, list] = OrderedDict()
_BATCHES_LOCK = threading.Lock()


def _worker_batches(files: list[str]) -> list:
    """The E-step batches of a group of feature files, kept in this (worker) process across EM iterations.

    Keyed on each file's path, size and modification time, so a changed file is read again.
    """
    from .gmm import _Source

    key = tuple((f, st.st_size, st.st_mtime_ns) for f in files for st in [os.stat(f)])
    with _BATCHES_LOCK:
        if key in _BATCHES:
            _BATCHES.move_to_end(key)
            return _BATCHES[key]
    batches = [arr for _, arr in _Source(list(files)).batches()]
    nbytes = sum(b.size * b.itemsize for b in batches)
    if nbytes > WORKER_CACHE_BYTES:
        return batches
    import numpy as np

    batches = [np.array(b) for b in batches]   # off the memory map, into this process
    with _BATCHES_LOCK:
        _BATCHES[key] = batches
        total = sum(b.size * b.itemsize for bs in _BATCHES.values() for b in bs)
        while total > WORKER_CACHE_BYTES and len(_BATCHES) > 1:
            _, old = _BATCHES.popitem(last=False)
            total -= sum(b.size * b.itemsize for b in old)
    return batches


def _accumulate_task(files: list[str], weights, means, variances, *, chunk_size: int, dtype):
    """Cluster task: ``accumulate_chunks`` of a group of files (their batches cached in the worker)."""
    from .gmm import accumulate_chunks

    # joined batches are re-batched identically (batch_plan never leaves two short batches side by side)
    return accumulate_chunks(_worker_batches(files), weights, means, variances, chunk_size=chunk_size, dtype=dtype)


class ClusterAccumulator:
    """E-step statistics of a list of feature files, computed as Dask tasks: ``DiagGMM(accumulator=...)``.

    The items given to ``DiagGMM.fit`` must be ``.npy`` paths or arrays memory-mapped from whole ``.npy`` files
    (what :func:`gmmspeech.featstore.compute_features` returns on a cluster); only their paths travel.
    Every EM iteration submits one task per group of files (``accumulate_chunks`` of the group under the current
    parameters) and adds the returned statistics in file order, so a cluster fit agrees with a local fit on the
    same list of files to float64 rounding (the E-step of each file is the same computation either way).

    Parameters
    ----------
    scheduler : Dask scheduler address.
    tasks_per_worker : groups per worker thread and iteration (more groups balance unequal files better,
        fewer cost less scheduling).
    """

    def __init__(self, scheduler: str, *, tasks_per_worker: int = 2):
        self.scheduler = scheduler
        self.tasks_per_worker = tasks_per_worker
        self._groups: dict[int, tuple[list, list[list[str]]]] = {}

    def _plan(self, items) -> list[list[str]]:
        """Files grouped into tasks; worked out once per list of items (EM passes the same list every time)."""
        from .gmm import batch_plan

        known = self._groups.get(id(items))
        if known is not None and known[0] is items:
            return known[1]
        files = [_as_file(it) for it in items]
        # groups of whole E-step batches, so each worker joins short files exactly as a local fit does
        plan = batch_plan(_n_rows(it) for it in items)
        groups = [[f for lo, hi in part for f in files[lo:hi]]
                  for part in _group(plan, self.tasks_per_worker * cluster_workers(self.scheduler))]
        self._groups[id(items)] = (items, groups)
        return groups

    def __call__(self, items, weights, means, variances, *, chunk_size: int, dtype):
        from .gmm import SuffStats

        groups = self._plan(items)
        client = get_client(self.scheduler)
        # the parameters go inside each task (a few hundred kB), not scattered: scattered data dies with its
        # worker, while a task's own arguments let Dask re-run it anywhere
        futures = [client.submit(_accumulate_task, g, weights, means, variances, chunk_size=chunk_size,
                                 dtype=dtype, pure=False, retries=RETRIES) for g in groups]
        stats = SuffStats.zeros(*means.shape)
        try:
            for fut in futures:
                try:
                    stats = stats + fut.result()
                except _infrastructure_errors() as exc:
                    raise _cluster_failure(self.scheduler, "an EM E-step", exc) from None
        finally:
            for fut in futures:
                fut.release()
        return stats


def _fit_task(files: list[str], params: dict):
    """Cluster task: a whole ``DiagGMM`` fit on a group of feature files (one small class)."""
    from .gmm import DiagGMM

    return DiagGMM(**params).fit(files)


class ClusterFitter:
    """Fits one class's ``DiagGMM`` on a cluster: ``GMMClassifier.fit(..., fitter=ClusterFitter(address))``.

    A class with fewer than ``whole_below`` frames is fitted whole by one task on one worker (classes run side by
    side on the workers): its E-step is a few milliseconds, less than a scheduler round trip, so per-iteration
    tasks would only add latency. A larger class runs the E-step of every EM iteration as tasks over the whole
    cluster (:class:`ClusterAccumulator`). Either way the model equals a local fit on the same files.

    Parameters
    ----------
    scheduler : Dask scheduler address.
    whole_below : frames under which a class is fitted by a single task (default: 4 E-step batches).
    """

    def __init__(self, scheduler: str, *, whole_below: int | None = None):
        from .gmm import BATCH_FRAMES

        self.scheduler = scheduler
        self.whole_below = 4 * BATCH_FRAMES if whole_below is None else whole_below

    def __call__(self, params: dict, items):
        from .gmm import DiagGMM

        if sum(_n_rows(it) for it in items) >= self.whole_below:
            return DiagGMM(**params, accumulator=ClusterAccumulator(self.scheduler)).fit(items)
        files = [_as_file(it) for it in items]
        fut = get_client(self.scheduler).submit(_fit_task, files, params, pure=False, retries=RETRIES)
        try:
            return fut.result()
        except _infrastructure_errors() as exc:
            raise _cluster_failure(self.scheduler, "a class model's EM", exc) from None
        finally:
            fut.release()
