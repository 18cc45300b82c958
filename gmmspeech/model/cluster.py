"""EM on a Dask cluster: the E-step of every iteration as tasks over feature files, or a whole small-class fit.

What travels through the scheduler is small -- file paths, model parameters and summed statistics -- never the
frames themselves, so the workers must see the same filesystem paths as the client.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from ..core.gmm import BATCH_FRAMES, DiagGMM, FrameSource, SuffStats, accumulate_chunks, batch_plan
from ..infra.parallel import RETRIES, cluster_failure, cluster_workers, get_client, infrastructure_errors

__all__ = ["ClusterAccumulator", "ClusterFitter", "WORKER_CACHE_BYTES", "feature_file_path"]


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
    try:
        with open(item, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape = read(f)[0]
    except (OSError, ValueError) as exc:
        raise ValueError(f"{item}: cannot read feature chunk ({exc})") from None
    return int(shape[0]) if shape else 0


def feature_file_path(item) -> str:
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
    key = tuple((f, st.st_size, st.st_mtime_ns) for f in files for st in [os.stat(f)])
    with _BATCHES_LOCK:
        if key in _BATCHES:
            _BATCHES.move_to_end(key)
            return _BATCHES[key]
    batches = [arr for _, arr in FrameSource(list(files)).batches()]
    nbytes = sum(b.size * b.itemsize for b in batches)
    if nbytes > WORKER_CACHE_BYTES:
        return batches
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

        known = self._groups.get(id(items))
        if known is not None and known[0] is items:
            return known[1]
        files = [feature_file_path(it) for it in items]
        # groups of whole E-step batches, so each worker joins short files exactly as a local fit does
        plan = batch_plan(_n_rows(it) for it in items)
        groups = [[f for lo, hi in part for f in files[lo:hi]]
                  for part in _group(plan, self.tasks_per_worker * cluster_workers(self.scheduler))]
        self._groups[id(items)] = (items, groups)
        return groups

    def __call__(self, items, weights, means, variances, *, chunk_size: int, dtype):

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
                except infrastructure_errors() as exc:
                    raise cluster_failure(self.scheduler, "an EM E-step", exc) from None
        finally:
            for fut in futures:
                fut.release()
        return stats


def _fit_task(files: list[str], params: dict):
    """Cluster task: a whole ``DiagGMM`` fit on a group of feature files (one small class)."""
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

        self.scheduler = scheduler
        self.whole_below = 4 * BATCH_FRAMES if whole_below is None else whole_below

    def __call__(self, params: dict, items):
        from ..core.gmm import DiagGMM

        if sum(_n_rows(it) for it in items) >= self.whole_below:
            return DiagGMM(**params, accumulator=ClusterAccumulator(self.scheduler)).fit(items)
        files = [feature_file_path(it) for it in items]
        fut = get_client(self.scheduler).submit(_fit_task, files, params, pure=False, retries=RETRIES)
        try:
            return fut.result()
        except infrastructure_errors() as exc:
            raise cluster_failure(self.scheduler, "a class model's EM", exc) from None
        finally:
            fut.release()
