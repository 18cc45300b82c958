"""Cross-validation: stratified, group-aware folds; per-fold and pooled figures; the CLI."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gmmspeech.core.folds import fold_indices
from gmmspeech.infra.errors import UsageError

from .conftest import invoke


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 4), st.integers(2, 5), st.integers(0, 10_000), st.integers(4, 8))
def test_folds_partition_stratify_and_keep_groups_apart(n_classes, per_group, seed, groups_per_class):
    labels, groups = [], []
    for c in range(n_classes):
        for g in range(groups_per_class):
            labels += [f"c{c}"] * per_group
            groups += [f"c{c}-g{g}"] * per_group
    plan = fold_indices(labels, groups, 3, seed)
    seen = np.concatenate([te for _, te in plan])
    assert sorted(seen) == list(range(len(labels)))          # every file tested exactly once
    for tr, te in plan:
        assert not set(np.asarray(groups)[tr]) & set(np.asarray(groups)[te])   # no group on both sides
        assert set(np.asarray(labels)[te]) == set(labels)   # every class in every test fold


def test_too_few_groups_is_a_usage_error():
    with pytest.raises(UsageError, match="at least 4 groups per class; a has 2"):
        fold_indices(["a"] * 4 + ["b"] * 8, ["x", "x", "y", "y"] + [str(i) for i in range(8)], 4)


def test_crossval_command_on_a_grouped_corpus(toy_corpus, tmp_path):
    lines = toy_corpus["train"].read_text().splitlines()
    root = toy_corpus["root"]
    rows = [f"{root / ln.split(',')[0]},{ln.split(',')[1]},artist{i // 2}" for i, ln in enumerate(lines[1:])]
    manifest = tmp_path / "all.csv"
    manifest.write_text("path,label,artist\n" + "\n".join(rows) + "\n")
    r = invoke("crossval", manifest, "--folds", 3, "--group", "artist", "--report", tmp_path / "rep",
               "--config", _tiny(tmp_path), "-q", "--no-cache", "-j", 1)
    assert r.exit_code == 0, r.output
    assert "3-fold cross-validation grouped by artist: accuracy" in r.output and "confusion matrix" in r.output
    m = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    cv = m["crossval"]
    assert cv["folds"] == 3 and len(cv["per_fold"]) == 3 and sum(f["n_test"] for f in cv["per_fold"]) == 18
    assert abs(np.mean([f["accuracy"] for f in cv["per_fold"]]) - cv["accuracy_mean"]) < 1e-9
    assert m["n_items"] == 18 and cv["accuracy_mean"] > 0.8
    r = invoke("crossval", manifest, "--folds", 3, "--group", "nocolumn", "-q", "--no-cache")
    assert r.exit_code == 2 and "no column 'nocolumn'" in r.output


def _tiny(tmp_path):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text("[model]\ncomponents = 2\niterations = 10\n")
    return cfg
