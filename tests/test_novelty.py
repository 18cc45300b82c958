"""Novelty flags: frame and file outliers against thresholds calibrated on the training data."""

import csv
import io
import json
from types import SimpleNamespace

import numpy as np
import pytest

from gmmspeech.core.gmm import DiagGMM
from gmmspeech.model.classifier import GMMClassifier
from gmmspeech.model.modelio import load_model, save_model
from gmmspeech.model.novelty import (
    NoveltyUnavailable,
    calibrate_novelty,
    file_novelty,
    frame_novelty,
    outlier_frames,
    read_novelty,
    segment_fractions,
    validate_novelty,
)

from .conftest import SR, invoke, write_wav


def gaussian_classifier() -> GMMClassifier:
    """Two known 2-D classes: unit Gaussians at (0, 0) and (6, 0) (no training involved)."""
    models = {}
    for label, mean in (("a", [0.0, 0.0]), ("b", [6.0, 0.0])):
        g = DiagGMM(1)
        g.weights_, g.means_, g.variances_ = np.ones(1), np.array([mean]), np.ones((1, 2))
        models[label] = g
    return GMMClassifier.from_models(models)


def draw(mean, n, seed):
    return np.random.default_rng(seed).normal(mean, 1.0, (n, 2))


# ---------------------------------------------------------------- pure functions
def test_frame_novelty_is_the_best_class_log_likelihood():
    clf = gaussian_classifier()
    X = np.array([[0.0, 0.0], [6.0, 0.0], [3.0, 0.0], [30.0, 30.0]])
    s = frame_novelty(clf, X)
    np.testing.assert_allclose(s, clf.frame_log_likelihoods(X).max(axis=1))
    assert s[0] == pytest.approx(-np.log(2 * np.pi)) and s[0] == pytest.approx(s[1]) and s[3] < s[2] < s[0]
    assert outlier_frames(s, s[2]).tolist() == [False, False, False, True]


def test_segment_fractions_tile_the_file():
    flags = np.array([1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1], dtype=bool)
    np.testing.assert_allclose(segment_fractions(flags, 4), [0.25, 4 / 7])  # tail of 3 joins the second segment
    np.testing.assert_allclose(segment_fractions(flags[:3], 50), [1 / 3])
    with pytest.raises(ValueError, match="non-empty"):
        segment_fractions(np.zeros(0, bool), 4)


def test_calibration_rule_and_flags_on_known_gaussians():
    clf = gaussian_classifier()
    train = {"a": [draw([0, 0], 400, s) for s in range(5)], "b": [draw([6, 0], 400, s) for s in range(5, 10)]}
    cal = calibrate_novelty(clf, train, optimism=0.0)
    every = np.concatenate([frame_novelty(clf, x) for xs in train.values() for x in xs])
    assert cal["frame_threshold"] == pytest.approx(np.quantile(every, 0.01))
    assert cal["training_frames"] == cal["calibration_frames"] == 4000 and cal["calibration_segments"] == 80
    assert 0.1 <= cal["file_threshold"] <= 1 and json.loads(json.dumps(cal)) == cal

    # default optimism: sum of the class models' parameter counts / training frames (2 x (0 + 2*1*2) / 4000)
    cal = calibrate_novelty(clf, train)
    assert cal["optimism"] == pytest.approx(8 / 4000)
    assert cal["frame_threshold"] == pytest.approx(np.quantile(every, 0.01) - 8 / 4000)

    fresh = np.concatenate([draw([0, 0], 20000, 99), draw([6, 0], 20000, 98)])
    rate = outlier_frames(frame_novelty(clf, fresh), cal["frame_threshold"]).mean()
    assert 0.004 < rate < 0.02  # about the 1 % asked for
    for seed in range(20, 30):  # new in-class files are not novel
        assert not file_novelty(clf, draw([0, 0], 300, seed), cal)["novel"]
    far = file_novelty(clf, draw([3, 8], 300, 1), cal)
    assert far == {"outlier_fraction": 1.0, "novel": True}
    half = file_novelty(clf, np.concatenate([draw([0, 0], 150, 2), draw([3, 8], 150, 3)]), cal)
    assert 0.45 < half["outlier_fraction"] < 0.56 and half["novel"]


def test_calibration_subsamples_whole_segments_beyond_max_frames():
    clf = gaussian_classifier()
    files = [draw([0, 0], 500, s) for s in range(20)]
    a = calibrate_novelty(clf, files, max_frames=2000, seed=3)
    assert a == calibrate_novelty(clf, files, max_frames=2000, seed=3)
    assert 2000 <= a["calibration_frames"] < 2050 and a["calibration_frames"] % 50 == 0
    assert a["training_frames"] == 10000
    full = calibrate_novelty(clf, files)
    assert abs(a["frame_threshold"] - full["frame_threshold"]) < 0.5


def test_calibration_and_metadata_errors():
    clf = gaussian_classifier()
    with pytest.raises(ValueError, match="no training frames"):
        calibrate_novelty(clf, [np.zeros((0, 2))])
    with pytest.raises(ValueError, match="frame_quantile"):
        calibrate_novelty(clf, [draw([0, 0], 100, 0)], frame_quantile=0)
    good = calibrate_novelty(clf, [draw([0, 0], 100, 0)])
    assert read_novelty(SimpleNamespace(novelty=good), "m.npz") == good == validate_novelty(good)
    with pytest.raises(NoveltyUnavailable, match=r"m\.npz: the model has no novelty calibration.*retrain"):
        read_novelty(SimpleNamespace(novelty=None), "m.npz")
    for bad, msg in (({**good, "frame_threshold": "x"}, "frame_threshold must be a finite number"),
                     ({**good, "file_threshold": 1.5}, r"file_threshold must be a share in \[0, 1\]"),
                     ({k: v for k, v in good.items() if k != "segment_frames"}, "lacks segment_frames"),
                     ([1, 2], "must be a JSON object")):
        with pytest.raises(ValueError, match=msg):
            validate_novelty(bad)


# ---------------------------------------------------------------- on audio, through the commands
def harmonic(f_lo: float, f_hi: float, seed: int, seconds: float = 0.8) -> np.ndarray:
    """A three-harmonic tone with f0 drawn from [f_lo, f_hi] and random phases."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = rng.uniform(f_lo, f_hi)
    y = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi)) / h for h in (1, 2, 3))
    return (0.2 * y + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def tone_model(tmp_path_factory):
    """A model of two tone classes (10 training files each) and audio it has and has not seen the like of."""
    root = tmp_path_factory.mktemp("tones")
    ranges = {"low": (140.0, 160.0), "high": (2400.0, 2600.0)}
    rows = {"train": [], "test": []}
    for label, (lo, hi) in ranges.items():
        for split, seeds in (("train", range(10)), ("test", range(100, 106))):
            for s in seeds:
                p = write_wav(root / label / f"{split}{s}.wav", harmonic(lo, hi, s + (0 if label == "low" else 500)))
                rows[split].append(f"{p.relative_to(root).as_posix()},{label}")
    rng = np.random.default_rng(7)
    t = np.arange(int(0.8 * SR)) / SR
    novel = {"noise": write_wav(root / "novel" / "noise.wav", (0.2 * rng.standard_normal(t.size)).astype(np.float32)),
             "chirp": write_wav(root / "novel" / "chirp.wav",
                                (0.3 * np.sin(2 * np.pi * (200 * t + 3000 * t ** 2))).astype(np.float32))}
    rows["test"].append("novel/noise.wav,noise")
    for split in rows:
        (root / f"{split}.csv").write_text("path,label\n" + "\n".join(rows[split]) + "\n")
    (root / "feats.toml").write_text('[features]\ncmvn = "none"\n')  # stationary tones: CMVN would erase them
    model = root / "tones.npz"
    r = invoke("train", root / "train.csv", "-o", model, "--components", 4, "--config", root / "feats.toml",
               "-j", 1, "-q", "--no-cache")
    assert r.exit_code == 0, r.output
    return {"root": root, "model": model, **novel}


def test_training_stores_a_valid_calibration(tone_model):
    clf, meta = load_model(tone_model["model"])
    cal = read_novelty(meta, "tones.npz")
    assert cal["training_frames"] == sum(meta.training.frames_per_class.values())
    assert cal["frame_quantile"] == 0.01 and cal["file_threshold"] >= 0.1 and cal["optimism"] > 0


def test_score_novelty_labels_unseen_sounds_unknown(tone_model):
    root = tone_model["root"]
    in_class = sorted(root.glob("*/test*.wav"))
    r = invoke("score", tone_model["model"], tone_model["noise"], tone_model["chirp"], *in_class, "--novelty",
               "--format", "json", "-q", "-j", 1, "--no-cache")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["novelty"]["frame_threshold"] < 0
    res = {x["file"]: x for x in doc["results"]}
    for name in ("noise", "chirp"):
        row = res[str(tone_model[name])]
        assert row["predicted"] == "unknown" and row["novel"] and row["outlier_fraction"] > 0.9
        assert row["best"] in ("low", "high")  # closed-set decision still reported
    kept = [res[str(p)] for p in in_class]
    assert sum(x["novel"] for x in kept) <= 2  # most held-out in-class files are not flagged
    assert sum(x["predicted"] == p.parent.name for x, p in zip(kept, in_class, strict=True)) >= 10

    r = invoke("score", tone_model["model"], tone_model["noise"], *in_class[:2], "--novelty", "--format", "csv",
               "-q", "-j", 1, "--no-cache")
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert rows[0]["novel"] == "1" and rows[0]["predicted"] == "unknown" and float(rows[0]["outlier_fraction"]) > 0.9
    r = invoke("score", tone_model["model"], tone_model["noise"], "--novelty", "-q", "-j", 1, "--no-cache")
    assert "outliers" in r.output.splitlines()[0] and " yes " in r.output.splitlines()[1]
    r = invoke("score", tone_model["model"], tone_model["noise"], "--format", "json", "-q", "-j", 1, "--no-cache")
    row = json.loads(r.output)["results"][0]
    assert "novel" not in row and row["predicted"] in ("low", "high")  # closed set without the flag


def test_evaluate_novelty_and_models_without_calibration(tone_model, tmp_path):
    root = tone_model["root"]
    r = invoke("evaluate", tone_model["model"], root / "test.csv", "--novelty", "--report", tmp_path / "rep",
               "-q", "-j", 1, "--no-cache")
    assert r.exit_code == 0, r.output
    preds = list(csv.DictReader(open(tmp_path / "rep" / "predictions.csv")))
    (noise,) = [p for p in preds if p["file"].endswith("noise.wav")]
    assert noise["predicted"] == "unknown" and noise["novel"] == "1" and float(noise["outlier_fraction"]) > 0.9
    assert sum(p["novel"] == "1" for p in preds) <= 3 and {"outlier_fraction", "novel"} <= set(preds[0])
    m = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert "unknown" in m["labels"] and m["accuracy"] >= 10 / 13

    clf, meta = load_model(tone_model["model"])
    old = tmp_path / "old.npz"
    save_model(clf, old, meta.replace(novelty=None))
    for cmd in (("score", old, tone_model["noise"]), ("evaluate", old, root / "test.csv")):
        r = invoke(*cmd, "--novelty", "-q", "-j", 1, "--no-cache")
        assert r.exit_code == 1 and "no novelty calibration" in r.output and "old.npz" in r.output
