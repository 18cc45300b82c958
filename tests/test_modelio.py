import json
import pickle

import numpy as np
import pytest

from gmmspeech.model.classifier import GMMClassifier
from gmmspeech.model.modelio import FORMAT_VERSION, ModelFileError, load_model, save_model

from .conftest import toy_features


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    data = {"x": rng.standard_normal((600, 3)), "y": rng.standard_normal((600, 3)) + 2}
    return GMMClassifier(n_components=2, random_state=0).fit(data)


def test_round_trip_gives_identical_scores_and_thresholds(tmp_path, fitted):
    p = tmp_path / "m.npz"
    save_model(fitted, p, features=toy_features(fitted))
    clf, meta = load_model(p)
    X = np.random.default_rng(1).standard_normal((40, 3))
    assert clf.classes_ == fitted.classes_
    np.testing.assert_array_equal(clf.score(X), fitted.score(X))
    np.testing.assert_array_equal(clf.reject_thresholds_, fitted.reject_thresholds_)
    assert clf.calibration_ == fitted.calibration_
    assert meta.format_version == FORMAT_VERSION and meta.features == toy_features(fitted)
    assert set(meta.open_set.thresholds) == {"x", "y"} and meta.classes == ("x", "y")
    assert [q.name for q in tmp_path.iterdir()] == ["m.npz"]  # no temp file left


def _arrays(p):
    with np.load(p, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _rewrite(tmp_path, src, **changes):
    arrays = _arrays(src)
    arrays.update(changes)
    out = tmp_path / "bad.npz"
    np.savez(out, **arrays)
    return out


def _meta(p, **changes):
    m = json.loads(str(_arrays(p)["meta"]))
    m.update(changes)
    return np.array(json.dumps(m))


def test_version_1_file_without_open_set_block_still_loads(tmp_path, fitted):
    p = tmp_path / "m.npz"
    save_model(fitted, p, features=toy_features(fitted))
    m = json.loads(str(_arrays(p)["meta"]))
    del m["open_set"]
    old = _rewrite(tmp_path, p, meta=np.array(json.dumps({**m, "format_version": 1})))
    clf, meta = load_model(old)
    assert clf.reject_thresholds_ is None and meta.open_set is None
    np.testing.assert_array_equal(clf.score(np.ones((5, 3))), fitted.score(np.ones((5, 3))))


@pytest.mark.parametrize("change, message", [
    (lambda a, p: {"variances": -a["variances"]}, "variances must be finite and positive"),
    (lambda a, p: {"variances": np.where(a["variances"] > 0, np.inf, 0)}, "variances must be finite"),
    (lambda a, p: {"weights": a["weights"] * 2}, "sum to one"),
    (lambda a, p: {"weights": np.full_like(a["weights"], np.nan)}, "sum to one"),
    (lambda a, p: {"means": a["means"][:, :1]}, "shapes disagree"),
    (lambda a, p: {"means": np.full_like(a["means"], np.nan)}, "means must be finite"),
    (lambda a, p: {"weights": a["weights"].astype(str)}, "floating-point"),
    (lambda a, p: {"meta": _meta(p, format_version=FORMAT_VERSION + 1)}, "format version"),
    (lambda a, p: {"meta": _meta(p, classes=["x", "x"])}, "distinct"),
    (lambda a, p: {"meta": _meta(p, classes=["x"], open_set=None)}, "1 classes but the arrays hold 2"),
    (lambda a, p: {"meta": _meta(p, open_set={"thresholds": {"x": 1.0}})}, "open_set"),
    (lambda a, p: {"meta": np.array("[1, 2]")}, "JSON object"),
    (lambda a, p: {"meta": np.array("{not json")}, "not valid JSON"),
    (lambda a, p: {"meta": np.array(3.0)}, "JSON string"),
])
def test_invalid_models_are_refused(tmp_path, fitted, change, message):
    p = tmp_path / "m.npz"
    save_model(fitted, p, features=toy_features(fitted))
    bad = _rewrite(tmp_path, p, **change(_arrays(p), p))
    with pytest.raises(ModelFileError, match=message) as err:
        load_model(bad)
    assert str(bad) in str(err.value)


def test_pickle_payload_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    p = tmp_path / "evil.npz"
    np.savez(p, weights=np.array([Evil()], dtype=object), means=np.zeros((1, 1, 1)),
             variances=np.ones((1, 1, 1)), meta=np.array("{}"))
    with pytest.raises(ModelFileError, match="refused"):
        load_model(p)
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(raw)
    assert not marker.exists()


@pytest.mark.parametrize("content, message", [
    (b"hello, not a model", "not a gmmspeech model file"),
    (b"", "not a gmmspeech model file"),
    (None, "single .npy array"),
])
def test_files_that_are_not_models(tmp_path, content, message):
    p = tmp_path / "thing.npz"
    if content is None:
        np.save(tmp_path / "thing.npy", np.zeros(3))
        (tmp_path / "thing.npy").rename(p)
    else:
        p.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        load_model(p)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(2))
    with pytest.raises(ModelFileError, match="missing means, meta, variances, weights"):
        load_model(other)
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "absent.npz")


def test_a_crash_while_saving_leaves_the_old_model_intact(tmp_path, fitted, monkeypatch):
    p = tmp_path / "m.npz"
    save_model(fitted, p, features=toy_features(fitted))
    before = p.read_bytes()

    def crash(f, **arrays):
        f.write(b"PK half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        save_model(fitted, p, features=toy_features(fitted))
    assert p.read_bytes() == before and [q.name for q in tmp_path.iterdir()] == ["m.npz"]
    assert load_model(p)[0].classes_ == ["x", "y"]


def test_saved_files_follow_the_umask(tmp_path, fitted):
    import os

    old = os.umask(0o022)
    try:
        save_model(fitted, tmp_path / "m.npz", features=toy_features(fitted))
    finally:
        os.umask(old)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o644
