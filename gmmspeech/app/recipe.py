"""Recipes: one TOML file describes a whole task (data, features, model, evaluation, output).

Schema (every table optional except ``[data]``; paths are relative to the recipe file)::

    name = "demo_lid"
    description = "..."
    task = "language"   (optional: a task preset -- language, speaker, genre -- under [features]/[model])
    [data]      train = "train.csv"   test = "test.csv"   min_files = 1  (fewest training files per class)
                prepare = "gmmspeech prepare ..."  (the command that makes the manifests: shown when they are missing)
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
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..frontend.features import FeatureConfig
from ..infra.errors import GmmspeechError
from .settings import MODEL_TYPES, TASKS, ModelConfig, Settings, SettingsError, resolve

__all__ = ["RecipeError", "ModelConfig", "MODEL_TYPES", "Recipe", "load_recipe", "load_feature_config",
           "load_config_layer", "resolve_settings"]


class RecipeError(GmmspeechError, ValueError):
    """A recipe is unreadable or invalid; the message names the file and the key."""


@dataclass(frozen=True)
class Recipe:
    """A validated recipe with absolute paths."""

    path: Path
    name: str
    description: str = ""
    task: str | None = None
    train: Path | None = None
    test: Path | None = None
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    report_dir: Path | None = None
    model_path: Path | None = None
    jobs: int | None = None
    scheduler: str | None = None
    min_files: int = 1
    settings: Settings | None = None
    prepare: str | None = None


_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")

_SCHEMA: dict[str, set[str] | None] = {
    "name": None, "description": None, "task": None,
    "data": {"train", "test", "min_files", "prepare"},
    "features": None,  # checked by FeatureConfig.from_dict
    "model": {"components", "iterations", "tolerance", "init", "var_floor", "seed", "type", "relevance", "top_c",
              "adapt", "calibration", "calibration_folds"},
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
    task = doc.get("task")
    if task is not None and task not in TASKS:
        raise fail(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    try:
        settings = resolve(task, [("recipe", {"features": doc.get("features", {}), "model": doc.get("model", {})})])
    except SettingsError as exc:
        raise fail(str(exc)) from None
    min_files = data.get("min_files", 1)
    prep = data.get("prepare")
    if prep is not None and not isinstance(prep, str):
        raise fail(f"data.prepare must be a string (a gmmspeech prepare command), got {prep!r}")
    if not isinstance(min_files, int) or isinstance(min_files, bool) or min_files < 1:
        raise fail(f"data.min_files must be a positive integer, got {min_files!r}")
    par = doc.get("parallel", {})
    jobs, scheduler = par.get("jobs"), par.get("scheduler")
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool)):
        raise fail(f"parallel.jobs must be an integer, got {jobs!r}")
    if scheduler is not None and (not isinstance(scheduler, str) or "://" not in scheduler):
        raise fail(f"parallel.scheduler must be a Dask scheduler address like 'tcp://HOST:8786', got {scheduler!r}")
    name = doc.get("name", path.stem)
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name in (".", ".."):
        raise fail(f"name must be a plain name (letters, digits, '.', '_', '-'; no folders), got {name!r}: it "
                   "names the default model file models/NAME.npz and report folder reports/NAME")
    if jobs is not None and not -64 <= jobs <= 4096:
        raise fail(f"parallel.jobs must be between -64 and 4096, got {jobs}")
    return Recipe(
        path=path.resolve(), name=name, description=str(doc.get("description", "")), task=task,
        train=rel(data.get("train"), "data.train"), test=rel(data.get("test"), "data.test"),
        features=settings.features, model=settings.model, settings=settings,
        report_dir=rel(doc.get("evaluate", {}).get("report"), "evaluate.report"),
        model_path=rel(doc.get("output", {}).get("model"), "output.model"),
        jobs=jobs, scheduler=scheduler, min_files=min_files, prepare=prep,
    )


def load_config_layer(path: str | os.PathLike) -> tuple[str | None, dict[str, Any]]:
    """A ``--config`` TOML file as a settings layer: ``(task or None, {"features": ..., "model": ...})``.

    The file may be a recipe (its ``task``, ``[features]`` and ``[model]`` are used; the rest is ignored) or
    hold FeatureConfig keys at the top level. Raises :class:`RecipeError` naming the file and the problem.
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RecipeError(f"{path}: cannot read config ({exc})") from None
    if "features" in doc or "model" in doc or "data" in doc:
        layer = {"features": doc.get("features", {}), "model": doc.get("model", {})}
    else:
        layer = {"features": {k: v for k, v in doc.items() if k != "task"}, "model": {}}
    task = doc.get("task")
    if task is not None and task not in TASKS:
        raise RecipeError(f"{path}: task must be one of {', '.join(TASKS)}, got {task!r}")
    for section, table in layer.items():
        if not isinstance(table, dict):
            raise RecipeError(f"{path}: [{section}] must be a table")
    return task, layer


def load_feature_config(path: str | os.PathLike) -> FeatureConfig:
    """Feature settings from a TOML file: a recipe's ``[features]`` table, or top-level FeatureConfig keys
    (over the built-in defaults; a ``task`` in the file is not applied). Raises :class:`RecipeError`."""
    _, layer = load_config_layer(path)
    try:
        return FeatureConfig.from_dict(layer["features"])
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"{path}: {exc}") from None


def resolve_settings(task: str | None, config: str | os.PathLike | None,
                     options: dict[str, Any] | None = None) -> Settings:
    """Settings for a command: defaults -> ``task`` preset (else the config file's ``task``) -> the ``--config``
    file -> explicit model ``options`` (``None`` values: not given). See :func:`gmmspeech.settings.resolve`."""
    layers = []
    file_task = None
    if config is not None:
        file_task, layer = load_config_layer(config)
        layers.append((f"config:{config}", layer))
    if options:
        layers.append(("option", {"model": options}))
    return resolve(task if task is not None else file_task, layers)
