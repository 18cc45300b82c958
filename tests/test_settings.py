"""One settings path: precedence, provenance, type-dependent defaults, and CLI == recipe."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gmmspeech.app.settings import PRESETS, TASKS, ModelConfig, SettingsError, resolve

from .conftest import invoke


def test_no_task_keeps_the_built_in_defaults():
    from gmmspeech.frontend.features import FeatureConfig

    st = resolve()
    assert st.task is None and st.features == FeatureConfig() and st.model == ModelConfig()
    assert all(src.startswith("default") for _, _, src in st.table())


def test_precedence_and_provenance():
    st = resolve("language", [("recipe", {"features": {"n_mfcc": 9}, "model": {"components": 8}}),
                              ("option", {"model": {"components": 4, "seed": None}})])
    assert st.features.n_mfcc == 9 and st.sources["features.n_mfcc"] == "recipe"
    assert st.features.vad == "max" and st.sources["features.vad"] == "preset:language"
    assert st.model.components == 4 and st.sources["model.components"] == "option"
    assert st.model.seed == 0 and "model.seed" not in st.sources  # None = option not given
    assert st.features.frame_length_ms == 25.0 and st.sources.get("features.frame_length_ms", "default") == "default"


@pytest.mark.parametrize("task", TASKS)
def test_every_preset_is_valid(task):
    st = resolve(task)
    for key in PRESETS[task]["features"]:
        assert st.sources[f"features.{key}"] == f"preset:{task}"
    assert st.features.n_dims > 0


def test_model_type_defaults_apply_whichever_door():
    assert ModelConfig(type="ubm_map").iterations == 8 and ModelConfig(type="ubm_map").init == "mixup"
    a = resolve(None, [("option", {"model": {"type": "ubm_map"}})]).model
    b = resolve(None, [("recipe", {"model": {"type": "ubm_map"}})]).model
    assert a == b and a.iterations == 8 and a.init == "mixup"
    assert resolve().model.iterations == 50 and resolve().model.init == "kmeans++"


@pytest.mark.parametrize("layer, needle", [
    ({"features": {"n_mfc": 3}}, "n_mfc"),
    ({"model": {"componets": 3}}, "componets"),
    ({"model": {"seed": "abc"}}, "seed"),
    ({"model": {"tolerance": "small"}}, "tolerance"),
    ({"model": {"type": "per_class", "init": "mixup"}}, "init"),
])
def test_bad_settings_name_the_key(layer, needle):
    with pytest.raises(SettingsError, match=needle):
        resolve(None, [("recipe", layer)])
    with pytest.raises(SettingsError, match="unknown task"):
        resolve("dance")


@pytest.mark.parametrize("model_type", ["per_class", "ubm_map"])
def test_cli_and_recipe_train_the_same_model(toy_corpus, tmp_path, model_type):
    """`train --task T --model-type X --components K --seed S` == a recipe with the same task and [model]."""
    from gmmspeech.model.modelio import load_model

    cli_model = tmp_path / "cli.npz"
    res = invoke("train", toy_corpus["train"], "-o", cli_model, "--task", "speaker", "--model-type", model_type,
                 "--components", 4, "--seed", 3, "--adapt", "mw", "--no-cache", "-q", "-j", 1)
    assert res.exit_code == 0, res.output
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'name = "r"\ntask = "speaker"\n[data]\ntrain = "{toy_corpus["train"]}"\n'
                      f'[model]\ntype = "{model_type}"\ncomponents = 4\nseed = 3\nadapt = "mw"\n'
                      f'[output]\nmodel = "rec.npz"\n')
    res = invoke("run", recipe, "--no-cache", "-q", "-j", 1)
    assert res.exit_code == 0, res.output
    (c1, m1), (c2, m2) = load_model(cli_model), load_model(tmp_path / "rec.npz")
    assert m1.features == m2.features and m1.training.model == m2.training.model
    assert m1.task == m2.task == "speaker"
    assert m1.settings_sources["model.components"] == "option"
    assert m2.settings_sources["model.components"] == "recipe"
    assert m1.settings_sources["features.n_mfcc"] == m2.settings_sources["features.n_mfcc"] == "preset:speaker"
    for lab in c1.classes_:
        for attr in ("weights_", "means_", "variances_"):
            np.testing.assert_array_equal(getattr(c1.models_[lab], attr), getattr(c2.models_[lab], attr))


def test_inspect_shows_task_and_sources(toy_corpus, tmp_path):
    m = tmp_path / "m.npz"
    assert invoke("train", toy_corpus["train"], "-o", m, "--task", "language", "--components", 2, "--no-cache",
                  "-q", "-j", 1).exit_code == 0
    out = invoke("inspect", m).output
    assert "task         language" in out
    lines = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.startswith("  features.")
             or ln.startswith("  model.")}
    assert lines["features.vad"][-1] == "preset:language"
    assert lines["model.components"][-1] == "option"
    assert lines["features.frame_length_ms"][-1] == "default"


def test_config_file_is_a_layer_between_preset_and_options(tmp_path):
    from gmmspeech.app.recipe import load_config_layer

    p = tmp_path / "c.toml"
    p.write_text('task = "genre"\n[features]\nn_mfcc = 13\n[model]\ncomponents = 8\n')
    task, layer = load_config_layer(p)
    st = resolve(task, [("config", layer), ("option", {"model": {"components": 2}})])
    assert st.task == "genre" and st.features.n_mfcc == 13 and st.features.sample_rate == 22050
    assert st.model.components == 2


def test_features_and_select_take_the_task(toy_corpus):
    """`features --task` extracts the preset's dimensions; `select --task` fits on the preset's features."""
    import json

    from gmmspeech.app.settings import resolve

    res = invoke("features", toy_corpus["train"], "--task", "speaker", "--no-cache", "--json", "-q", "-j", 1)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["dims"] == resolve("speaker").features.n_dims == 90
    res = invoke("select", toy_corpus["train"], "--task", "language", "--components", "1,2", "--pooled",
                 "--n-init", 1, "--no-cache", "--json", "-q", "-j", 1)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)   # stderr may carry a warning (best K at the edge of the range)
    assert out["task"] == "language" and out["features"]["vad"] == "max"


@pytest.mark.parametrize("key, value, message", [
    ("components", 10**7, r"model.components must be an integer in \[1, 65536\]"),
    ("relevance", 0, "above 0"), ("seed", -1, "model.seed"), ("var_floor", 2.0, "model.var_floor"),
    ("tolerance", "small", "model.tolerance must be a number"),
])
def test_model_settings_have_documented_ranges(tmp_path, key, value, message):
    import json as _json

    recipe = tmp_path / "r.toml"
    recipe.write_text(f'name = "r"\n[data]\ntrain = "t.csv"\n[model]\n{key} = {_json.dumps(value)}\n')
    r = invoke("run", recipe)
    assert r.exit_code == 1 and r.output.startswith("error: ") and re.search(message, r.output), r.output
