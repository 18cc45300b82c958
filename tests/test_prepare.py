"""Corpus layouts, across layouts: refusals, options, writing the manifests, the split, end to end.

Each layout's own tests (and its miniature corpus builder) are in ``test_prepare_<layout>.py``.
"""

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gmmspeech.data.manifest import Utterance, check_split, read_manifest
from gmmspeech.data.prepare import LayoutError, prepare, stratified_split, write_prepared

from .conftest import chirpy, invoke, write_wav
from .test_prepare_commonvoice import make_commonvoice
from .test_prepare_gtzan import make_gtzan
from .test_prepare_voxceleb1 import make_voxceleb1

REPO = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------------------------ layouts that refuse


@pytest.mark.parametrize("layout, build, needle", [
    ("gtzan", lambda r: write_wav(r / "x.wav", chirpy("low", 0.3, 0)), "expected genres/<genre>/<genre>.000NN.wav"),
    ("folders", lambda r: write_wav(r / "only" / "x.wav", chirpy("low", 0.3, 0)), "found 1"),
    ("voxlingua107", lambda r: write_wav(r / "English" / "a.wav", chirpy("low", 0.3, 0)), "ISO codes"),
    ("commonvoice", lambda r: (r / "en" / "clips").mkdir(parents=True), "Common Voice language folder"),
    ("voxceleb1", lambda r: write_wav(r / "wav" / "id10001" / "v" / "00001.wav", chirpy("low", 0.3, 0)),
     "needs the official iden_split.txt"),
    ("kaldi", lambda r: (r / "text").write_text("u1 hello\n"), "expected a Kaldi data dir"),
])
def test_wrong_layouts_are_refused_naming_the_folder(tmp_path, layout, build, needle):
    root = tmp_path / "corpus"
    root.mkdir()
    build(root)
    with pytest.raises(LayoutError) as ei:
        prepare(layout, root)
    msg = str(ei.value)
    assert needle in msg and str(root) in msg and f"'{layout}'" in msg


def test_options_a_layout_does_not_take_are_refused(tmp_path):
    make_voxceleb1(tmp_path)
    with pytest.raises(ValueError, match="does not take option.*speaker_regex"):
        prepare("voxceleb1", tmp_path, speaker_regex="x")


def test_write_prepared_refuses_a_leaky_or_thin_split(tmp_path):
    root = make_gtzan(tmp_path / "g", n=3)
    prep = prepare("gtzan", root, test_fraction=0.34, probe=False)
    with pytest.raises(ValueError, match="fewer than the minimum 5"):
        write_prepared(prep, tmp_path / "out", min_files=5)
    prep.splits["test"].append(prep.splits["train"][0])
    with pytest.raises(ValueError, match="same audio as train line"):
        write_prepared(prep, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_write_prepared_refuses_dev_test_overlap_and_no_training_files(tmp_path):
    root = make_gtzan(tmp_path / "g", n=5)
    prep = prepare("gtzan", root, test_fraction=0.2, dev_fraction=0.2, probe=False)
    prep.splits["dev"].append(prep.splits["test"][0])  # used to pass: only train was compared with dev and test
    with pytest.raises(ValueError, match=r"1 problem\(s\):\n  test line 2: same audio as dev line 5"):
        write_prepared(prep, tmp_path / "out")
    prep = prepare("gtzan", root, probe=False)
    prep.splits["train"] = []
    prep.splits["test"] = []  # nothing a check_split could name: an empty train.csv used to be written
    with pytest.raises(ValueError, match="no training files"):
        write_prepared(prep, tmp_path / "out", min_files=0)
    assert not (tmp_path / "out").exists()


def test_public_names_are_reexported_by_the_package():
    import gmmspeech.data.prepare as pkg

    for name in pkg.__all__:
        assert getattr(pkg, name) is not None
    assert set(pkg.LAYOUTS) == {"folders", "gtzan", "voxlingua107", "commonvoice", "voxceleb1", "kaldi"}
    assert all(f.__name__ == f"prepare_{name}" and getattr(pkg, f.__name__) is f for name, f in pkg.LAYOUTS.items())


# ------------------------------------------------------------------------------------------ split properties


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=12), frac=st.floats(0.05, 0.6),
       dev=st.sampled_from([0.0, 0.2]), seed=st.integers(0, 1000), n_classes=st.integers(1, 3))
def test_stratified_split_properties(sizes, frac, dev, seed, n_classes):
    utts = [Utterance(Path(f"/x/g{g}_{i}.wav"), f"c{g % n_classes}", speaker=f"g{g}")
            for g, n in enumerate(sizes) for i in range(n)]
    if frac + dev >= 1:
        return
    out = stratified_split(utts, test_fraction=frac, dev_fraction=dev, seed=seed, group=lambda u: u.speaker)
    assert [u.path for u in out] == [u.path for u in utts]
    assert out == stratified_split(utts, test_fraction=frac, dev_fraction=dev, seed=seed, group=lambda u: u.speaker)
    side = {}
    for u in out:
        assert side.setdefault(u.speaker, u.split) == u.split  # a group never straddles
    for c in {u.label for u in utts}:
        mine = [u for u in out if u.label == c]
        assert any(u.split == "train" for u in mine)
        if len({u.speaker for u in mine}) > 1:
            assert any(u.split == "test" for u in mine)


# ------------------------------------------------------------------------------------------ end to end, CLI


def _shrunk_recipe(src: Path, dst: Path, manifests: Path) -> Path:
    """The shipped recipe with its own features, pointed at tmp manifests and cut to 2 components."""
    text = src.read_text()
    text = re.sub(r'(?m)^train = ".*"$', f'train = "{(manifests / "train.csv").as_posix()}"', text)
    text = re.sub(r'(?m)^test = ".*"$', f'test = "{(manifests / "test.csv").as_posix()}"', text)
    text = re.sub(r"(?m)^components = \d+$", "components = 2", text)
    if not re.search(r"(?m)^components = ", text):  # the task preset's size: shrink it the same way
        text = re.sub(r"(?m)^\[model\]$", "[model]\ncomponents = 2", text)
    text = re.sub(r"(?m)^iterations = \d+$", "iterations = 5", text)
    text = re.sub(r"(?m)^min_files = \d+$", "min_files = 2", text)
    text = re.sub(r'(?m)^report = ".*"$', 'report = "report"', text)
    text = re.sub(r'(?m)^model = ".*"$', 'model = "model.npz"', text)
    dst.write_text(text)
    return dst


@pytest.mark.parametrize("layout, build, recipe", [
    ("gtzan", make_gtzan, "gtzan_genre.toml"),
    ("commonvoice", make_commonvoice, "commonvoice_lid.toml"),
])
def test_prepare_then_shipped_recipe_end_to_end(tmp_path, monkeypatch, layout, build, recipe):
    monkeypatch.setenv("GMMSPEECH_CACHE", str(tmp_path / "cache"))  # never touch the user's feature cache
    root = build(tmp_path / "corpus")
    out = tmp_path / "data_manifests" / layout
    r = invoke("prepare", layout, root, "-o", out)
    assert r.exit_code == 0, r.output
    assert "files" in r.output and "hours" in r.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["layout"] == layout and summary["splits"]["train"]["files"] > 0
    train = read_manifest(out / "train.csv", min_files=2)
    assert check_split(train, read_manifest(out / "test.csv")) == []
    rec = _shrunk_recipe(REPO / "recipes" / recipe, tmp_path / "r.toml", out)
    r = invoke("run", rec, "-q", "--jobs", 1)
    assert r.exit_code == 0, r.output
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    n = len(metrics["labels"])
    assert metrics["accuracy"] > 1.5 / n  # three (two) acoustically distinct classes: well above chance
    assert (tmp_path / "model.npz").is_file()


def test_prepare_cli_refuses_clearly(tmp_path):
    (tmp_path / "empty").mkdir()
    r = invoke("prepare", "gtzan", tmp_path / "empty", "-o", tmp_path / "out")
    assert r.exit_code == 1 and "not a usable 'gtzan' layout" in r.output and "empty" in r.output
    r = invoke("prepare", "nonsense", tmp_path / "empty", "-o", tmp_path / "out")
    assert r.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_run_refuses_train_test_overlap(tmp_path):
    root = make_gtzan(tmp_path / "g", n=4)
    out = tmp_path / "m"
    assert invoke("prepare", "gtzan", root, "-o", out, "--no-probe", "--test-fraction", 0.25).exit_code == 0
    lines = (out / "train.csv").read_text().splitlines()
    (out / "test.csv").write_text("\n".join([lines[0], lines[1]]) + "\n")
    rec = _shrunk_recipe(REPO / "recipes" / "gtzan_genre.toml", tmp_path / "r.toml", out)
    r = invoke("run", rec, "-q", "--jobs", 1)
    assert r.exit_code == 1 and "test.csv line 2: same audio as train.csv line 2" in r.output
    assert not (tmp_path / "model.npz").exists()
