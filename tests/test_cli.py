"""The command line end to end: on a toy corpus, and on the bundled demo recipe."""

import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

from gmmspeech.data.featstore import features_for
from gmmspeech.data.manifest import read_manifest
from gmmspeech.model.modelio import load_model

from .conftest import invoke

REPO = Path(__file__).resolve().parent.parent


def test_train_score_evaluate_inspect_on_toy_corpus(toy_corpus, tmp_path):
    model = tmp_path / "toy.npz"
    # stationary tones: per-utterance CMVN would remove exactly what tells them apart
    config = tmp_path / "feats.toml"
    config.write_text('[features]\ncmvn = "none"\n')
    r = invoke("train", toy_corpus["train"], "-o", model, "--components", 4, "--config", config, "--jobs", 1, "-q")
    assert r.exit_code == 0, r.output
    r = invoke("evaluate", model, toy_corpus["test"], "--report", tmp_path / "rep", "--jobs", 1, "-q")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "rep" / "metrics.json").read_text())["accuracy"] == 1.0
    assert "confusion matrix" in r.output
    r = invoke("score", model, toy_corpus["root"] / "audio" / "high", "--format", "json", "-q", "--jobs", 1)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert len(out["results"]) == 10 and {x["predicted"] for x in out["results"]} == {"high"}
    r = invoke("inspect", model)
    assert r.exit_code == 0 and "high, low, noise" in r.output and "4 per class" in r.output


def test_bad_inputs_exit_1_with_a_message(toy_corpus, tmp_path):
    r = invoke("evaluate", tmp_path / "nope.npz", toy_corpus["test"])
    assert r.exit_code == 1 and "nope.npz" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label\nmissing.wav,x\n")
    r = invoke("train", bad, "-o", tmp_path / "m.npz")
    assert r.exit_code == 1 and "line 2" in r.output and "missing.wav" in r.output
    assert not (tmp_path / "m.npz").exists()


def test_score_reports_bad_file_and_continues(toy_corpus, tmp_path):
    model = tmp_path / "toy.npz"
    assert invoke("train", toy_corpus["train"], "-o", model, "--components", 2, "--jobs", 1, "-q").exit_code == 0
    junk = tmp_path / "junk.wav"
    junk.write_text("not audio")
    good = next((toy_corpus["root"] / "audio" / "low").glob("*.flac"))
    r = invoke("score", model, good, junk, "--format", "csv", "-q", "--jobs", 1)
    assert r.exit_code == 1
    assert re.search(r"low_?\S*\.flac,low,", r.output) or ",low," in r.output
    assert "junk.wav" in r.output and "cannot decode" in r.output


@pytest.mark.parametrize("name, task, min_accuracy", [("demo_lid", "language", 0.85), ("demo_genre", "genre", 0.5)])
def test_demo_recipe_end_to_end(tmp_path, name, task, min_accuracy):
    """The bundled demos through `gmmspeech run`: accuracy far above chance, the task preset's settings
    recorded in the model, and the model reloads exactly."""
    src = REPO / "recipes" / f"{name}.toml"
    doc = tomllib.loads(src.read_text())
    recipe = tmp_path / "demo.toml"
    text = src.read_text()
    for key in (doc["data"]["train"], doc["data"]["test"]):
        text = text.replace(f'"{key}"', f'"{(src.parent / key).resolve().as_posix()}"')
    text = text.replace(f'"{doc["output"]["model"]}"', '"model.npz"').replace(
        f'"{doc["evaluate"]["report"]}"', '"report"')
    recipe.write_text(text)
    r = invoke("run", recipe, "-q")
    assert r.exit_code == 0, r.output
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    n_classes = len(metrics["labels"])
    assert n_classes >= 5 and metrics["accuracy"] >= min_accuracy > 3 / n_classes
    assert "confusion matrix" in r.output

    clf, meta = load_model(tmp_path / "model.npz")
    from gmmspeech.app.settings import resolve

    assert meta.task == task and meta.features == resolve(task).features
    cfg = meta.features
    rows = {row["file"]: row for row in
            __import__("csv").DictReader(open(tmp_path / "report" / "predictions.csv"))}
    for utt in read_manifest(REPO / doc["data"]["test"].replace("../", "", 1))[:6]:
        scores = clf.score(features_for(utt, cfg))
        saved = np.array([float(rows[utt.name][f"score_{c}"]) for c in clf.classes_])
        np.testing.assert_allclose(scores, saved, atol=1e-5)


@pytest.mark.parametrize("cmd", [["--version"], ["run", "--help"]])
def test_help_and_version(cmd):
    assert invoke(*cmd).exit_code == 0
