"""Features for many files: cached on disk, computed in parallel, with progress and a per-file error report.

A file that cannot be read or yields no frames is skipped and reported; the others go on.

With a Dask scheduler (``scheduler=``), each worker hashes its file, loads or computes the features and writes
the cache entry itself; only the entry's path comes back, and the client memory-maps the entry. The client and
the workers must therefore share the cache folder (and see the audio at the same paths).

The cache keeps one ``.npy`` per utterance, named by a hash of the audio file's *content* (not its name or
date), the segment bounds, the full :class:`FeatureConfig` and :data:`features.FEATURES_VERSION`: a changed
file, config or feature code can never return stale features. Entries are written atomically (temp file +
rename), and an entry that does not load as the expected float32 matrix is discarded and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..frontend.audio import AudioError
from ..frontend.features import FEATURES_VERSION, FeatureConfig
from ..frontend.fileframes import file_features
from ..infra.atomic import atomic_write
from ..infra.parallel import ClusterError, parallel_map
from ..infra.progress import Progress
from .manifest import Utterance

__all__ = ["FeatureSet", "FeatureCache", "default_cache_dir", "file_digest", "features_for", "compute_features",
           "load_or_compute"]


def default_cache_dir() -> Path:
    """``$GMMSPEECH_CACHE``, else ``$XDG_CACHE_HOME/gmmspeech/features``, else ``~/.cache/gmmspeech/features``."""
    env = os.environ.get("GMMSPEECH_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gmmspeech" / "features"


_DIGESTS: dict[tuple, str] = {}


def file_digest(path: str | os.PathLike) -> str:
    """BLAKE2b-128 hex digest of a file's bytes (memoised per process on path, size, mtime and inode)."""
    st = os.stat(path)
    memo = (os.fspath(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if memo not in _DIGESTS:
        h = hashlib.blake2b(digest_size=16)
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        _DIGESTS[memo] = h.hexdigest()
    return _DIGESTS[memo]


class FeatureCache:
    """A folder of cached feature matrices, ``ROOT/ab/abcdef....npy``.

    Parameters
    ----------
    root : cache folder (created on first write); ``None`` uses :func:`default_cache_dir`.
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r})"

    def key(self, utt: Utterance, cfg: FeatureConfig) -> str:
        """Cache key of an utterance's features: hash of file content, segment, config and code version."""
        doc = {"v": FEATURES_VERSION, "file": file_digest(utt.path), "start": utt.start, "end": utt.end,
               "features": cfg.to_dict()}
        return hashlib.blake2b(json.dumps(doc, sort_keys=True).encode(), digest_size=20).hexdigest()

    def path(self, key: str) -> Path:
        """File that holds (or will hold) the entry ``key``."""
        return self.root / key[:2] / f"{key}.npy"

    def load(self, key: str, n_dims: int | None = None) -> np.ndarray | None:
        """The cached float32 (n_frames, n_dims) matrix, or ``None`` on a miss; a broken entry is deleted."""
        p = self.path(key)
        try:
            x = np.load(p, allow_pickle=False)
        except FileNotFoundError:
            return None
        except Exception:  # noqa: BLE001 - any unreadable entry is a miss, recomputed and rewritten
            x = None
        if x is None or x.ndim != 2 or x.dtype != np.float32 or (n_dims is not None and x.shape[1] != n_dims):
            p.unlink(missing_ok=True)
            return None
        return x

    def store(self, key: str, x: np.ndarray) -> None:
        """Write an entry atomically (a failed write leaves no entry, only a warning)."""
        try:
            atomic_write(self.path(key), lambda f: np.save(f, np.ascontiguousarray(x, np.float32),
                                                           allow_pickle=False))
        except OSError as exc:
            warnings.warn(f"feature cache {self.root}: cannot write entry ({exc})", RuntimeWarning, stacklevel=2)


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
    """

    utterances: list[Utterance]
    features: list[np.ndarray | None]
    errors: list[tuple[Utterance, str]] = field(default_factory=list)
    cached: int = 0
    paths: list[str | None] = field(default_factory=list)

    def ok(self) -> list[tuple[Utterance, np.ndarray]]:
        """The utterances that succeeded, with their features."""
        return [(u, f) for u, f in zip(self.utterances, self.features, strict=True) if f is not None]


def features_for(utt: Utterance, cfg: FeatureConfig) -> np.ndarray:
    """Load one utterance (or segment) and return its features, shape (n_frames, cfg.n_dims).

    Raises :class:`AudioError` naming the file for any problem, including a too-short signal or a file in which
    VAD finds no voiced frame.
    """
    return file_features(utt.path, cfg, offset=utt.start or 0.0, duration=utt.duration)


def _worker(job: tuple[Utterance, FeatureConfig, FeatureCache | None, str | None]
            ) -> tuple[np.ndarray | None, str | None]:
    utt, cfg, cache, key = job
    try:
        x = features_for(utt, cfg)
    except AudioError as exc:
        return None, exc.reason
    except Exception as exc:  # noqa: BLE001 - a batch run must survive any single bad file
        return None, f"{type(exc).__name__}: {exc}"
    if cache is not None and key is not None:
        cache.store(key, x)
    return x, None


def load_or_compute(utt: Utterance, cfg: FeatureConfig, cache: FeatureCache | None
                    ) -> tuple[np.ndarray | None, str | None, str | None, bool]:
    """One utterance's features from the cache, else computed (and cached): the work of one cluster task.

    Returns ``(features | None, cache entry path | None, error message | None, cache hit)``; never raises for
    a bad file.
    """
    key = None
    if cache is not None:
        try:
            key = cache.key(utt, cfg)
        except OSError:
            key = None  # unreadable file: _worker reports why
        if key is not None:
            x = cache.load(key, cfg.n_dims)
            if x is not None:
                return x, str(cache.path(key)), None, True
    x, err = _worker((utt, cfg, cache, key))
    if err is not None:
        return None, None, err, False
    path = str(cache.path(key)) if key is not None and cache.path(key).is_file() else None
    return x, path, None, False


def _cluster_worker(job: tuple[Utterance, FeatureConfig, FeatureCache | None]):
    """Cluster task: (cache entry path | None, array | None, error | None, cache hit) for one utterance.

    The array travels back only when it could not be left in the cache.
    """
    x, path, err, hit = load_or_compute(*job)
    return path, (x if path is None else None), err, hit


def _open_entry(path: str) -> np.ndarray:
    """Memory-map a cache entry written by a cluster worker; a clear error when this machine cannot see it."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ClusterError(f"feature cache entry {path} written by a Dask worker cannot be read here ({exc}); "
                           "the client and the workers must share the feature cache folder (--cache)") from None


def _compute_on_cluster(utts, cfg, cache, scheduler, bar) -> FeatureSet:
    feats: list[np.ndarray | None] = [None] * len(utts)
    paths: list[str | None] = [None] * len(utts)
    errors, hits = [], 0
    jobs = [(u, cfg, cache) for u in utts]
    for i, (path, x, err, hit) in enumerate(parallel_map(_cluster_worker, jobs, scheduler=scheduler)):
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
    return FeatureSet(list(utts), feats, errors, hits, paths)


def _as_cache(cache: FeatureCache | str | os.PathLike | None) -> FeatureCache | None:
    if cache is None or isinstance(cache, FeatureCache):
        return cache
    return FeatureCache(cache)


def compute_features(utts: list[Utterance], cfg: FeatureConfig, *, n_jobs: int | None = None,
                     progress: bool = True, desc: str = "features",
                     cache: FeatureCache | str | os.PathLike | None = None, scheduler: str | None = None
                     ) -> FeatureSet:
    """Features of every utterance: cached ones loaded here, the rest computed in parallel over files.

    Parameters
    ----------
    utts : utterances to process.
    cfg : feature configuration.
    n_jobs : worker processes for the files not in the cache (``None``: all cores); each worker is limited to
        one BLAS/OpenMP thread.
    progress : show a progress line on stderr.
    desc : label of the progress line.
    cache : a :class:`FeatureCache` or its folder; ``None`` disables caching.
    scheduler : Dask scheduler address: the files are processed on that cluster (see the module notes).

    Returns
    -------
    FeatureSet with one entry per utterance (in order), the list of failures and the number of cache hits.
    """
    cache = _as_cache(cache)
    bar = Progress(len(utts), desc, enabled=progress)
    if scheduler:
        return _compute_on_cluster(utts, cfg, cache, scheduler, bar)
    feats: list[np.ndarray | None] = [None] * len(utts)
    keys: list[str | None] = [None] * len(utts)
    hits = 0
    if cache is not None:
        for i, u in enumerate(utts):
            try:
                keys[i] = cache.key(u, cfg)
            except OSError:
                continue  # unreadable file: the worker reports why
            feats[i] = cache.load(keys[i], cfg.n_dims)
            if feats[i] is not None:
                hits += 1
                bar.update()
    todo = [i for i in range(len(utts)) if feats[i] is None]
    errors: dict[int, str] = {}
    jobs = [(utts[i], cfg, cache, keys[i]) for i in todo]
    for i, (x, err) in zip(todo, parallel_map(_worker, jobs, n_jobs=n_jobs), strict=True):
        feats[i] = x
        if err is not None:
            errors[i] = err
        bar.update()
    bar.close()
    paths = [str(cache.path(k)) if cache is not None and k is not None and feats[i] is not None
             and cache.path(k).is_file() else None for i, k in enumerate(keys)]
    return FeatureSet(list(utts), feats, [(utts[i], errors[i]) for i in sorted(errors)], hits, paths)
