"""Recipes: one TOML file describes a whole task (data, features, model, evaluation, output).

Schema (every table optional except ``[data]``; paths are relative to the recipe file)::

    name = "demo_lid"
    description = "..."
    [data]      train = "train.csv"   test = "test.csv"   min_files = 1  (fewest training files per class)
    [features]  any FeatureConfig field (sample_rate, n_mfcc, deltas, cmvn, ...)
    [model]     components, iterations, tolerance, init, var_floor, seed
    [evaluate]  report = "reports/NAME"
    [output]    model = "models/NAME.npz"
    [parallel]  jobs = 2

Unknown keys are an error that names the key and the file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .features import FeatureConfig

__all__ = ["RecipeError", "ModelConfig", "Recipe", "load_recipe", "load_feature_config"]


class RecipeError(ValueError):
    """A recipe is unreadable or invalid; the message names the file and the key."""


@dataclass(frozen=True)
class ModelConfig:
    """Training settings for the per-class GMMs (defaults suit speech: 64 components, 13-39 dims)."""

    components: int = 64
    iterations: int = 50
    tolerance: float = 1e-4
    init: str = "kmeans++"
    var_floor: float = 1e-3
    seed: int = 0

    def gmm_params(self) -> dict[str, Any]:
        """Keyword arguments for :class:`gmmspeech.gmm.DiagGMM`."""
        return {"n_components": self.components, "max_iter": self.iterations, "tol": self.tolerance,
                "init": self.init, "var_floor": self.var_floor, "random_state": self.seed}


@dataclass(frozen=True)
class Recipe:
    """A validated recipe with absolute paths."""

    path: Path
    name: str
    description: str = ""
    train: Path | None = None
    test: Path | None = None
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    report_dir: Path | None = None
    model_path: Path | None = None
    jobs: int | None = None
    min_files: int = 1


_SCHEMA: dict[str, set[str] | None] = {
    "name": None, "description": None,
    "data": {"train", "test", "min_files"},
    "features": None,  # checked by FeatureConfig.from_dict
    "model": {"components", "iterations", "tolerance", "init", "var_floor", "seed"},
    "evaluate": {"report"},
    "output": {"model"},
    "parallel": {"jobs"},
}


def load_recipe(path: str | os.PathLike) -> Recipe:
    """Read and validate a recipe file; raises :class:`RecipeError` naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: no such recipe file")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{path}: not valid TOML ({exc})") from None

    def fail(msg: str) -> RecipeError:
        return RecipeError(f"{path}: {msg}")

    for key, value in doc.items():
        if key not in _SCHEMA:
            raise fail(f"unknown key '{key}' (known: {', '.join(_SCHEMA)})")
        allowed = _SCHEMA[key]
        if allowed is not None:
            if not isinstance(value, dict):
                raise fail(f"[{key}] must be a table")
            for sub in value:
                if sub not in allowed:
                    raise fail(f"unknown key '{key}.{sub}' (known: {', '.join(sorted(allowed))})")
    base = path.resolve().parent

    def rel(p: Any, key: str) -> Path | None:
        if p is None:
            return None
        if not isinstance(p, str):
            raise fail(f"'{key}' must be a path string")
        q = Path(p)
        return Path(os.path.normpath(q if q.is_absolute() else base / q))

    data = doc.get("data", {})
    if "train" not in data:
        raise fail("missing [data] train manifest")
    try:
        features = FeatureConfig.from_dict(doc.get("features", {}))
    except (ValueError, TypeError) as exc:
        raise fail(f"[features]: {exc}") from None
    try:
        model = ModelConfig(**doc.get("model", {}))
    except TypeError as exc:
        raise fail(f"[model]: {exc}") from None
    if not isinstance(model.components, int) or model.components < 1:
        raise fail(f"model.components must be a positive integer, got {model.components!r}")
    if not isinstance(model.iterations, int) or model.iterations < 1:
        raise fail(f"model.iterations must be a positive integer, got {model.iterations!r}")
    min_files = data.get("min_files", 1)
    if not isinstance(min_files, int) or isinstance(min_files, bool) or min_files < 1:
        raise fail(f"data.min_files must be a positive integer, got {min_files!r}")
    name = doc.get("name", path.stem)
    return Recipe(
        path=path.resolve(), name=str(name), description=str(doc.get("description", "")),
        train=rel(data.get("train"), "data.train"), test=rel(data.get("test"), "data.test"),
        features=features, model=model,
        report_dir=rel(doc.get("evaluate", {}).get("report"), "evaluate.report"),
        model_path=rel(doc.get("output", {}).get("model"), "output.model"),
        jobs=doc.get("parallel", {}).get("jobs"), min_files=min_files,
    )


def load_feature_config(path: str | os.PathLike) -> FeatureConfig:
    """Feature settings from a TOML file: a recipe's ``[features]`` table, or top-level FeatureConfig keys.

    Raises :class:`RecipeError` naming the file and the problem.
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RecipeError(f"{path}: cannot read feature config ({exc})") from None
    try:
        return FeatureConfig.from_dict(doc.get("features", doc))
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"{path}: {exc}") from None
