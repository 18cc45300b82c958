"""The one place that decides where work runs: local worker processes (loky), or a Dask cluster.

Everything parallel in gmmspeech goes through :func:`parallel_map` (feature extraction, batch scoring) or, for
the E-step of every EM iteration, through :mod:`gmmspeech.model.cluster` (which uses the client and the failure
handling defined here). Without a scheduler address everything stays on this machine. With one
(``tcp://HOST:PORT``), the same functions run as Dask tasks; what travels through the scheduler is small -- file
paths, feature-cache keys, model parameters and summed statistics -- never the frames themselves, so the workers
must see the same filesystem paths (audio and feature cache) as the client, and have the same gmmspeech version
installed (checked when connecting). The address is checked (syntax, then a TCP connection and a Dask handshake,
each with a short timeout) before a Dask client is made, so a wrong address fails at once with a
:class:`ClusterError`, and a client that failed to start is closed at once (no hang or traceback at exit).

Local worker processes (joblib's loky executor) are started once and reused by every later run in this process
(:func:`live_workers` tells how many are running; idle ones exit after :data:`IDLE_TIMEOUT`); with
``inline_start`` this process works on the first items while they start. They never outlive this process: each
one watches its parent (Linux: ``PR_SET_PDEATHSIG``; everywhere: a thread polling the parent pid) and exits
within a second of its death.
A local worker that dies mid-task (the out-of-memory killer, a crash in native code) costs only that task: one
``warning:`` line names the file(s) it was processing, each such item is run again once, alone, and an item whose
worker dies a second time is handed to the caller's ``lost`` function (feature extraction reports it like any
bad file) while the rest of the run goes on.

Lost Dask workers: Dask re-runs the tasks of a worker that dies; a task that keeps killing workers ends the run
with a :class:`ClusterError` naming it. Nothing is written half-way in either case (cache entries, models and
reports are written atomically).

Warnings of the categories registered with :func:`one_line_warnings` (:class:`WorkerLostWarning` and the feature
cache's) are printed by :mod:`warnings` as one ``warning: MESSAGE`` line, without Python's source-line decoration.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .errors import GmmspeechError

__all__ = ["effective_jobs", "parallel_map", "live_workers", "ClusterError", "WorkerLostError", "WorkerLostWarning",
           "DASK_MISSING", "get_client", "check_scheduler_address", "cluster_workers", "cluster_failure",
           "infrastructure_errors", "one_line_warnings", "RETRIES", "CONNECT_TIMEOUT", "IDLE_TIMEOUT"]

#: Message given when ``--scheduler`` is used without Dask installed.
DASK_MISSING = ("--scheduler needs Dask distributed, which is not installed: pip install 'gmmspeech[dask]' "
                "(the same version of gmmspeech and Dask must be installed on every worker)")
#: How often Dask re-runs a task that raised an infrastructure error before the run fails.
RETRIES = 2
#: Seconds allowed for the TCP connection to a Dask scheduler before it counts as unreachable.
CONNECT_TIMEOUT = 5.0
#: Seconds an idle local worker process waits for more work before it exits.
IDLE_TIMEOUT = 300
#: Address schemes of Dask's comm layer whose location is HOST:PORT (probed with a TCP connection).
_HOST_PORT_SCHEMES = ("tcp", "tls", "ws", "wss")
#: Consecutive breakdowns of the local pool that no running task explains before the run gives up.
_MAX_UNEXPLAINED = 3

_CLIENTS: dict[str, Any] = {}
_LOCK = threading.Lock()


class ClusterError(GmmspeechError, RuntimeError):
    """The Dask cluster cannot be used or lost work it could not recover; the message says what and where."""


class WorkerLostError(GmmspeechError, RuntimeError):
    """Local worker processes keep dying without any task to blame (e.g. the machine is out of memory)."""


class WorkerLostWarning(UserWarning):
    """A local worker process died while processing an item; the item is being retried."""


# ---------------------------------------------------------------------------------------------------------------
# one-line warnings

_ONE_LINE: set[type[Warning]] = set()
_format_original = warnings.formatwarning


def _format_one_line(message, category, filename, lineno, line=None):
    if any(issubclass(category, c) for c in _ONE_LINE):
        return f"warning: {message}\n"
    return _format_original(message, category, filename, lineno, line)


def one_line_warnings(*categories: type[Warning]) -> None:
    """Have :mod:`warnings` print these categories as one ``warning: MESSAGE`` line (no source line)."""
    global _format_original
    _ONE_LINE.update(categories)
    if warnings.formatwarning is not _format_one_line:
        _format_original = warnings.formatwarning
        warnings.formatwarning = _format_one_line


one_line_warnings(WorkerLostWarning)


def effective_jobs(n_jobs: int | None) -> int:
    """Number of worker processes for ``n_jobs`` (``None`` or ``-1``: all cores; ``-2``: all but one...)."""
    cores = os.cpu_count() or 1
    if n_jobs is None or n_jobs == 0:
        return cores
    if n_jobs < 0:
        return max(1, cores + 1 + n_jobs)
    return n_jobs


# ---------------------------------------------------------------------------------------------------------------
# Dask

def _package_version() -> str:
    from .. import __version__

    return __version__


def check_scheduler_address(address: str) -> tuple[str, str, int | None]:
    """Check the syntax of a Dask scheduler address; returns ``(scheme, host, port)`` (``port`` None for
    ``inproc://`` and other schemes without one).

    Accepted: whatever Dask's comm layer accepts -- ``tcp://HOST:PORT`` (``tcp://`` may be left out), ``tls://``,
    ``ws://``, ``wss://``, ``inproc://``, ``ucx://`` (if installed). Raises :class:`ClusterError` otherwise, or
    when Dask is not installed.
    """
    try:
        import distributed  # noqa: F401 - first, so that a missing Dask is reported as such
        from distributed.comm.addressing import parse_address, parse_host_port
        from distributed.comm.registry import get_backend
    except ImportError:
        raise ClusterError(DASK_MISSING) from None
    expected = "expected tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786"
    if not isinstance(address, str) or not address.strip():
        raise ClusterError(f"empty Dask scheduler address ({expected})")
    reason = None
    try:
        scheme, loc = parse_address(address.strip(), strict=False)
        get_backend(scheme)
    except ValueError as exc:
        reason = str(exc)
    if reason is None and scheme not in _HOST_PORT_SCHEMES:
        return scheme, loc, None
    if reason is None:
        try:
            host, port = parse_host_port(loc)
        except ValueError as exc:
            reason = "the port is not a number" if "int()" in str(exc) else str(exc)
        else:
            if not host:
                reason = "the host is missing"
            elif not 0 < int(port) < 65536:
                reason = f"port {port} is out of range"
    if reason is not None:
        raise ClusterError(f"not a Dask scheduler address: {address!r} ({reason}; {expected})")
    return scheme, host, int(port)


def _probe(address: str, host: str, port: int, timeout: float) -> None:
    """Raise :class:`ClusterError` unless a TCP connection to ``host:port`` opens within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except socket.gaierror as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address} (unknown host {host!r}: "
                           f"{exc.strerror or exc})") from None
    except TimeoutError:
        raise ClusterError(f"cannot reach the Dask scheduler at {address} (no answer within {timeout:g} s)") from None
    except OSError as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address} ({exc.strerror or exc})") from None


def _handshake(address: str, timeout: float) -> None:
    """Raise :class:`ClusterError` unless a Dask comm handshake with ``address`` completes within ``timeout``
    seconds (Dask's own connect waits forever for the handshake of a server that is not a Dask scheduler)."""
    import asyncio

    from distributed.comm import connect
    from distributed.security import Security

    failure: list[str] = ["no answer"]

    async def talk():
        comm = await connect(address, timeout=timeout, **Security().get_connection_args("client"))
        await comm.close()

    def run():
        try:
            asyncio.run(asyncio.wait_for(talk(), timeout))
            failure.clear()
        except TimeoutError:
            failure[:] = [f"no Dask handshake within {timeout:g} s: is it a Dask scheduler?"]
        except Exception as exc:  # noqa: BLE001 - refused, reset, TLS errors...: all mean "cannot use it"
            failure[:] = [" ".join(str(exc).split()) or type(exc).__name__]

    # in a thread of its own: the caller may already be running an event loop (e.g. in Jupyter)
    t = threading.Thread(target=run, daemon=True, name="gmmspeech-dask-probe")
    t.start()
    t.join(timeout + 2)
    if failure:
        raise ClusterError(f"cannot reach the Dask scheduler at {address} ({failure[0]})")


def _close_quietly(client) -> None:
    with contextlib.suppress(Exception):
        client.close(timeout=CONNECT_TIMEOUT)


def _connect(scheduler: str, timeout: float):
    """A new ``distributed.Client``; on failure it is closed here, so nothing hangs or prints at exit."""
    from distributed import Client

    # Built in two steps so that a client whose constructor fails can still be closed: left to the garbage
    # collector it would be closed at interpreter exit, which waits 2 x timeout and prints a traceback.
    client = Client.__new__(Client)
    failure = None
    try:
        client.__init__(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        failure = f"cannot reach the Dask scheduler at {scheduler} ({exc})"
    except Exception as exc:  # noqa: BLE001 - e.g. a handshake with something that is not a Dask scheduler
        failure = f"cannot connect to the Dask scheduler at {scheduler} ({type(exc).__name__}: {exc})"
    if failure is not None:
        _close_quietly(client)
        raise ClusterError(failure)  # raised outside the handler: no traceback keeps the client alive
    return client


def get_client(scheduler: str, *, timeout: float = 20.0):
    """A ``distributed.Client`` connected to ``scheduler`` (``tcp://HOST:PORT``), shared per address.

    The address is checked first (:func:`check_scheduler_address`, then a TCP connection and a Dask handshake,
    each within :data:`CONNECT_TIMEOUT` seconds), so a wrong, closed or foreign address fails at once. Then
    checks that at least one worker is connected and that every worker runs this gmmspeech version.

    Raises
    ------
    ClusterError
        when Dask is not installed, the address is malformed, the scheduler cannot be reached, no worker joins
        within ``timeout`` seconds, or a worker cannot import gmmspeech or runs another version of it.
    """
    with _LOCK:
        client = _CLIENTS.get(scheduler)
        if client is not None and client.status == "running":
            return client
        scheme, host, port = check_scheduler_address(scheduler)
        if port is not None:  # tcp://, tls://, ws://, wss:// (not inproc:// or ucx://)
            _probe(scheduler, host, port, min(timeout, CONNECT_TIMEOUT))
            _handshake(scheduler, min(timeout, CONNECT_TIMEOUT))
        client = _connect(scheduler, timeout)
        failure = None
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (TimeoutError, OSError):
            failure = (f"no Dask worker is connected to the scheduler at {scheduler} (waited {timeout:g} s); "
                       f"start some with: dask worker {scheduler} --nthreads 1")
        if failure is None:
            try:
                versions = client.run(_package_version)
            except Exception as exc:  # noqa: BLE001 - e.g. ModuleNotFoundError raised on a worker
                failure = (f"Dask workers at {scheduler} cannot run gmmspeech ({type(exc).__name__}: {exc}); "
                           "install the same gmmspeech version on every worker")
        if failure is None:
            mine = _package_version()
            wrong = {w: v for w, v in versions.items() if v != mine}
            if wrong:
                failure = (f"Dask workers run another gmmspeech version than this client ({mine}): "
                           + ", ".join(f"{w} has {v}" for w, v in sorted(wrong.items())))
        if failure is not None:
            _close_quietly(client)
            raise ClusterError(failure)
        _CLIENTS[scheduler] = client
        return client


def cluster_workers(scheduler: str) -> int:
    """Number of worker threads (task slots) the cluster at ``scheduler`` has now."""
    return max(1, sum(get_client(scheduler).nthreads().values()))


def cluster_failure(scheduler: str, what: str, exc: BaseException) -> ClusterError:
    """The :class:`ClusterError` for work the cluster lost for good (``what``: e.g. "an EM E-step")."""
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


# ---------------------------------------------------------------------------------------------------------------
# local worker processes

def _set_parent_death_signal() -> None:
    """Linux: have the kernel SIGKILL this process when the thread that started it ends."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG


def _watch_parent(parent: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            os._exit(1)


def _worker_init(parent: int, death_signal: bool) -> None:
    """Runs first in every local worker process: exit as soon as ``parent`` (the main process) is gone."""
    if death_signal:
        # tied to the thread that forked this process, so only used when that was the main thread
        _set_parent_death_signal()
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent, 0.5), daemon=True, name="gmmspeech-parent-watch").start()


#: glibc malloc settings of the local workers (unless set already): allocations under 32 MB come from the heap
#: and up to 64 MB of freed memory stay there, instead of every array of every file being mapped, touched page by
#: page and unmapped again -- a quarter of the time of feature extraction (measured: 15x fewer page faults,
#: 1.2 -> 0.2 s of system time per 780 demo files). Ignored by other C libraries.
WORKER_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(64 << 20)}


@functools.lru_cache(maxsize=1)
def _worker_env() -> dict[str, str]:
    """Environment of the local workers: one BLAS/OpenMP thread each (as joblib's ``inner_max_num_threads=1``)
    and :data:`WORKER_MALLOC_ENV`."""
    try:
        from joblib._parallel_backends import ParallelBackendBase

        names = list(ParallelBackendBase.MAX_NUM_THREADS_VARS)
    except (ImportError, AttributeError):
        names = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS", "NUMEXPR_NUM_THREADS"]
    env = dict.fromkeys(names, "1")
    if "ENABLE_IPC" not in os.environ:
        env["ENABLE_IPC"] = "1"  # TBB schedulers coordinate instead of oversubscribing
    env.update({k: v for k, v in WORKER_MALLOC_ENV.items() if k not in os.environ})
    return env


def _executor(jobs: int):
    """The process-wide loky executor with ``jobs`` workers: the same one (and the same, already started worker
    processes) on every call with the same ``jobs``, so later runs in this process pay no start-up."""
    from joblib.externals.loky import get_reusable_executor

    main = threading.current_thread() is threading.main_thread()
    kwargs = dict(max_workers=jobs, timeout=IDLE_TIMEOUT, initializer=_worker_init, initargs=(os.getpid(), main),
                  env=dict(_worker_env()))
    current = getattr(sys.modules.get("joblib.externals.loky.reusable_executor"), "_executor", None)
    if current is None or getattr(current, "_max_workers", jobs) == jobs:
        return get_reusable_executor(**kwargs)
    with warnings.catch_warnings():
        # a resize waits for a still-pending warm-up task (see parallel_map's inline_start): harmless, say nothing
        warnings.filterwarnings("ignore", "Trying to resize an executor with running jobs", UserWarning)
        return get_reusable_executor(**kwargs)


def live_workers() -> int:
    """How many local worker processes of :func:`parallel_map` are already running in this process (0 if none).

    A later run with at most that many jobs pays no start-up; never imports joblib itself.
    """
    mod = sys.modules.get("joblib.externals.loky.reusable_executor")
    ex = getattr(mod, "_executor", None)
    kwargs = getattr(mod, "_executor_kwargs", None) or {}
    if ex is None or kwargs.get("initializer") is not _worker_init:  # none, or another library's pool
        return 0
    try:
        if ex._flags.broken or ex._flags.shutdown:
            return 0
        return sum(p.is_alive() for p in list(ex._processes.values()))
    except Exception:  # noqa: BLE001 - loky internals changed: assume a cold start
        return 0


def _ready(func: Callable) -> int:
    """Warm-up task: by the time it runs, the worker has started and imported ``func``'s module (unpickling the
    argument does that); returns the worker's pid."""
    return os.getpid()


_SHARED: dict[str, Any] = {}


def _shared_object(path: str) -> Any:
    """The ``shared`` object of a run, loaded once per worker process (numpy arrays memory-mapped read-only)."""
    if path not in _SHARED:
        import joblib

        _SHARED.clear()  # one run at a time: keep only the current run's object
        _SHARED[path] = joblib.load(path, mmap_mode="r")
    return _SHARED[path]


def _run_marked(func: Callable, item: Any, shared: str | None, marks: str, index: int) -> Any:
    """Worker side of one task: ``func(item)`` (or ``func(item, shared object)``) with a marker file present while
    it runs, so that the main process knows which items were running when a worker died."""
    mark = os.path.join(marks, str(index))
    try:
        with open(mark, "w"):
            pass
    except OSError:
        mark = None  # the run was abandoned (marker folder gone): still do the work
    try:
        return func(item) if shared is None else func(item, _shared_object(shared))
    finally:
        if mark is not None:
            with contextlib.suppress(OSError):
                os.unlink(mark)


def _death_reason(exc: BaseException) -> str:
    """How the worker died, from loky's error message ("killed by SIGKILL", "exit status 1", ...)."""
    m = re.search(r"exit codes of the workers are \{([^}]*)\}", str(exc))
    codes = [c.strip() for c in m.group(1).split(",")] if m else []
    out = []
    for code in codes:
        sig = re.fullmatch(r"(SIG\w+)\(-?\d+\)", code)
        ext = re.fullmatch(r"EXIT\((-?\d+)\)", code)
        out.append(f"killed by {sig.group(1)}" if sig else f"exit status {ext.group(1)}" if ext else code)
    if not out:
        return "died unexpectedly"
    text = ", ".join(dict.fromkeys(out))
    return text + (" -- out of memory?" if "SIGKILL" in text else "")


def _names(items: list, describe: Callable[[Any], str], limit: int = 4) -> str:
    """``describe`` of the first ``limit`` items, each cut to one short line."""
    names = [" ".join(str(describe(it)).split()) for it in items]
    names = [n if len(n) <= 200 else n[:197] + "..." for n in names]
    return ", ".join(names[:limit]) + (f" (and {len(names) - limit} more)" if len(names) > limit else "")


def _local_map(func: Callable, items: list, jobs: int, shared: Any, lost: Callable[[Any, str], Any] | None,
               describe: Callable[[Any], str], on_warning: Callable[[str], None] | None) -> Iterator[Any]:
    """Ordered results of ``func`` over ``items`` on ``jobs`` loky workers, surviving worker deaths.

    Every index is in exactly one of ``queue`` (to run side by side), ``alone`` (suspects of a worker death, each
    run once more with nothing beside it, so a second death is certainly theirs), ``futures`` (submitted) and
    ``done`` (result waiting to be yielded in order). ``shared`` is written once to the run's folder with
    ``joblib.dump`` and loaded once per worker (arrays memory-mapped, as joblib's own auto-memmapping does),
    rather than sent with every task.
    """
    n = len(items)
    done: dict[int, Any] = {}
    queue = deque(range(n))
    alone: deque[int] = deque()
    futures: dict[int, Any] = {}
    nxt, unexplained = 0, 0
    marks = tempfile.mkdtemp(prefix="gmmspeech-tasks-")
    try:
        extra = None
        if shared is not None:
            import joblib

            extra = os.path.join(marks, "shared.pkl")  # not a digit: never taken for a marker
            joblib.dump(shared, extra)
        while nxt < n:
            if nxt in done:
                yield done.pop(nxt)
                nxt += 1
                continue
            isolated = bool(alone) and not futures
            try:
                ex = _executor(jobs)  # the same one unless it broke (or another run resized it meanwhile)
                if isolated:
                    futures[alone[0]] = ex.submit(_run_marked, func, items[alone[0]], extra, marks, alone[0])
                    alone.popleft()
                while not isolated and not alone and queue and len(futures) < 2 * jobs:
                    futures[queue[0]] = ex.submit(_run_marked, func, items[queue[0]], extra, marks, queue[0])
                    queue.popleft()
                first = min(futures)
                done[first] = futures[first].result()
                del futures[first]
                unexplained = 0
                continue
            except (BrokenProcessPool, CancelledError) as exc:
                reason = _death_reason(exc)
            # The pool broke (a worker died; loky then kills the others): keep what finished, and find from the
            # markers which items were running.
            running = set()
            for name in filter(str.isdigit, os.listdir(marks)):
                running.add(int(name))
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(marks, name))
            suspects, again = [], []
            for i, fut in sorted(futures.items()):
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    done[i] = fut.result()
                else:
                    (suspects if i in running else again).append(i)
            futures.clear()
            (alone if isolated else queue).extendleft(reversed(again))
            if isolated and suspects:  # it died with nothing beside it: the item is to blame, a second time
                [i] = suspects
                if lost is None:
                    raise WorkerLostError(f"a worker process died twice while processing "
                                          f"{_names([items[i]], describe)} ({reason})")
                done[i] = lost(items[i], f"skipped: the worker process died twice while processing it ({reason})")
            elif suspects:
                alone.extend(suspects)
                what = (_names([items[suspects[0]]], describe) + "; retrying it once" if len(suspects) == 1 else
                        f"one of {_names([items[i] for i in suspects], describe)}; retrying each once, alone")
                message = f"a worker process died ({reason}) while processing {what}"
                if on_warning is not None:
                    on_warning(message)
                else:
                    warnings.warn(message, WorkerLostWarning, stacklevel=3)
            else:
                unexplained += 1
                if unexplained >= _MAX_UNEXPLAINED:
                    raise WorkerLostError(f"local worker processes keep dying ({reason}) before they can run a "
                                          "task; is the machine out of memory? (try fewer --jobs)")
    finally:
        for fut in futures.values():
            fut.cancel()
        shutil.rmtree(marks, ignore_errors=True)


def parallel_map(func: Callable[..., Any], items: Iterable[Any], *, n_jobs: int | None = None,
                 scheduler: str | None = None, shared: Any = None, lost: Callable[[Any, str], Any] | None = None,
                 describe: Callable[[Any], str] = repr, on_warning: Callable[[str], None] | None = None,
                 inline_start: bool = False) -> Iterator[Any]:
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
    lost : ``lost(item, reason)`` gives the result yielded for an item whose local worker process died twice
        (see the module notes); ``None`` raises :class:`WorkerLostError` instead.
    describe : names an item in the ``warning:`` line about a worker death (e.g. its file).
    on_warning : receives that one-line message instead of it being issued as a :class:`WorkerLostWarning`.
    inline_start : with local workers not yet running, start on the items here, in order, while they start
        (a worker process takes ~1-3 s to start and import ``func``'s module), and hand the rest to them as soon
        as one is ready; the items run here are not protected from crashes (as with one job).

    Raises
    ------
    ClusterError
        if the cluster cannot be reached or loses a task for good.
    WorkerLostError
        if local workers die with no task to blame, or (without ``lost``) twice on the same item.
    """
    items = list(items)
    if scheduler:
        yield from _dask_results(scheduler, func, items, getattr(func, "__name__", "a task"), shared)
        return
    jobs = min(effective_jobs(n_jobs), max(1, len(items)))
    extra = () if shared is None else (shared,)
    if jobs == 1:
        yield from (func(item, *extra) for item in items)
        return
    start = 0
    if inline_start:
        ready = _executor(jobs).submit(_ready, func)  # starts the workers (no-op when they are running)
        while start < len(items) and not ready.done():
            yield func(items[start], *extra)
            start += 1
    if start < len(items):
        yield from _local_map(func, items[start:], jobs, shared, lost, describe, on_warning)
