"""Report files of an evaluation: predictions.csv, metrics.json, the confusion matrix as text, CSV and PNG.

:func:`write_report` writes the files atomically; :func:`plot_confusion` draws the heat map with matplotlib (the
``plot`` extra), imported only when needed. The figures themselves come from :mod:`gmmspeech.core.metrics`.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.metrics import duration_buckets
from ..infra.atomic import atomic_write
from ..infra.outputs import check_output_dir, replace_dir
from ..infra.plotting import agg_figure_class
from ..infra.text import csv_safe, terminal_safe
from .det import detection_trials, render_det_png
from .html_report import write_report_html

__all__ = ["format_confusion", "format_metrics", "write_report", "check_report_dir", "plot_confusion",
           "PLOT_MISSING", "REPORT_FILES"]

#: One-line note printed when matplotlib (the ``plot`` extra) is not installed.
PLOT_MISSING = ("confusion.png not written: matplotlib is not installed "
                "(pip install 'gmmspeech[plot]' to get the heat map)")


def plot_confusion(cm: np.ndarray, labels: Sequence[str], path: str | os.PathLike, *, title: str | None = None) -> None:
    """Draw the confusion matrix as a labelled heat map PNG (atomically written).

    Cells are coloured by the row-normalised rate and show the count and the row percentage.

    Parameters
    ----------
    cm : (C, C) counts, rows true classes, columns predictions.
    labels : the C class labels.
    path : PNG file to write.

    Raises
    ------
    ImportError : when matplotlib is not installed (message: :data:`PLOT_MISSING`).
    """
    Figure = agg_figure_class(PLOT_MISSING)

    cm = np.asarray(cm)
    labels = [terminal_safe(str(lab)) for lab in labels]   # control characters drawn as escapes, not glyphs
    n = len(labels)
    rows = cm.sum(axis=1, keepdims=True)
    rate = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    side = max(4.0, 0.75 * n + 2.0)
    fig = Figure(figsize=(side + 1.2, side), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(rate, cmap="Blues", vmin=0.0, vmax=1.0)
    long = max(map(len, labels), default=0) > 3
    # parse_math=False: labels are drawn literally ('$x$' is not mathtext, a bad macro cannot fail the plot)
    ax.set_xticks(range(n), labels, rotation=45 if long else 0, ha="right" if long else "center", parse_math=False)
    ax.set_yticks(range(n), labels, parse_math=False)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or f"confusion matrix ({int(cm.sum())} items; colour = row %)")
    size = 9 if n <= 8 else 7 if n <= 14 else 5
    for i in range(n):
        for j in range(n):
            colour = "white" if rate[i, j] > 0.6 else "black"
            if cm[i, j] == 0:  # empty cells stay quiet so the errors stand out
                ax.text(j, i, "0", ha="center", va="center", fontsize=size, color="0.6")
                continue
            text = f"{int(cm[i, j])}\n{100 * rate[i, j]:.0f}%"
            ax.text(j, i, text, ha="center", va="center", fontsize=size, color=colour)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    atomic_write(path, lambda f: fig.savefig(f, format="png"))


def format_confusion(cm: np.ndarray, labels: Sequence[str]) -> str:
    """The confusion matrix as an aligned text table: rows are true classes, columns predictions."""
    labels = [str(lab) for lab in labels]
    corner = "true \\ pred"
    w0 = max(len(corner), *(len(lab) for lab in labels))
    wc = max(4, *(len(lab) for lab in labels), len(str(int(cm.max()) if cm.size else 0)))
    lines = [f"{corner:<{w0}} " + " ".join(f"{lab:>{wc}}" for lab in labels)]
    for i, lab in enumerate(labels):
        lines.append(f"{lab:<{w0}} " + " ".join(f"{int(v):>{wc}}" for v in cm[i]))
    return "\n".join(lines)


#: The LRE figures printed (caption, metrics key).
_LRE_SHOWN = (("Cavg", "cavg"), ("Cllr", "cllr"), ("minCllr", "min_cllr"), ("EER", "eer"), ("minDCF", "min_dcf"))


def _f(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def _pct(v) -> str:
    return "-" if v is None else f"{v:.1%}"


def format_metrics(metrics: dict[str, Any]) -> str:
    """A short human-readable summary: headline figures and a per-class table."""
    lines = [f"accuracy {metrics['accuracy']:.2%}   balanced accuracy {metrics['balanced_accuracy']:.2%}   "
             f"macro-F1 {metrics['macro_f1']:.3f}   ({metrics['n_items']} items)"]
    if metrics.get("eer") is not None:
        lines.append(f"equal error rate {metrics['eer']:.2%} (one-vs-rest detection, pooled over classes)")
    if metrics.get("cavg") is not None:
        lines.append("NIST LRE: " + "   ".join(f"{name} {_f(metrics.get(key))}" for name, key in _LRE_SHOWN))
    buckets = metrics.get("by_duration") or {}
    if len(buckets) > 1:
        lines.append(f"{'duration':<9} {'files':>5} {'accuracy':>8} " + " ".join(f"{n:>8}" for n, _ in _LRE_SHOWN))
        for name, b in buckets.items():
            lines.append(f"{name:<9} {b.get('n_items', 0):>5} {_pct(b.get('accuracy')):>8} "
                         + " ".join(f"{_f(b.get(k)):>8}" for _, k in _LRE_SHOWN))
    w = max(5, *(len(str(lab)) for lab in metrics["per_class"]))
    per_eer = metrics.get("eer_per_class") or {}
    lines.append(f"{'class':<{w}}  precision  recall     f1  support" + ("     EER" if per_eer else ""))
    for lab, m in metrics["per_class"].items():
        e = per_eer.get(lab)
        tail = ("" if not per_eer else f"  {'-':>6}" if e is None else f"  {e:>6.1%}")
        lines.append(f"{lab:<{w}}  {m['precision']:>9.3f}  {m['recall']:>6.3f}  {m['f1']:>5.3f}  {m['support']:>7d}"
                     + tail)
    return "\n".join(lines)


#: The files a report folder may hold (a folder holding anything else is never replaced).
REPORT_FILES = ("predictions.csv", "metrics.json", "confusion.csv", "confusion.png", "det.png", "report.html")


def check_report_dir(report_dir: str | os.PathLike) -> Path:
    """Check, before any work, that ``report_dir`` can be written as a report folder (see :func:`write_report`)."""
    return check_output_dir(report_dir, REPORT_FILES)


def write_report(report_dir: str | os.PathLike, predictions: list[dict[str, Any]], metrics: dict[str, Any],
                 cm: np.ndarray, labels: Sequence[str], *, plot: bool = True) -> list[Path]:
    """Write ``predictions.csv``, ``metrics.json``, ``confusion.csv``, ``confusion.png``, ``det.png`` and
    ``report.html`` (one self-contained page to look at) into ``report_dir``.

    The folder is replaced as a whole (:func:`gmmspeech.infra.outputs.replace_dir`): it holds all files of this
    run or, if the run is killed, the previous run's -- never a mix. A folder holding other files is refused.
    ``predictions`` rows are dicts with the same keys (e.g. file, truth, predicted, score_<class>...); text cells
    are neutralised against spreadsheet formula injection. The PNGs need matplotlib; without it (or with
    ``plot=False``) they are skipped and the other files are still written. Returns the paths written.
    """
    check_report_dir(report_dir)
    final = Path(report_dir)
    return replace_dir(report_dir, lambda d: _write_report_files(d, predictions, metrics, cm, labels, plot, final))


def _det_curves(predictions: list[dict[str, Any]]):
    """DET trials: all files pooled, plus one curve per duration bucket when rows carry ``seconds`` and more
    than one bucket holds files."""
    pooled = detection_trials(predictions)
    if not predictions or "seconds" not in predictions[0]:
        return pooled
    buckets = duration_buckets([r["seconds"] for r in predictions])
    filled = [(name, mask) for name, _, _, mask in buckets if mask.any()]
    if len(filled) < 2:
        return pooled
    curves = {"all files": pooled}
    for name, mask in filled:
        curves[name] = detection_trials([r for r, m in zip(predictions, mask, strict=True) if m])
    return curves


def _write_report_files(d: Path, predictions, metrics, cm, labels, plot: bool, final: Path) -> list[Path]:
    written = []
    buf = io.StringIO()
    if predictions:
        w = csv.DictWriter(buf, fieldnames=list(predictions[0]), lineterminator="\n")
        w.writeheader()
        w.writerows({k: csv_safe(v) for k, v in row.items()} for row in predictions)
    (d / "predictions.csv").write_text(buf.getvalue(), encoding="utf-8")
    written.append(d / "predictions.csv")

    (d / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    written.append(d / "metrics.json")

    buf = io.StringIO()
    w2 = csv.writer(buf, lineterminator="\n")
    w2.writerow(["true\\pred", *map(csv_safe, labels)])
    for i, lab in enumerate(labels):
        w2.writerow([csv_safe(lab), *(int(v) for v in cm[i])])
    (d / "confusion.csv").write_text(buf.getvalue(), encoding="utf-8")
    written.append(d / "confusion.csv")
    det_png = confusion_png = None
    if plot:
        try:
            plot_confusion(cm, labels, d / "confusion.png")
            written.append(d / "confusion.png")
            confusion_png = (d / "confusion.png").read_bytes()
            det_png = render_det_png(_det_curves(predictions))
            (d / "det.png").write_bytes(det_png)
            written.append(d / "det.png")
        except ImportError:
            pass
    write_report_html(d / "report.html", predictions, metrics, cm, labels, det_png=det_png,
                      confusion_png=confusion_png, report_dir=final)
    written.append(d / "report.html")
    return written
