"""Output locations checked before any work starts, and report folders replaced as a whole.

Every command that writes (a model file, a report folder, a plot, manifests) calls :func:`check_output_file` or
:func:`check_output_dir` first, so a path that cannot be written fails in the first second, not after an hour of
training. The checks create nothing: they prove the nearest existing folder on the way writable by creating and
removing a small probe file there (missing folders are created when the output is written); any refusal is an
``OSError`` carrying the path (the command line prints ``error: PATH: reason``).

:func:`replace_dir` writes a folder of files as one unit: the files go into a temporary sibling folder which is
then swapped in, so a folder never mixes two runs' files, and a run killed half-way leaves the previous folder
as it was (its temporary sibling is removed by the next run).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .errors import GmmspeechError

__all__ = ["check_output_file", "check_output_dir", "replace_dir", "OutputFolderError", "STALE_SECONDS"]

#: Temporary siblings older than this (seconds) are left-overs of killed runs and are removed.
STALE_SECONDS = 3600.0
_TMP_TAG = ".gmmspeech-tmp-"


class OutputFolderError(GmmspeechError):
    """An output folder exists but holds files gmmspeech did not write; it is never overwritten."""


def _probe(folder: Path, target: Path) -> None:
    """Prove ``folder`` writable by creating and removing a probe file; ``OSError`` naming ``target`` otherwise."""
    try:
        fd, name = tempfile.mkstemp(prefix=".gmmspeech-probe-", dir=folder)
    except OSError as exc:
        where = "" if folder == target.parent else f" in {folder}"
        raise OSError(exc.errno, f"cannot write here ({exc.strerror or exc}{where})", str(target)) from None
    os.close(fd)
    os.unlink(name)


def _writable_parent(path: Path) -> None:
    """Check that ``path``'s folder exists and is writable, or can be created: every existing component on the
    way must be a folder, and the nearest existing one writable. Nothing is created."""
    anc = path.parent
    while not anc.exists():
        if anc.parent == anc:
            break
        anc = anc.parent
    if not anc.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{anc} is a file, not a folder", str(path))
    _probe(anc, path)


def check_output_file(path: str | os.PathLike) -> Path:
    """Check that a file can be written at ``path`` (its missing folders can be created); returns it as a Path.

    Raises ``IsADirectoryError`` when ``path`` is a folder, ``NotADirectoryError`` when a parent is a file, and
    ``OSError`` (read-only, permission, full disk...) when its folder cannot be written -- each naming the path.
    """
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder; give a file name", str(p))
    if p.exists() and not p.is_file():
        raise OSError(errno.EINVAL, "exists and is not a regular file", str(p))
    _writable_parent(p)
    return p


def check_output_dir(path: str | os.PathLike, expected: Iterable[str]) -> Path:
    """Check that folder ``path`` can be (re)written by :func:`replace_dir` with files named ``expected``.

    A missing folder is fine (its parent is created); an existing one must be a folder holding only names from
    ``expected`` (a previous run's files) -- anything else raises :class:`OutputFolderError`, so a user's folder
    is never replaced. The parent folder must be writable (the swap happens there).
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "exists and is not a folder; give a folder for the report", str(p))
    if p.is_dir():
        foreign = sorted(q.name for q in p.iterdir() if q.name not in set(expected))
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise OutputFolderError(f"{p}: holds files that are not a gmmspeech report ({shown}); give a new or "
                                    "empty folder (the report replaces the folder's contents)")
    _writable_parent(p)
    return p


def _clean_stale(parent: Path, name: str) -> None:
    """Remove temporary siblings of ``name`` left by killed runs (older than :data:`STALE_SECONDS`)."""
    now = time.time()
    for q in parent.glob(f".{name}{_TMP_TAG}*"):
        try:
            if now - q.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(q, ignore_errors=True)
        except OSError:
            continue


def replace_dir(path: str | os.PathLike, build: Callable[[Path], list[Path]]) -> list[Path]:
    """Write a folder as a whole: ``build(tmp)`` writes the files into a temporary sibling, which then replaces
    ``path``. Returns the final paths of the files ``build`` reported.

    Readers see either the old folder or the new one, never a mix (between the two renames of the swap the
    folder is briefly absent). If ``build`` fails, ``path`` is untouched and the temporary folder removed.
    """
    target = Path(path)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(parent, target.name)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}{_TMP_TAG}", dir=parent))
    old = None
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        written = build(tmp)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}{_TMP_TAG}old-", dir=parent))
            os.rmdir(old)
            os.rename(target, old)
        try:
            os.rename(tmp, target)
        except BaseException:
            if old is not None:
                os.rename(old, target)   # put the previous folder back
                old = None
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return [target / q.relative_to(tmp) for q in written]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
