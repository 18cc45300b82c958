"""Features for many files: cached on disk, computed in parallel, with progress and a per-file error report.

A file that cannot be read, is not a regular file (FIFO, device, directory: refused before it is opened), yields
no frames or yields NaN/infinite features is skipped and reported; the others go on. So is a file whose local
worker process dies twice (see :func:`gmmspeech.infra.parallel.parallel_map`).

With a Dask scheduler (``scheduler=``), each worker hashes its file, loads or computes the features and writes
the cache entry itself; only the entry's path comes back, and the client memory-maps the entry. The client and
the workers must therefore share the cache folder (and see the audio at the same paths).

The cache keeps one entry per utterance, named by a hash of the audio file's *content* (not its name or date),
the segment bounds, the full :class:`FeatureConfig`, :data:`features.FEATURES_VERSION` and :data:`CACHE_VERSION`:
a changed file, config or feature code can never return stale features, and entries of an older format are
simply never looked up. An entry is a standard ``.npy`` file (so it loads and memory-maps as one, and the
cluster code can hand its path to the workers) whose header ends in a comment holding the entry's key, shape and
a BLAKE2b checksum of the array; NumPy's header parser skips the comment. Every read checks them: an entry
that belongs to another key (e.g. swapped for another file's entry), is cut short, altered, holds NaN/infinite
values or is a directory is a miss: it is removed, the features are recomputed and one warning is given.
Entries are written atomically (temp file + rename); leftover temp files of killed writers are removed from an
entry's folder when the next entry is written there.

How many worker processes (``n_jobs=None``, the command line's default ``--jobs``): only as many as pay for
their start-up, decided by :func:`plan_jobs` from the number of files still to compute and their total length
(read from the file headers, at most :data:`MAX_PROBES` of them) -- a job one process finishes sooner than a
pool could start (the bundled demo: ~1 s of work against 1.5-3 s to start two workers) runs in this process.
When a pool is used, this process starts on the files while the workers start (they take 1-3 s to import
numpy, scipy, soundfile and joblib) and hands the rest over as soon as one is ready; files go to the workers in
batches of ~0.1 s of work, so the pool's per-task cost stays small. A file run in this process is not
protected from a crash (as with ``n_jobs=1``): pass ``n_jobs`` explicitly to run every file in a worker. The
first progress line (files, how many to compute, minutes of audio, worker processes) is printed before any
extraction starts.

Warnings (a bad cache entry, an entry that could not be written, a worker that died) are issued through
:mod:`warnings` as :class:`FeatureCacheWarning` / ``WorkerLostWarning``, printed as one ``warning: MESSAGE``
line (no Python source line), and are also listed in :attr:`FeatureSet.warnings` for callers that collect them.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import struct
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..frontend.audio import AudioError, not_regular_reason
from ..frontend.features import FEATURES_VERSION, FeatureConfig
from ..frontend.fileframes import file_features
from ..infra.atomic import atomic_write, remove_stale_temp_files
from ..infra.parallel import (
    ClusterError,
    WorkerLostWarning,
    effective_jobs,
    live_workers,
    one_line_warnings,
    parallel_map,
)
from ..infra.progress import Progress
from .jobplan import (
    PER_FILE_SECONDS,
    batch_files,
    estimate_audio_seconds,
    extraction_costs,
    plan_jobs,
    plan_line,
)
from .manifest import Utterance

__all__ = ["FeatureSet", "FeatureCache", "FeatureCacheWarning", "default_cache_dir", "file_digest",
           "features_for", "compute_features", "load_or_compute", "plan_jobs", "estimate_audio_seconds",
           "extraction_costs", "batch_files", "CACHE_VERSION"]

#: Version of the cache-entry format; part of every key, so entries of another version are never read.
CACHE_VERSION = 2
_TAG = "# gmmspeech-feature-cache "  # starts the comment that carries an entry's key and checksum in its header
_NPY_MAGIC = b"\x93NUMPY\x01\x00"
_MAX_HEADER = 4096


class FeatureCacheWarning(UserWarning):
    """A feature-cache entry was bad (and recomputed) or could not be written; the run goes on."""


one_line_warnings(FeatureCacheWarning)


def default_cache_dir() -> Path:
    """``$GMMSPEECH_CACHE``, else ``$XDG_CACHE_HOME/gmmspeech/features``, else ``~/.cache/gmmspeech/features``."""
    env = os.environ.get("GMMSPEECH_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gmmspeech" / "features"


_DIGESTS: dict[tuple, str] = {}


def file_digest(path: str | os.PathLike) -> str:
    """BLAKE2b-128 hex digest of a file's bytes (memoised per process on path, size, mtime and inode).

    Raises :class:`AudioError` at once, without reading, when the path is not a regular file (a FIFO or device
    would block or never end), and ``OSError`` when it cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # opening a FIFO must not wait for a writer
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        reason = not_regular_reason(st.st_mode)
        if reason:
            raise AudioError(path, reason)
        memo = (os.fspath(path), st.st_size, st.st_mtime_ns, st.st_ino)
        if memo not in _DIGESTS:
            h = hashlib.blake2b(digest_size=16)
            while chunk := f.read(1 << 20):
                h.update(chunk)
            _DIGESTS[memo] = h.hexdigest()
    return _DIGESTS[memo]


def _bytes(x: np.ndarray) -> np.ndarray:
    """The data of a C-contiguous array as a flat uint8 view (no copy; fine for empty arrays too)."""
    return x.reshape(-1).view(np.uint8)


def _checksum(x: np.ndarray) -> str:
    return hashlib.blake2b(_bytes(np.ascontiguousarray(x)), digest_size=16).hexdigest()


def _write_entry(f, key: str, x: np.ndarray) -> None:
    """Write ``x`` (C-contiguous float32, 2-D) as a version 1.0 ``.npy`` whose header ends in a comment holding
    ``{key, shape, blake2b checksum of the data}``. NumPy parses the header with ``ast.literal_eval``, which skips
    the comment, so the file loads and memory-maps as any ``.npy``; the data still ends the file."""
    meta = json.dumps({"key": key, "shape": list(x.shape), "blake2b": _checksum(x)}, separators=(",", ":"))
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple(x.shape)!r}, }}  {_TAG}{meta}"
    total = len(_NPY_MAGIC) + 2 + len(header) + 1
    header += " " * (-total % 64) + "\n"  # data aligned to 64 bytes, as NumPy writes it
    f.write(_NPY_MAGIC + struct.pack("<H", len(header)) + header.encode("latin1"))
    f.write(_bytes(x))


def _read_entry(p: Path, key: str, n_dims: int | None) -> tuple[np.ndarray | None, str | None]:
    """``(array, None)`` for a good entry, ``(None, None)`` when there is none, ``(None, why)`` for a bad one."""
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):  # no entry (a broken cache folder is reported on writing)
        return None, None
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    if not stat.S_ISREG(st.st_mode):
        return None, (not_regular_reason(st.st_mode) or "is not a regular file").replace(", not an audio file", "")
    try:
        with open(p, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if f.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
                return None, "is damaged (not a version 1.0 .npy file)"
            [hlen] = struct.unpack("<H", f.read(2))
            raw = f.read(min(hlen, _MAX_HEADER)).decode("latin1")
            f.seek(len(_NPY_MAGIC))
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)  # as np.load will read it
            offset = f.tell()
            if dtype != np.dtype("<f4") or fortran or len(shape) != 2:
                return None, f"is not a float32 matrix ({dtype}, shape {shape})"
            nbytes = int(np.prod(shape)) * 4
            if size != offset + nbytes:
                return None, f"is damaged ({size - offset} data bytes, expected {nbytes}: cut short or padded?)"
            tag = raw.find(_TAG)
            if tag < 0:
                return None, "is damaged (no checksum in its header: written by another program?)"
            meta = json.loads(raw[tag + len(_TAG):])
            if not isinstance(meta, dict) or meta.get("key") != key:
                got = meta.get("key") if isinstance(meta, dict) else None
                return None, f"holds the entry of another file or configuration (key {str(got)[:12]}...)"
            if list(shape) != meta.get("shape"):
                return None, "is damaged (its shape does not match its checksum record)"
            x = np.empty(shape, np.float32)
            if f.readinto(_bytes(x)) != nbytes:
                return None, "is cut short"
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    except (ValueError, EOFError, struct.error) as exc:  # includes bad JSON and a header NumPy refuses
        return None, "is damaged ({})".format(" ".join(str(exc).split())[:200])
    if _checksum(x) != meta.get("blake2b"):
        return None, "is damaged (checksum mismatch)"
    if n_dims is not None and x.shape[1] != n_dims:
        return None, f"has {x.shape[1]} feature dimensions, expected {n_dims}"
    if not np.isfinite(x).all():
        return None, "holds NaN or infinite values"
    return x, None


class FeatureCache:
    """A folder of verified feature matrices, ``ROOT/ab/abcdef....npy`` (see the module notes for the format).

    Parameters
    ----------
    root : cache folder (created on first write); ``None`` uses :func:`default_cache_dir`.
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r})"

    def key(self, utt: Utterance, cfg: FeatureConfig) -> str:
        """Cache key of an utterance's features: hash of file content, segment, config and code/format versions.

        Raises :class:`AudioError` (not a regular file) or ``OSError`` (cannot be opened) for the audio file.
        """
        doc = {"v": FEATURES_VERSION, "cache": CACHE_VERSION, "file": file_digest(utt.path), "start": utt.start,
               "end": utt.end, "features": cfg.to_dict()}
        return hashlib.blake2b(json.dumps(doc, sort_keys=True).encode(), digest_size=20).hexdigest()

    def path(self, key: str) -> Path:
        """File that holds (or will hold) the entry ``key``."""
        return self.root / key[:2] / f"{key}.npy"

    def fetch(self, key: str, n_dims: int | None = None) -> tuple[np.ndarray | None, str | None]:
        """The entry, verified: ``(float32 (n_frames, n_dims) array, None)``; ``(None, None)`` when absent;
        ``(None, problem)`` when it is bad (another key's entry, damaged, non-finite, a directory...).

        A bad entry is removed (an empty directory too); ``problem`` ends with a note when it could not be.
        """
        p = self.path(key)
        x, problem = _read_entry(p, key, n_dims)
        if problem is not None:
            try:
                p.rmdir() if p.is_dir() else p.unlink(missing_ok=True)
            except OSError as exc:
                problem += f" and cannot be removed ({exc.strerror or exc}), so the features are not cached"
        return x, problem

    def load(self, key: str, n_dims: int | None = None) -> np.ndarray | None:
        """The verified cached matrix, or ``None`` on a miss; a bad entry is removed with a one-line warning."""
        x, problem = self.fetch(key, n_dims)
        if problem is not None:
            warnings.warn(f"feature cache entry {self.path(key)} {problem}; recomputing", FeatureCacheWarning,
                          stacklevel=2)
        return x

    def store(self, key: str, x: np.ndarray) -> str | None:
        """Write an entry atomically; returns ``None``, or the problem when it could not be written (the run goes
        on without caching it: nothing half-written is left)."""
        p = self.path(key)
        try:
            _sweep_once(p.parent)
            atomic_write(p, lambda f: _write_entry(f, key, np.ascontiguousarray(x, np.float32)))
        except OSError as exc:
            return f"feature cache {self.root}: cannot write entries ({exc.strerror or exc}); not caching them"
        return None


_SWEPT: set[Path] = set()


def _sweep_once(folder: Path) -> None:
    """Remove leftovers of killed writes (either naming) from a cache folder, once per folder and process."""
    if folder not in _SWEPT:
        _SWEPT.add(folder)
        remove_stale_temp_files(folder)


@dataclass
class FeatureSet:
    """Result of :func:`compute_features`.

    Attributes
    ----------
    utterances : the input utterances, in order.
    features : per utterance a float32 (n_frames, n_dims) array, or ``None`` where it failed.
    errors : ``(utterance, message)`` for every file that failed.
    cached : how many utterances were read from the feature cache.
    paths : per utterance the feature-cache entry (``.npy``) holding its features, or ``None`` (no cache, failed,
        or the entry could not be written). Cluster training passes these paths, not the arrays.
    warnings : one-line messages about the run (bad cache entries recomputed, entries not written, worker
        processes that died); already issued through :mod:`warnings` (see the module notes).
    """

    utterances: list[Utterance]
    features: list[np.ndarray | None]
    errors: list[tuple[Utterance, str]] = field(default_factory=list)
    cached: int = 0
    paths: list[str | None] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def ok(self) -> list[tuple[Utterance, np.ndarray]]:
        """The utterances that succeeded, with their features."""
        return [(u, f) for u, f in zip(self.utterances, self.features, strict=True) if f is not None]


def features_for(utt: Utterance, cfg: FeatureConfig) -> np.ndarray:
    """Load one utterance (or segment) and return its features, shape (n_frames, cfg.n_dims).

    Raises :class:`AudioError` naming the file for any problem, including a too-short signal or a file in which
    VAD finds no voiced frame.
    """
    return file_features(utt.path, cfg, offset=utt.start or 0.0, duration=utt.duration)


def _non_finite(x: np.ndarray) -> str | None:
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if bad:
        return (f"feature extraction produced {bad} NaN or infinite value{'s' if bad != 1 else ''} "
                f"(of {x.size}); the file is left out")
    return None


def _worker(job: tuple[Utterance, FeatureConfig, FeatureCache | None, str | None]
            ) -> tuple[np.ndarray | None, str | None, str | None]:
    """Local task: ``(features | None, error | None, warning | None)`` for one utterance; caches what it made."""
    utt, cfg, cache, key = job
    try:
        x = features_for(utt, cfg)
    except AudioError as exc:
        return None, exc.reason, None
    except Exception as exc:  # noqa: BLE001 - a batch run must survive any single bad file
        return None, f"{type(exc).__name__}: {exc}", None
    err = _non_finite(x)
    if err is not None:
        return None, err, None
    note = cache.store(key, x) if cache is not None and key is not None else None
    return x, None, note


_Batch = tuple[FeatureConfig, "FeatureCache | None", list[tuple[Utterance, "str | None"]]]


def _worker_batch(batch: _Batch) -> list[tuple[np.ndarray | None, str | None, str | None]]:
    """Local task: :func:`_worker`'s result for each ``(utterance, cache key)`` of a batch, in order."""
    cfg, cache, jobs = batch
    return [_worker((utt, cfg, cache, key)) for utt, key in jobs]


def _lost(batch: _Batch, reason: str) -> list[tuple[None, str, None]] | None:
    """Result of a batch whose worker process died twice (see ``parallel_map``): the error of its one file, or
    ``None`` for a batch of several files, which are then run again one by one to find the culprit."""
    return [(None, reason, None)] if len(batch[2]) == 1 else None


def _describe(batch: _Batch) -> str:
    jobs = batch[2]
    return jobs[0][0].name if len(jobs) == 1 else f"{len(jobs)} files from {jobs[0][0].name} to {jobs[-1][0].name}"


def _bad_entry(cache: FeatureCache, key: str, utt: Utterance, problem: str) -> str:
    return f"feature cache entry {cache.path(key)} for {utt.name} {problem}; recomputing"


def _load_or_compute(utt: Utterance, cfg: FeatureConfig, cache: FeatureCache | None, notes: list[str]
                     ) -> tuple[np.ndarray | None, str | None, str | None, bool]:
    """:func:`load_or_compute`, with warnings appended to ``notes`` instead of issued."""
    key = None
    if cache is not None:
        try:
            key = cache.key(utt, cfg)
        except AudioError as exc:
            return None, None, exc.reason, False
        except OSError:
            key = None  # unreadable file: _worker reports why
        if key is not None:
            x, problem = cache.fetch(key, cfg.n_dims)
            if x is not None:
                return x, str(cache.path(key)), None, True
            if problem is not None:
                notes.append(_bad_entry(cache, key, utt, problem))
                if cache.path(key).exists():  # could not be removed: do not try to write over it
                    key = None
    x, err, note = _worker((utt, cfg, cache, key))
    if note is not None:
        notes.append(note)
    if err is not None:
        return None, None, err, False
    path = str(cache.path(key)) if key is not None and note is None else None
    return x, path, None, False


def load_or_compute(utt: Utterance, cfg: FeatureConfig, cache: FeatureCache | None
                    ) -> tuple[np.ndarray | None, str | None, str | None, bool]:
    """One utterance's features from the cache (verified), else computed (and cached): the work of one cluster task.

    Returns ``(features | None, cache entry path | None, error message | None, cache hit)``; never raises for
    a bad file. A bad cache entry or a failed write is a :class:`FeatureCacheWarning` (where this runs).
    """
    notes: list[str] = []
    out = _load_or_compute(utt, cfg, cache, notes)
    for note in notes:
        warnings.warn(note, FeatureCacheWarning, stacklevel=2)
    return out


def _cluster_worker(job: tuple[Utterance, FeatureConfig, FeatureCache | None]):
    """Cluster task: (cache entry path | None, array | None, error | None, cache hit, warnings) for one utterance.

    The array travels back only when it could not be left in the cache; warnings travel back to be shown by the
    client rather than in a worker's log.
    """
    notes: list[str] = []
    x, path, err, hit = _load_or_compute(*job, notes)
    return path, (x if path is None else None), err, hit, notes


def _open_entry(path: str) -> np.ndarray:
    """Memory-map a cache entry written (and verified) by a cluster worker; a clear error when this machine
    cannot see it."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ClusterError(f"feature cache entry {path} written by a Dask worker cannot be read here ({exc}); "
                           "the client and the workers must share the feature cache folder (--cache)") from None


def _warn(notes: list[str], out: list[str], category: type[Warning] = FeatureCacheWarning) -> None:
    """Issue each one-line warning not yet issued in this run and keep it in ``out`` (``FeatureSet.warnings``):
    a cache folder that refuses every write gives one line, not one per file."""
    for note in notes:
        if note not in out:
            warnings.warn(note, category, stacklevel=3)
            out.append(note)


def _compute_on_cluster(utts, cfg, cache, scheduler, bar) -> FeatureSet:
    feats: list[np.ndarray | None] = [None] * len(utts)
    paths: list[str | None] = [None] * len(utts)
    errors, hits, notes = [], 0, []
    jobs = [(u, cfg, cache) for u in utts]
    for i, (path, x, err, hit, worker_notes) in enumerate(parallel_map(_cluster_worker, jobs, scheduler=scheduler)):
        _warn(worker_notes, notes)
        if err is not None:
            errors.append((utts[i], err))
        elif path is not None:
            paths[i] = path
            feats[i] = _open_entry(path)
        else:
            feats[i] = x
        hits += hit
        bar.update()
    bar.close()
    return FeatureSet(list(utts), feats, errors, hits, paths, notes)


class _Lookup:
    """Progress of the cache look-up: files it settles are held back (to follow the plan line), unless it takes
    longer than ``after`` seconds, when ``note`` is printed and the progress line goes live."""

    def __init__(self, bar: Progress, note: str, after: float = 1.0):
        self.bar, self.note, self.after = bar, note, after
        self.t0, self.live, self.held = time.perf_counter(), False, 0

    def tick(self) -> None:
        """Called before each file: goes live (note, held count) once the look-up is slow."""
        if not self.live and time.perf_counter() - self.t0 > self.after:
            self.bar.note(self.note)
            self.live = True
            self.flush()

    def settled(self) -> None:
        """One more file needs no extraction (a hit, or refused)."""
        if self.live:
            self.bar.update()
        else:
            self.held += 1

    def flush(self) -> None:
        """Show the held-back count on the progress line."""
        if self.held:
            self.bar.update(self.held)
            self.held = 0


def _as_cache(cache: FeatureCache | str | os.PathLike | None) -> FeatureCache | None:
    if cache is None or isinstance(cache, FeatureCache):
        return cache
    return FeatureCache(cache)


def compute_features(utts: list[Utterance], cfg: FeatureConfig, *, n_jobs: int | None = None,
                     progress: bool = True, desc: str = "features",
                     cache: FeatureCache | str | os.PathLike | None = None, scheduler: str | None = None
                     ) -> FeatureSet:
    """Features of every utterance: cached ones loaded (and verified) here, the rest computed in parallel.

    Parameters
    ----------
    utts : utterances to process.
    cfg : feature configuration.
    n_jobs : worker processes for the files not in the cache, each limited to one BLAS/OpenMP thread;
        ``None``: as many as pay, up to all cores, this process starting meanwhile (see the module notes and
        :func:`plan_jobs`); ``-1``: all cores.
    progress : show progress on stderr: first what is to be done (files, how many to compute, minutes of audio,
        processes), then a progress line.
    desc : label of the progress line.
    cache : a :class:`FeatureCache` or its folder; ``None`` disables caching.
    scheduler : Dask scheduler address: the files are processed on that cluster (see the module notes).

    Returns
    -------
    FeatureSet with one entry per utterance (in order), the list of failures, the number of cache hits and the
    warnings issued (one line each: bad cache entries, entries not written, worker processes that died).
    """
    cache = _as_cache(cache)
    bar = Progress(len(utts), desc, enabled=progress)
    if scheduler:
        bar.note(f"{desc}: {len(utts)} files on the Dask cluster at {scheduler}")
        return _compute_on_cluster(utts, cfg, cache, scheduler, bar)
    feats: list[np.ndarray | None] = [None] * len(utts)
    keys: list[str | None] = [None] * len(utts)
    errors: dict[int, str] = {}
    notes: list[str] = []
    hits = 0
    # files settled by the look-up (hits, refusals) are counted on the progress line after the plan line -- or at
    # once, after a note, when the look-up is slow (many or large files to hash)
    lookup = _Lookup(bar, f"{desc}: looking up {len(utts)} files in the feature cache {cache.root}" if cache else "")
    if cache is not None:
        for i, u in enumerate(utts):
            lookup.tick()
            try:
                keys[i] = cache.key(u, cfg)
            except AudioError as exc:  # a FIFO, a device...: refused before anything reads it
                errors[i] = exc.reason
                lookup.settled()
                continue
            except OSError:
                continue  # unreadable file: the worker reports why
            feats[i], problem = cache.fetch(keys[i], cfg.n_dims)
            if feats[i] is not None:
                hits += 1
                lookup.settled()
            elif problem is not None:
                _warn([_bad_entry(cache, keys[i], u, problem)], notes)
                if cache.path(keys[i]).exists():  # could not be removed: do not try to write over it
                    keys[i] = None
    todo = [i for i in range(len(utts)) if feats[i] is None and i not in errors]
    seconds, exact = estimate_audio_seconds([utts[i] for i in todo]) if todo else (0.0, True)
    per_second, startup = extraction_costs(cfg)
    if n_jobs is None:
        jobs = plan_jobs(len(todo), seconds, effective_jobs(None), per_second=per_second, startup=startup,
                         warm=live_workers())
    else:
        jobs = max(1, min(effective_jobs(n_jobs), len(todo)))
    bar.note(plan_line(desc, len(utts), len(todo), seconds, exact, jobs, cache is not None, hits))
    lookup.flush()
    written: set[int] = set()
    batches = batch_files(todo, jobs, len(todo) * PER_FILE_SECONDS + seconds * per_second)

    lost: list[int] = []

    def run(groups: list[list[int]], inline_start: bool):
        work = [(cfg, cache, [(utts[i], keys[i]) for i in g]) for g in groups]
        yield from zip(groups, parallel_map(_worker_batch, work, n_jobs=jobs, lost=_lost, describe=_describe,
                                            on_warning=lambda msg: _warn([msg], notes, WorkerLostWarning),
                                            inline_start=inline_start), strict=True)

    def results():
        # n_jobs=None: this process starts on the files while the workers start (see the module notes)
        yield from run(batches, inline_start=n_jobs is None)
        if lost:  # the files of a batch whose worker died twice, one by one: only the culprit is lost
            yield from run([[i] for i in lost], inline_start=False)

    for group, out in results():
        if out is None:
            lost.extend(group)
            continue
        for i, (x, err, note) in zip(group, out, strict=True):
            feats[i] = x
            if err is not None:
                errors[i] = err
            elif keys[i] is not None and note is None:
                written.add(i)
            if note is not None:
                _warn([note], notes)
        bar.update(len(group))
    bar.close()
    computed = set(todo)
    paths = [str(cache.path(k)) if cache is not None and k is not None and feats[i] is not None
             and (i in written or i not in computed) else None for i, k in enumerate(keys)]
    return FeatureSet(list(utts), feats, [(utts[i], errors[i]) for i in sorted(errors)], hits, paths, notes)
