"""Scoring many recordings: expand inputs, cut long files into segments, build and format result rows.

Inputs are files, folders (searched recursively for audio extensions) or manifests (``.csv``). With a segment
length, each recording is cut into consecutive segments that are scored as separate items (one row each). A row
holds the decision (class, or :data:`~gmmspeech.classifier.UNKNOWN` in open-set mode), the winner's mean
log-likelihood per frame, its margin over the runner-up, every class's posterior and the top-K classes.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..data.manifest import Utterance, read_manifest
from ..frontend.audio import AUDIO_EXTENSIONS, AudioError, audio_duration
from ..model.classifier import UNKNOWN, open_set_decision, posteriors

__all__ = ["expand_inputs", "segment_bounds", "split_segments", "score_row", "format_rows", "POSTERIOR_NOTE"]

#: How posteriors are computed, printed with JSON output so readers need not guess.
POSTERIOR_NOTE = ("softmax over classes of the mean log-likelihood per frame (= softmax of total "
                  "log-likelihoods at a temperature equal to the number of frames), flat prior")


def expand_inputs(paths: Sequence[str | os.PathLike]) -> list[Utterance]:
    """Utterances to score from files, folders and manifests.

    A folder contributes every file below it whose extension is in ``AUDIO_EXTENSIONS`` (sorted); a ``.csv``
    is read as a manifest (validated, labels kept); anything else is taken as an audio file, even if it does
    not exist -- loading it later reports the problem for that file alone.
    """
    utts: list[Utterance] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.suffix.lower() in AUDIO_EXTENSIONS and q.is_file())
            utts.extend(Utterance(q, "") for q in found)
        elif p.suffix.lower() == ".csv":
            utts.extend(read_manifest(p))
        else:
            utts.append(Utterance(p, ""))
    return utts


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
              thresholds: np.ndarray | float | None = None, novelty: dict[str, Any] | None = None) -> dict[str, Any]:
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

    Returns
    -------
    dict: file, start, end, frames, predicted, best, loglik, margin, posteriors {class: p},
    top [{class, loglik, posterior}]; with ``novelty`` also outlier_fraction and novel.
    """
    s = np.asarray(scores, dtype=np.float64)
    post = posteriors(s)
    order = np.argsort(-s, kind="stable")
    best = classes[order[0]]
    rejected = thresholds is not None and bool(open_set_decision(s, thresholds))
    rejected = rejected or bool(novelty and novelty["novel"])
    row = {
        "file": str(utt.path), "start": utt.start, "end": utt.end, "frames": int(n_frames),
        "predicted": UNKNOWN if rejected else best, "best": best,
        "loglik": round(float(s[order[0]]), 4),
        "margin": round(float(s[order[0]] - s[order[1]]), 4) if len(order) > 1 else None,
        "posteriors": {c: round(float(p), 4) for c, p in zip(classes, post, strict=True)},
        "top": [{"class": classes[i], "loglik": round(float(s[i]), 4), "posterior": round(float(post[i]), 4)}
                for i in order[:top]],
    }
    if novelty is not None:
        row.update(outlier_fraction=float(novelty["outlier_fraction"]), novel=bool(novelty["novel"]))
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
                    *(f"posterior_{c}" for c in classes), *(["outlier_fraction", "novel"] if nov else [])])
        for r in rows:
            w.writerow([r["file"], "" if r["start"] is None else r["start"], "" if r["end"] is None else r["end"],
                        r["frames"], r["predicted"], r["best"], r["loglik"], "" if r["margin"] is None else r["margin"],
                        " ".join(t["class"] for t in r["top"]), *(r["posteriors"][c] for c in classes),
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
