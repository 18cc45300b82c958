"""README's Python blocks run as written (in a scratch folder holding the demo corpus and a trained demo model)."""

import re
from pathlib import Path

import gmmspeech
from gmmspeech.app.pipeline import train_model
from gmmspeech.app.settings import resolve

REPO = Path(__file__).resolve().parents[1]


def python_blocks(text: str) -> list[str]:
    """The bodies of the ```python fenced blocks of a Markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_python_blocks_run_as_written(tmp_path, monkeypatch, capsys):
    blocks = python_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 2
    demo = Path(gmmspeech.__file__).parent / "demo"
    (tmp_path / "gmmspeech").mkdir()
    (tmp_path / "gmmspeech" / "demo").symlink_to(demo)
    train_model(demo / "train.csv", tmp_path / "models" / "demo_lid.npz", resolve("language"), n_jobs=1, quiet=True,
                cache=None)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    out = capsys.readouterr().out.splitlines()
    # the demo clip is German: both the one-liner API and the hand-built model say so
    assert out[0].split()[0] == "de" and 0.5 < float(out[0].split()[1]) <= 1.0
    assert out[2].startswith("de ") and out[2].endswith(" 39")
    assert namespace["decision"].label == "de" and set(namespace["decision"].scores) == set(namespace["model"].classes)
