"""Evaluation: metrics, the confusion matrix, and report files.

The metric functions are pure (label lists in, numbers out); :func:`write_report` writes the files atomically.
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

from .atomic import atomic_write_text

__all__ = ["confusion_matrix", "classification_metrics", "format_confusion", "format_metrics", "write_report"]


def confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Counts ``cm[i, j]`` of items of true class ``labels[i]`` predicted as ``labels[j]``, shape (C, C) int."""
    index = {lab: i for i, lab in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        cm[index[t], index[p]] += 1
    return cm


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str],
                           labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro-F1 and per-class precision/recall/F1/support.

    ``labels`` fixes the class order (default: sorted union of truths and predictions). Classes with no
    support are left out of the balanced accuracy; undefined precision/recall count as 0 (as scikit-learn's
    ``zero_division=0``).
    """
    labels = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred))
    cm = confusion_matrix(y_true, y_pred, labels)
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), 0.0)
        recall = np.where(support > 0, tp / np.maximum(support, 1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
    n = int(cm.sum())
    has = support > 0
    return {
        "n_items": n,
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "balanced_accuracy": float(recall[has].mean()) if has.any() else 0.0,
        "macro_f1": float(f1[has].mean()) if has.any() else 0.0,
        "labels": labels,
        "per_class": {lab: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                            "support": int(support[i])} for i, lab in enumerate(labels)},
    }


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


def format_metrics(metrics: dict[str, Any]) -> str:
    """A short human-readable summary: headline figures and a per-class table."""
    lines = [f"accuracy {metrics['accuracy']:.2%}   balanced accuracy {metrics['balanced_accuracy']:.2%}   "
             f"macro-F1 {metrics['macro_f1']:.3f}   ({metrics['n_items']} items)"]
    w = max(5, *(len(str(lab)) for lab in metrics["per_class"]))
    lines.append(f"{'class':<{w}}  precision  recall     f1  support")
    for lab, m in metrics["per_class"].items():
        lines.append(f"{lab:<{w}}  {m['precision']:>9.3f}  {m['recall']:>6.3f}  {m['f1']:>5.3f}  {m['support']:>7d}")
    return "\n".join(lines)


def write_report(report_dir: str | os.PathLike, predictions: list[dict[str, Any]], metrics: dict[str, Any],
                 cm: np.ndarray, labels: Sequence[str]) -> list[Path]:
    """Write ``predictions.csv``, ``metrics.json`` and ``confusion.csv`` into ``report_dir`` (atomically).

    ``predictions`` rows are dicts with the same keys (e.g. file, truth, predicted, score_<class>...).
    Returns the paths written.
    """
    d = Path(report_dir)
    d.mkdir(parents=True, exist_ok=True)
    written = []

    buf = io.StringIO()
    if predictions:
        w = csv.DictWriter(buf, fieldnames=list(predictions[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(predictions)
    atomic_write_text(d / "predictions.csv", buf.getvalue())
    written.append(d / "predictions.csv")

    atomic_write_text(d / "metrics.json", json.dumps(metrics, indent=2, sort_keys=False) + "\n")
    written.append(d / "metrics.json")

    buf = io.StringIO()
    w2 = csv.writer(buf, lineterminator="\n")
    w2.writerow(["true\\pred", *labels])
    for i, lab in enumerate(labels):
        w2.writerow([lab, *(int(v) for v in cm[i])])
    atomic_write_text(d / "confusion.csv", buf.getvalue())
    written.append(d / "confusion.csv")
    return written
