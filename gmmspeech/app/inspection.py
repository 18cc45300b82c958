"""What a model file holds, in words: classes, sizes, every setting and where it came from, training summary."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..model.classifier import GMMClassifier
from ..model.meta import ModelMeta
from ..model.modelio import load_model

__all__ = ["inspect_model", "format_model"]


def inspect_model(path: str | os.PathLike, *, as_json: bool = False) -> str:
    """The description of a model file: :func:`format_model`'s text, or its metadata as indented JSON."""
    clf, meta = load_model(path)
    return json.dumps(meta.to_dict(), indent=2, sort_keys=True) if as_json else format_model(clf, meta, Path(path))


def format_model(clf: GMMClassifier, meta: ModelMeta, path: Path) -> str:
    """Human-readable description of a loaded model (one setting per line, with its source)."""
    k, d = next(iter(clf.models_.values())).means_.shape
    out = [f"model        {path}",
           f"format       v{meta.format_version} (written by gmmspeech {meta.package_version})",
           f"classes      {len(clf.classes_)}: {', '.join(clf.classes_)}",
           f"components   {k} per class, diagonal covariances, {d} feature dims"]
    if meta.map is not None:
        m = meta.map
        out.append(f"model type   ubm_map: classes MAP-adapted from a {k}-component UBM (relevance {m.relevance:g}, "
                   f"adapted '{m.adapt}'); scores: log-likelihood ratio per frame vs the UBM, top-{m.top_c} "
                   "components per frame")
    else:
        out.append("model type   per_class: one GMM per class trained by EM; scores: log-likelihood per frame")
    out.append(f"task         {meta.task or 'none (built-in defaults)'}")
    out.append("settings     value (where it came from: default, preset:TASK, recipe, config:FILE, option)")
    tr = meta.training
    sections = (("features", meta.features.to_dict()), ("model", tr.model if tr else {}))
    for section, values in sections:
        for key, val in values.items():
            src = meta.settings_sources.get(f"{section}.{key}", "default")
            out.append(f"  {section + '.' + key:<28} {val!s:<16} {src}")
    if tr is not None:
        out.append(f"training     recipe={tr.recipe} seed={tr.seed}")
        if meta.map is not None:
            u = tr.ubm or {}
            out.append(f"  UBM          init={u.get('init')} iterations={u.get('iterations')} "
                       f"loglik/frame={u.get('final_log_likelihood', float('nan')):.3f} "
                       f"mix-up rounds={len(u.get('rounds', []))}")
            for lab in clf.classes_:
                out.append(f"  {lab:<12} files={tr.files_per_class.get(lab)} frames={tr.frames_per_class.get(lab)} "
                           f"train LLR/frame={(tr.train_llr or {}).get(lab, float('nan')):.3f}")
        else:
            for lab in clf.classes_:
                out.append(f"  {lab:<12} files={tr.files_per_class.get(lab)} frames={tr.frames_per_class.get(lab)} "
                           f"iterations={tr.iterations.get(lab)} "
                           f"loglik/frame={tr.final_log_likelihood.get(lab, float('nan')):.3f} "
                           f"converged={tr.converged.get(lab)}")
    if meta.calibration is not None:
        out.append(f"back-end     {meta.calibration.get('kind', '?')} score calibration, trained on "
                   f"{meta.calibration.get('trained_on', '?')}; score/evaluate decide on calibrated "
                   "log-posteriors (--raw: on the mean log-likelihoods)")
    else:
        out.append("back-end     none (scores are mean log-likelihoods per frame)")
    if meta.open_set is not None:
        o = meta.open_set
        unit = "log-lik" if meta.map is None else "LLR"
        out.append(f"open set     per-class thresholds (mean {unit}/frame; quantile {o.quantile} of "
                   f"{o.segment_frames}-frame training segments): "
                   + ", ".join(f"{c}={o.thresholds[c]:.3f}" for c in clf.classes_))
    else:
        out.append("open set     no calibrated thresholds (use score --reject-below T)")
    return "\n".join(out)
