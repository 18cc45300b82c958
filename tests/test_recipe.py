from pathlib import Path

import pytest

from gmmspeech.app.recipe import RecipeError, load_recipe


def test_paths_are_relative_to_recipe(tmp_path):
    (tmp_path / "r").mkdir()
    p = tmp_path / "r" / "x.toml"
    p.write_text('name="x"\n[data]\ntrain="../d/train.csv"\n[features]\nn_mfcc=20\n[model]\ncomponents=8\n'
                 '[output]\nmodel="m.npz"\n')
    r = load_recipe(p)
    assert r.train == tmp_path / "d" / "train.csv" and r.model_path == tmp_path / "r" / "m.npz"
    assert r.features.n_mfcc == 20 and r.model.components == 8 and r.test is None


@pytest.mark.parametrize("body, needle", [
    ('[data]\ntrain="a.csv"\n[model]\ncomponets=3\n', "model.componets"),
    ('[data]\ntrain="a.csv"\n[features]\nn_mfc=3\n', "n_mfc"),
    ('[data]\ntrain="a.csv"\nfoo=1\n', "data.foo"),
    ('[model]\ncomponents=3\n', "missing [data] train"),
    ('[data\n', "not valid TOML"),
])
def test_bad_recipes_name_the_key(tmp_path, body, needle):
    p = tmp_path / "bad.toml"
    p.write_text(body)
    with pytest.raises(RecipeError) as ei:
        load_recipe(p)
    assert needle in str(ei.value) and str(p) in str(ei.value)


REPO_RECIPES = sorted((Path(__file__).resolve().parent.parent / "recipes").glob("*.toml"))


@pytest.mark.parametrize("path", REPO_RECIPES, ids=lambda p: p.name)
def test_every_shipped_recipe_loads(path):
    """Every recipe in recipes/ stays valid for the current FeatureConfig and ModelConfig."""
    r = load_recipe(path)
    assert r.name == path.stem and r.train is not None and r.test is not None and r.model_path is not None
    assert r.features.n_dims > 0 and r.min_files >= 1


def test_task_recipes_use_task_appropriate_features():
    by_name = {p.stem: load_recipe(p) for p in REPO_RECIPES}
    assert {"gtzan_genre", "voxlingua_lid", "commonvoice_lid", "voxceleb1_speaker"} <= set(by_name)
    from gmmspeech.app.settings import resolve

    genre = by_name["gtzan_genre"]
    assert genre.task == "genre" and genre.features == resolve("genre").features
    assert genre.features.frame_length_ms > 40 and genre.features.sample_rate == 22050 and genre.model.components >= 64
    assert genre.settings.sources["features.sample_rate"] == "preset:genre"
    for lid in ("voxlingua_lid", "commonvoice_lid"):
        f = by_name[lid].features
        assert f.sdc and f.n_dims == 56 and f.vad != "none"
    spk = by_name["voxceleb1_speaker"].features
    assert spk.deltas == 2 and spk.cmvn != "none" and spk.vad != "none"


@pytest.mark.parametrize("value", ["0", "-1", '"3"', "true"])
def test_min_files_must_be_a_positive_integer(tmp_path, value):
    p = tmp_path / "r.toml"
    p.write_text(f'[data]\ntrain="a.csv"\nmin_files={value}\n')
    with pytest.raises(RecipeError, match="data.min_files must be a positive integer"):
        load_recipe(p)


def test_feature_config_file_accepts_recipe_or_bare_keys(tmp_path):
    from gmmspeech.app.recipe import load_feature_config

    (tmp_path / "a.toml").write_text("[features]\nn_mfcc = 7\ndeltas = 0\nsdc = true\n")
    (tmp_path / "b.toml").write_text("n_mfcc = 20\n")
    (tmp_path / "c.toml").write_text("n_mfc = 20\n")
    assert load_feature_config(tmp_path / "a.toml").n_dims == 56
    assert load_feature_config(tmp_path / "b.toml").n_mfcc == 20
    with pytest.raises(RecipeError, match="c.toml.*n_mfc"):
        load_feature_config(tmp_path / "c.toml")
