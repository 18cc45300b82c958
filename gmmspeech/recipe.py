"""Recipes: one TOML file describes a whole task (data, features, model, evaluation, output).

Schema (every table optional except ``[data]``; paths are relative to the recipe file)::

    name = "demo_lid"
    description = "..."
    [data]      train = "train.csv"   test = "test.csv"   min_files = 1  (fewest training files per class)
    [features]  any FeatureConfig field (sample_rate, n_mfcc, deltas, cmvn, ...)
    [model]     components, iterations, tolerance, init, var_floor, seed,
                type ("per_class" | "ubm_map"), relevance, top_c, adapt  (the last three: ubm_map only)
    [evaluate]  report = "reports/NAME"
    [output]    model = "models/NAME.npz"
    [parallel]  jobs = 2   scheduler = "tcp://HOST:8786"  (a Dask scheduler; see README "Scaling out")

Unknown keys are an error that names the key and the file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .features import FeatureConfig

__all__ = ["RecipeError", "ModelConfig", "MODEL_TYPES", "Recipe", "load_recipe", "load_feature_config"]

#: Model types a recipe's ``[model] type`` can name.
MODEL_TYPES = ("per_class", "ubm_map")


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
    # "per_class": one GMM per class trained by EM; "ubm_map": one universal background model on all classes, each
    # class MAP-adapted from it (relevance factor, adapted parameters "m"/"w"/"v"), scored on the top_c UBM
    # components of each frame. For ubm_map, iterations/tolerance are the UBM's EM at full size and init is
    # "mixup" (binary splitting) or "kmeans++".
    type: str = "per_class"
    relevance: float = 16.0
    top_c: int = 5
    adapt: str = "m"

    def __post_init__(self):
        if self.type not in MODEL_TYPES:
            raise ValueError(f"model.type must be one of {', '.join(MODEL_TYPES)}, got {self.type!r}")
        if isinstance(self.relevance, bool) or not isinstance(self.relevance, int | float) or not self.relevance > 0:
            raise ValueError(f"model.relevance must be a positive number, got {self.relevance!r}")
        if isinstance(self.top_c, bool) or not isinstance(self.top_c, int) or self.top_c < 1:
            raise ValueError(f"model.top_c must be a positive integer, got {self.top_c!r}")
        if not isinstance(self.adapt, str) or not self.adapt or not set(self.adapt) <= set("mwv"):
            raise ValueError(f"model.adapt must combine 'm' (means), 'w' (weights), 'v' (variances), "
                             f"got {self.adapt!r}")

    def gmm_params(self) -> dict[str, Any]:
        """Keyword arguments for :class:`gmmspeech.gmm.DiagGMM`."""
        return {"n_components": self.components, "max_iter": self.iterations, "tol": self.tolerance,
                "init": self.init, "var_floor": self.var_floor, "random_state": self.seed}

    def ubm_params(self) -> dict[str, Any]:
        """Keyword arguments for :class:`gmmspeech.classifier.UBMClassifier` (``type = "ubm_map"``)."""
        return {"n_components": self.components, "max_iter": self.iterations, "tol": self.tolerance,
                "init": "mixup" if self.init == "split" else self.init, "var_floor": self.var_floor,
                "random_state": self.seed, "relevance": float(self.relevance), "top_c": self.top_c,
                "adapt": self.adapt}


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
    scheduler: str | None = None
    min_files: int = 1


_SCHEMA: dict[str, set[str] | None] = {
    "name": None, "description": None,
    "data": {"train", "test", "min_files"},
    "features": None,  # checked by FeatureConfig.from_dict
    "model": {"components", "iterations", "tolerance", "init", "var_floor", "seed", "type", "relevance", "top_c",
              "adapt"},
    "evaluate": {"report"},
    "output": {"model"},
    "parallel": {"jobs", "scheduler"},
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
    except (TypeError, ValueError) as exc:
        raise fail(f"[model]: {exc}") from None
    if not isinstance(model.components, int) or model.components < 1:
        raise fail(f"model.components must be a positive integer, got {model.components!r}")
    if not isinstance(model.iterations, int) or model.iterations < 1:
        raise fail(f"model.iterations must be a positive integer, got {model.iterations!r}")
    min_files = data.get("min_files", 1)
    if not isinstance(min_files, int) or isinstance(min_files, bool) or min_files < 1:
        raise fail(f"data.min_files must be a positive integer, got {min_files!r}")
    par = doc.get("parallel", {})
    jobs, scheduler = par.get("jobs"), par.get("scheduler")
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool)):
        raise fail(f"parallel.jobs must be an integer, got {jobs!r}")
    if scheduler is not None and (not isinstance(scheduler, str) or "://" not in scheduler):
        raise fail(f"parallel.scheduler must be a Dask scheduler address like 'tcp://HOST:8786', got {scheduler!r}")
    name = doc.get("name", path.stem)
    return Recipe(
        path=path.resolve(), name=str(name), description=str(doc.get("description", "")),
        train=rel(data.get("train"), "data.train"), test=rel(data.get("test"), "data.test"),
        features=features, model=model,
        report_dir=rel(doc.get("evaluate", {}).get("report"), "evaluate.report"),
        model_path=rel(doc.get("output", {}).get("model"), "output.model"),
        jobs=jobs, scheduler=scheduler, min_files=min_files,
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
