"""pyproject's explicit package list ships every package folder, the bundled recipes and the demo audio."""

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed():
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "gmmspeech").rglob("__init__.py")}
    assert found <= listed, f"package folders missing from pyproject.toml: {sorted(found - listed)}"
    assert cfg["package-dir"]["gmmspeech.recipes"] == "recipes" and "gmmspeech.recipes" in listed
    assert any((REPO / "recipes").glob("*.toml"))
    data = cfg["package-data"]["gmmspeech"]
    assert "demo/audio/*/*.flac" in data and "demo_genre/audio/*/*.flac" in data
