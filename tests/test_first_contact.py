"""The first ten minutes: help, bundled recipes, clear refusals, README and --help agreeing."""

import re
import tomllib
from pathlib import Path

import pytest
from typer.main import get_command

from gmmspeech.cli import app

from .conftest import invoke

REPO = Path(__file__).resolve().parents[1]


def _commands():
    root = get_command(app)
    out = {name: cmd for name, cmd in root.commands.items() if not hasattr(cmd, "commands")}
    out.update({f"recipes {n}": c for n, c in root.commands["recipes"].commands.items()})
    return root, out


@pytest.mark.parametrize("args", [["-h"], ["run", "-h"], ["train", "-h"], ["score", "-h"], ["evaluate", "-h"],
                                  ["inspect", "-h"], ["prepare", "-h"], ["features", "-h"], ["select", "-h"],
                                  ["recipes", "-h"], ["recipes", "copy", "-h"]])
def test_help_everywhere_renders_every_word(args):
    r = invoke(*args)
    assert r.exit_code == 0 and r.output.startswith("Usage: ")
    assert "<bool>" not in r.output and "{" not in r.output.splitlines()[0] and "\\[" not in r.output
    if args[0] != "-h" and args != ["recipes", "-h"] or args == ["recipes", "-h"]:
        assert "Examples:" in r.output and "gmmspeech " in r.output.split("Examples:")[1]
    if args == ["train", "-h"]:
        assert "[features] and [model]" in r.output and "-o, --output MODEL" in r.output


def test_readme_and_help_agree():
    """Every command is in README's command list, and every option README shows there exists."""
    text = (REPO / "README.md").read_text()
    block = text.split("## The command line", 1)[1].split("```", 2)[1]
    root, commands = _commands()
    readme_cmds = {}
    current = None
    for line in block.splitlines():
        m = re.match(r"gmmspeech (?:--\w+ )?([a-z]+)", line)
        if m:
            current = m.group(1)
            readme_cmds.setdefault(current, []).append(line)
        elif current and line.startswith(" ") and not line.strip().startswith("#"):
            readme_cmds[current].append(line)
    tops = {name.split()[0] for name in commands}
    assert tops <= set(readme_cmds) | {"COMMAND"}, tops - set(readme_cmds)
    for name, lines in readme_cmds.items():
        if name not in root.commands:
            continue
        cmd = root.commands[name]
        params = {o for p in getattr(cmd, "params", []) for o in p.opts}
        params |= {o for c in getattr(cmd, "commands", {}).values() for p in c.params for o in p.opts}
        code = " ".join(ln.split("#")[0] for ln in lines)
        for opt in re.findall(r"(?<![\w-])--[a-z][a-z-]*", code):
            assert opt in params, f"README shows {name} {opt}, which --help does not know"
    (components,) = [p for p in root.commands["select"].params if p.name == "components"]
    assert f"--components {components.default}" in block


def test_run_demo_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke("run", "demo", "--out", tmp_path / "o", "-q", "-j", 1, "--no-cache")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "o" / "models" / "demo_lid.npz").is_file()
    assert (tmp_path / "o" / "reports" / "demo_lid" / "metrics.json").is_file()
    assert "accuracy" in r.output and "confusion matrix" in r.output
    assert list(tmp_path.iterdir()) == [tmp_path / "o"]
    if "not converged" in r.output:
        assert "note: EM stopped at the" in r.output


def test_recipes_list_and_copy(tmp_path):
    r = invoke("recipes")
    assert r.exit_code == 0 and "gtzan_genre" in r.output and "demo_lid" in r.output and "demo = demo_lid" in r.output
    r = invoke("recipes", "copy", "gtzan_genre", tmp_path)
    assert r.exit_code == 0
    doc = tomllib.loads((tmp_path / "gtzan_genre.toml").read_text())
    assert doc["data"]["train"] == "data_manifests/gtzan/train.csv"
    r = invoke("recipes", "copy", "gtzan_genre", tmp_path)
    assert r.exit_code == 1 and "exists" in r.output and "--force" in r.output
    r = invoke("recipes", "copy", "nonsense", tmp_path)
    assert r.exit_code == 1 and "bundled: demo" in r.output
    # run before prepare: the message says which command makes the manifests, where the recipe looks for them
    r = invoke("run", tmp_path / "gtzan_genre.toml")
    assert r.exit_code == 1 and "no such manifest" in r.output
    assert f"gmmspeech prepare gtzan /path/to/GTZAN -o {tmp_path / 'data_manifests' / 'gtzan'}" in r.output


def test_clear_refusals(toy_corpus, tmp_path):
    one = tmp_path / "one.csv"
    lines = toy_corpus["train"].read_text().splitlines()
    root = toy_corpus["root"]
    one.write_text("path,label\n" + "\n".join(f"{root / ln.split(',')[0]},low" for ln in lines[1:4]) + "\n")
    r = invoke("train", one, "-o", tmp_path / "m.npz", "-q", "--no-cache")
    assert r.exit_code == 1 and "at least two labels" in r.output and len(r.output.splitlines()) == 1
    for args in (("train", toy_corpus["train"], "-o", tmp_path / "m.npz", "--components", 0),
                 ("prepare", "folders", tmp_path, "-o", tmp_path / "x", "--test-fraction", 1.5),
                 ("score", tmp_path / "m.npz", one, "--open-set", "--reject-below", -5)):
        r = invoke(*args)
        assert r.exit_code == 2, (args, r.output)
    assert "--open-set and --reject-below" in r.output


def test_select_reads_a_recipe_and_warns_at_the_edge(toy_corpus, tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'name = "r"\n[data]\ntrain = "{toy_corpus["train"]}"\n[features]\nn_mfcc = 7\ndeltas = 0\n')
    r = invoke("select", recipe, "--components", "1,2", "--pooled", "--json", "-q", "--no-cache", "-j", 1)
    assert r.exit_code == 0, r.output
    import json

    doc = json.loads(r.stdout)
    assert doc["features"]["n_mfcc"] == 7 and doc["tables"][0]["n_dims"] == 7
    assert "warning: pooled: the best K by bic is the largest tried (2)" in r.output or \
        "the best K by bic is the smallest tried (1)" in r.output
    r = invoke("select", recipe, "--config", recipe)
    assert r.exit_code == 2 and "drop --config" in r.output


def test_score_warns_about_narrow_band_audio_and_unreadable_formats(toy_corpus, tmp_path):
    from .conftest import chirpy, write_wav

    model = tmp_path / "m.npz"
    assert invoke("train", toy_corpus["train"], "-o", model, "--components", 2, "-q", "--no-cache").exit_code == 0
    folder = tmp_path / "in"
    write_wav(folder / "wide.wav", chirpy("low", 0.8, seed=3))
    write_wav(folder / "phone.wav", chirpy("low", 0.8, seed=4, sr=8000), sr=8000)
    (folder / "talk.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A ")
    r = invoke("score", model, folder, "--format", "json", "-q", "--no-cache")
    assert r.exit_code == 0, r.output
    import json

    doc = json.loads(r.stdout)
    rows = {Path(x["file"]).name: x for x in doc["results"]}
    assert set(rows) == {"wide.wav", "phone.wav"}
    assert "warning" in rows["phone.wav"] and "warning" not in rows["wide.wav"]
    assert "warning: " in r.output and "recorded at 8000 Hz" in r.output
    assert "talk.m4a: m4a/AAC is not read by libsndfile" in r.output and "ffmpeg -i" in r.output


def test_help_imports_nothing_heavy():
    """`gmmspeech --help` must start fast: the CLI module imports no numerical library (timed in
    benchmarks/bench_startup.py; here the import graph, which does not depend on the machine's load)."""
    import subprocess
    import sys

    code = ("import sys, gmmspeech.cli; heavy = [m for m in ('numpy', 'scipy', 'sklearn', 'librosa', 'soundfile', "
            "'joblib', 'matplotlib') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == ""


def test_presets_and_task_names_agree():
    from gmmspeech.app.settings import PRESETS
    from gmmspeech.app.tasks import TASKS

    assert tuple(PRESETS) == TASKS


def test_an_m4a_file_says_what_to_do(tmp_path):
    from gmmspeech.frontend.audio import AudioError, load_audio

    f = tmp_path / "talk.m4a"
    f.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(64))
    with pytest.raises(AudioError, match="m4a/AAC is not read by libsndfile.*ffmpeg -i 'talk.m4a' 'talk.flac'"):
        load_audio(f)


def test_scoring_imports_no_training_code(toy_corpus, tmp_path):
    """Scoring a file must start fast: loading a model and scoring never imports scikit-learn or scipy.optimize
    (training code), which cost ~1 s of start-up (timed in benchmarks/bench_startup.py)."""
    import subprocess
    import sys

    model = tmp_path / "m.npz"
    assert invoke("train", toy_corpus["train"], "-o", model, "--components", 2, "-q", "--no-cache").exit_code == 0
    code = ("import sys, numpy as np, gmmspeech.cli, gmmspeech.app.scoring, gmmspeech.app.cache; "
            "from gmmspeech.model.modelio import load_model; "
            f"clf, meta = load_model({str(model)!r}); clf.score(np.zeros((5, meta.features.n_dims))); "
            "print(','.join(m for m in ('sklearn', 'scipy.optimize', 'librosa') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == ""
