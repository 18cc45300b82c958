"""A score back-end trained at training time, stored in the model file, used by evaluate/score/classify."""

import json

import numpy as np
import pytest

import gmmspeech
from gmmspeech.model.modelio import ModelFileError, load_backend, load_model

from .conftest import invoke


@pytest.fixture(scope="module")
def calibrated(toy_corpus, tmp_path_factory):
    model = tmp_path_factory.mktemp("cal") / "cal.npz"
    r = invoke("train", toy_corpus["train"], "-o", model, "--components", 2, "--calibration", "logistic",
               "-q", "-j", 1, "--no-cache")
    assert r.exit_code == 0, r.output
    return model


def test_the_back_end_is_stored_described_and_used(calibrated, toy_corpus, tmp_path):
    clf, meta = load_model(calibrated)
    backend = load_backend(meta)
    assert meta.calibration["kind"] == "logistic" and "out-of-fold" in meta.calibration["trained_on"]
    assert list(backend.classes_) == clf.classes_
    assert "back-end     logistic score calibration" in invoke("inspect", calibrated).output
    cal = invoke("evaluate", calibrated, toy_corpus["test"], "--report", tmp_path / "c", "-q", "--no-cache")
    raw = invoke("evaluate", calibrated, toy_corpus["test"], "--report", tmp_path / "r", "--raw", "-q", "--no-cache")
    assert cal.exit_code == raw.exit_code == 0
    mc, mr = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("c", "r"))
    assert mc["cllr"] != mr["cllr"] and {"cavg", "min_cllr", "min_dcf"} <= set(mc)
    # calibrated scores are log-posteriors: each row's exp sums to one
    r = invoke("score", calibrated, toy_corpus["test"], "--format", "json", "-q", "--no-cache")
    doc = json.loads(r.stdout)
    assert "calibrated log-posteriors" in doc["scores"]
    d = gmmspeech.load_model(calibrated).classify(toy_corpus["root"] / "audio" / "low" / "test_100.flac")
    assert abs(sum(np.exp(v) for v in d.scores.values()) - 1) < 1e-6 and d.label == "low"


def test_a_damaged_back_end_is_refused_at_load(calibrated, tmp_path):
    with np.load(calibrated, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta["calibration"]["beta"] = [1.0]
    arrays["meta"] = np.array(json.dumps(meta))
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ModelFileError, match="back-end"):
        load_model(bad)
