"""Scoring many files: input expansion, segments, result rows and the score / evaluate / inspect commands."""

import csv
import io
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gmmspeech.app.pipeline import train_classifier
from gmmspeech.app.recipe import ModelConfig
from gmmspeech.app.scoring import expand_inputs, format_rows, score_row, segment_bounds, split_segments
from gmmspeech.data.manifest import Utterance, read_manifest
from gmmspeech.frontend.features import FeatureConfig
from gmmspeech.model.modelio import load_model, save_model

from .conftest import chirpy, invoke, write_wav


@pytest.fixture(scope="module")
def models(toy_corpus, tmp_path_factory):
    """A 3-class toy model and a 2-class one (low/high only, so noise is out of set)."""
    d = tmp_path_factory.mktemp("models")
    utts = read_manifest(toy_corpus["train"])
    out = {}
    for name, keep in (("all", {"low", "high", "noise"}), ("two", {"low", "high"})):
        res = train_classifier([u for u in utts if u.label in keep], FeatureConfig(), ModelConfig(components=4),
                               n_jobs=1, quiet=True)
        save_model(res.classifier, d / f"{name}.npz", res.meta)
        out[name] = d / f"{name}.npz"
    return out


# ---------------------------------------------------------------- pure helpers
@given(st.floats(0, 100), st.floats(0.01, 200), st.floats(0.1, 30))
def test_segments_tile_the_span_without_tiny_pieces(start, length, seconds):
    segs = segment_bounds(start, start + length, seconds)
    assert segs[0][0] == pytest.approx(start) and segs[-1][1] == pytest.approx(start + length)
    assert all(a[1] == b[0] for a, b in zip(segs, segs[1:], strict=False))
    if length >= seconds:
        assert all(seconds / 2 - 1e-5 <= e - s < 1.5 * seconds + 1e-5 for s, e in segs)
    else:
        assert len(segs) == 1


def test_segment_bounds_examples():
    assert segment_bounds(0, 5, 2) == [(0, 2), (2, 4), (4, 5)]
    assert segment_bounds(0, 4.5, 2) == [(0, 2), (2, 4.5)]
    with pytest.raises(ValueError, match="positive"):
        segment_bounds(0, 1, 0)


def test_expand_inputs_folders_manifests_and_files(tmp_path):
    a = write_wav(tmp_path / "d" / "x.wav", chirpy("low", 0.3, 0))
    b = write_wav(tmp_path / "d" / "sub" / "y.FLAC", chirpy("low", 0.3, 1))
    (tmp_path / "d" / "notes.txt").write_text("not audio")
    m = tmp_path / "m.csv"
    m.write_text("path,label\nd/x.wav,low\n")
    utts = expand_inputs([tmp_path / "d", m, tmp_path / "missing.wav"])
    assert [u.path for u in utts] == [b, a, a, tmp_path / "missing.wav"] or \
        [u.path for u in utts] == [a, b, a, tmp_path / "missing.wav"]
    assert utts[2].label == "low"


def test_split_segments_of_a_real_file(tmp_path):
    p = write_wav(tmp_path / "long.wav", chirpy("high", 5.0, 3))
    segs = split_segments([Utterance(p, ""), Utterance(p, "x", start=1.0, end=2.5),
                           Utterance(tmp_path / "nope.wav", "")], 2.0)
    assert [(u.start, u.end) for u in segs] == [(0, 2), (2, 4), (4, 5), (1.0, 2.5), (None, None)]
    assert segs[3].label == "x"


def test_score_row_decision_margin_posteriors_and_top():
    u = Utterance(__import__("pathlib").Path("f.wav"), "")
    r = score_row(u, np.array([-50.0, -48.0, -53.0]), ["a", "b", "c"], 120, top=2)
    assert r["predicted"] == r["best"] == "b" and r["margin"] == 2.0 and r["loglik"] == -48.0
    assert [t["class"] for t in r["top"]] == ["b", "a"] and abs(sum(r["posteriors"].values()) - 1) < 1e-3
    assert r["posteriors"]["b"] > r["posteriors"]["a"] > r["posteriors"]["c"]
    assert score_row(u, np.array([-50.0, -48.0, -53.0]), ["a", "b", "c"], 120, thresholds=-47.0)["predicted"] \
        == "unknown"
    assert score_row(u, np.array([-50.0, -48.0, -53.0]), ["a", "b", "c"], 120,
                     thresholds=np.array([-51.0, -40.0, -40.0]))["predicted"] == "b"


def test_format_rows_csv_json_table():
    p = __import__("pathlib").Path("some/file.wav")
    rows = [score_row(Utterance(p, "", start=0.0, end=2.0), np.array([-1.0, -2.0]), ["en", "german"], 200),
            score_row(Utterance(p, ""), np.array([-3.0, -2.5]), ["en", "german"], 500)]
    parsed = list(csv.DictReader(io.StringIO(format_rows(rows, ["en", "german"], "csv"))))
    assert parsed[0]["predicted"] == "en" and parsed[0]["end"] == "2.0" and parsed[1]["start"] == ""
    assert abs(float(parsed[1]["posterior_en"]) + float(parsed[1]["posterior_german"]) - 1) < 1e-3
    doc = json.loads(format_rows(rows, ["en", "german"], "json", failed=[("bad.wav", "cannot decode")]))
    assert "softmax" in doc["posterior"] and doc["failed"][0]["file"] == "bad.wav" and len(doc["results"]) == 2
    table = format_rows(rows, ["en", "german"], "table").splitlines()
    assert len({len(line.split("  top")[0]) for line in table[1:]}) == 1 and "german" in table[0]
    assert "some/file.wav[0.00-2.00]" in table[1]


# ---------------------------------------------------------------- the commands
def test_score_segments_and_formats(models, toy_corpus, tmp_path):
    long = write_wav(tmp_path / "long.wav", np.concatenate([chirpy("low", 2.0, 7), chirpy("noise", 2.0, 8)]))
    r = invoke("score", models["all"], long, "--segment", 1.0, "--format", "json", "-q", "--jobs", 1, "--no-cache")
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)["results"]
    assert [(x["start"], x["end"]) for x in res] == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert [x["predicted"] for x in res] == ["low", "low", "noise", "noise"]
    r = invoke("score", models["all"], toy_corpus["root"] / "audio" / "low", "--top", 2, "-q", "-j", 1,
               "--no-cache")
    lines = r.output.strip().splitlines()
    assert r.exit_code == 0 and len(lines) == 11 and all(" low " in line for line in lines[1:])
    assert "loglik/fr" in lines[0] and "noise" in lines[0]


def test_score_open_set(models, toy_corpus):
    """Calibrated thresholds accept in-class files; a threshold T rejects exactly the files whose best score < T."""
    low = toy_corpus["root"] / "audio" / "low"
    r = invoke("score", models["two"], low, "--open-set", "--format", "json", "-q", "-j", 1, "--no-cache")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert set(doc["open_set_thresholds"]) == {"low", "high"}
    assert {x["predicted"] for x in doc["results"]} == {"low"}
    noise = toy_corpus["root"] / "audio" / "noise"
    r = invoke("score", models["two"], noise, low, "--format", "json", "-q", "-j", 1, "--no-cache")
    res = json.loads(r.output)["results"]
    best = sorted(x["loglik"] for x in res)
    t = (best[9] + best[10]) / 2
    r = invoke("score", models["two"], noise, low, "--reject-below", t, "--format", "csv", "-q", "-j", 1,
               "--no-cache")
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert sum(x["predicted"] == "unknown" for x in rows) == 10
    assert all((x["predicted"] == "unknown") == (float(x["loglik"]) < t) for x in rows)
    assert {x["best"] for x in rows} <= {"low", "high"}


def test_score_reports_bad_files_and_exits_1(models, toy_corpus, tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_text("not audio")
    good = next((toy_corpus["root"] / "audio" / "high").glob("*.flac"))
    r = invoke("score", models["all"], junk, good, tmp_path / "absent.flac", "--format", "json", "-q", "-j", 1,
               "--no-cache")
    assert r.exit_code == 1
    doc = json.loads(r.output[:r.output.rindex("}") + 1])
    assert [x["predicted"] for x in doc["results"]] == ["high"]
    assert {f["file"] for f in doc["failed"]} == {str(junk), str(tmp_path / "absent.flac")}
    r = invoke("score", models["all"], tmp_path / "empty_dir_does_not_exist_but_is_a.csv", "-q")
    assert r.exit_code == 1 and "no such manifest" in r.output


def test_evaluate_writes_the_report_files_and_reports_unknown_labels(models, toy_corpus, tmp_path):
    r = invoke("evaluate", models["two"], toy_corpus["test"], "--report", tmp_path / "rep", "-q", "-j", 1,
               "--no-cache")
    assert r.exit_code == 0, r.output
    rep = tmp_path / "rep"
    assert sorted(p.name for p in rep.iterdir()) == ["confusion.csv", "confusion.png", "det.png", "metrics.json",
                                                     "predictions.csv", "report.html"]
    m = json.loads((rep / "metrics.json").read_text())
    assert m["unknown_labels"] == ["noise"] and m["labels"] == ["high", "low", "noise"]
    assert m["per_class"]["noise"]["support"] == 4 and 0 <= m["eer"] <= 0.5
    assert "noise" in r.output and "unknown to the model" in r.output and "equal error rate" in r.output
    preds = list(csv.DictReader(open(rep / "predictions.csv")))
    assert {"file", "truth", "predicted", "score_high", "score_low"} <= set(preds[0])
    r = invoke("evaluate", models["two"], toy_corpus["test"], "--reject-below", 1e6, "--report", tmp_path / "rep2",
               "-q", "-j", 1, "--no-cache")
    m2 = json.loads((tmp_path / "rep2" / "metrics.json").read_text())
    assert m2["labels"][-1] == "unknown" and m2["per_class"]["unknown"]["support"] == 0 and m2["accuracy"] == 0
    assert m2["eer"] == m["eer"]  # detection scores do not depend on the open-set decision


def test_evaluate_without_matplotlib_notes_it(models, toy_corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    r = invoke("evaluate", models["all"], toy_corpus["test"], "--report", tmp_path / "rep", "-q", "-j", 1,
               "--no-cache")
    assert r.exit_code == 0 and "pip install 'gmmspeech[plot]'" in r.output
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["confusion.csv", "metrics.json",
                                                                     "predictions.csv", "report.html"]


def test_inspect_shows_thresholds_and_refuses_bad_files(models, tmp_path):
    r = invoke("inspect", models["two"])
    assert r.exit_code == 0 and "open set" in r.output and "low=" in r.output and "4 per class" in r.output
    clf, _ = load_model(models["two"])
    assert f"{clf.reject_thresholds_[1]:.3f}" in r.output
    evil = tmp_path / "m.npz"
    evil.write_bytes(__import__("pickle").dumps({"a": 1}))
    r = invoke("inspect", evil)
    assert r.exit_code == 1 and "pickle" in r.output and str(evil) in r.output
