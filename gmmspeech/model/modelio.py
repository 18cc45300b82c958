"""Model files: ``.npz`` arrays plus a JSON ``meta`` string; never pickle, always written atomically.

Layout (C classes, K components, D feature dimensions):

* ``weights`` (C, K), ``means`` (C, K, D), ``variances`` (C, K, D) -- float64;
* ``meta`` -- a 0-d unicode array holding the JSON of a :class:`gmmspeech.model.meta.ModelMeta` (classes in
  array order, the full FeatureConfig, task and settings provenance, training summary, MAP settings, open-set
  and novelty calibration);
* a ``ubm_map`` model also holds its universal background model, ``ubm_weights`` (K,), ``ubm_means`` (K, D),
  ``ubm_variances`` (K, D) -- float64; its class arrays hold the MAP-adapted models and its open-set thresholds
  are log-likelihood ratios against the UBM (the units of its scores).

Loading uses ``numpy.load(allow_pickle=False)``, so a model file cannot run code; every check (metadata fields,
array shapes against each other and against the stored feature configuration, finite positive variances,
weights summing to one) happens before a classifier is built.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .. import __version__
from ..frontend.features import FEATURES_VERSION, FeatureConfig
from ..infra.atomic import atomic_write
from .classifier import GMMClassifier
from .frames import LoadedMixture
from .meta import FORMAT_VERSION, MODEL_TYPES, MapSettings, ModelFileError, ModelMeta, OpenSetCalibration

__all__ = ["FORMAT_VERSION", "MODEL_TYPES", "ModelFileError", "ModelMeta", "save_model", "load_model", "load_backend"]

_UBM_ARRAYS = ("ubm_weights", "ubm_means", "ubm_variances")
#: The arrays a model file may hold, with their number of dimensions.
_ARRAYS = {"weights": 2, "means": 3, "variances": 3, "meta": 0, "ubm_weights": 1, "ubm_means": 2,
           "ubm_variances": 2}
#: Largest model file content accepted (bytes, uncompressed): 4 GiB is 100 classes x 4096 Gaussians x 600 dims.
MAX_MODEL_BYTES = 4 * 2**30
#: Largest compression ratio accepted for a member bigger than 16 MiB (float arrays compress by at most ~10x;
#: a bigger ratio is a decompression bomb).
MAX_COMPRESSION_RATIO = 50


def save_model(classifier: GMMClassifier, path: str | os.PathLike, meta: ModelMeta | None = None, *,
               features: FeatureConfig | None = None) -> ModelMeta:
    """Save a fitted classifier and its metadata to ``path`` (.npz), atomically; returns the metadata written.

    The file always records the feature configuration scoring must rebuild: ``meta.features``, else
    ``features``, else the default ``FeatureConfig()`` -- accepted only when its dimension matches the model's,
    otherwise a ``ValueError`` asks for ``features=``. Classes, model type, MAP settings and open-set thresholds
    are taken from the classifier (a :class:`UBMClassifier` is saved with its UBM). All classes must have the
    same number of components.
    """
    models = [classifier.models_[c] for c in classifier.classes_]
    ks = {m.means_.shape[0] for m in models}
    if len(ks) != 1:
        raise ValueError(f"all class models must have the same number of components, got {sorted(ks)}")
    dim = models[0].means_.shape[1]
    cfg = meta.features if meta is not None else (features or FeatureConfig())
    if cfg.n_dims != dim:
        raise ValueError(f"the feature configuration gives {cfg.n_dims} dims but the model has {dim}: pass the "
                         "FeatureConfig the model was trained on (save_model(..., features=cfg))")
    ubm = getattr(classifier, "ubm_", None)
    thr = getattr(classifier, "reject_thresholds_", None)
    cal = getattr(classifier, "calibration_", None) or {}
    open_set = None if thr is None else OpenSetCalibration(
        thresholds={c: float(t) for c, t in zip(classifier.classes_, thr, strict=True)},
        quantile=cal.get("quantile"), segment_frames=cal.get("segment_frames"),
        optimism_correction=cal.get("optimism_correction"))
    map_settings = None if ubm is None else MapSettings(float(classifier.relevance), int(classifier.top_c),
                                                         str(classifier.adapt))
    meta = (meta or ModelMeta(classes=tuple(classifier.classes_), features=cfg)).replace(
        classes=tuple(classifier.classes_), model_type="per_class" if ubm is None else "ubm_map",
        map=map_settings, open_set=open_set, format_version=FORMAT_VERSION, package_version=__version__,
        features_version=FEATURES_VERSION)
    arrays = {
        "weights": np.stack([m.weights_ for m in models]).astype(np.float64),
        "means": np.stack([m.means_ for m in models]).astype(np.float64),
        "variances": np.stack([m.variances_ for m in models]).astype(np.float64),
    }
    if ubm is not None:
        if ubm.means_.shape != models[0].means_.shape:
            raise ValueError(f"the UBM {ubm.means_.shape} and the class models {models[0].means_.shape} disagree "
                             "on (components, dims)")
        arrays.update(ubm_weights=np.asarray(ubm.weights_, dtype=np.float64),
                      ubm_means=np.asarray(ubm.means_, dtype=np.float64),
                      ubm_variances=np.asarray(ubm.variances_, dtype=np.float64))
    arrays["meta"] = np.array(meta.to_json())
    atomic_write(path, lambda f: np.savez(f, **arrays))
    return meta


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


def _check_archive(path: Path, bad) -> None:
    """Refuse an archive whose members could exhaust memory, before anything is decompressed or allocated.

    Every member must be one of the known arrays, its ``.npy`` header must declare a plain numeric (or, for
    ``meta``, unicode) dtype and exactly as many bytes as the member holds, the total must stay under
    :data:`MAX_MODEL_BYTES` and large members must not be compressed more than :data:`MAX_COMPRESSION_RATIO`.
    """
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        missing = {"weights", "means", "variances", "meta"} - {i.filename.removesuffix(".npy") for i in infos}
        if missing:
            raise bad(f"not a gmmspeech model file (missing {', '.join(sorted(missing))})")
        total = sum(i.file_size for i in infos)
        if total > MAX_MODEL_BYTES:
            raise bad(f"declares {total} bytes of arrays, more than the {MAX_MODEL_BYTES} a model may hold")
        for info in infos:
            name = info.filename.removesuffix(".npy")
            if name not in _ARRAYS or not info.filename.endswith(".npy"):
                raise bad(f"unexpected entry {info.filename!r} (a model holds only {', '.join(_ARRAYS)})")
            if info.file_size > 16 * 2**20 and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
                raise bad(f"entry {name!r} inflates {info.compress_size} bytes to {info.file_size}; refused")
            with zf.open(info) as f:
                try:
                    version = np.lib.format.read_magic(f)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read(f, max_header_size=10_000)
                except ValueError as exc:
                    raise bad(f"entry {name!r} is not a valid .npy array ({exc})") from None
                header = f.tell() if f.seekable() else None
            if dtype.hasobject or dtype.kind not in ("U" if name == "meta" else "f"):
                raise bad(f"entry {name!r} has dtype {dtype}, expected "
                          f"{'a JSON string (unicode)' if name == 'meta' else 'floating-point numbers'}")
            if len(shape) != _ARRAYS[name]:
                raise bad(f"entry {name!r} has {len(shape)} dimensions, expected {_ARRAYS[name]}")
            payload = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if header is not None and header + payload != info.file_size:
                raise bad(f"entry {name!r} declares shape {tuple(shape)} ({payload} bytes) but holds "
                          f"{info.file_size - header}")


def load_backend(meta: ModelMeta, source: str = "model"):
    """The model's score back-end (``meta.calibration``) as an object with ``transform(scores) -> log-posteriors``,
    or None when it has none; :class:`ModelFileError` naming ``source`` when the stored parameters are invalid
    or name other classes than the model's."""
    if meta.calibration is None:
        return None
    from ..core.backend import backend_from_dict  # scipy.optimize: imported only for models with a back-end

    params = {k: v for k, v in meta.calibration.items() if k != "trained_on"}
    try:
        backend = backend_from_dict(params)
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{source}: invalid score back-end in the metadata ({exc})") from None
    if list(backend.classes_) != list(meta.classes):
        raise ModelFileError(f"{source}: the score back-end's classes {list(backend.classes_)} are not the "
                             f"model's {list(meta.classes)}")
    return backend


def load_model(path: str | os.PathLike) -> tuple[GMMClassifier, ModelMeta]:
    """Load a model file written by :func:`save_model`; returns ``(classifier, meta)`` (a :class:`ModelMeta`).

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
        _check_archive(path, bad)
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
    meta = ModelMeta.from_json(str(raw_meta), str(path))
    for name, arr in (("weights", weights), ("means", means), ("variances", variances)):
        if arr.dtype.kind != "f":
            raise bad(f"'{name}' must hold floating-point numbers, not {arr.dtype}")
    if weights.ndim != 2 or means.ndim != 3 or variances.shape != means.shape or means.shape[:2] != weights.shape:
        raise bad(f"array shapes disagree: weights {weights.shape}, means {means.shape}, "
                  f"variances {variances.shape}")
    if 0 in means.shape:
        raise bad(f"empty model (means {means.shape})")
    classes = list(meta.classes)
    if len(classes) != weights.shape[0]:
        raise bad(f"meta lists {len(classes)} classes but the arrays hold {weights.shape[0]}")
    if meta.features.n_dims != means.shape[2]:
        raise bad(f"the stored feature configuration gives {meta.features.n_dims} dims but the model's arrays "
                  f"have {means.shape[2]}")
    _check_values(weights, means, variances, bad, "", "mixture weights", " for every class")
    ubm = _read_ubm(meta.model_type, ubm_arrays, means.shape[1:], bad)
    settings = None if meta.map is None else {"relevance": meta.map.relevance, "top_c": meta.map.top_c,
                                              "adapt": meta.map.adapt}

    models = {}
    for c, label in enumerate(classes):
        models[label] = LoadedMixture(weights[c], means[c], variances[c])
    clf = (GMMClassifier.from_models(models) if ubm is None
           else _ubm_classifier().from_models(ubm, models, **settings))
    load_backend(meta, str(path))   # validated now, so a bad back-end is refused at load
    if meta.open_set is not None:
        clf.reject_thresholds_ = np.array([meta.open_set.thresholds[c] for c in classes], dtype=np.float64)
        clf.calibration_ = meta.open_set.calibration()
    return clf, meta


def _check_values(weights, means, variances, bad, prefix: str, weights_name: str, each: str) -> None:
    """Finite means, finite positive variances, finite non-negative weights summing to one along the last axis
    (per class for (C, K) weights); ``bad(reason)`` for the first violation."""
    if not np.all(np.isfinite(means)):
        raise bad(f"{prefix}means must be finite")
    if not (np.all(np.isfinite(variances)) and np.all(variances > 0)):
        raise bad(f"{prefix}variances must be finite and positive")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or not np.allclose(weights.sum(axis=-1), 1.0,
                                                                                   atol=1e-6):
        raise bad(f"{weights_name} must be finite, non-negative and sum to one{each}")


def _ubm_classifier():
    """:class:`UBMClassifier`, imported only for GMM-UBM models (its top-C scoring uses the core's MAP code)."""
    from .ubm_classifier import UBMClassifier

    return UBMClassifier


def _read_ubm(model_type: str, arrays: dict[str, np.ndarray], shape: tuple[int, int], bad):
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
    _check_values(w, mu, var, bad, "UBM ", "UBM weights", "")
    return LoadedMixture(w, mu, var).to_estimator()
