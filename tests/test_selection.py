"""Model-order selection: criteria formulas, BIC recovering the generating K, and the `select` command."""

import json

import numpy as np
import pytest

from gmmspeech.core.gmm import DiagGMM
from gmmspeech.model.selection import (
    format_selection,
    heldout_split,
    information_criteria,
    n_parameters,
    select_components,
    select_per_class,
)

from .conftest import invoke


def mixture(k: int, d: int, n: int, seed: int, spread: float = 10.0) -> np.ndarray:
    """n frames from a known K-component diagonal GMM with well-separated means (about `spread` sigmas apart)."""
    rng = np.random.default_rng(seed)
    g = DiagGMM(k)
    g.weights_ = rng.dirichlet(np.full(k, 5.0))
    g.means_ = rng.normal(0.0, spread, (k, d))
    g.variances_ = rng.uniform(0.5, 1.5, (k, d))
    return g.sample(n, random_state=seed + 1)[0]


def test_parameter_count_and_criteria_match_the_estimator():
    assert n_parameters(1, 1) == 2 and n_parameters(4, 3) == 3 + 24 and n_parameters(64, 39) == 63 + 2 * 64 * 39
    X = mixture(3, 2, 500, seed=0)
    g = DiagGMM(3, random_state=0).fit(X)
    bic, aic = information_criteria(g.score_samples(X).sum(), len(X), 3, 2)
    assert bic == pytest.approx(g.bic(X), rel=1e-9) and aic == pytest.approx(g.aic(X), rel=1e-9)
    assert bic - aic == pytest.approx(n_parameters(3, 2) * (np.log(500) - 2))
    with pytest.raises(ValueError, match="at least one frame"):
        information_criteria(0.0, 0, 1, 1)


@pytest.mark.parametrize("true_k,seed", [(4, 0), (5, 1), (3, 2)])
def test_bic_picks_the_generating_number_of_components(true_k, seed):
    X = mixture(true_k, 3, 3000, seed=seed)
    table = select_components(X, [1, 2, 3, 4, 5, 6, 8], seed=0)
    assert table.best["bic"] == true_k
    assert "heldout" not in table.best and all(r["heldout_log_likelihood_per_frame"] is None for r in table.rows)
    ll = [r["log_likelihood_per_frame"] for r in table.rows]
    k_idx = [r["k"] for r in table.rows].index(true_k)
    assert ll[k_idx] - ll[k_idx - 1] > 0.3  # a component short of the truth fits clearly worse
    assert all(r["n_parameters"] == n_parameters(r["k"], 3) for r in table.rows)


def test_heldout_files_score_the_fit_on_the_rest():
    X = mixture(4, 3, 4000, seed=3)
    files = np.array_split(X, 20)
    table = select_components(files, [8, 2, 4], heldout=0.25, seed=1)
    assert [r["k"] for r in table.rows] == [2, 4, 8]
    assert (table.n_files, table.heldout_files) == (15, 5) and table.n_frames + table.heldout_frames == 4000
    held = {r["k"]: r["heldout_log_likelihood_per_frame"] for r in table.rows}
    assert held[4] > held[2] + 0.3 and held[4] >= held[8] - 0.02  # extra components do not generalise better
    assert table.best["bic"] == 4 and table.best["heldout"] in (4, 8)
    # the fitted frames are exactly the retained files
    fit_idx, out_idx = heldout_split(20, 0.25, seed=1)
    assert table.n_frames == sum(len(files[i]) for i in fit_idx)
    assert table.heldout_frames == sum(len(files[i]) for i in out_idx)


def test_heldout_split_is_seeded_disjoint_and_complete():
    a, b = heldout_split(10, 0.3, seed=5)
    assert len(b) == 3 and sorted(np.concatenate([a, b]).tolist()) == list(range(10))
    assert np.array_equal(heldout_split(10, 0.3, seed=5)[1], b)
    assert len(heldout_split(2, 0.01)[1]) == 1 and len(heldout_split(3, 0.99)[0]) == 1
    with pytest.raises(ValueError, match="at least 2 files"):
        heldout_split(1, 0.5)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        heldout_split(5, 1.0)


def test_per_class_and_pooled_tables():
    data = {"b": np.array_split(mixture(4, 2, 1600, seed=4), 4),
            "a": mixture(2, 2, 800, seed=5, spread=30.0) + 200.0}
    tables = select_per_class(data, [1, 2, 4, 6, 8])
    assert [t.label for t in tables] == ["a", "b"] and [t.n_files for t in tables] == [1, 4]
    assert [t.best["bic"] for t in tables] == [2, 4]
    (pooled,) = select_per_class(data, [2, 4, 6, 8], pooled=True)
    assert pooled.label is None and pooled.n_frames == 2400 and pooled.best["bic"] == 6
    text = format_selection(tables + [pooled])
    assert "class a" in text and "all classes pooled" in text and "best: BIC K=2" in text
    starred = [line for line in text.splitlines() if "*" in line]
    assert len(starred) == 3 and all(line.split()[0] in ("2", "4", "6") for line in starred)


def test_bad_inputs_give_clear_errors():
    X = mixture(2, 2, 100, seed=6)
    with pytest.raises(ValueError, match=r"class 'x': K=200 needs at least 200 frames"):
        select_components(X, [2, 200], label="x")
    with pytest.raises(ValueError, match="distinct"):
        select_components(X, [2, 2])
    with pytest.raises(ValueError, match="positive integers"):
        select_components(X, [0, 2])
    bad = X.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="file 1 contains NaN"):
        select_components([X, bad], [2])
    with pytest.raises(ValueError, match="file 1 has 3 dims"):
        select_components([X, np.ones((10, 3))], [2])
    with pytest.raises(ValueError, match="at least 2 files"):
        select_components(X, [2], heldout=0.2)


# ---------------------------------------------------------------- the command
def test_select_command_json_table_and_plot(toy_corpus, tmp_path):
    config = tmp_path / "feats.toml"
    config.write_text('[features]\ncmvn = "none"\n')
    png = tmp_path / "sel.png"
    r = invoke("select", toy_corpus["train"], "--components", "1,2,4", "--config", config, "--json", "--plot", png,
               "--jobs", 1, "-q", "--iterations", 20)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output[:r.output.rindex("}") + 1])
    assert doc["components"] == [1, 2, 4] and not doc["pooled"] and doc["features"]["cmvn"] == "none"
    assert [t["label"] for t in doc["tables"]] == ["high", "low", "noise"]
    for t in doc["tables"]:
        assert [row["k"] for row in t["rows"]] == [1, 2, 4] and t["n_files"] == 6 and t["n_dims"] == 39
        bics = {row["k"]: row["bic"] for row in t["rows"]}
        assert t["best"]["bic"] == min(bics, key=bics.get)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    r = invoke("select", toy_corpus["train"], "--components", "2,4", "--pooled", "--heldout", 0.2, "--jobs", 1, "-q")
    assert r.exit_code == 0, r.output
    assert "all classes pooled" in r.output and "held-out/frame" in r.output and "best: BIC K=" in r.output
    assert "*" in r.output


def test_select_command_errors(toy_corpus, tmp_path, monkeypatch):
    r = invoke("select", toy_corpus["train"], "--components", "4,x")
    assert r.exit_code == 2 and "--components" in r.output
    r = invoke("select", toy_corpus["train"], "--components", "4,100000", "--jobs", 1, "-q")
    assert r.exit_code == 1 and "K=100000" in r.output
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    r = invoke("select", toy_corpus["train"], "--components", "1", "--plot", tmp_path / "p.png", "--jobs", 1, "-q")
    assert r.exit_code == 1 and "pip install 'gmmspeech[plot]'" in r.output and not (tmp_path / "p.png").exists()
