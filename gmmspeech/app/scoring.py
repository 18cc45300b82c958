"""Scoring many recordings: expand inputs, cut long files into segments, build and format result rows.

Inputs are files, folders (searched recursively for audio extensions) or manifests (``.csv``). With a segment
length, each recording is cut into consecutive segments that are scored as separate items (one row each). A row
holds the decision (class, or ``unknown`` in open-set mode; :func:`gmmspeech.model.decision.decide`), the winner's mean
log-likelihood per frame, its margin over the runner-up, every class's posterior and the top-K classes.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..data.featstore import FeatureCache, compute_features
from ..data.manifest import Utterance, read_manifest
from ..frontend.audio import AUDIO_EXTENSIONS, AudioError, audio_duration, audio_info, unreadable_format
from ..frontend.features import FeatureConfig
from ..infra.errors import GmmspeechError
from ..infra.text import csv_safe
from ..model.decision import decide
from ..model.modelio import load_backend, load_model
from ..model.novelty import file_novelty, read_novelty

__all__ = ["score_files", "ScoreResult", "NoAudioFound", "expand_inputs", "scan_inputs", "band_warning",
           "segment_bounds", "split_segments",
           "score_row", "format_rows", "POSTERIOR_NOTE"]

#: How posteriors are computed, printed with JSON output so readers need not guess.
POSTERIOR_NOTE = ("softmax over classes of the mean log-likelihood per frame (= softmax of total "
                  "log-likelihoods at a temperature equal to the number of frames), flat prior")


def scan_inputs(paths: Sequence[str | os.PathLike]) -> tuple[list[Utterance], list[str]]:
    """Utterances to score from files, folders and manifests, and the files of folders that were skipped.

    A folder contributes every file below it whose extension is in ``AUDIO_EXTENSIONS`` (sorted); files in a
    format libsndfile cannot decode (e.g. ``.m4a``) are listed as skipped, with what
    to do. A ``.csv`` is read as a manifest (validated, labels kept); anything else is taken as an audio file,
    even if it does not exist -- loading it later reports the problem for that file alone.
    """
    utts: list[Utterance] = []
    skipped: list[str] = []
    for p in map(Path, paths):
        if p.is_dir():
            files = sorted(q for q in p.rglob("*") if q.is_file())
            utts.extend(Utterance(q, "") for q in files if q.suffix.lower() in AUDIO_EXTENSIONS)
            skipped.extend(f"{q}: {unreadable_format(q)}" for q in files if unreadable_format(q))
        elif p.suffix.lower() == ".csv":
            utts.extend(read_manifest(p))
        else:
            utts.append(Utterance(p, ""))
    return utts, skipped


def expand_inputs(paths: Sequence[str | os.PathLike]) -> list[Utterance]:
    """The utterances of :func:`scan_inputs` (files, folders, manifests)."""
    return scan_inputs(paths)[0]


def band_warning(path: str | os.PathLike, cfg: FeatureConfig) -> str | None:
    """A warning when ``path``'s own sample rate cannot fill the model's analysis band, else None.

    E.g. 8 kHz telephone audio (content up to 4 kHz) scored by a 16 kHz model whose mel filters reach 8 kHz: the
    upper filters see only resampling silence, so scores are biased -- often a confident wrong answer.
    """
    try:
        native = audio_info(path)[0]
    except AudioError:
        return None   # reported when the file is loaded
    top = cfg.fmax if cfg.fmax else cfg.sample_rate / 2
    if native / 2 >= 0.95 * top:
        return None
    return (f"{path}: recorded at {native} Hz (content up to {native / 2:g} Hz) but the model analyses up to "
            f"{top:g} Hz: its upper mel bands see no signal, so the scores are unreliable (train a model at "
            f"{native} Hz for such audio)")


def segment_bounds(start: float, end: float, seconds: float) -> list[tuple[float, float]]:
    """Consecutive ``(start, end)`` segments of ``seconds`` covering ``[start, end]``.

    A tail shorter than half a segment is merged into the previous segment, so no audio is dropped and no
    segment is too short to score reliably; a span shorter than ``seconds`` is one segment.
    """
    if seconds <= 0:
        raise ValueError(f"segment length must be positive, got {seconds}")
    n = max(1, int(np.floor((end - start) / seconds)))
    if (end - start) - n * seconds >= seconds / 2:
        n += 1
    edges = [start] + [round(start + i * seconds, 6) for i in range(1, n)] + [end]  # exact outer bounds
    return list(zip(edges[:-1], edges[1:], strict=True))


def split_segments(utts: Sequence[Utterance], seconds: float) -> list[Utterance]:
    """Each utterance replaced by its consecutive segments (see :func:`segment_bounds`).

    An utterance whose length cannot be read is kept whole, so its error is reported when it is loaded.
    """
    out: list[Utterance] = []
    for u in utts:
        try:
            total = audio_duration(u.path)
        except AudioError:
            out.append(u)
            continue
        start = u.start or 0.0
        end = u.end if u.end is not None else total
        out.extend(replace(u, start=a, end=b) for a, b in segment_bounds(start, end, seconds))
    return out


def score_row(utt: Utterance, scores: np.ndarray, classes: Sequence[str], n_frames: int, *, top: int = 3,
              thresholds: np.ndarray | float | None = None, novelty: dict[str, Any] | None = None,
              backend: Any = None) -> dict[str, Any]:
    """The result row of one scored item.

    Parameters
    ----------
    utt : the item (file or segment).
    scores : (C,) mean log-likelihood per frame under each class (nats).
    classes : the C labels.
    n_frames : frames scored.
    top : how many best classes to list.
    thresholds : open-set thresholds (scalar or (C,)); ``None`` is closed-set.
    novelty : the item's :func:`gmmspeech.novelty.file_novelty` result; a novel item is predicted unknown.
    backend : the model's score back-end, or None (see :func:`gmmspeech.model.decision.decide`).

    Returns
    -------
    dict: file, start, end, frames, predicted, best, loglik, margin, posteriors {class: p},
    top [{class, loglik, posterior}]; with ``novelty`` also outlier_fraction and novel.
    """
    d = decide(scores, classes, n_frames, thresholds=thresholds, novelty=novelty, backend=backend)
    row = {
        "file": str(utt.path), "start": utt.start, "end": utt.end, "frames": d.n_frames,
        "predicted": d.label, "best": d.best, "loglik": round(d.scores[d.best], 4),
        "margin": round(d.margin, 4) if len(classes) > 1 else None,
        "posteriors": {c: round(p, 4) for c, p in d.posteriors.items()},
        "top": [{"class": c, "loglik": round(d.scores[c], 4), "posterior": round(d.posteriors[c], 4)}
                for c in d.ranked[:top]],
    }
    if novelty is not None:
        row.update(outlier_fraction=d.outlier_fraction, novel=bool(d.novel))
    return row


def _name(r: dict[str, Any]) -> str:
    return Utterance(Path(r["file"]), "", r["start"], r["end"]).name


def format_rows(rows: list[dict[str, Any]], classes: Sequence[str], fmt: str, *,
                failed: Sequence[tuple[str, str]] = (), extra: dict[str, Any] | None = None) -> str:
    """Rows as ``table`` (aligned text), ``csv`` (one column per class posterior) or ``json``.

    ``failed`` lists ``(file, reason)`` pairs (included in JSON output; the CLI reports them on stderr).
    ``extra`` adds top-level keys to the JSON document. The table shows every class's posterior when there
    are at most 8 classes; CSV and JSON always do. Rows with novelty flags add ``outlier_fraction`` and
    ``novel`` columns.
    """
    nov = any("novel" in r for r in rows)
    if fmt == "json":
        doc = {**(extra or {}), "posterior": POSTERIOR_NOTE, "classes": list(classes), "results": rows,
               "failed": [{"file": f, "reason": m} for f, m in failed]}
        return json.dumps(doc, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["file", "start", "end", "frames", "predicted", "best", "loglik", "margin", "top",
                    *(csv_safe(f"posterior_{c}") for c in classes), *(["outlier_fraction", "novel"] if nov else [])])
        for r in rows:
            w.writerow([csv_safe(r["file"]), "" if r["start"] is None else r["start"],
                        "" if r["end"] is None else r["end"], r["frames"], csv_safe(r["predicted"]),
                        csv_safe(r["best"]), r["loglik"], "" if r["margin"] is None else r["margin"],
                        csv_safe(" ".join(t["class"] for t in r["top"])), *(r["posteriors"][c] for c in classes),
                        *([r.get("outlier_fraction", ""), int(r["novel"]) if "novel" in r else ""] if nov else [])])
        return buf.getvalue().rstrip("\n")
    if fmt != "table":
        raise ValueError(f"unknown output format {fmt!r} (table, csv or json)")
    show_all = len(classes) <= 8
    names = [_name(r) for r in rows]
    wf = max([4, *map(len, names)])
    wp = max([9, *(len(r["predicted"]) for r in rows)])
    wc = [max(5, len(c)) for c in classes]
    head = f"{'file':<{wf}}  {'predicted':<{wp}} {'loglik/fr':>9} {'margin':>7}"
    head += f" {'outliers':>8} novel" if nov else ""
    if show_all:
        head += "  " + " ".join(f"{c:>{w}}" for c, w in zip(classes, wc, strict=True))
    lines = [head + f"  top {len(rows[0]['top']) if rows else ''}".rstrip()]
    for name, r in zip(names, rows, strict=True):
        margin = "" if r["margin"] is None else f"{r['margin']:7.3f}"
        line = f"{name:<{wf}}  {r['predicted']:<{wp}} {r['loglik']:9.3f} {margin:>7}"
        if nov:
            line += f" {r.get('outlier_fraction', float('nan')):>8.1%} {'yes' if r.get('novel') else 'no ':<5}"
        if show_all:
            line += "  " + " ".join(f"{r['posteriors'][c]:>{w}.2f}" for c, w in zip(classes, wc, strict=True))
        lines.append(line + "  " + ", ".join(f"{t['class']} {t['posterior']:.2f}" for t in r["top"]))
    return "\n".join(lines)


@dataclass
class ScoreResult:
    """Rows of :func:`score_files` (see :func:`score_row`), the files that failed, and the model's classes."""

    rows: list[dict[str, Any]]
    classes: list[str]
    errors: list[tuple[Utterance, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def format(self, fmt: str) -> str:
        """The rows as ``table``, ``csv`` or ``json`` (:func:`format_rows`)."""
        return format_rows(self.rows, self.classes, fmt, failed=[(u.name, m) for u, m in self.errors],
                           extra=self.extra)


class NoAudioFound(GmmspeechError, ValueError):
    """The paths given to ``score`` hold no audio file."""


def score_files(model: str | os.PathLike, paths: Sequence[str | os.PathLike], *, top: int = 3,
                segment: float | None = None, open_set: bool = False, reject_below: float | None = None,
                novelty: bool = False, n_jobs: int | None = None, quiet: bool = False,
                cache: FeatureCache | None = None, raw: bool = False) -> ScoreResult:
    """Score audio files, folders or manifests with a model file: one row per file (or ``segment``-second piece).

    Files that fail are listed in ``errors`` with their reason; the others are scored.
    """
    clf, meta = load_model(model)
    thresholds = clf.open_set_thresholds(reject_below) if (open_set or reject_below is not None) else None
    novelty_cal = read_novelty(meta, str(model)) if novelty else None
    utts, skipped = scan_inputs(paths)
    if not utts:
        raise NoAudioFound("no audio files found in the given paths"
                           + (f" ({len(skipped)} in formats that cannot be read: {skipped[0]})" if skipped else ""))
    if segment is not None:
        utts = split_segments(utts, segment)
    fs = compute_features(utts, meta.features, n_jobs=n_jobs, progress=not quiet, desc="scoring", cache=cache)
    backend = None if raw else load_backend(meta, str(model))
    rows = [score_row(u, clf.score(x), clf.classes_, len(x), top=top, thresholds=thresholds, backend=backend,
                      novelty=None if novelty_cal is None else file_novelty(clf, x, novelty_cal)) for u, x in fs.ok()]
    extra = {"model": str(model), "open_set_thresholds": None if thresholds is None else
             {c: float(t) for c, t in zip(clf.classes_, thresholds, strict=True)}, "novelty": novelty_cal,
             "scores": ("calibrated log-posteriors (the model's score back-end; --raw for mean log-likelihoods)"
                        if backend is not None else "mean log-likelihood per frame under each class (nats)")}
    warnings = [f"skipped {m}" for m in skipped]
    band = {str(u.path): w for u in {str(u.path): u for u, _ in fs.ok()}.values()
            if (w := band_warning(u.path, meta.features)) is not None}
    for r in rows:
        if r["file"] in band:
            r["warning"] = "sample rate below the model's analysis band"
    warnings += list(band.values())
    extra["warnings"] = warnings
    return ScoreResult(rows, list(clf.classes_), fs.errors, extra, warnings)
