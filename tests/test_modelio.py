import json
import pickle

import numpy as np
import pytest

from gmmspeech.classifier import GMMClassifier
from gmmspeech.features import FeatureConfig
from gmmspeech.modelio import FORMAT_VERSION, ModelFileError, load_model, save_model


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    data = {"x": rng.standard_normal((300, 3)), "y": rng.standard_normal((300, 3)) + 2}
    return GMMClassifier(n_components=2, random_state=0).fit(data)


def test_round_trip_gives_identical_scores(tmp_path, fitted):
    p = tmp_path / "m.npz"
    save_model(fitted, p, {"features": FeatureConfig().to_dict()})
    clf, meta = load_model(p)
    X = np.random.default_rng(1).standard_normal((40, 3))
    assert clf.classes_ == fitted.classes_
    np.testing.assert_array_equal(clf.score(X), fitted.score(X))
    assert meta["format_version"] == FORMAT_VERSION and FeatureConfig.from_dict(meta["features"]) == FeatureConfig()
    assert [q.name for q in tmp_path.iterdir()] == ["m.npz"]  # no temp file left


def _rewrite(tmp_path, src, **changes):
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    out = tmp_path / "bad.npz"
    np.savez(out, **arrays)
    return out


@pytest.mark.parametrize("change, message", [
    (lambda a, m: {"variances": -a["variances"]}, "variances"),
    (lambda a, m: {"weights": a["weights"] * 2}, "sum to one"),
    (lambda a, m: {"means": a["means"][:, :1]}, "shapes disagree"),
    (lambda a, m: {"meta": np.array(json.dumps({**m, "format_version": FORMAT_VERSION + 1}))}, "format version"),
])
def test_invalid_models_are_refused(tmp_path, fitted, change, message):
    p = tmp_path / "m.npz"
    save_model(fitted, p, {"features": {}})
    with np.load(p, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    bad = _rewrite(tmp_path, p, **change(arrays, json.loads(str(arrays["meta"]))))
    with pytest.raises(ModelFileError, match=message):
        load_model(bad)


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
    assert not marker.exists()
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ModelFileError, match="not a gmmspeech model"):
        load_model(raw)
