"""Atomic file writes: a crash never leaves a half-written model, report or cache entry behind.

A write fills a temporary file in the target's folder, then renames it over the target. The temporary file's
name says who wrote it: ``.NAME.gmmspeech-HOST-PID-RANDOM.tmp``. A writer killed before the rename (SIGKILL,
power loss) leaves that file behind; the next atomic write into the same folder removes such leftovers when their
writer process is gone (same host, dead pid) or when they are older than :data:`STALE_AFTER` seconds (any host:
a cache folder may be shared by several machines). Temporary files of the older ``mkstemp`` naming
(``.NAME.XXXXXXXX.tmp``) are removed when they are that old and belong to the file being written.

Every failure -- the target is a directory, its parent is a file, the filesystem is read-only or full -- raises
an ``OSError`` whose ``filename`` is the target path (so the command line prints ``error: PATH: reason``), and
leaves no temporary file behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "atomic_write_text", "remove_stale_temp_files", "STALE_AFTER"]

#: Age in seconds after which a leftover temporary file is removed whoever wrote it.
STALE_AFTER = 3600.0

_TMP = re.compile(r"^\..*\.gmmspeech-(?P<host>\w*)-(?P<pid>\d+)-\w+\.tmp$")
_LEGACY = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")  # tempfile.mkstemp(prefix=".NAME.", suffix=".tmp")
_SWEPT: set[str] = set()


def _host() -> str:
    return re.sub(r"\W", "_", socket.gethostname(), flags=re.ASCII)[:32]


def _temp_name(target: str) -> str:
    # the target's name is only there for people looking at the folder: cut so the name stays under 255 bytes
    return f".{target[:80]}.gmmspeech-{_host()}-{os.getpid()}-{secrets.token_hex(4)}.tmp"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def remove_stale_temp_files(folder: str | os.PathLike, *, target: str | None = None,
                            max_age: float = STALE_AFTER) -> list[Path]:
    """Remove leftover temporary files of interrupted atomic writes from ``folder``; returns the removed paths.

    A file named like this module's temporary files is removed when it is older than ``max_age`` seconds, or when
    it was written on this host by a process that no longer exists. A temporary file of the older naming
    (``.NAME.XXXXXXXX.tmp``) is removed when older than ``max_age`` and ``NAME`` is ``target`` (or any name when
    ``target`` is ``None``: only for folders gmmspeech owns, like the feature cache). Never raises.
    """
    folder = Path(folder)
    removed: list[Path] = []
    now, host = time.time(), _host()
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if not name.endswith(".tmp"):
            continue
        m = _TMP.match(name)
        legacy = None if m else _LEGACY.match(name)
        if m is None and (legacy is None or (target is not None and legacy.group("name") != target)):
            continue
        p = folder / name
        try:
            st = p.lstat()
        except OSError:
            continue
        old = now - st.st_mtime > max_age
        dead = m is not None and m.group("host") == host and not _pid_alive(int(m.group("pid")))
        if (old or dead) and not p.is_dir():
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


def _with_path(exc: OSError, path: Path) -> OSError:
    """The same error, naming the target (not the temporary file) as its ``filename``."""
    exc.filename, exc.filename2 = str(path), None
    if exc.errno is None and not exc.strerror:
        exc.strerror = str(exc.args[0]) if exc.args else type(exc).__name__
    return exc


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> None:
    """Write ``path`` atomically: ``write(fileobj)`` fills a temp file in the same folder, then it is renamed.

    Creates missing parent folders. Raises ``OSError`` with ``filename=path`` (and leaves no temporary file) when
    the path is a directory, a parent is not a directory, or the filesystem refuses the write (read-only, full).
    Leftovers of killed writes in the folder are removed first (:func:`remove_stale_temp_files`).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise NotADirectoryError(errno.ENOTDIR, "a parent of this path is a file, not a folder", str(path)) from None
    except OSError as exc:
        raise _with_path(exc, path) from None
    folder = str(path.parent)
    if folder not in _SWEPT:  # once per folder and process: listing a big folder at every write would cost
        _SWEPT.add(folder)
        remove_stale_temp_files(path.parent, target=path.name)
    tmp = path.parent / _temp_name(path.name)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666 & ~umask: the usual permissions
    except OSError as exc:
        raise _with_path(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _with_path(exc, path) from None
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a UTF-8 text file atomically (same guarantees and errors as :func:`atomic_write`)."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
