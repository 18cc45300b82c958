"""Model files: ``.npz`` arrays plus a JSON ``meta`` string; never pickle, always written atomically.

Layout (C classes, K components, D feature dimensions):

* ``weights`` (C, K), ``means`` (C, K, D), ``variances`` (C, K, D) -- float64;
* ``meta`` -- a 0-d unicode array holding JSON: ``format_version``, ``package_version``, ``classes``,
  ``features`` (the full FeatureConfig), ``training`` (summary) and anything the caller adds.

Loading uses ``numpy.load(allow_pickle=False)``, so a model file cannot run code.
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
    arrays = {
        "weights": np.stack([m.weights_ for m in models]).astype(np.float64),
        "means": np.stack([m.means_ for m in models]).astype(np.float64),
        "variances": np.stack([m.variances_ for m in models]).astype(np.float64),
        "meta": np.array(json.dumps(full_meta, sort_keys=True)),
    }
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_model(path: str | os.PathLike) -> tuple[GMMClassifier, dict[str, Any]]:
    """Load a model file written by :func:`save_model`; returns ``(classifier, meta)``.

    Raises :class:`ModelFileError` for a file that is not a model, a newer format, or inconsistent or
    invalid parameters.
    """
    path = Path(path)

    def bad(reason: str) -> ModelFileError:
        return ModelFileError(f"{path}: {reason}")

    if not path.is_file():
        raise bad("no such model file")
    if not zipfile.is_zipfile(path):
        raise bad("not a gmmspeech model file (expected an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = {"weights", "means", "variances", "meta"} - set(z.files)
            if missing:
                raise bad(f"not a gmmspeech model file (missing {', '.join(sorted(missing))})")
            weights, means, variances = z["weights"], z["means"], z["variances"]
            meta = json.loads(str(z["meta"]))
    except ModelFileError:
        raise
    except ValueError as exc:  # includes "Object arrays cannot be loaded when allow_pickle=False"
        raise bad(f"refused to load ({exc})") from None
    except (OSError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise bad(f"unreadable model file ({exc})") from None

    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise bad(f"model format version {version!r} is not supported by gmmspeech {__version__} "
                  f"(supports up to {FORMAT_VERSION}); upgrade gmmspeech")
    classes = meta.get("classes")
    if weights.ndim != 2 or means.ndim != 3 or variances.shape != means.shape or means.shape[:2] != weights.shape:
        raise bad(f"array shapes disagree: weights {weights.shape}, means {means.shape}, "
                  f"variances {variances.shape}")
    if not isinstance(classes, list) or len(classes) != weights.shape[0]:
        raise bad(f"meta lists {len(classes) if isinstance(classes, list) else 'no'} classes but the arrays "
                  f"hold {weights.shape[0]}")
    if not (np.all(np.isfinite(means)) and np.all(np.isfinite(variances)) and np.all(variances > 0)):
        raise bad("means must be finite and variances finite and positive")
    if np.any(weights < 0) or not np.allclose(weights.sum(axis=1), 1.0, atol=1e-6):
        raise bad("mixture weights must be non-negative and sum to one for every class")

    models = {}
    for c, label in enumerate(classes):
        g = DiagGMM(n_components=weights.shape[1])
        g.weights_, g.means_, g.variances_ = weights[c], means[c], variances[c]
        models[str(label)] = g
    return GMMClassifier.from_models(models), meta
