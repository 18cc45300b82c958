"""Model files: ``.npz`` arrays plus a JSON ``meta`` string; never pickle, always written atomically.

Layout (C classes, K components, D feature dimensions):

* ``weights`` (C, K), ``means`` (C, K, D), ``variances`` (C, K, D) -- float64;
* ``meta`` -- a 0-d unicode array holding JSON: ``format_version``, ``package_version``, ``classes``,
  ``features`` (the full FeatureConfig), ``training`` (summary) and anything the caller adds;
  optionally ``open_set`` = ``{"thresholds": {label: float}, "quantile": q, "segment_frames": n}``, the
  calibrated per-class rejection thresholds (absent in older files, which still load: it is optional in
  format version 1);
* ``meta["model_type"]``: ``"per_class"`` (one EM-trained GMM per class; the default when absent, as in older
  files) or ``"ubm_map"`` (GMM-UBM). A ``ubm_map`` file also holds the universal background model,
  ``ubm_weights`` (K,), ``ubm_means`` (K, D), ``ubm_variances`` (K, D) -- float64 -- and ``meta["map"] =
  {"relevance": r, "top_c": c, "adapt": "m"}``; the class arrays hold the MAP-adapted models. Its open-set
  thresholds are log-likelihood ratios against the UBM (the units of its scores).

Loading uses ``numpy.load(allow_pickle=False)``, so a model file cannot run code; every check happens before
a classifier is built.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..core.gmm import DiagGMM
from ..infra.atomic import atomic_write
from ..infra.errors import GmmspeechError
from .classifier import GMMClassifier, UBMClassifier

__all__ = ["FORMAT_VERSION", "MODEL_TYPES", "ModelFileError", "save_model", "load_model"]

FORMAT_VERSION = 1
#: Values of ``meta["model_type"]``.
MODEL_TYPES = ("per_class", "ubm_map")
_UBM_ARRAYS = ("ubm_weights", "ubm_means", "ubm_variances")


class ModelFileError(GmmspeechError):
    """A model file is missing, malformed or unsafe; the message names the file and the problem."""


def save_model(classifier: GMMClassifier, path: str | os.PathLike, meta: dict[str, Any] | None = None) -> None:
    """Save a fitted classifier and its metadata to ``path`` (.npz), atomically.

    All classes must have the same number of components. ``meta`` should hold at least ``features``
    (``FeatureConfig.to_dict()``); format and package versions, the class list and ``model_type`` are added
    here (a classifier with a ``ubm_`` -- :class:`UBMClassifier` -- is saved with its UBM and MAP settings).
    """
    models = [classifier.models_[c] for c in classifier.classes_]
    ks = {m.means_.shape[0] for m in models}
    if len(ks) != 1:
        raise ValueError(f"all class models must have the same number of components, got {sorted(ks)}")
    full_meta = dict(meta or {})
    ubm = getattr(classifier, "ubm_", None)
    full_meta.update(format_version=FORMAT_VERSION, package_version=__version__,
                     classes=list(classifier.classes_), model_type="per_class" if ubm is None else "ubm_map")
    full_meta.pop("map", None)
    thr = getattr(classifier, "reject_thresholds_", None)
    if thr is not None:
        full_meta["open_set"] = {"thresholds": {c: float(t) for c, t in zip(classifier.classes_, thr, strict=True)},
                                 **(getattr(classifier, "calibration_", None) or {})}
    else:
        full_meta.pop("open_set", None)
    arrays = {
        "weights": np.stack([m.weights_ for m in models]).astype(np.float64),
        "means": np.stack([m.means_ for m in models]).astype(np.float64),
        "variances": np.stack([m.variances_ for m in models]).astype(np.float64),
    }
    if ubm is not None:
        if ubm.means_.shape != models[0].means_.shape:
            raise ValueError(f"the UBM {ubm.means_.shape} and the class models {models[0].means_.shape} disagree "
                             "on (components, dims)")
        full_meta["map"] = {"relevance": float(classifier.relevance), "top_c": int(classifier.top_c),
                            "adapt": str(classifier.adapt)}
        arrays.update(ubm_weights=np.asarray(ubm.weights_, dtype=np.float64),
                      ubm_means=np.asarray(ubm.means_, dtype=np.float64),
                      ubm_variances=np.asarray(ubm.variances_, dtype=np.float64))
    arrays["meta"] = np.array(json.dumps(full_meta, sort_keys=True))
    atomic_write(path, lambda f: np.savez(f, **arrays))


_PICKLE_MAGIC = (b"\x80", b"(dp", b"(lp", b"ccopy_reg")


def _sniff(path: Path) -> str | None:
    """A reason to refuse ``path`` from its first bytes, or None when it looks like a zip (npz) archive."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PK"):
        return None
    if head.startswith(_PICKLE_MAGIC):
        return "is a Python pickle; refused (model files never use pickle, and loading one could run code)"
    if head.startswith(b"\x93NUMPY"):
        return "is a single .npy array, not a gmmspeech model file (expected an .npz archive)"
    return "not a gmmspeech model file (expected an .npz archive)"


def load_model(path: str | os.PathLike) -> tuple[GMMClassifier, dict[str, Any]]:
    """Load a model file written by :func:`save_model`; returns ``(classifier, meta)``.

    Raises :class:`ModelFileError` -- naming the file and the problem, without running any code from it --
    for a file that is not a model, a pickle payload, a newer format version, arrays whose shapes disagree,
    non-finite or non-positive variances, or weights that do not sum to one (the class models' and, for a
    ``ubm_map`` model, the UBM's), an unknown ``model_type``, or invalid MAP settings.
    Returns a :class:`UBMClassifier` for a ``ubm_map`` file, else a :class:`GMMClassifier`.
    """
    path = Path(path)

    def bad(reason: str) -> ModelFileError:
        return ModelFileError(f"{path}: {reason}")

    if not path.is_file():
        raise bad("no such model file")
    try:
        reason = _sniff(path)
    except OSError as exc:
        raise bad(f"unreadable model file ({exc.strerror or exc})") from None
    if reason or not zipfile.is_zipfile(path):
        raise bad(reason or "not a gmmspeech model file (expected an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = {"weights", "means", "variances", "meta"} - set(z.files)
            if missing:
                raise bad(f"not a gmmspeech model file (missing {', '.join(sorted(missing))})")
            weights, means, variances, raw_meta = z["weights"], z["means"], z["variances"], z["meta"]
            ubm_arrays = {name: z[name] for name in _UBM_ARRAYS if name in z.files}
    except ModelFileError:
        raise
    except ValueError as exc:  # includes "Object arrays cannot be loaded when allow_pickle=False"
        raise bad(f"refused to load ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise bad(f"unreadable model file ({exc})") from None
    if raw_meta.dtype.kind != "U" or raw_meta.ndim != 0:
        raise bad("the 'meta' entry must be a JSON string")
    try:
        meta = json.loads(str(raw_meta))
    except json.JSONDecodeError as exc:
        raise bad(f"the 'meta' entry is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise bad("the 'meta' entry must be a JSON object")

    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise bad(f"no valid format_version in the metadata (got {version!r})")
    if version > FORMAT_VERSION:
        raise bad(f"model format version {version} is newer than this gmmspeech ({__version__}) reads "
                  f"(up to {FORMAT_VERSION}); upgrade gmmspeech")
    for name, arr in (("weights", weights), ("means", means), ("variances", variances)):
        if arr.dtype.kind != "f":
            raise bad(f"'{name}' must hold floating-point numbers, not {arr.dtype}")
    if weights.ndim != 2 or means.ndim != 3 or variances.shape != means.shape or means.shape[:2] != weights.shape:
        raise bad(f"array shapes disagree: weights {weights.shape}, means {means.shape}, "
                  f"variances {variances.shape}")
    if 0 in means.shape:
        raise bad(f"empty model (means {means.shape})")
    classes = meta.get("classes")
    if not isinstance(classes, list) or len(classes) != weights.shape[0]:
        raise bad(f"meta lists {len(classes) if isinstance(classes, list) else 'no'} classes but the arrays "
                  f"hold {weights.shape[0]}")
    if not all(isinstance(c, str) and c for c in classes) or len(set(classes)) != len(classes):
        raise bad(f"class labels must be distinct non-empty strings, got {classes}")
    if not np.all(np.isfinite(means)):
        raise bad("means must be finite")
    if not (np.all(np.isfinite(variances)) and np.all(variances > 0)):
        raise bad("variances must be finite and positive")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or not np.allclose(weights.sum(axis=1), 1.0,
                                                                                   atol=1e-6):
        raise bad("mixture weights must be finite, non-negative and sum to one for every class")
    thresholds = _read_open_set(meta.get("open_set"), classes, bad)
    model_type = meta.get("model_type", "per_class")
    if model_type not in MODEL_TYPES:
        raise bad(f"unknown model_type {model_type!r} (expected one of {', '.join(MODEL_TYPES)})")
    ubm = _read_ubm(model_type, ubm_arrays, means.shape[1:], bad)
    settings = _read_map_settings(meta.get("map"), bad) if ubm is not None else None

    models = {}
    for c, label in enumerate(classes):
        g = DiagGMM(n_components=weights.shape[1])
        g.weights_, g.means_, g.variances_ = (np.asarray(a, dtype=np.float64) for a in (weights[c], means[c],
                                                                                        variances[c]))
        models[label] = g
    clf = (GMMClassifier.from_models(models) if ubm is None
           else UBMClassifier.from_models(ubm, models, **settings))
    if thresholds is not None:
        clf.reject_thresholds_ = thresholds
        clf.calibration_ = {k: v for k, v in meta["open_set"].items() if k != "thresholds"}
    return clf, meta


def _read_ubm(model_type: str, arrays: dict[str, np.ndarray], shape: tuple[int, int], bad) -> DiagGMM | None:
    """Validate the UBM arrays of a ``ubm_map`` file (K, D = ``shape``); None for a per-class file."""
    if model_type == "per_class":
        if arrays:
            raise bad(f"a per_class model must not hold UBM arrays (found {', '.join(sorted(arrays))})")
        return None
    missing = [n for n in _UBM_ARRAYS if n not in arrays]
    if missing:
        raise bad(f"a ubm_map model needs its UBM (missing {', '.join(missing)})")
    w, mu, var = (arrays[n] for n in _UBM_ARRAYS)
    for name, arr in arrays.items():
        if arr.dtype.kind != "f":
            raise bad(f"'{name}' must hold floating-point numbers, not {arr.dtype}")
    if w.shape != (shape[0],) or mu.shape != shape or var.shape != shape:
        raise bad(f"UBM array shapes disagree with the class models' {shape}: ubm_weights {w.shape}, "
                  f"ubm_means {mu.shape}, ubm_variances {var.shape}")
    if not np.all(np.isfinite(mu)):
        raise bad("UBM means must be finite")
    if not (np.all(np.isfinite(var)) and np.all(var > 0)):
        raise bad("UBM variances must be finite and positive")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not np.isclose(w.sum(), 1.0, atol=1e-6):
        raise bad("UBM weights must be finite, non-negative and sum to one")
    g = DiagGMM(n_components=shape[0])
    g.weights_, g.means_, g.variances_ = (np.asarray(a, dtype=np.float64) for a in (w, mu, var))
    return g


def _read_map_settings(block: Any, bad) -> dict[str, Any]:
    """Validate ``meta["map"]`` of a ``ubm_map`` file: relevance > 0, top_c >= 1, adapt in {m, w, v}+."""
    if not isinstance(block, dict) or set(block) != {"relevance", "top_c", "adapt"}:
        raise bad("a ubm_map model needs 'map' metadata with exactly relevance, top_c and adapt")
    r, c, a = block["relevance"], block["top_c"], block["adapt"]
    if isinstance(r, bool) or not isinstance(r, int | float) or not (np.isfinite(r) and r > 0):
        raise bad(f"MAP relevance must be a positive number, got {r!r}")
    if isinstance(c, bool) or not isinstance(c, int) or c < 1:
        raise bad(f"MAP top_c must be a positive integer, got {c!r}")
    if not isinstance(a, str) or not a or not set(a) <= set("mwv"):
        raise bad(f"MAP adapt must combine 'm', 'w' and 'v', got {a!r}")
    return {"relevance": float(r), "top_c": c, "adapt": a}


def _read_open_set(block: Any, classes: list[str], bad) -> np.ndarray | None:
    """Validate the optional ``open_set`` metadata; returns (C,) thresholds or None."""
    if block is None:
        return None
    thr = block.get("thresholds") if isinstance(block, dict) else None
    if not isinstance(thr, dict) or set(thr) != set(classes):
        raise bad("'open_set' metadata must map every class to a threshold")
    vals = [thr[c] for c in classes]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
        raise bad("open-set thresholds must be numbers")
    out = np.array(vals, dtype=np.float64)
    if np.any(np.isnan(out)) or np.any(out == np.inf):
        raise bad("open-set thresholds must be finite (or -Infinity for a class never rejected)")
    return out
