"""The recipes shipped with gmmspeech, and the bundled demos they can run from any folder.

The repository's ``recipes/`` folder is installed as ``gmmspeech/recipes`` (see ``pyproject.toml``); in a source
checkout it is found next to the package. ``gmmspeech run demo`` runs ``demo_lid`` on the audio bundled in the
package (``gmmspeech/demo``), ``gmmspeech run demo-genre`` runs ``demo_genre`` (``gmmspeech/demo_genre``); the
model and report go under the current folder (or ``--out DIR``).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path

from ..infra.atomic import atomic_write_text
from ..infra.errors import GmmspeechError
from ..infra.outputs import check_output_file
from .recipe import Recipe, load_recipe

__all__ = ["recipes_dir", "bundled_recipes", "copy_recipe", "bundled_run", "ALIASES", "DEMO_DATA",
           "UnknownRecipe"]

#: Short names accepted by ``gmmspeech run``.
ALIASES = {"demo": "demo_lid", "demo-genre": "demo_genre"}
#: Bundled recipes whose data ships with the package: recipe name -> package data folder.
DEMO_DATA = {"demo_lid": "demo", "demo_lid_ubm": "demo", "demo_genre": "demo_genre"}


class UnknownRecipe(GmmspeechError):
    """A recipe name that is neither a file nor a bundled recipe."""


def _package_dir() -> Path:
    return Path(__file__).resolve().parents[1]


def recipes_dir() -> Path:
    """The folder of the bundled recipes (installed: ``gmmspeech/recipes``; source checkout: ``recipes/``)."""
    for cand in (_package_dir() / "recipes", _package_dir().parent / "recipes"):
        if cand.is_dir() and any(cand.glob("*.toml")):
            return cand
    raise GmmspeechError("the bundled recipes are missing from this installation of gmmspeech; reinstall it")


def bundled_recipes() -> list[dict[str, str | bool]]:
    """Every bundled recipe: ``name``, ``description``, ``task`` and ``runs_anywhere`` (its data is bundled)."""
    out = []
    for p in sorted(recipes_dir().glob("*.toml")):
        try:
            doc = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        out.append({"name": p.stem, "description": str(doc.get("description", "")),
                    "task": str(doc.get("task", "")), "runs_anywhere": p.stem in DEMO_DATA})
    return out


def _bundled_path(name: str) -> Path:
    name = ALIASES.get(name, name)
    path = recipes_dir() / f"{name}.toml"
    if "/" in name or os.sep in name or not path.is_file():
        known = ", ".join([*ALIASES, *(r["name"] for r in bundled_recipes())])
        raise UnknownRecipe(f"{name}: no such recipe file or bundled recipe (bundled: {known})")
    return path


def copy_recipe(name: str, dest: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Copy bundled recipe ``name`` to ``dest`` (a folder, or a file name) for editing; returns the new file.

    Its paths are made relative to the copy's own folder (``../data_manifests/x`` becomes ``data_manifests/x``),
    so ``gmmspeech prepare ... -o data_manifests/x`` run in that folder feeds it. An existing file is not
    overwritten unless ``overwrite``.
    """
    src = _bundled_path(name)
    target = Path(dest)
    if target.is_dir():
        target = target / src.name
    if target.exists() and not overwrite:
        raise FileExistsError(17, "exists; remove it or pass --force", str(target))
    check_output_file(target)
    atomic_write_text(target, src.read_text(encoding="utf-8").replace('"../', '"'))
    return target


def bundled_run(name: str, out: str | os.PathLike | None = None) -> Recipe:
    """The recipe ``gmmspeech run NAME`` runs: a recipe file, or a bundled recipe by name (``demo``, ...).

    A bundled demo reads the audio shipped in the package and writes ``OUT/models/NAME.npz`` and
    ``OUT/reports/NAME`` (``OUT``: ``out`` or the current folder). A recipe file is loaded as it is, with
    ``out`` (when given) replacing its output folders.
    """
    path = Path(name)
    if path.is_file() or path.suffix == ".toml":
        r = load_recipe(path)
    else:
        r = load_recipe(_bundled_path(name))
        data = DEMO_DATA.get(r.name)
        if data is not None:
            folder = _package_dir() / data
            r = dataclasses.replace(r, train=folder / "train.csv", test=folder / "test.csv", model_path=None,
                                    report_dir=None)
        if out is None:
            out = Path.cwd()
    if out is not None:
        r = dataclasses.replace(r, model_path=Path(out) / "models" / f"{r.name}.npz",
                                report_dir=Path(out) / "reports" / r.name)
    return r
