"""Output locations are checked before work; report folders are replaced whole; what users' labels hold is shown
and written harmlessly; hostile model files and recipe names are refused in one line."""

import csv
import json
import os
import time
import zipfile

import numpy as np
import pytest

from gmmspeech.app import pipeline
from gmmspeech.infra.outputs import OutputFolderError, check_output_dir, check_output_file, replace_dir
from gmmspeech.infra.text import csv_safe, terminal_safe
from gmmspeech.model.modelio import ModelFileError, load_model

from .conftest import chirpy, invoke, write_wav


@pytest.fixture
def no_training(monkeypatch):
    """Training that fails loudly if reached: a refusal must come first."""
    def boom(*a, **k):
        raise AssertionError("training started before the output was checked")
    monkeypatch.setattr(pipeline, "train_classifier", boom)


@pytest.mark.parametrize("where, reason", [
    (lambda t: t, "is a folder"),
    (lambda t: t / "afile" / "m.npz", "not a folder"),
    (lambda t: "/sys/gmmspeech-test/m.npz", "cannot write here"),
])
def test_train_refuses_an_unwritable_model_path_before_training(toy_corpus, tmp_path, no_training, where, reason):
    (tmp_path / "afile").write_text("x")
    target = where(tmp_path)
    r = invoke("train", toy_corpus["train"], "-o", target, "-q", "--no-cache")
    assert r.exit_code == 1 and r.output.startswith("error: ") and reason in r.output, r.output
    assert "Traceback" not in r.output and str(target).split("/")[1] in r.output


def test_report_locations_are_checked_before_scoring(toy_corpus, tmp_path):
    model = tmp_path / "m.npz"
    assert invoke("train", toy_corpus["train"], "-o", model, "--components", 2, "-q", "--no-cache").exit_code == 0
    readme = tmp_path / "README.md"
    readme.write_text("mine")
    r = invoke("evaluate", model, toy_corpus["test"], "--report", readme, "-q", "--no-cache")
    assert r.exit_code == 1 and "not a folder" in r.output and readme.read_text() == "mine"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    r = invoke("evaluate", model, toy_corpus["test"], "--report", mine, "-q", "--no-cache")
    assert r.exit_code == 1 and "not a gmmspeech report (notes.txt)" in r.output
    assert (mine / "notes.txt").read_text() == "keep"
    r = invoke("select", toy_corpus["train"], "--components", "1", "--plot", "/sys/nope/p.png", "-q", "--no-cache")
    assert r.exit_code == 1 and "/sys/nope" in r.output and "K=" not in r.output


def test_run_prints_its_results_even_when_the_report_cannot_be_written(toy_corpus, tmp_path, monkeypatch):
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'name = "r"\n[data]\ntrain = "{toy_corpus["train"]}"\ntest = "{toy_corpus["test"]}"\n'
                      '[model]\ncomponents = 2\n[output]\nmodel = "m.npz"\n[evaluate]\nreport = "rep"\n')

    def full_disk(*a, **k):
        raise OSError(28, "No space left on device", str(tmp_path / "rep"))
    monkeypatch.setattr(pipeline, "write_report", full_disk)
    r = invoke("run", recipe, "-q", "--no-cache")
    assert r.exit_code == 1 and "accuracy" in r.output and "confusion matrix" in r.output
    assert "error: " in r.output and "No space left on device" in r.output and "Traceback" not in r.output


def test_a_report_folder_never_mixes_two_runs(tmp_path, monkeypatch):
    rep = tmp_path / "rep"

    def files(content):
        def build(d):
            (d / "predictions.csv").write_text(content)
            (d / "metrics.json").write_text(content)
            return [d / "predictions.csv", d / "metrics.json"]
        return build
    expected = ("predictions.csv", "metrics.json")
    replace_dir(check_output_dir(rep, expected), files("run 1"))

    def killed(d):
        (d / "predictions.csv").write_text("run 2")
        raise KeyboardInterrupt   # killed between the two files
    with pytest.raises(KeyboardInterrupt):
        replace_dir(rep, killed)
    assert {p.name: p.read_text() for p in rep.iterdir()} == {"predictions.csv": "run 1", "metrics.json": "run 1"}
    stale = tmp_path / ".rep.gmmspeech-tmp-dead"
    stale.mkdir()
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    written = replace_dir(rep, files("run 3"))
    assert [p.read_text() for p in written] == ["run 3", "run 3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]   # no temporary sibling left
    with pytest.raises(OutputFolderError):
        check_output_dir(tmp_path, expected)
    with pytest.raises(IsADirectoryError):
        check_output_file(rep)


def test_hostile_labels_are_harmless_in_terminal_csv_and_plots(tmp_path):
    labels = {"=HYPERLINK(\"http://x\")": "low", "$\\undefinedmacro$\x1b[2J\x1b]0;pwned\x07": "noise"}
    rows = []
    for lab, kind in labels.items():
        for i in range(3):
            p = write_wav(tmp_path / kind / f"{i}.wav", chirpy(kind, 0.6, seed=i + len(kind)))
            rows.append([p.relative_to(tmp_path).as_posix(), lab])
    with open(tmp_path / "m.csv", "w", newline="") as f:
        csv.writer(f).writerows([["path", "label"], *rows])
    model = tmp_path / "m.npz"
    r = invoke("train", tmp_path / "m.csv", "-o", model, "--components", 1, "-q", "--no-cache")
    assert r.exit_code == 0, r.output
    for cmd in (("inspect", model), ("score", model, tmp_path / "m.csv", "--format", "table"),
                ("evaluate", model, tmp_path / "m.csv", "--report", tmp_path / "rep", "-q", "--no-cache")):
        r = invoke(*cmd)
        assert r.exit_code == 0, r.output
        assert "\x1b" not in r.output and "\x07" not in r.output and "\\x1b[2J" in r.output
    preds = list(csv.reader(open(tmp_path / "rep" / "predictions.csv")))
    assert "'=HYPERLINK(\"http://x\")" in preds[1] and not any(c.startswith("=") for row in preds for c in row)
    assert (tmp_path / "rep" / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    r = invoke("score", model, tmp_path / "m.csv", "--format", "csv", "-q", "--no-cache")
    assert all(not c.startswith(("=", "@", "+")) for row in csv.reader(r.stdout.splitlines()) for c in row)
    assert csv_safe(-1.5) == -1.5 and csv_safe("-x") == "'-x" and terminal_safe("a\u202eb\tc") == "a\\u202eb\tc"


def _model_with(tmp_path, **arrays):
    p = tmp_path / "evil.npz"
    np.savez(p, **arrays)
    return p


def test_hostile_model_files_are_refused_before_allocating(tmp_path):
    ok = dict(weights=np.ones((1, 1)), means=np.zeros((1, 1, 1)), variances=np.ones((1, 1, 1)), meta=np.array("{}"))
    # an array header that declares 80 TB
    p = _model_with(tmp_path, **ok)
    with zipfile.ZipFile(p) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    raw = members["means.npy"]
    members["means.npy"] = raw.replace(b"(1, 1, 1)", b"(10000000, 1000000, 1)").replace(b"    \n", b"\n", 1)
    big = tmp_path / "big.npz"
    with zipfile.ZipFile(big, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(ModelFileError, match="declares shape"):
        load_model(big)
    # a decompression bomb: 64 MB of zeros in a few kB
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data if name != "means.npy" else raw[:128] + bytes(64 * 2**20))
    assert bomb.stat().st_size < 2**20
    with pytest.raises(ModelFileError, match="inflates"):
        load_model(bomb)
    with pytest.raises(ModelFileError, match="unexpected entry 'extra.npy'"):
        load_model(_model_with(tmp_path, **ok, extra=np.zeros(2)))
    r = invoke("inspect", bomb)
    assert r.exit_code == 1 and r.output.startswith("error: ") and "bomb.npz" in r.output


@pytest.mark.parametrize("name", ["../../x", "/abs/x", "a/b", "..", ""])
def test_a_recipe_name_is_a_name_not_a_path(tmp_path, name):
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'name = {json.dumps(name)}\n[data]\ntrain = "t.csv"\n')
    r = invoke("run", recipe)
    assert r.exit_code == 1 and "name must be a plain name" in r.output


def test_a_bad_scheduler_fails_at_once_and_run_says_where_it_came_from(toy_corpus, tmp_path):
    pytest.importorskip("distributed")
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'name = "r"\n[data]\ntrain = "{toy_corpus["train"]}"\n[parallel]\nscheduler = "tcp://127.0.0.1:1"\n'
                      '[output]\nmodel = "m.npz"\n')
    t0 = time.monotonic()
    r = invoke("run", recipe)
    assert r.exit_code == 1 and "Dask scheduler tcp://127.0.0.1:1 (from recipe r.toml)" in r.output
    assert "error: " in r.output and "Traceback" not in r.output and time.monotonic() - t0 < 60
    r = invoke("train", toy_corpus["train"], "-o", tmp_path / "m.npz", "--scheduler", "not an address")
    assert r.exit_code == 1 and r.output.startswith("error: ") and not (tmp_path / "m.npz").exists()
