"""DET curves (detection error trade-off): miss against false-alarm rate over every threshold, on probit axes.

:func:`det_curve` is a pure function of the target and non-target trial scores (a trial is accepted when its
score is >= the threshold, the convention of :func:`gmmspeech.core.metrics.equal_error_rate`, so the curve passes
through the reported EER). :func:`detection_trials` builds those trials from evaluation rows (the one-vs-rest
detection log-likelihood ratios of :func:`gmmspeech.core.metrics.detection_scores`). :func:`plot_det` draws
``det.png`` with matplotlib (the ``plot`` extra), imported only when a plot is drawn: normal-deviate axes with
percentage ticks, the EER point of each curve marked, one curve per duration bucket when given several.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import ndtri

from ..core.metrics import detection_scores, equal_error_rate, operating_points
from ..infra.atomic import atomic_write
from ..infra.plotting import agg_figure_class

__all__ = ["det_curve", "detection_trials", "plot_det", "render_det_png", "DET_MISSING", "DET_TICKS"]

#: One-line note when matplotlib (the ``plot`` extra) is not installed.
DET_MISSING = ("det.png not written: matplotlib is not installed "
               "(pip install 'gmmspeech[plot]' to get the DET curve)")

#: Error rates that may get a tick on a DET axis (the usual NIST set, as fractions).
DET_TICKS = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95,
             0.98, 0.99, 0.995, 0.998, 0.999)

_SPARSE_TICKS = (0.0001, 0.001, 0.01, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99, 0.999)

Trials = tuple[Any, Any]


def det_curve(target_scores: np.ndarray, nontarget_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Miss and false-alarm rates at every distinct threshold: ``(p_miss, p_fa, thresholds)``, three (M,) arrays
    from (0, 1) to (1, 0) (:func:`gmmspeech.core.metrics.operating_points`, the points the EER is read from)."""
    return operating_points(target_scores, nontarget_scores)


def detection_trials(predictions: Sequence[Mapping[str, Any]],
                     classes: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Target and non-target one-vs-rest trial scores from evaluation rows.

    Every (row, class) pair is a trial, a target trial when the row's ``truth`` is the class; its score is the
    detection log-likelihood ratio of the row's ``score_<class>`` values (as in
    :func:`gmmspeech.core.metrics.detection_metrics`, so a DET curve of these trials passes through the pooled
    EER of ``metrics.json``). Rows lacking a score or holding a non-finite one are left out. For one curve per
    duration bucket, call this on each bucket's rows.

    Parameters
    ----------
    predictions : rows with ``truth`` and ``score_<class>`` keys (``pipeline.evaluate_classifier``'s rows;
        values may be numbers or numeric strings).
    classes : the model's classes in score order (default: the ``score_`` keys of the first row, in order).

    Returns
    -------
    (target, nontarget) : 1-D float arrays (empty when there are no rows).
    """
    if classes is None:
        classes = [k[len("score_"):] for k in (predictions[0] if predictions else {}) if k.startswith("score_")]
    classes = list(classes)
    rows, truth = [], []
    for row in predictions:
        try:
            s = [float(row[f"score_{c}"]) for c in classes]
        except (KeyError, TypeError, ValueError):
            continue
        if all(math.isfinite(v) for v in s):
            rows.append(s)
            truth.append(str(row.get("truth", "")))
    if not rows or not classes:
        return np.zeros(0), np.zeros(0)
    llr = detection_scores(np.array(rows, dtype=np.float64))
    target = np.array([[t == c for c in classes] for t in truth], dtype=bool)
    return llr[target], llr[~target]


def _as_curves(curves: Trials | Mapping[str, Trials]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    items = curves.items() if isinstance(curves, Mapping) else [("all trials", curves)]
    out = {}
    for name, (tgt, non) in items:
        t, n = np.asarray(tgt, dtype=np.float64).ravel(), np.asarray(non, dtype=np.float64).ravel()
        t, n = t[np.isfinite(t)], n[np.isfinite(n)]
        if t.size and n.size:
            out[str(name)] = (t, n)
    return out


def _densify(p_miss: np.ndarray, p_fa: np.ndarray, steps: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Points along the straight (linear-scale) segments between operating points, so that a diagonal segment
    (tied scores) is drawn as the curve it is on probit axes and the interpolated EER point lies on it."""
    xs, ys = [p_fa[:1]], [p_miss[:1]]
    a = np.linspace(0.0, 1.0, steps + 1)[1:]
    for i in range(1, len(p_miss)):
        if p_miss[i] != p_miss[i - 1] and p_fa[i] != p_fa[i - 1]:
            xs.append(p_fa[i - 1] + a * (p_fa[i] - p_fa[i - 1]))
            ys.append(p_miss[i - 1] + a * (p_miss[i] - p_miss[i - 1]))
        else:
            xs.append(p_fa[i:i + 1])
            ys.append(p_miss[i:i + 1])
    return np.concatenate(ys), np.concatenate(xs)


def _axis_range(curves: dict[str, tuple[np.ndarray, np.ndarray]], eers: list[float]) -> tuple[float, float]:
    """Lowest and highest error rate shown: down to about half the finest step of the data, up to 40 % (more
    when a curve's EER is high)."""
    step = min((min(1 / t.size, 1 / n.size) for t, n in curves.values()), default=0.01)
    lo = max((t for t in DET_TICKS if t <= min(0.01, step / 2)), default=DET_TICKS[0])
    worst = max(eers, default=0.0)
    hi = 0.4 if worst < 0.3 else 0.6 if worst < 0.45 else 0.9
    return lo, hi


def _draw(curves: Trials | Mapping[str, Trials], title: str | None):
    """The DET figure (matplotlib ``Figure`` on Agg)."""
    Figure = agg_figure_class(DET_MISSING)
    data = _as_curves(curves)
    eers = {name: equal_error_rate(t, n)[0] for name, (t, n) in data.items()}
    lo, hi = _axis_range(data, list(eers.values()))
    edge_lo, edge_hi = lo / 10, 1 - (1 - hi) / 10  # points at 0 % or 100 % run off the visible range

    fig = Figure(figsize=(6.0, 5.9 + 0.18 * len(data)), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    ticks = [t for t in DET_TICKS if lo <= t <= hi]
    if len(ticks) > 8:  # a wide range: the decades and the usual upper ticks only, so labels do not collide
        ticks = [t for t in ticks if t in _SPARSE_TICKS]
    tick_pos = ndtri(np.array(ticks))
    labels = [f"{100 * t:g}%" for t in ticks]
    ax.set_xticks(tick_pos, labels, parse_math=False)
    ax.set_yticks(tick_pos, labels, parse_math=False)
    ax.set_xlim(ndtri(lo), ndtri(hi))
    ax.set_ylim(ndtri(lo), ndtri(hi))
    ax.set_aspect("equal")
    ax.grid(True, color="0.88", linewidth=0.8)
    ax.set_axisbelow(True)
    diag = ndtri(np.array([lo, hi]))
    ax.plot(diag, diag, color="0.7", linewidth=0.8, linestyle="--", label="_equal error line")
    colours = ["#1f5fa8", "#d0661c", "#2f9e44", "#b02a37", "#6f42c1", "#0f8b8d", "#8c6d1f", "#d63384"]
    many = len(data) > 1
    for i, (name, (t, n)) in enumerate(data.items()):
        colour = colours[i % len(colours)]
        p_miss, p_fa, _ = det_curve(t, n)
        ym, xf = _densify(p_miss, p_fa)
        x = ndtri(np.clip(xf, edge_lo, edge_hi))
        y = ndtri(np.clip(ym, edge_lo, edge_hi))
        eer = eers[name]
        label = (f"{name}: EER {100 * eer:.1f}% ({t.size} tgt / {n.size} non)" if many
                 else f"EER {100 * eer:.1f}% ({t.size} target / {n.size} non-target trials)")
        ax.plot(x, y, color=colour, linewidth=1.8, label=label, solid_joinstyle="round")
        e = ndtri(np.clip(eer, edge_lo, edge_hi))
        ax.plot([e], [e], marker="o", markersize=7, markerfacecolor="white", markeredgecolor=colour,
                markeredgewidth=2, linestyle="none", label="_eer", zorder=3)
    if data:
        legend = fig.legend(loc="outside lower center", fontsize=8, frameon=False)
        for text in legend.get_texts():  # labels (bucket names) are drawn literally: '$x$' is not mathtext
            text.set_parse_math(False)
    else:
        ax.text(0.5, 0.5, "no target and non-target trials to draw", transform=ax.transAxes, ha="center",
                va="center", color="0.4", parse_math=False)
    ax.set_xlabel("false-alarm rate (non-target trials accepted)")
    ax.set_ylabel("miss rate (target trials rejected)")
    ax.set_title(title or "DET curve: one-vs-rest detection (\u25cb = equal error rate)", fontsize=10,
                 parse_math=False)
    return fig


def render_det_png(curves: Trials | Mapping[str, Trials], *, title: str | None = None) -> bytes:
    """The DET plot as PNG bytes (see :func:`plot_det`), e.g. to embed in report.html.

    Raises
    ------
    ImportError : when matplotlib is not installed (message: :data:`DET_MISSING`).
    """
    fig = _draw(curves, title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def plot_det(curves: Trials | Mapping[str, Trials], path: str | os.PathLike, *, title: str | None = None) -> None:
    """Draw a DET plot PNG (atomically written) on normal-deviate axes with the EER of each curve marked.

    Parameters
    ----------
    curves : ``(target_scores, nontarget_scores)`` for one curve, or ``{name: (target, nontarget)}`` for one
        curve per group (e.g. duration bucket); groups without a target or a non-target trial are left out and
        non-finite scores are ignored.
    path : PNG file to write.
    title : plot title (drawn literally; default names what is plotted).

    Raises
    ------
    ImportError : when matplotlib is not installed (message: :data:`DET_MISSING`).
    """
    fig = _draw(curves, title)
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
