"""The feature store: cache keyed by content + config, atomic entries, parallel batches that survive bad files."""

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gmmspeech.cli import app
from gmmspeech.data import featstore
from gmmspeech.data.featstore import FeatureCache, compute_features, default_cache_dir, features_for
from gmmspeech.data.manifest import Utterance
from gmmspeech.frontend.features import FeatureConfig

from .conftest import chirpy, write_wav

CFG = FeatureConfig(deltas=1)


@pytest.fixture
def corpus(tmp_path):
    """Four good files, returned as utterances."""
    utts = []
    for i, kind in enumerate(["low", "high", "noise", "low"]):
        p = write_wav(tmp_path / "audio" / f"{kind}{i}.flac", chirpy(kind, 0.5, seed=i))
        utts.append(Utterance(p, kind, line=i + 2))
    return utts


def test_second_run_reads_the_cache_and_returns_identical_features(corpus, tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path / "cache")
    first = compute_features(corpus, CFG, n_jobs=1, progress=False, cache=cache)
    assert first.cached == 0 and not first.errors
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 4

    def no_extraction(*args, **kwargs):
        raise AssertionError("features were recomputed instead of read from the cache")

    monkeypatch.setattr(featstore, "features_for", no_extraction)
    second = compute_features(corpus, CFG, n_jobs=1, progress=False, cache=tmp_path / "cache")
    assert second.cached == 4
    for a, b in zip(first.features, second.features, strict=True):
        np.testing.assert_array_equal(a, b)
        assert b.dtype == np.float32


def test_changed_file_or_config_is_never_served_stale(corpus, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    before = compute_features(corpus, CFG, n_jobs=1, progress=False, cache=cache)
    write_wav(corpus[0].path, chirpy("high", 0.5, seed=99))  # same name, new content
    after = compute_features(corpus, CFG, n_jobs=1, progress=False, cache=cache)
    assert after.cached == 3
    np.testing.assert_array_equal(after.features[0], features_for(corpus[0], CFG))
    assert not np.array_equal(after.features[0], before.features[0])
    other = compute_features(corpus, FeatureConfig(deltas=1, cmvn="none"), n_jobs=1, progress=False, cache=cache)
    assert other.cached == 0
    seg = [Utterance(corpus[1].path, "high", 0.1, 0.4)]
    assert compute_features(seg, CFG, n_jobs=1, progress=False, cache=cache).cached == 0  # a segment is its own key


def test_broken_cache_entry_is_discarded_and_rebuilt(corpus, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    good = compute_features(corpus[:1], CFG, n_jobs=1, progress=False, cache=cache).features[0]
    entry = cache.path(cache.key(corpus[0], CFG))
    entry.write_bytes(entry.read_bytes()[:100])  # e.g. a copy cut short
    with pytest.warns(featstore.FeatureCacheWarning, match="is damaged"):
        again = compute_features(corpus[:1], CFG, n_jobs=1, progress=False, cache=cache)
    assert again.cached == 0 and not again.errors and len(again.warnings) == 1
    np.testing.assert_array_equal(again.features[0], good)
    np.testing.assert_array_equal(np.load(entry), good)  # repaired


def test_crash_mid_write_leaves_no_entry(corpus, tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path / "cache")
    key = cache.key(corpus[0], CFG)

    def crash(f, key, arr):
        f.write(b"\x93NUMPY partial")
        raise KeyboardInterrupt  # the process dies mid-write

    monkeypatch.setattr(featstore, "_write_entry", crash)
    with pytest.raises(KeyboardInterrupt):
        cache.store(key, np.ones((3, CFG.n_dims), np.float32))
    monkeypatch.undo()
    assert cache.load(key) is None
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]  # no entry, no temp file


def test_bad_files_are_skipped_and_reported_in_parallel(corpus, tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_text("not audio")
    silent = write_wav(tmp_path / "silent.wav", np.zeros(8000, np.float32))
    short = write_wav(tmp_path / "short.wav", chirpy("low", 0.01, seed=0))
    utts = [corpus[0], Utterance(junk, "x", line=7), corpus[1], Utterance(silent, "x", line=8),
            Utterance(short, "x", line=9), corpus[2]]
    fs = compute_features(utts, FeatureConfig(vad="max"), n_jobs=2, progress=False, cache=tmp_path / "cache")
    assert [u.path for u, _ in fs.ok()] == [corpus[0].path, corpus[1].path, corpus[2].path]
    reasons = {u.path.name: msg for u, msg in fs.errors}
    assert set(reasons) == {"junk.wav", "silent.wav", "short.wav"}
    assert "cannot decode" in reasons["junk.wav"]
    assert "VAD kept no frame" in reasons["silent.wav"]
    assert "shorter than one analysis frame" in reasons["short.wav"] or "too short" in reasons["short.wav"]
    assert all(x.shape[1] == 39 for _, x in fs.ok())
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 3  # failures are not cached


def test_features_for_names_the_file_when_vad_finds_nothing(tmp_path):
    p = write_wav(tmp_path / "quiet.wav", np.zeros(16000, np.float32))
    with pytest.raises(featstore.AudioError, match=r"quiet\.wav: energy VAD kept no frame"):
        features_for(Utterance(p, "x"), FeatureConfig(vad="mean"))


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GMMSPEECH_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c" and FeatureCache().root == tmp_path / "c"
    monkeypatch.delenv("GMMSPEECH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "gmmspeech" / "features"


def test_cli_features_command_fills_and_reuses_the_cache(corpus, tmp_path):
    runner = CliRunner()
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\n" + "".join(f"{u.path},{u.label}\n" for u in corpus))
    config = tmp_path / "feats.toml"
    config.write_text('[features]\nn_mfcc = 7\ndeltas = 0\nsdc = true\nvad = "max"\n')
    args = ["features", str(manifest), "--config", str(config), "--cache", str(tmp_path / "cache"), "-q",
            "--jobs", "1", "--json"]
    r1 = runner.invoke(app, args, catch_exceptions=False)
    assert r1.exit_code == 0, r1.output
    s1 = json.loads(r1.output)
    assert (s1["ok"], s1["from_cache"], s1["dims"]) == (4, 0, 56)
    r2 = runner.invoke(app, args, catch_exceptions=False)
    assert json.loads(r2.output)["from_cache"] == 4
    r3 = runner.invoke(app, [*args[:-1], "--no-cache"], catch_exceptions=False)
    assert r3.exit_code == 0 and "0 from cache" in r3.output and "cache: off" in r3.output
    (tmp_path / "junk.wav").write_text("junk")
    manifest.write_text(manifest.read_text() + f"{tmp_path / 'junk.wav'},x\n")
    r4 = runner.invoke(app, args[:-1], catch_exceptions=False)
    assert r4.exit_code == 1 and "4/5 files (4 from cache)" in r4.output and "junk.wav" in r4.output


# --- verified entries (issue 14) ---------------------------------------------------------------------------------

def _fill(corpus, cache):
    fs = compute_features(corpus, CFG, n_jobs=1, progress=False, cache=cache)
    assert not fs.errors and not fs.warnings
    return fs


def _rerun(corpus, cache, match):
    """A second run: exactly one one-line warning matching ``match``, correct features for every file."""
    with pytest.warns(featstore.FeatureCacheWarning) as rec:
        fs = compute_features(corpus, CFG, n_jobs=1, progress=False, cache=cache)
    assert len(rec) == 1 and len(fs.warnings) == 1, [str(w.message) for w in rec]
    msg = str(rec[0].message)
    assert re.search(match, msg), msg
    assert "\n" not in msg and msg.endswith("recomputing")
    assert not fs.errors and fs.cached == len(corpus) - 1
    for u, x in fs.ok():
        np.testing.assert_array_equal(x, features_for(u, CFG))
    return fs, msg


def test_an_entry_swapped_for_another_files_entry_is_not_served(corpus, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    _fill(corpus[:2], cache)
    a, b = (cache.path(cache.key(u, CFG)) for u in corpus[:2])
    b.write_bytes(a.read_bytes())  # 'low0' and 'high1' have the same shape: only the key can tell them apart
    _, msg = _rerun(corpus[:2], cache, "holds the entry of another file or configuration")
    assert str(b) in msg and corpus[1].path.name in msg
    assert cache.load(cache.key(corpus[1], CFG), CFG.n_dims) is not None  # rewritten correctly


@pytest.mark.parametrize("damage", ["flip", "nan", "truncate", "pad", "old-format"])
def test_a_damaged_or_non_finite_entry_is_a_miss_with_one_warning(corpus, tmp_path, damage):
    cache = FeatureCache(tmp_path / "cache")
    good = _fill(corpus[:2], cache).features[0]
    key = cache.key(corpus[0], CFG)
    entry = cache.path(key)
    data = bytearray(entry.read_bytes())
    if damage == "flip":
        data[-7] ^= 0x40
    elif damage == "truncate":
        data = data[:-4]
    elif damage == "pad":
        data += b"\0" * 4
    entry.write_bytes(bytes(data))
    if damage == "nan":  # a well-formed entry (right key, right checksum) whose values are not finite
        bad = good.copy()
        bad[3, 2] = np.nan
        assert cache.store(key, bad) is None
    if damage == "old-format":  # a plain .npy, as gmmspeech wrote before entries were verified
        np.save(entry, good)
    expect = {"flip": "checksum mismatch", "nan": "holds NaN or infinite values", "truncate": "is damaged",
              "pad": "is damaged", "old-format": "no checksum"}[damage]
    _rerun(corpus[:2], cache, expect)
    assert cache.fetch(key, CFG.n_dims)[1] is None  # repaired


def test_a_directory_where_an_entry_belongs_is_a_miss(corpus, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    _fill(corpus[:2], cache)
    entry = cache.path(cache.key(corpus[0], CFG))
    entry.unlink()
    entry.mkdir()  # empty: removed, the entry is written again
    _rerun(corpus[:2], cache, "is a directory; recomputing")
    assert entry.is_file()
    entry.unlink()
    entry.mkdir()
    (entry / "keep").write_text("x")  # not empty: left alone, the features are simply not cached
    fs, msg = _rerun(corpus[:2], cache, "is a directory and cannot be removed")
    assert fs.paths[0] is None and (entry / "keep").exists()


def test_non_finite_features_from_extraction_fail_only_that_file(corpus, tmp_path, monkeypatch):
    real = featstore.features_for

    def nan_for_one(utt, cfg):
        x = real(utt, cfg)
        if utt.path == corpus[1].path:
            x[0, 0] = np.inf
        return x

    monkeypatch.setattr(featstore, "features_for", nan_for_one)
    fs = compute_features(corpus, CFG, n_jobs=1, progress=False, cache=tmp_path / "cache")
    assert [u.path for u, _ in fs.errors] == [corpus[1].path]
    assert "produced 1 NaN or infinite value" in fs.errors[0][1]
    assert len(fs.ok()) == 3 and fs.paths[1] is None
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 3  # the bad features were not cached


def test_entries_stay_plain_npy_files_that_memory_map_whole(corpus, tmp_path):
    """The cluster path memory-maps entries and passes their paths to workers: they must remain whole .npy files."""
    from gmmspeech.model.cluster import feature_file_path

    cache = FeatureCache(tmp_path / "cache")
    fs = _fill(corpus[:1], cache)
    m = np.load(fs.paths[0], mmap_mode="r")
    np.testing.assert_array_equal(m, fs.features[0])
    assert feature_file_path(m) == fs.paths[0]
    assert featstore.CACHE_VERSION >= 2  # part of the key: entries of the unverified format are never looked up


def test_non_regular_inputs_are_refused_before_hashing(corpus, tmp_path):
    fifo = tmp_path / "pipe.flac"
    os.mkfifo(fifo)
    utts = [Utterance(fifo, "x", line=2), Utterance(Path("/dev/zero"), "x", line=3), corpus[0],
            Utterance(tmp_path / "audio", "x", line=4)]
    fs = compute_features(utts, CFG, n_jobs=1, progress=False, cache=tmp_path / "cache")  # would hang before
    assert [(u.line, msg) for u, msg in fs.errors] == [
        (2, "is a named pipe (FIFO), not a regular file"), (3, "is a device, not a regular file"),
        (4, "is a directory, not an audio file")]
    with pytest.raises(featstore.AudioError, match="FIFO"):
        featstore.file_digest(fifo)
    x, path, err, hit = featstore.load_or_compute(utts[1], CFG, FeatureCache(tmp_path / "cache"))
    assert (x, path, err, hit) == (None, None, "is a device, not a regular file", False)


def test_cache_warnings_print_as_one_line():
    import warnings

    text = warnings.formatwarning("feature cache entry X is damaged; recomputing", featstore.FeatureCacheWarning,
                                  "featstore.py", 1, "warnings.warn(...)")
    assert text == "warning: feature cache entry X is damaged; recomputing\n"
    other = warnings.formatwarning("x", RuntimeWarning, "f.py", 3, "y")
    assert "RuntimeWarning" in other  # other categories keep Python's format


def test_stale_temp_files_in_the_cache_are_removed_on_the_next_write(corpus, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    key = cache.key(corpus[0], CFG)
    folder = cache.path(key).parent
    folder.mkdir(parents=True)
    legacy = folder / ".0123abcd.npy.x1y2z3w4.tmp"  # the naming of earlier versions (tempfile.mkstemp)
    legacy.write_bytes(b"partial")
    os.utime(legacy, (0, 0))
    fresh = folder / ".4567.npy.abcdefgh.tmp"  # could be a live writer's: kept
    fresh.write_bytes(b"partial")
    _fill(corpus[:1], cache)
    assert not legacy.exists() and fresh.exists()


def test_a_cache_folder_that_refuses_writes_gives_one_warning_not_one_per_file(corpus, tmp_path):
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    with pytest.warns(featstore.FeatureCacheWarning) as rec:
        fs = compute_features(corpus, CFG, n_jobs=1, progress=False, cache=tmp_path / "cache")
    assert len(fs.ok()) == 4 and not fs.errors and fs.paths == [None] * 4
    assert len(rec) == 1 and fs.warnings == [str(rec[0].message)]
    assert "cannot write entries" in fs.warnings[0] and "not a folder" in fs.warnings[0]


def test_the_command_line_prints_a_bad_entry_as_one_warning_line(corpus, tmp_path):
    import subprocess
    import sys

    cache = FeatureCache(tmp_path / "cache")
    _fill(corpus, cache)
    entry = cache.path(cache.key(corpus[2], CFG))
    entry.write_bytes(entry.read_bytes()[:-8] + b"\x7f\xc0\x00\x00" * 2)  # bytes changed on disk
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\n" + "".join(f"{u.path},{u.label}\n" for u in corpus))
    config = tmp_path / "f.toml"
    config.write_text("[features]\ndeltas = 1\n")
    out = subprocess.run([sys.executable, "-m", "gmmspeech.cli", "features", str(manifest), "--config", str(config),
                          "--cache", str(cache.root), "-q", "-j", "1"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == [f"warning: feature cache entry {entry} for {corpus[2].path} is damaged "
                                       "(checksum mismatch); recomputing"]
    assert "4/4 files (3 from cache)" in out.stdout
