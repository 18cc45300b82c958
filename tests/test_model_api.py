"""Typed metadata, the one decision rule, the Python file API and the CLI's error contract."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gmmspeech
from gmmspeech.cli import EXIT_INTERNAL
from gmmspeech.frontend.features import FeatureConfig
from gmmspeech.model.classifier import GMMClassifier
from gmmspeech.model.decision import UNKNOWN, decide
from gmmspeech.model.meta import MAX_META_DEPTH, ModelMeta
from gmmspeech.model.modelio import ModelFileError, load_model, save_model

from .conftest import invoke, toy_features


@pytest.fixture(scope="module")
def trained(toy_corpus, tmp_path_factory):
    """A model of the toy corpus trained through the CLI."""
    model = tmp_path_factory.mktemp("m") / "toy.npz"
    r = invoke("train", toy_corpus["train"], "-o", model, "--components", 2, "-j", 1, "-q", "--no-cache")
    assert r.exit_code == 0, r.output
    return model


def _rewrite_meta(src, dst, text):
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["meta"] = np.array(text)
    np.savez(dst, **arrays)
    return dst


def test_meta_round_trips_and_is_what_load_model_returns(trained):
    clf, meta = load_model(trained)
    assert isinstance(meta, ModelMeta) and meta.classes == tuple(clf.classes_)
    assert ModelMeta.from_json(meta.to_json(), "x") == meta
    assert meta.training.files_per_class == {"high": 6, "low": 6, "noise": 6} and meta.novelty is not None
    assert meta.features == FeatureConfig() and meta.settings_sources["model.components"] == "option"


def test_hostile_metadata_is_one_clear_error(trained, tmp_path):
    meta = json.loads(load_model(trained)[1].to_json())
    cases = {
        "nested": ("[" * 100_000 + "]" * 100_000, f"nested more than {MAX_META_DEPTH}"),
        "deep_field": (json.dumps({**meta, "novelty": {"a": json.loads("[" * 40 + "]" * 40)}}), "nested"),
        "dims": (json.dumps({**meta, "features": {**meta["features"], "n_mfcc": 20}}), "gives 60 dims"),
        "bad_type": (json.dumps({**meta, "training": {**meta["training"], "seed": "abc"}}), "training.seed"),
        "no_features": (json.dumps({k: v for k, v in meta.items() if k != "features"}), "no feature configuration"),
        "bad_novelty": (json.dumps({**meta, "novelty": {"frame_threshold": 1}}), "novelty"),
        "old_front_end": (json.dumps({k: v for k, v in meta.items() if k != "features_version"}),
                          "front-end version 2.*retrain"),
    }
    for name, (text, message) in cases.items():
        bad = _rewrite_meta(trained, tmp_path / f"{name}.npz", text)
        with pytest.raises(ModelFileError, match=message) as err:
            load_model(bad)
        assert str(bad) in str(err.value)
        r = invoke("inspect", bad)
        assert r.exit_code == 1 and r.output.startswith("error: ") and "Traceback" not in r.output


def test_save_model_always_records_the_features(tmp_path):
    rng = np.random.default_rng(0)
    data = {"a": rng.standard_normal((300, 5)), "b": rng.standard_normal((300, 5)) + 3}
    clf = GMMClassifier(n_components=2).fit(data)
    with pytest.raises(ValueError, match=r"gives 39 dims but the model has 5.*features="):
        save_model(clf, tmp_path / "m.npz")
    meta = save_model(clf, tmp_path / "m.npz", features=toy_features(clf))
    assert load_model(tmp_path / "m.npz")[1].features == meta.features == FeatureConfig(n_mfcc=5, deltas=0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-50, 50), min_size=1, max_size=6), st.floats(-60, 60))
def test_decide_is_argmax_unless_rejected(scores, threshold):
    classes = [f"c{i}" for i in range(len(scores))]
    d = decide(np.array(scores), classes, 10)
    assert d.best == classes[int(np.argmax(scores))] == d.label == d.ranked[0]
    assert abs(sum(d.posteriors.values()) - 1) < 1e-9 and list(d.scores) == classes
    o = decide(np.array(scores), classes, 10, thresholds=threshold)
    assert (o.label == UNKNOWN) == (max(scores) < threshold) == o.rejected
    n = decide(np.array(scores), classes, 10, novelty={"novel": True, "outlier_fraction": 0.5})
    assert n.label == UNKNOWN and n.best == d.best and n.outlier_fraction == 0.5


def test_python_api_classifies_a_file_like_the_score_command(trained, toy_corpus):
    model = gmmspeech.load_model(trained)
    clip = toy_corpus["root"] / "audio" / "high" / "test_100.flac"
    d = model.classify(clip)
    assert d.label == "high" and set(d.scores) == set(model.classes) == {"high", "low", "noise"}
    r = invoke("score", trained, clip, "--format", "json", "-q", "-j", 1, "--no-cache")
    row = json.loads(r.stdout)["results"][0]
    assert row["predicted"] == d.label and row["loglik"] == pytest.approx(d.scores[d.label], abs=1e-4)
    assert row["posteriors"] == {c: round(p, 4) for c, p in d.posteriors.items()}
    part = model.classify(clip, start=0.1, end=0.6)
    assert part.n_frames < d.n_frames and part.label == "high"
    with pytest.raises(gmmspeech.GmmspeechError, match="nowhere.wav"):
        model.classify(toy_corpus["root"] / "nowhere.wav")


def test_bugs_are_reported_as_internal_errors(trained, toy_corpus, monkeypatch):
    from gmmspeech.app import scoring

    # a user's mistake is not a bug: exit 1 with the file named
    r = invoke("score", toy_corpus["test"], toy_corpus["test"])
    assert r.exit_code == 1 and r.output.startswith("error: ") and "test.csv" in r.output

    def broken(*a, **k):
        raise KeyError("a bug")

    monkeypatch.setattr(scoring, "score_files", broken)
    r = invoke("score", trained, toy_corpus["test"])
    assert r.exit_code == EXIT_INTERNAL and "internal error" in r.output and "KeyError" in r.output
    assert "--debug" in r.output and "Traceback" not in r.output
    with pytest.raises(KeyError):
        invoke("--debug", "score", trained, toy_corpus["test"])
