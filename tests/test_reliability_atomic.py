"""Atomic writes under faults: bad targets, refusing filesystems, and leftovers of writers that were killed."""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from gmmspeech.data.manifest import Utterance, write_manifest
from gmmspeech.infra import atomic
from gmmspeech.infra.atomic import STALE_AFTER, atomic_write, atomic_write_text, remove_stale_temp_files


def _temps(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_directory_target_is_an_oserror_naming_it(tmp_path):
    target = tmp_path / "model.npz"
    target.mkdir()
    with pytest.raises(IsADirectoryError) as ei:
        atomic_write_text(target, "x")
    assert ei.value.filename == str(target) and not _temps(tmp_path)
    with pytest.raises(IsADirectoryError) as ei:  # the same through a public writer
        write_manifest(target, [Utterance(tmp_path / "a.wav", "en")])
    assert ei.value.filename == str(target)


def test_a_parent_that_is_a_file_is_an_oserror_naming_the_target(tmp_path):
    (tmp_path / "reports").write_text("a file, not a folder")
    target = tmp_path / "reports" / "sub" / "metrics.json"
    with pytest.raises(NotADirectoryError) as ei:
        atomic_write_text(target, "{}")
    assert ei.value.filename == str(target) and "not a folder" in ei.value.strerror
    assert _temps(tmp_path) == []


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS, errno.EIO])
def test_a_refusing_filesystem_is_an_oserror_naming_the_target_and_leaves_no_temp_file(tmp_path, monkeypatch, err):
    target = tmp_path / "out.csv"
    if err == errno.EROFS:  # the temp file cannot even be created
        def refuse(path, *args, **kwargs):
            raise OSError(err, os.strerror(err), str(path))

        monkeypatch.setattr(atomic.os, "open", refuse)
        with pytest.raises(OSError) as ei:
            atomic_write_text(target, "x")
        monkeypatch.undo()
    else:  # the disk fills up (or fails) half-way through the data
        def write(f):
            f.write(b"half of it")
            raise OSError(err, os.strerror(err))

        with pytest.raises(OSError) as ei:
            atomic_write(target, write)
    assert ei.value.errno == err and ei.value.filename == str(target)
    assert not target.exists() and _temps(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="permissions do not apply to root")
def test_a_read_only_folder_is_an_oserror_naming_the_target(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as ei:
            atomic_write_text(folder / "x.txt", "x")
        assert ei.value.filename == str(folder / "x.txt")
    finally:
        folder.chmod(0o755)


_KILLED_WRITER = """
import os, signal, sys
from gmmspeech.infra.atomic import atomic_write

def write(f):
    f.write(b"half of the model")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)  # killed mid-write, before the rename

atomic_write(sys.argv[1], write)
"""


def test_leftovers_of_killed_writers_are_removed_on_the_next_write(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(tmp_path / "model.npz")])
    assert proc.wait(timeout=120) == -signal.SIGKILL
    [dead] = _temps(tmp_path)  # what the killed writer left: its name says which process wrote it
    m = re.fullmatch(r"\.model\.npz\.gmmspeech-(\w*)-(\d+)-(\w+)\.tmp", dead)
    assert m and int(m.group(2)) == proc.pid and not (tmp_path / "model.npz").exists()
    host = m.group(1)
    old = time.time() - STALE_AFTER - 60
    files = {
        "dead": dead,
        "alive": f".model.npz.gmmspeech-{host}-{os.getpid()}-0a1b2c3d.tmp",     # a live writer: kept
        "other-host-old": ".model.npz.gmmspeech-elsewhere-1-0a1b2c3d.tmp",       # cannot check: by age
        "other-host-new": ".model.npz.gmmspeech-elsewhere-2-0a1b2c3d.tmp",
        "legacy-old": ".model.npz.k2j4h5g6.tmp",                                 # mkstemp naming, same target
        "legacy-other": ".notes.txt.k2j4h5g6.tmp",                               # another program's? kept
        "unrelated": ".cache.tmp",
    }
    for kind, name in files.items():
        if kind != "dead":
            (tmp_path / name).write_text(kind)
        if kind.endswith("old") or kind == "legacy-other":
            os.utime(tmp_path / name, (old, old))
    atomic_write_text(tmp_path / "model.npz", "new")
    assert (tmp_path / "model.npz").read_text() == "new"
    assert _temps(tmp_path) == sorted(files[k] for k in ("alive", "other-host-new", "legacy-other", "unrelated"))
    # and the function itself, for a folder gmmspeech owns (any target)
    removed = remove_stale_temp_files(tmp_path, max_age=0)
    assert sorted(p.name for p in removed) == sorted(files[k] for k in ("alive", "other-host-new", "legacy-other"))


def test_a_long_target_name_still_gets_a_valid_temp_name(tmp_path):
    target = tmp_path / ("x" * 250)  # a temp name of ".NAME.suffix" would pass the 255-byte limit
    atomic_write_text(target, "ok")
    assert target.read_text() == "ok" and _temps(tmp_path) == []
