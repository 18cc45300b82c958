import pytest

from gmmspeech.recipe import RecipeError, load_recipe


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
