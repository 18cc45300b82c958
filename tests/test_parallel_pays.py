"""Parallel feature extraction only where it pays: the job plan, the first progress line, batches, inline start.

Worker processes import this module to find the classes below: nothing heavy is imported at the top.
"""

from __future__ import annotations

import os
import signal
import sys

import pytest

from gmmspeech.data import featstore, jobplan
from gmmspeech.data.featstore import compute_features, estimate_audio_seconds, plan_jobs
from gmmspeech.data.manifest import Utterance
from gmmspeech.infra.parallel import parallel_map

from .conftest import chirpy, write_wav

# --- the plan ----------------------------------------------------------------------------------------------------

def test_small_work_runs_in_one_process():
    assert plan_jobs(156, 8 * 60, 2) == 1  # the bundled demo: ~1 s of work, less than starting a pool
    assert plan_jobs(156, 8 * 60, 64) == 1
    assert plan_jobs(3, 10.0, 8) == 1


def test_large_work_uses_every_core():
    assert plan_jobs(20 * 156, 20 * 8 * 60, 2) == 2  # 20 times the demo
    assert plan_jobs(10_000, 100 * 3600, 8) == 8
    assert plan_jobs(10_000, 100 * 3600, 64) == 64


def test_never_more_jobs_than_files_or_than_allowed():
    for n_files in range(0, 12):
        for n_jobs in (1, 2, 3, 8, 64):
            for seconds in (0.0, 1.0, 600.0, 36_000.0, 1e7):
                j = plan_jobs(n_files, seconds, n_jobs)
                assert 1 <= j <= max(1, min(n_files, n_jobs)), (n_files, n_jobs, seconds, j)


def test_more_work_never_means_fewer_jobs():
    last = 1
    for minutes in range(0, 2000, 10):
        j = plan_jobs(2000, minutes * 60.0, 16)
        assert j >= last
        last = j
    assert last == 16


def test_the_threshold_follows_the_costs():
    """Pools pay sooner with cheaper start-up, costlier extraction, or workers already running."""
    n, seconds = 300, 30 * 60.0  # ~4.5 s of work with the default costs: not worth two fresh workers
    assert plan_jobs(n, seconds, 2) == 1
    assert plan_jobs(n, seconds, 2, startup=0.2) == 2
    assert plan_jobs(n, seconds, 2, per_second=0.01) == 2
    assert plan_jobs(n, seconds, 2, warm=2) == 2
    assert plan_jobs(n, seconds, 2, min_speedup=100.0, warm=2) == 1
    assert plan_jobs(n, seconds, 2, per_file=0.0, per_second=0.0, warm=2) == 1  # no work, no pool
    assert plan_jobs(4, 2.0, 2, warm=2) == 1  # running workers still cost a round trip: not for 10 ms of work
    assert plan_jobs(30 * 60 // 3, 30 * 60.0, 2) == 1 and plan_jobs(60 * 60 // 3, 60 * 60.0, 2) == 2


def test_music_features_cost_more_and_start_slower():
    from gmmspeech.frontend.features import FeatureConfig

    speech_s, speech_start = jobplan.extraction_costs(FeatureConfig())
    music_s, music_start = jobplan.extraction_costs(FeatureConfig(sample_rate=22050, chroma=True))
    assert music_s > speech_s and music_start > speech_start


def test_audio_length_is_read_from_headers_at_most_max_probes(tmp_path, monkeypatch):
    files = [write_wav(tmp_path / f"{i}.wav", chirpy("low", 0.5, seed=i)) for i in range(5)]
    utts = [Utterance(p, "x") for p in files]
    assert estimate_audio_seconds(utts) == pytest.approx((2.5, True))
    probed = []
    real = jobplan.audio_duration
    monkeypatch.setattr(jobplan, "audio_duration", lambda p: probed.append(p) or real(p))
    seconds, exact = estimate_audio_seconds(utts + [Utterance(files[0], "x", 0.25, None)], max_probes=3)
    assert len(probed) == 3 and not exact
    assert seconds == pytest.approx(6 * 0.5, rel=0.2)


def test_segments_with_an_end_are_not_probed(tmp_path, monkeypatch):
    monkeypatch.setattr(jobplan, "audio_duration", lambda p: pytest.fail("probed a bounded segment"))
    utts = [Utterance(tmp_path / "a.wav", "x", 1.0, 3.5), Utterance(tmp_path / "b.wav", "x", None, 2.0)]
    assert estimate_audio_seconds(utts) == (4.5, True)
    assert estimate_audio_seconds([]) == (0.0, True)


def test_an_unreadable_file_counts_no_audio(tmp_path):
    (tmp_path / "junk.wav").write_text("not audio")
    assert estimate_audio_seconds([Utterance(tmp_path / "junk.wav", "x"),
                                   Utterance(tmp_path / "missing.wav", "x")]) == (0.0, True)


def test_batches_cover_every_file_in_order_and_feed_every_worker():
    todo = list(range(0, 3000, 3))
    for jobs, work in ((1, 10.0), (2, 10.0), (2, 1e4), (8, 0.5), (2, 0.0)):
        batches = jobplan.batch_files(todo, jobs, work)
        assert [i for b in batches for i in b] == todo
        if jobs == 1:
            assert all(len(b) == 1 for b in batches)
        else:
            assert len(batches) >= min(len(todo), jobs * jobplan.BATCHES_PER_WORKER)
    assert len(jobplan.batch_files(todo, 2, 10.0)[0]) > 1  # many small files: several per task
    assert jobplan.batch_files([1, 2, 3], 2, 100.0) == [[1], [2], [3]]  # few files: one per task


# --- what is printed first -----------------------------------------------------------------------------------------

@pytest.fixture
def four(tmp_path):
    return [Utterance(write_wav(tmp_path / f"f{i}.wav", chirpy("low", 0.5, seed=i)), "x") for i in range(4)]


class _Recorder:
    """Stands in for sys.stderr; records writes and extraction calls in one sequence."""

    def __init__(self):
        self.events: list[tuple[str, str]] = []

    def write(self, text):
        self.events.append(("stderr", text))
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False


@pytest.mark.parametrize("n_jobs", [None, 1])
def test_the_first_progress_line_comes_before_any_extraction(four, tmp_path, monkeypatch, n_jobs):
    rec = _Recorder()
    real = featstore.features_for

    def recording(utt, cfg):
        rec.events.append(("extract", utt.path.name))
        return real(utt, cfg)

    monkeypatch.setattr(featstore, "features_for", recording)
    monkeypatch.setattr(sys, "stderr", rec)
    fs = compute_features(four, featstore.FeatureConfig(), n_jobs=n_jobs, progress=True, cache=tmp_path / "c")
    assert len(fs.ok()) == 4
    kinds = [k for k, _ in rec.events]
    assert kinds[0] == "stderr" and kinds.count("extract") == 4
    assert rec.events[0][1] == "features: 4 files (4 uncached, 2 s of audio), 1 process\n"


def test_the_first_line_says_when_everything_is_cached_or_how_many_workers(four, tmp_path, capsys):
    compute_features(four, featstore.FeatureConfig(), n_jobs=1, progress=False, cache=tmp_path / "c")
    compute_features(four, featstore.FeatureConfig(), n_jobs=1, progress=True, cache=tmp_path / "c", desc="scoring")
    assert capsys.readouterr().err.splitlines()[0] == "scoring: 4 files, all in the feature cache"
    fs = compute_features(four, featstore.FeatureConfig(), n_jobs=2, progress=True, cache=None)
    assert len(fs.ok()) == 4
    assert capsys.readouterr().err.splitlines()[0] == "features: 4 files (4 to compute, 2 s of audio), " \
                                                      "2 worker processes"


def test_nothing_is_printed_without_progress(four, capsys):
    compute_features(four, featstore.FeatureConfig(), progress=False, cache=None)
    assert capsys.readouterr().err == ""


# --- inline start and batches in real worker processes ----------------------------------------------------------

def _pid_times_ten(x):
    return os.getpid(), 10 * x


def test_inline_start_keeps_order_and_results():
    out = list(parallel_map(_pid_times_ten, range(50), n_jobs=2, inline_start=True))
    assert [v for _, v in out] == [10 * x for x in range(50)]


def test_the_default_gives_the_same_features_as_one_process_when_it_plans_a_pool(tmp_path, monkeypatch, capsys):
    """A pool forced on small work: batches, inline start and the workers' results agree with -j 1."""
    import numpy as np

    utts = [Utterance(write_wav(tmp_path / f"{i}.wav", chirpy("high", 0.4, seed=i)), "x") for i in range(40)]
    monkeypatch.setattr(featstore, "plan_jobs", lambda *args, **kwargs: 2)
    auto = compute_features(utts, featstore.FeatureConfig(), progress=True, cache=None)
    assert capsys.readouterr().err.splitlines()[0].endswith("), 2 worker processes")
    one = compute_features(utts, featstore.FeatureConfig(), n_jobs=1, progress=False, cache=None)
    assert not auto.errors and len(auto.ok()) == 40
    for a, b in zip(auto.features, one.features, strict=True):
        np.testing.assert_array_equal(a, b)


class _FatalUtterance(Utterance):
    """An utterance whose segment length, asked for by the worker about to read it, kills that worker."""

    @property
    def duration(self):
        os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_file_that_kills_its_batchs_worker_is_found_and_only_it_is_lost(tmp_path):
    """Batches of several files: the batch is retried alone, then its files one by one; only the culprit fails."""
    utts = [(_FatalUtterance if i == 21 else Utterance)(
                write_wav(tmp_path / f"{i:02d}.wav", chirpy("low", 0.3, seed=i)), "x", line=i + 2)
            for i in range(40)]
    assert len(jobplan.batch_files(list(range(40)), 2, 40 * 0.002)[0]) > 1  # really batched
    fs = compute_features(utts, featstore.FeatureConfig(), n_jobs=2, progress=False, cache=tmp_path / "c")
    assert [u.path.name for u, _ in fs.errors] == ["21.wav"]
    assert "worker process died twice" in fs.errors[0][1]
    assert len(fs.ok()) == 39
    assert fs.warnings and all("21.wav" in w for w in fs.warnings)


def test_a_note_on_a_terminal_ends_the_open_progress_line_first(monkeypatch):
    from gmmspeech.infra.progress import Progress

    rec = _Recorder()
    monkeypatch.setattr(rec, "isatty", lambda: True)
    monkeypatch.setattr(sys, "stderr", rec)
    bar = Progress(4, "features")
    bar.note("features: 4 files")
    bar.update()
    bar.note("hello")
    text = "".join(t for _, t in rec.events)
    assert text.startswith("features: 4 files\n") and text.endswith("\r\nhello\n")
    assert Progress(4, "x", enabled=False).note("nothing") is None and "nothing" not in text
