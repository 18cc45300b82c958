"""Model files: ``.npz`` arrays plus a JSON ``meta`` string; never pickle, always written atomically.

Layout (C classes, K components, D feature dimensions):

* ``weights`` (C, K), ``means`` (C, K, D), ``variances`` (C, K, D) -- float64;
* ``meta`` -- a 0-d unicode array holding JSON: ``format_version``, ``package_version``, ``classes``,
  ``features`` (the full FeatureConfig), ``training`` (summary) and anything the caller adds;
  optionally ``open_set`` = ``{"thresholds": {label: float}, "quantile": q, "segment_frames": n}``, the
  calibrated per-class rejection thresholds (absent in older files, which still load: it is optional in
  format version 1).

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

from . import __version__
from .atomic import atomic_write
from .classifier import GMMClassifier
from .gmm import DiagGMM

__all__ = ["FORMAT_VERSION", "ModelFileError", "save_model", "load_model"]

FORMAT_VERSION = 1


class ModelFileError(Exception):
    """A model file is missing, malformed or unsafe; the message names the file and the problem."""


def save_model(classifier: GMMClassifier, path: str | os.PathLike, meta: dict[str, Any] | None = None) -> None:
    """Save a fitted classifier and its metadata to ``path`` (.npz), atomically.

    All classes must have the same number of components. ``meta`` should hold at least ``features``
    (``FeatureConfig.to_dict()``); format and package versions and the class list are added here.
    """
    models = [classifier.models_[c] for c in classifier.classes_]
    ks = {m.means_.shape[0] for m in models}
    if len(ks) != 1:
        raise ValueError(f"all class models must have the same number of components, got {sorted(ks)}")
    full_meta = dict(meta or {})
    full_meta.update(format_version=FORMAT_VERSION, package_version=__version__,
                     classes=list(classifier.classes_))
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
        "meta": np.array(json.dumps(full_meta, sort_keys=True)),
    }
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
    non-finite or non-positive variances, or weights that do not sum to one.
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

    models = {}
    for c, label in enumerate(classes):
        g = DiagGMM(n_components=weights.shape[1])
        g.weights_, g.means_, g.variances_ = (np.asarray(a, dtype=np.float64) for a in (weights[c], means[c],
                                                                                        variances[c]))
        models[label] = g
    clf = GMMClassifier.from_models(models)
    if thresholds is not None:
        clf.reject_thresholds_ = thresholds
        clf.calibration_ = {k: v for k, v in meta["open_set"].items() if k != "thresholds"}
    return clf, meta


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
