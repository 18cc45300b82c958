"""Local worker processes under real faults: a worker SIGKILLed mid-task, a main process SIGKILLed mid-run."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gmmspeech.data.manifest import Utterance
from gmmspeech.infra.parallel import WorkerLostError, WorkerLostWarning, parallel_map

# Worker processes import this module to find the functions and classes below: it imports nothing heavy at the
# top (the feature code is imported where needed), so that a worker restarted after a kill is ready in a moment.

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _die_for(item):
    """Worker function: SIGKILLs its own process for the chosen item (once, or always), else returns 10 x."""
    x, victim, marker = item
    if x == victim and (marker is None or not os.path.exists(marker)):
        if marker is not None:
            Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return 10 * x


def test_a_worker_killed_once_costs_one_retry_and_one_warning_line(tmp_path):
    items = [(x, 3, str(tmp_path / "killed")) for x in range(8)]
    with pytest.warns(WorkerLostWarning) as rec:
        out = list(parallel_map(_die_for, items, n_jobs=2, describe=lambda it: f"file{it[0]}.wav"))
    assert out == [10 * x for x in range(8)]
    assert (tmp_path / "killed").exists()  # a worker really died
    [w] = rec
    msg = str(w.message)
    assert "\n" not in msg and "killed by SIGKILL" in msg and "file3.wav" in msg


def _row_sum(i, shared):
    arrays, scale = shared
    return float(arrays[i].sum()) * scale, type(arrays[i]).__name__


def test_the_shared_object_reaches_every_worker_once_as_memory_maps():
    import numpy as np

    arrays = [np.full((1000, 50), i, np.float32) for i in range(6)]
    out = list(parallel_map(_row_sum, range(6), n_jobs=2, shared=(arrays, 2.0)))
    assert out == [(i * 50_000 * 2.0, "memmap") for i in range(6)]


def test_an_item_that_kills_its_worker_twice_ends_the_run_clearly_without_lost():
    with pytest.warns(WorkerLostWarning), pytest.raises(WorkerLostError, match="died twice while processing 1"):
        list(parallel_map(_die_for, [(x, 1, None) for x in range(2)], n_jobs=2, describe=lambda it: str(it[0])))


def test_feature_extraction_reports_a_file_whose_worker_dies_twice_like_any_bad_file(tmp_path):
    """The file is retried once (alone), then skipped and listed in the errors; the other files go on."""
    import numpy as np

    from gmmspeech.data.featstore import compute_features
    from gmmspeech.frontend.features import FeatureConfig

    from .conftest import chirpy, write_wav

    cfg = FeatureConfig(n_mfcc=13)
    utts = [(_FatalUtterance if name == "victim" else Utterance)(
                write_wav(tmp_path / f"{name}.wav", chirpy("low", 0.3, seed=i)), "x", line=i + 2)
            for i, name in enumerate(["a", "b", "victim", "c", "d"])]
    fs = compute_features(utts, cfg, n_jobs=2, progress=False, cache=tmp_path / "cache")
    assert [u.path.name for u, _ in fs.errors] == ["victim.wav"]
    assert "worker process died twice" in fs.errors[0][1]
    assert [u.path.name for u, _ in fs.ok()] == ["a.wav", "b.wav", "c.wav", "d.wav"]
    assert len(fs.warnings) == 1 and "victim.wav" in fs.warnings[0]
    assert all(x.shape[1] == cfg.n_dims and np.isfinite(x).all() for _, x in fs.ok())


class _FatalUtterance(Utterance):
    """An utterance whose segment length, asked for by the worker about to read it, kills that worker (as the
    out-of-memory killer would)."""

    @property
    def duration(self):
        os.kill(os.getpid(), signal.SIGKILL)


_RUNNER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from gmmspeech.infra.parallel import parallel_map
    for _ in parallel_map(time.sleep, [120] * 3, n_jobs=3):
        pass
""")


def test_workers_exit_soon_after_the_main_process_is_killed(tmp_path):
    psutil = pytest.importorskip("psutil")
    script = tmp_path / "run.py"
    script.write_text(_RUNNER.format(root=str(Path(__file__).resolve().parent.parent)))
    main = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, stderr=subprocess.DEVNULL)
    children = []
    try:
        deadline = time.monotonic() + 60
        while sum("loky" in " ".join(c.cmdline()) for c in children) < 3:  # 3 workers (+ resource trackers)
            assert main.poll() is None, "the parallel job ended early"
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.2)
            with contextlib.suppress(psutil.Error):
                children = psutil.Process(main.pid).children(recursive=True)
    finally:
        main.send_signal(signal.SIGKILL)
        main.wait()
    deadline = time.monotonic() + 20  # generous: the workers watch their parent every 0.5 s
    while (alive := [c for c in children if _running(c)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    for c in alive:  # do not leave them behind even when the test fails
        with contextlib.suppress(Exception):
            c.kill()
    assert not alive, f"processes outlived their main process: {alive}"


def _running(proc) -> bool:
    """Still running (a zombie -- exited, waiting for its new parent to reap it -- counts as gone)."""
    import psutil

    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
