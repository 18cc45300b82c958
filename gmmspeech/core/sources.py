"""Where the frames of an EM fit come from: one array, a list of arrays / ``.npy`` paths, or a callable.

:class:`FrameSource` opens the frames anew on every pass (``.npy`` files memory-mapped), so data larger than
memory can be trained on. :func:`batch_plan` says how short blocks (e.g. one per file) are joined into E-step
batches; local fits and cluster workers join them the same way, so their statistics add up to the same sums.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from ..infra.errors import DataError

__all__ = ["FrameSource", "BATCH_FRAMES", "batch_plan", "is_block_list"]

#: Short blocks (e.g. one per file) are joined into batches of about this many frames for the E-step: the
#: per-block set-up costs 20-40 % of the time on files of a few hundred frames. Blocks this long or longer are
#: used as they are (memory-mapped files stay on disk).
BATCH_FRAMES = 65536
_SCAN_ROWS = 16384   # rows converted to float64 at a time by the scan (bounds its memory to a few MB)


def batch_plan(lengths: Iterable[int], target: int = BATCH_FRAMES) -> list[tuple[int, int]]:
    """How a list of blocks is joined into E-step batches.

    Parameters
    ----------
    lengths : number of frames of each block, in order.
    target : batch size in frames.

    Returns
    -------
    list of ``(lo, hi)`` item ranges, in order. A block of ``target`` frames or more is a batch of its own;
    shorter consecutive blocks are joined until they reach ``target`` frames (or the next block is a long one,
    or the list ends). The plan of a list that starts at a batch boundary is the same as that part of the whole
    list's plan, so statistics computed on groups of whole batches (e.g. by cluster workers) add up to exactly
    the local E-step's.
    """
    plan, lo, size, n_items = [], 0, 0, 0
    for i, n in enumerate(lengths):
        n_items = i + 1
        if n >= target:
            if i > lo:
                plan.append((lo, i))
            plan.append((i, i + 1))
            lo, size = i + 1, 0
            continue
        size += n
        if size >= target:
            plan.append((lo, i + 1))
            lo, size = i + 1, 0
    if n_items > lo:
        plan.append((lo, n_items))
    return plan


def is_block_list(X) -> bool:
    """Whether ``X`` is a list/tuple of blocks (2-D arrays or paths) rather than one 2-D array-like.

    A list whose items are all ``.npy`` paths or 2-D arrays is a list of blocks; anything else (e.g. a list of
    rows, as scikit-learn accepts) is one array-like. An empty list is an (empty) list of blocks.
    """
    return isinstance(X, list | tuple) and all(
        isinstance(item, str | os.PathLike) or np.ndim(item) == 2 for item in X)


class FrameSource:
    """Frames given as one (N, D) array, a list of (n, D) arrays / ``.npy`` paths, or a callable.

    Parameters
    ----------
    X : an (N, D) array (possibly memory-mapped), a list/tuple of (n, D) arrays or ``.npy`` paths, or a
        callable returning an iterable of (n, D) arrays, called anew on every pass and expected to yield the
        same frames each time. Empty blocks are skipped.

    Attributes
    ----------
    n_features : D, known after the first block was read (``None`` before).
    """

    def __init__(self, X):
        self._factory: Callable | None = None
        self._items: list | None = None
        if callable(X):
            self._factory = X
        elif is_block_list(X):
            self._items = list(X)
        else:
            arr = np.asarray(X)
            if arr.ndim != 2:
                raise DataError(f"expected a 2-D array of frames (N, D), got shape {arr.shape}")
            self._items = [arr]
        self.n_features: int | None = None

    @property
    def items(self) -> list | None:
        """The list of blocks (arrays or paths) as given, or None for a callable source."""
        return self._items

    def blocks(self) -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(name, (n, D) array)`` for every non-empty block, opened anew (files memory-mapped).

        Raises
        ------
        DataError
            for an unreadable file, a block that is not 2-D numbers, or blocks disagreeing on D.
        """
        raw: Iterable = self._factory() if self._factory is not None else self._items
        for i, item in enumerate(raw):
            is_path = isinstance(item, str | os.PathLike)
            name = str(item) if is_path else f"chunk {i}"
            if is_path:
                try:
                    arr = np.load(Path(item), mmap_mode="r", allow_pickle=False)
                except (OSError, ValueError) as e:
                    raise DataError(f"{item}: cannot read feature chunk ({e})") from None
            else:
                arr = np.asarray(item)
            if arr.ndim != 2:
                raise DataError(f"{name}: expected a 2-D array of frames (N, D), got shape {arr.shape}")
            if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
                raise DataError(f"{name}: frames must be numbers, got dtype {arr.dtype}")
            if self.n_features is not None and arr.shape[1] != self.n_features and arr.shape[0]:
                raise DataError(f"{name}: has {arr.shape[1]} feature dimensions, expected {self.n_features}")
            if arr.shape[0] == 0:
                continue   # an empty chunk contributes nothing
            self.n_features = arr.shape[1]
            yield name, arr

    def batches(self) -> Iterator[tuple[str, np.ndarray]]:
        """Like :meth:`blocks`, but short consecutive blocks joined into batches as :func:`batch_plan` says."""
        if self._items is None:
            yield from self.blocks()
            return
        pending: list[tuple[str, np.ndarray]] = []
        size = 0

        def flush():
            if len(pending) == 1:
                return pending[0]
            return pending[0][0], np.concatenate([a for _, a in pending])

        for name, arr in self.blocks():
            if arr.shape[0] >= BATCH_FRAMES:
                if pending:
                    yield flush()
                    pending, size = [], 0
                yield name, arr
                continue
            pending.append((name, arr))
            size += arr.shape[0]
            if size >= BATCH_FRAMES:
                yield flush()
                pending, size = [], 0
        if pending:
            yield flush()

    def scan(self) -> tuple[int, np.ndarray, np.ndarray]:
        """One pass over all frames: checks every value is finite.

        Returns
        -------
        n_frames, mean (D,), variance (D,) -- float64, computed with Chan et al.'s pairwise update (stable for
        any number of frames and any offset).

        Raises
        ------
        DataError
            for NaN or infinite values (naming the block and the first bad frame), or no frames at all.
        """
        n, mean, m2 = 0, None, None
        for name, arr in self.blocks():
            for s in range(0, arr.shape[0], _SCAN_ROWS):
                x = np.asarray(arr[s:s + _SCAN_ROWS], dtype=np.float64)
                if not np.all(np.isfinite(x)):
                    row = s + int(np.flatnonzero(~np.all(np.isfinite(x), axis=1))[0])
                    raise DataError(f"{name}: the data contain NaN or infinite values (first at frame {row})")
                cm = x.mean(0)
                cm2 = ((x - cm) ** 2).sum(0)
                if mean is None:
                    n, mean, m2 = x.shape[0], cm, cm2
                else:
                    tot = n + x.shape[0]
                    delta = cm - mean
                    mean = mean + delta * x.shape[0] / tot
                    m2 = m2 + cm2 + delta**2 * n * x.shape[0] / tot
                    n = tot
        if n == 0:
            raise DataError("no frames to train on (the data or every chunk is empty)")
        return n, mean, m2 / n

    def gather(self, idx: np.ndarray) -> np.ndarray:
        """Rows at sorted global indices ``idx`` (int array), as a float64 (len(idx), D) array."""
        out, offset = [], 0
        for _, arr in self.blocks():
            lo, hi = np.searchsorted(idx, [offset, offset + arr.shape[0]])
            if hi > lo:
                out.append(np.asarray(arr[idx[lo:hi] - offset], dtype=np.float64))
            offset += arr.shape[0]
        return np.concatenate(out)
