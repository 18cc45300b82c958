"""The feature store: cache keyed by content + config, atomic entries, parallel batches that survive bad files."""

import json

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
    again = compute_features(corpus[:1], CFG, n_jobs=1, progress=False, cache=cache)
    assert again.cached == 0 and not again.errors
    np.testing.assert_array_equal(again.features[0], good)
    np.testing.assert_array_equal(np.load(entry), good)  # repaired


def test_crash_mid_write_leaves_no_entry(corpus, tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path / "cache")
    key = cache.key(corpus[0], CFG)

    def crash(f, arr, allow_pickle=False):
        f.write(b"\x93NUMPY partial")
        raise KeyboardInterrupt  # the process dies mid-write

    monkeypatch.setattr(featstore.np, "save", crash)
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
