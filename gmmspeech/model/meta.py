"""Typed model metadata: :class:`ModelMeta`, versioned to and from the JSON string stored in a model file.

Nothing outside this module reads the raw JSON. :meth:`ModelMeta.from_json` validates every field -- types,
ranges, the size of the document and its nesting -- and raises :class:`ModelFileError` naming the file and the
field, so a crafted or damaged model file is refused with one line and never reaches the numerical code.

JSON layout (format version 1; every key but ``format_version``, ``classes`` and ``features`` is optional, so
files written by earlier versions still load)::

    {"format_version": 1, "package_version": "0.1.0", "model_type": "per_class" | "ubm_map",
     "classes": [label, ...], "features": {FeatureConfig fields}, "task": "language" | ... | null,
     "settings_sources": {"features.n_mfcc": "preset:language", ...},
     "training": {TrainingSummary fields}, "map": {"relevance": r, "top_c": c, "adapt": "m"},
     "open_set": {"thresholds": {label: t}, "quantile": q, "segment_frames": n},
     "novelty": {see gmmspeech.model.novelty}, "calibration": {score back-end, reserved}}
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..core.choices import MODEL_TYPES, check_adapt
from ..frontend.features import FEATURES_VERSION, FeatureConfig
from ..infra.errors import GmmspeechError
from .novelty import validate_novelty

__all__ = ["ModelMeta", "TrainingSummary", "MapSettings", "OpenSetCalibration", "ModelFileError",
           "FORMAT_VERSION", "MODEL_TYPES", "MAX_META_CHARS", "MAX_META_DEPTH"]

#: Version of the model file layout this gmmspeech writes (and the newest it reads).
FORMAT_VERSION = 1
#: Longest metadata JSON accepted (characters); real models hold a few kB to a few hundred kB.
MAX_META_CHARS = 16 * 2**20
#: Deepest nesting of JSON objects and arrays accepted in the metadata (real models: 4).
MAX_META_DEPTH = 32
#: Most classes a model file may declare.
MAX_CLASSES = 100_000


class ModelFileError(GmmspeechError):
    """A model file is missing, malformed or unsafe; the message names the file and the problem."""


@dataclass(frozen=True)
class MapSettings:
    """MAP adaptation and scoring settings of a ``ubm_map`` model.

    relevance : relevance factor r (frames), > 0.  top_c : UBM components scored per frame, >= 1.
    adapt : adapted parameters, a combination of ``m`` (means), ``w`` (weights), ``v`` (variances).
    """

    relevance: float = 16.0
    top_c: int = 5
    adapt: str = "m"


@dataclass(frozen=True)
class OpenSetCalibration:
    """Per-class open-set rejection thresholds (mean log-likelihood, or LLR for ``ubm_map``, per frame).

    thresholds : label -> threshold (``-inf``: never rejected).  quantile : training-segment quantile used.
    segment_frames : length of the training segments scored for calibration (frames).
    optimism_correction : how the thresholds allow for the models fitting their own training data better than
        new data (``aic``, ``aic_effective_map``).
    """

    thresholds: dict[str, float]
    quantile: float | None = None
    segment_frames: int | None = None
    optimism_correction: str | None = None

    def calibration(self) -> dict[str, Any]:
        """The calibration settings (everything but the thresholds) as a dict."""
        return {"quantile": self.quantile, "segment_frames": self.segment_frames,
                "optimism_correction": self.optimism_correction}


@dataclass(frozen=True)
class TrainingSummary:
    """What training did, per class: files, frames, EM iterations, final log-likelihood, convergence.

    ``model`` holds the model settings used (``ModelConfig`` fields); ``ubm`` the UBM's summary and
    ``train_llr`` each class's mean LLR on its own training frames (``ubm_map`` only); ``skipped_files`` the
    files left out, as ``{"file", "line", "reason"}`` records.
    """

    recipe: str | None = None
    seed: int | None = None
    model: dict[str, Any] = field(default_factory=dict)
    files_per_class: dict[str, int] = field(default_factory=dict)
    frames_per_class: dict[str, int] = field(default_factory=dict)
    iterations: dict[str, int] = field(default_factory=dict)
    final_log_likelihood: dict[str, float] = field(default_factory=dict)
    converged: dict[str, bool] = field(default_factory=dict)
    skipped_files: list[dict[str, Any]] = field(default_factory=list)
    ubm: dict[str, Any] | None = None
    train_llr: dict[str, float] | None = None
    package_version: str | None = None

    @property
    def not_converged(self) -> list[str]:
        """Classes whose EM stopped at the iteration limit before reaching the tolerance."""
        return [lab for lab, ok in self.converged.items() if not ok]


@dataclass(frozen=True)
class ModelMeta:
    """Everything a model file says about its model besides the arrays.

    Attributes
    ----------
    classes : class labels in the order of the model's arrays.
    features : the feature configuration the model was trained on (scoring rebuilds features from it).
    model_type : ``"per_class"`` or ``"ubm_map"``.
    task : the task preset used (``language``, ``speaker``, ``genre``) or None.
    settings_sources : ``"features.KEY"`` / ``"model.KEY"`` -> where the value came from (``default``,
        ``preset:TASK``, ``recipe``, ``config:FILE``, ``option``).
    training : :class:`TrainingSummary` (None for a model assembled in Python without training records).
    map : :class:`MapSettings` of a ``ubm_map`` model, else None.
    open_set : :class:`OpenSetCalibration` or None.
    novelty : novelty calibration (see :mod:`gmmspeech.model.novelty`) or None.
    calibration : score back-end parameters (reserved; None).
    format_version, package_version : of the file and of the gmmspeech that wrote it.
    features_version : the front end's version (``FEATURES_VERSION``) the model was trained with; a model
        from another version is refused at load (its features would not be the ones scoring computes).
    """

    classes: tuple[str, ...]
    features: FeatureConfig
    model_type: str = "per_class"
    task: str | None = None
    settings_sources: dict[str, str] = field(default_factory=dict)
    training: TrainingSummary | None = None
    map: MapSettings | None = None
    open_set: OpenSetCalibration | None = None
    novelty: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None
    format_version: int = FORMAT_VERSION
    package_version: str = __version__
    features_version: int = FEATURES_VERSION

    def replace(self, **changes: Any) -> ModelMeta:
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict written to a model file (None-valued optional blocks omitted)."""
        d: dict[str, Any] = {
            "format_version": self.format_version, "package_version": self.package_version,
            "features_version": self.features_version,
            "model_type": self.model_type, "classes": list(self.classes), "features": self.features.to_dict(),
            "task": self.task, "settings_sources": dict(self.settings_sources),
        }
        for key in ("training", "map", "open_set"):
            block = getattr(self, key)
            if block is not None:
                d[key] = dataclasses.asdict(block)
        for key in ("novelty", "calibration"):
            if getattr(self, key) is not None:
                d[key] = dict(getattr(self, key))
        return d

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string (sorted keys; non-finite thresholds written as ``-Infinity``)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "model") -> ModelMeta:
        """Parse and validate the metadata string of a model file; :class:`ModelFileError` naming ``source``."""
        if len(text) > MAX_META_CHARS:
            raise ModelFileError(f"{source}: metadata of {len(text)} characters is larger than the "
                                 f"{MAX_META_CHARS} allowed")
        if _nesting(text) > MAX_META_DEPTH:
            raise ModelFileError(f"{source}: metadata nested more than {MAX_META_DEPTH} levels deep")
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ModelFileError(f"{source}: the 'meta' entry is not valid JSON ({exc})") from None
        return cls.from_dict(d, source)

    @classmethod
    def from_dict(cls, d: Any, source: str = "model") -> ModelMeta:
        """Validate a metadata dict (as parsed from JSON); :class:`ModelFileError` naming ``source``."""
        return _parse(d, _Checker(source))


def _nesting(text: str) -> int:
    """Deepest bracket nesting of a JSON text (brackets inside strings ignored)."""
    depth = best = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            best = max(best, depth)
        elif ch in "]}":
            depth -= 1
    return best


class _Checker:
    """Raises :class:`ModelFileError` with the file name and the metadata field in the message."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, problem: str) -> ModelFileError:
        return ModelFileError(f"{self.source}: metadata '{key}' {problem}")

    def obj(self, v: Any, key: str, optional: bool = False) -> dict[str, Any] | None:
        if v is None and optional:
            return None
        if not isinstance(v, dict):
            raise self.fail(key, f"must be a JSON object, got {type(v).__name__}")
        return v

    def number(self, v: Any, key: str, *, lo: float = -math.inf, hi: float = math.inf, allow_neg_inf=False,
               optional: bool = False) -> float | None:
        if v is None and optional:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v):
            raise self.fail(key, f"must be a number, got {v!r}")
        if v == -math.inf and allow_neg_inf:
            return float(v)
        if not (math.isfinite(v) and lo <= v <= hi):
            raise self.fail(key, f"must be a finite number in [{lo}, {hi}], got {v!r}")
        return float(v)

    def integer(self, v: Any, key: str, *, lo: int = 0, optional: bool = False) -> int | None:
        if v is None and optional:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise self.fail(key, f"must be an integer >= {lo}, got {v!r}")
        return v

    def text(self, v: Any, key: str, optional: bool = False) -> str | None:
        if v is None and optional:
            return None
        if not isinstance(v, str):
            raise self.fail(key, f"must be a string, got {type(v).__name__}")
        return v

    def per_class(self, v: Any, key: str, kind) -> dict[str, Any]:
        block = self.obj(v if v is not None else {}, key)
        return {self.text(k, key): kind(x, f"{key}.{k}") for k, x in block.items()}


def _parse(d: Any, c: _Checker) -> ModelMeta:
    d = c.obj(d, "meta")
    version = d.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{c.source}: no valid format_version in the metadata (got {version!r})")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{c.source}: model format version {version} is newer than this gmmspeech "
                             f"({__version__}) reads (up to {FORMAT_VERSION}); upgrade gmmspeech")
    classes = d.get("classes")
    if not isinstance(classes, list) or not 0 < len(classes) <= MAX_CLASSES:
        raise c.fail("classes", f"must be a non-empty list of at most {MAX_CLASSES} labels")
    if not all(isinstance(x, str) and x for x in classes) or len(set(classes)) != len(classes):
        raise c.fail("classes", "must be distinct non-empty strings")
    fv = d.get("features_version", 2)   # files written before the field existed had front-end version 2
    if fv != FEATURES_VERSION:
        raise ModelFileError(f"{c.source}: the model was trained on features of front-end version {fv!r}, and this "
                             f"gmmspeech ({__version__}) computes version {FEATURES_VERSION} (a corrected mel "
                             "filterbank): retrain the model with this version (gmmspeech train / run)")
    if not isinstance(d.get("features"), dict):
        raise ModelFileError(f"{c.source}: the model file holds no feature configuration ('features' in its "
                             "metadata)")
    try:
        features = FeatureConfig.from_dict(d["features"])
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{c.source}: invalid feature configuration in the model ({exc})") from None
    model_type = d.get("model_type", "per_class")
    if model_type not in MODEL_TYPES:
        raise ModelFileError(f"{c.source}: unknown model_type {model_type!r} (expected one of "
                             f"{', '.join(MODEL_TYPES)})")
    sources = c.per_class(d.get("settings_sources"), "settings_sources", c.text)
    return ModelMeta(
        classes=tuple(classes), features=features, model_type=model_type,
        task=c.text(d.get("task"), "task", optional=True), settings_sources=sources,
        training=_training(d.get("training"), c), map=_map(d.get("map"), model_type, c),
        open_set=_open_set(d.get("open_set"), classes, c),
        novelty=_novelty(d.get("novelty"), c),
        calibration=c.obj(d.get("calibration"), "calibration", optional=True),
        format_version=version,
        package_version=c.text(d.get("package_version", "unknown"), "package_version"),
    )


def _training(block: Any, c: _Checker) -> TrainingSummary | None:
    b = c.obj(block, "training", optional=True)
    if b is None:
        return None
    unknown = set(b) - {f.name for f in dataclasses.fields(TrainingSummary)}
    if unknown:
        raise c.fail("training", f"has unknown key(s) {', '.join(sorted(unknown))}")
    skipped = b.get("skipped_files", [])
    if not isinstance(skipped, list) or not all(isinstance(s, dict) for s in skipped):
        raise c.fail("training.skipped_files", "must be a list of objects")
    llr = b.get("train_llr")
    return TrainingSummary(
        recipe=c.text(b.get("recipe"), "training.recipe", optional=True),
        seed=c.integer(b.get("seed"), "training.seed", optional=True),
        model=c.obj(b.get("model", {}), "training.model"),
        files_per_class=c.per_class(b.get("files_per_class"), "training.files_per_class", c.integer),
        frames_per_class=c.per_class(b.get("frames_per_class"), "training.frames_per_class", c.integer),
        iterations=c.per_class(b.get("iterations"), "training.iterations", c.integer),
        final_log_likelihood=c.per_class(b.get("final_log_likelihood"), "training.final_log_likelihood", c.number),
        converged=c.per_class(b.get("converged"), "training.converged", _boolean(c)),
        skipped_files=skipped,
        ubm=c.obj(b.get("ubm"), "training.ubm", optional=True),
        train_llr=None if llr is None else c.per_class(llr, "training.train_llr", c.number),
        package_version=c.text(b.get("package_version"), "training.package_version", optional=True),
    )


def _novelty(block: Any, c: _Checker) -> dict[str, Any] | None:
    if block is None:
        return None
    try:
        return validate_novelty(block)
    except ValueError as exc:
        raise ModelFileError(f"{c.source}: {exc}") from None


def _boolean(c: _Checker):
    def check(v: Any, key: str) -> bool:
        if not isinstance(v, bool):
            raise c.fail(key, f"must be true or false, got {v!r}")
        return v
    return check


def _map(block: Any, model_type: str, c: _Checker) -> MapSettings | None:
    if model_type == "per_class":
        return None
    if not isinstance(block, dict) or set(block) != {"relevance", "top_c", "adapt"}:
        raise ModelFileError(f"{c.source}: a ubm_map model needs 'map' metadata with exactly relevance, top_c "
                             "and adapt")
    r = c.number(block["relevance"], "map.relevance", lo=1e-12)
    top_c = c.integer(block["top_c"], "map.top_c", lo=1)
    try:
        adapt = check_adapt(block["adapt"])
    except ValueError as exc:
        raise ModelFileError(f"{c.source}: metadata map.{exc}") from None
    return MapSettings(relevance=r, top_c=top_c, adapt=adapt)


def _open_set(block: Any, classes: list[str], c: _Checker) -> OpenSetCalibration | None:
    b = c.obj(block, "open_set", optional=True)
    if b is None:
        return None
    thr = b.get("thresholds")
    if not isinstance(thr, Mapping) or set(thr) != set(classes):
        raise ModelFileError(f"{c.source}: 'open_set' metadata must map every class to a threshold")
    return OpenSetCalibration(
        thresholds={k: c.number(thr[k], f"open_set.thresholds.{k}", allow_neg_inf=True) for k in classes},
        quantile=c.number(b.get("quantile"), "open_set.quantile", lo=0.0, hi=1.0, optional=True),
        segment_frames=c.integer(b.get("segment_frames"), "open_set.segment_frames", lo=1, optional=True),
        optimism_correction=c.text(b.get("optimism_correction"), "open_set.optimism_correction", optional=True))
