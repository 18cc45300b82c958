"""report.html: one self-contained page summarising an evaluation, readable offline in any browser.

The page holds inline CSS and no script; images (the DET curve, the confusion heat map) are embedded as base64
``data:`` URIs, so the file can be mailed or archived alone. A Content-Security-Policy forbids scripts and every
network load (only embedded images and the test files' audio may load). Sections: headline figures (accuracy,
balanced accuracy, macro-F1, EER and -- when the metrics hold them -- Cavg, Cllr, min Cllr, minDCF; other numeric
figures and per-duration-bucket figures are listed as found), the confusion matrix as a shaded table, the per-class
table, the most-confused pairs, and the worst test files with an ``<audio>`` player linking to each file (a
relative link from the report folder, so the folder and the audio can move together, else a ``file://`` URI).

Every user-supplied string (labels, file names, metric keys) is HTML-escaped after control characters and
bidirectional overrides have been made visible (:func:`gmmspeech.infra.text.terminal_safe`).
"""

from __future__ import annotations

import base64
import html
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from .. import __version__
from ..infra.atomic import atomic_write_text
from ..infra.text import terminal_safe

__all__ = ["render_report_html", "write_report_html", "audio_link"]

#: Headline figures: (metric keys accepted, caption HTML, kind, explanation).
_HEADLINE: tuple[tuple[tuple[str, ...], str, str, str], ...] = (
    (("accuracy",), "Accuracy", "pct", "files classified correctly"),
    (("balanced_accuracy",), "Balanced accuracy", "pct", "mean recall over classes"),
    (("macro_f1",), "Macro-F1", "f3", "mean F1 over classes"),
    (("eer",), "EER", "pct", "equal error rate, one-vs-rest, pooled"),
    (("cavg", "c_avg", "Cavg"), "C<sub>avg</sub>", "f4", "average detection cost (lower is better)"),
    (("cllr", "c_llr", "Cllr", "act_cllr", "actual_cllr"), "C<sub>llr</sub>", "f3",
     "log-likelihood-ratio cost, bits (lower is better)"),
    (("min_cllr", "cllr_min", "minCllr", "min_c_llr"), "min C<sub>llr</sub>", "f3",
     "C<sub>llr</sub> after ideal calibration"),
    (("min_dcf", "mindcf", "minDCF", "min_dcf_value"), "minDCF", "f4", "minimum detection cost"),
)
_HEADLINE_KEYS = {k for keys, *_ in _HEADLINE for k in keys}
#: Keys with a section of their own (or nothing worth showing as a number).
_STRUCTURED = {"labels", "per_class", "eer_per_class", "unknown_labels", "failed_files", "eer_score"}
#: Keys shown as percentages wherever they appear.
_PERCENT = {"accuracy", "balanced_accuracy", "eer", "error_rate", "miss_rate", "false_alarm_rate", "recall",
            "precision"}
_SEGMENT = re.compile(r"(?P<path>.*)\[(?P<start>\d+(?:\.\d+)?)-(?P<end>\d+(?:\.\d+)?)?\]")


def _h(value: Any) -> str:
    """Text safe inside HTML content and quoted attributes: control characters made visible, then escaped."""
    return html.escape(terminal_safe(str(value)), quote=True)


def _num(value: Any) -> float | None:
    """``value`` as a float, or None when it is not a number (bools, None, text that is not numeric)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _fmt(value: Any, kind: str) -> str:
    """A number formatted for display (``pct``, ``int``, ``f3``, ``f4``, ``g``), or an en dash when absent."""
    v = _num(value)
    if v is None:
        return "&ndash;" if value is None else _h(value)
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "&infin;" if v > 0 else "&minus;&infin;"
    if kind == "pct":
        return f"{100 * v:.1f}%"
    if kind == "int":
        return f"{int(round(v)):,}"
    if kind == "f3":
        return f"{v:.3f}"
    if kind == "f4":
        return f"{v:.4f}"
    return f"{v:.4g}"


def _kind_of(key: str, value: Any) -> str:
    """How a metric named ``key`` is best shown: ``pct``, ``int`` or ``g``."""
    k = str(key).lower()
    if k in _PERCENT or k.endswith(("_rate", "accuracy")) or (k.startswith("eer") and "threshold" not in k):
        return "pct"
    if k.startswith("n_") or k in {"support", "count", "files", "items", "trials"} \
            or (isinstance(value, int | np.integer) and not isinstance(value, bool)):
        return "int"
    return "g"


def _label_key(key: str) -> str:
    """A metric key as a readable caption (escaped): ``balanced_accuracy`` -> ``balanced accuracy``."""
    return _h(str(key).replace("_", " "))


def _metric_name(key: str) -> str:
    """A metric's column title (escaped): the headline caption when it is one, else the readable key."""
    for keys, caption, *_ in _HEADLINE:
        if key in keys:
            return "EER" if key == "eer" else caption
    return _label_key(key)


def _pick(metrics: Mapping[str, Any], keys: Sequence[str]) -> tuple[str, Any] | None:
    for k in keys:
        if k in metrics and _num(metrics[k]) is not None:
            return k, metrics[k]
    return None


def audio_link(name: str, report_dir: str | os.PathLike) -> str:
    """The URL (not yet HTML-escaped) by which report.html in ``report_dir`` reaches the audio of ``name``.

    ``name`` is a predictions row's ``file``: a path, possibly followed by a segment ``[START-END]`` (seconds),
    which becomes a media fragment ``#t=START,END``. The link is relative to ``report_dir`` (percent-encoded, so
    no character of a file name can end the path or start a scheme) or, when no relative path exists (another
    drive), a ``file://`` URI. Relative names are taken from the current directory.
    """
    name = str(name)
    path, fragment = Path(name), ""
    m = _SEGMENT.fullmatch(name)
    if m and not path.exists():
        path = Path(m["path"])
        fragment = f"#t={float(m['start']):g}" + (f",{float(m['end']):g}" if m["end"] else "")
    path = Path(os.path.abspath(path))
    try:
        rel = os.path.relpath(path, os.path.abspath(report_dir))
    except ValueError:  # another drive (Windows): no relative path
        return path.as_uri() + fragment
    return quote(Path(rel).as_posix(), safe="/") + fragment


# ---------------------------------------------------------------------------------------------------- sections


def _cards(metrics: Mapping[str, Any]) -> str:
    cards = []
    for keys, caption, kind, hint in _HEADLINE:
        found = _pick(metrics, keys)
        if found is None:
            continue
        cards.append(f'<div class="card"><div class="value">{_fmt(found[1], kind)}</div>'
                     f'<div class="caption">{caption}</div><div class="hint">{hint}</div></div>')
    return f'<div class="cards">{"".join(cards)}</div>' if cards else ""


def _flat_numbers(metrics: Mapping[str, Any], skip: set[str]) -> list[tuple[str, Any]]:
    """Numeric figures not shown elsewhere: top-level scalars and the scalars of small nested dicts."""
    out = []
    for key, value in metrics.items():
        if key in skip:
            continue
        if _num(value) is not None and not isinstance(value, str):
            out.append((str(key), value))
        elif isinstance(value, Mapping) and not any(isinstance(v, Mapping | list) for v in value.values()):
            out += [(f"{key}.{k}", v) for k, v in value.items() if _num(v) is not None and not isinstance(v, str)]
    return out


def _other_figures(metrics: Mapping[str, Any], skip: set[str]) -> str:
    rows = [f"<tr><th>{_label_key(k)}</th><td class=num>{_fmt(v, _kind_of(k.rsplit('.', 1)[-1], v))}</td></tr>"
            for k, v in _flat_numbers(metrics, skip | _HEADLINE_KEYS)]
    if not rows:
        return ""
    return f'<table class="kv">{"".join(rows)}</table>'


def _buckets(metrics: Mapping[str, Any]) -> tuple[str, set[str]]:
    """Tables of per-duration-bucket figures: any metric whose key names a duration or bucket and holds one
    record per bucket (a dict of dicts, or a list of dicts naming their bucket). Returns (html, keys used)."""
    parts, used = [], set()
    for key, value in metrics.items():
        k = str(key).lower()
        if "duration" not in k and "bucket" not in k:
            continue
        if isinstance(value, Mapping) and value and all(isinstance(v, Mapping) for v in value.values()):
            records = [(str(name), rec) for name, rec in value.items()]
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            records = []
            for i, rec in enumerate(value):
                name = next((rec[n] for n in ("bucket", "name", "label", "range", "duration") if n in rec), i + 1)
                records.append((str(name), rec))
        else:
            continue
        used.add(key)
        order = [c for keys, *_ in _HEADLINE for c in keys]
        cols: list[str] = []
        for _, rec in records:
            for c, v in rec.items():
                if c not in cols and _num(v) is not None and not isinstance(v, str):
                    cols.append(c)
        first = [c for c in cols if c.startswith("n_") or c in ("count", "files", "items")]
        cols = first + sorted((c for c in cols if c not in first),
                              key=lambda c: (order.index(c) if c in order else len(order), cols.index(c)))
        head = "".join(f"<th class=num>{_metric_name(c)}</th>" for c in cols)
        body = "".join(
            f"<tr><th>{_h(name)}</th>"
            + "".join(f"<td class=num>{_fmt(rec.get(c), _kind_of(c, rec.get(c)))}</td>" for c in cols) + "</tr>"
            for name, rec in records)
        parts.append(f"<h3>{_label_key(key)}</h3><div class=scroll><table class='data fit'><thead><tr><th>bucket</th>"
                     f"{head}</tr></thead><tbody>{body}</tbody></table></div>")
    return "".join(parts), used


def _shade(rate: float, diagonal: bool) -> str:
    """Inline style of a confusion cell: blue for correct, red for errors, opacity by the row share."""
    if rate <= 0:
        return ""
    a = 0.08 + 0.82 * rate ** 0.8
    rgb = "31,95,168" if diagonal else "200,55,45"
    ink = "color:#fff;" if a > 0.55 else ""
    return f' style="background:rgba({rgb},{a:.3f});{ink}"'


def _confusion_table(cm: np.ndarray, labels: Sequence[str]) -> str:
    n = len(labels)
    rows = cm.sum(axis=1)
    compact = (" compact" if n > 16 else "") + (" vert" if max(map(len, labels), default=0) > 6 else "")
    head = "".join(f'<th class="col" title="{_h(lab)}"><span>{_h(lab)}</span></th>' for lab in labels)
    body = []
    for i, lab in enumerate(labels):
        cells = []
        for j in range(n):
            c = int(cm[i, j])
            rate = c / rows[i] if rows[i] else 0.0
            tip = f"true {lab} \u2192 predicted {labels[j]}: {c} of {int(rows[i])}"
            cls = "diag" if i == j else "off"
            if c == 0:
                cells.append(f'<td class="{cls} zero" title="{_h(tip)}">0</td>')
                continue
            cells.append(f'<td class="{cls}"{_shade(rate, i == j)} title="{_h(tip)} ({100 * rate:.1f}%)">'
                         f'<span class="n">{c}</span><span class="r">{100 * rate:.0f}%</span></td>')
        body.append(f'<tr><th class="row" title="{_h(lab)}">{_h(lab)}</th>{"".join(cells)}'
                    f'<td class="total">{int(rows[i])}</td></tr>')
    return (f'<div class="scroll"><table id="confusion-table" class="confusion{compact}">'
            f'<thead><tr><th class="corner">true \u2193 \u2003 predicted \u2192</th>{head}'
            f'<th class="total">files</th></tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _per_class(metrics: Mapping[str, Any], cm: np.ndarray, labels: Sequence[str]) -> str:
    per = metrics.get("per_class")
    if not isinstance(per, Mapping) or not per:
        tp, support, predicted = np.diag(cm), cm.sum(axis=1), cm.sum(axis=0)
        per = {}
        for i, lab in enumerate(labels):
            p = tp[i] / predicted[i] if predicted[i] else 0.0
            r = tp[i] / support[i] if support[i] else 0.0
            per[lab] = {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
                        "support": int(support[i])}
    # extra per-class columns: any metric "<name>_per_class" mapping labels to numbers (eer_per_class first)
    extra = [k for k in metrics if str(k).endswith("_per_class") and isinstance(metrics[k], Mapping)]
    extra.sort(key=lambda k: (k != "eer_per_class", str(k)))
    base = ["support", "precision", "recall", "f1"]
    inner = []
    for rec in per.values():
        if isinstance(rec, Mapping):
            inner += [c for c in rec if c not in base and c not in inner and _num(rec[c]) is not None]
    head = ("<th>class</th><th class=num>files</th><th class=num>precision</th><th class=num>recall</th>"
            "<th class=num>F1</th>"
            + "".join(f"<th class=num>{_label_key(c)}</th>" for c in inner)
            + "".join(f"<th class=num>{_metric_name(str(k)[:-len('_per_class')])}</th>" for k in extra))
    body = []
    for lab, rec in per.items():
        rec = rec if isinstance(rec, Mapping) else {}
        f1 = _num(rec.get("f1"))
        bar = (f'<span class="bar"><span style="width:{100 * max(0.0, min(1.0, f1)):.1f}%"></span></span>'
               if f1 is not None and math.isfinite(f1) else "")
        cells = [f"<td class=num>{_fmt(rec.get('support'), 'int')}</td>",
                 f"<td class=num>{_fmt(rec.get('precision'), 'f3')}</td>",
                 f"<td class=num>{_fmt(rec.get('recall'), 'f3')}</td>",
                 f"<td class=num>{bar}{_fmt(rec.get('f1'), 'f3')}</td>"]
        cells += [f"<td class=num>{_fmt(rec.get(c), _kind_of(c, rec.get(c)))}</td>" for c in inner]
        for k in extra:
            v = metrics[k].get(lab)
            cells.append(f"<td class=num>{_fmt(v, _kind_of(str(k)[:-len('_per_class')], v))}</td>")
        body.append(f"<tr><th>{_h(lab)}</th>{''.join(cells)}</tr>")
    return (f'<div class="scroll"><table id="per-class-table" class="data fit"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _confused_pairs(cm: np.ndarray, labels: Sequence[str], top: int) -> str:
    rows = cm.sum(axis=1)
    cells = [(int(cm[i, j]), cm[i, j] / rows[i], i, j) for i in range(len(labels)) for j in range(len(labels))
             if i != j and cm[i, j] > 0]
    cells.sort(key=lambda c: (-c[0], -c[1], c[2], c[3]))
    if not cells:
        return '<p class="muted">No test file was confused with another class.</p>'
    body = "".join(
        f"<tr><td class=num>{k}</td><th>{_h(labels[i])}</th><td class=arrow>\u2192</td><th>{_h(labels[j])}</th>"
        f"<td class=num>{c}</td><td class=num><span class=\"bar err\"><span style=\"width:{100 * r:.1f}%\">"
        f"</span></span>{100 * r:.1f}%</td></tr>"
        for k, (c, r, i, j) in enumerate(cells[:top], 1))
    more = len(cells) - top
    note = f'<p class="muted">{more} more confused pair{"s" if more != 1 else ""} not shown.</p>' if more > 0 else ""
    return (f'<div class="scroll"><table id="pairs-table" class="data fit"><thead><tr><th class=num>#</th>'
            f'<th>true class</th><th></th><th>predicted as</th><th class=num>files</th>'
            f'<th class=num>share of the true class</th></tr></thead><tbody>{body}</tbody></table></div>{note}')


def _scores_of(row: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in row.items():
        if str(k).startswith("score_"):
            x = _num(v)
            if x is not None:
                out[str(k)[len("score_"):]] = x
    return out


def _truth_margin(truth: str, scores: Mapping[str, float]) -> float | None:
    """Score of the true class minus the best other score (negative: a wrong decision); None when the true
    class has no score (a label the model does not know)."""
    if truth not in scores:
        return None
    others = [v for c, v in scores.items() if c != truth]
    return scores[truth] - max(others) if others else math.inf


def _worst_files(predictions: Sequence[Mapping[str, Any]], report_dir: Path, top: int) -> str:
    if not predictions:
        return '<p class="muted">No test file was scored.</p>'
    ranked = []
    for row in predictions:
        truth, pred = str(row.get("truth", "")), str(row.get("predicted", ""))
        correct = _num(row.get("correct"))
        wrong = (truth != pred) if correct is None else not correct
        scores = _scores_of(row)
        tm = _truth_margin(truth, scores)
        margin = _num(row.get("margin"))
        key = tm if tm is not None and math.isfinite(tm) else \
            (-(margin or 0.0) if wrong else (margin if margin is not None else math.inf))
        if math.isnan(key):
            key = -math.inf if wrong else math.inf
        ranked.append((0 if wrong else 1, key, row, wrong, scores, tm))
    ranked.sort(key=lambda r: (r[0], r[1]))
    n_wrong = sum(r[3] for r in ranked)
    body = []
    for k, (_, _, row, wrong, scores, tm) in enumerate(ranked[:top], 1):
        name = str(row.get("file", ""))
        truth, pred = str(row.get("truth", "")), str(row.get("predicted", ""))
        top3 = sorted(scores.items(), key=lambda cv: -cv[1])[:3]
        score_html = "".join(
            f'<li{" class=truth" if c == truth else ""}><span class=lab>{_h(c)}</span>'
            f'<span class=num>{v:.3f}</span></li>' for c, v in top3)
        if truth in scores and truth not in dict(top3):
            score_html += (f'<li class="truth"><span class=lab>{_h(truth)}</span>'
                           f'<span class=num>{scores[truth]:.3f}</span></li>')
        src = _h(audio_link(name, report_dir))
        shown = Path(_SEGMENT.sub(r"\g<path>", name)).name or name
        seg = _SEGMENT.fullmatch(name)
        seg_txt = f' <span class="seg">{_h(name[len(seg["path"]):])}</span>' if seg else ""
        verdict = '<span class="badge bad">wrong</span>' if wrong else '<span class="badge good">right</span>'
        body.append(
            f'<tr class="{"wrong" if wrong else "right"}"><td class=num>{k}</td>'
            f'<td class="file"><div class="fname" title="{_h(name)}">{_h(shown)}{seg_txt}</div>'
            f'<div class="fpath">{_h(name)}</div>'
            f'<audio controls preload="metadata" src="{src}"></audio></td>'
            f'<td>{_h(truth)}</td><td>{_h(pred)} {verdict}</td>'
            f'<td class=num>{_fmt(tm, "f3") if tm is not None else "&ndash;"}</td>'
            f'<td class=num>{_fmt(row.get("margin"), "f3")}</td>'
            f'<td class=num>{_fmt(row.get("n_frames"), "int")}</td>'
            f'<td><ul class="scores">{score_html}</ul></td></tr>')
    intro = (f'<p class="muted">{n_wrong} of {len(ranked)} files misclassified. Wrong decisions come first, the '
             f'most confident first; then right decisions with the narrowest lead of the true class. '
             f'<em>Truth lead</em> = score of the true class minus the best other class (nats per frame; '
             f'negative when wrong); <em>margin</em> = best minus second-best score.</p>')
    return (f'{intro}<div class="scroll"><table id="worst-table" class="data worst"><thead><tr>'
            f'<th class=num>#</th><th>file</th><th>true class</th><th>predicted</th><th class=num>truth lead</th>'
            f'<th class=num>margin</th><th class=num>frames</th><th>top scores</th></tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _image(png: bytes | None, alt: str, caption: str) -> str:
    if not png:
        return ""
    data = base64.b64encode(bytes(png)).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_h(alt)}">'
            f'<figcaption>{caption}</figcaption></figure>')


def _notes(metrics: Mapping[str, Any]) -> str:
    parts = []
    unknown = metrics.get("unknown_labels")
    if isinstance(unknown, list) and unknown:
        parts.append(f'<p class="note">Test labels the model does not know (always counted as errors): '
                     f'{", ".join(f"<code>{_h(u)}</code>" for u in unknown)}.</p>')
    failed = metrics.get("failed_files")
    if isinstance(failed, list) and failed:
        items = []
        for f in failed:
            if isinstance(f, Mapping):
                line = f" (manifest line {_h(f['line'])})" if f.get("line") else ""
                items.append(f"<li><code>{_h(f.get('file', ''))}</code>{line}: {_h(f.get('reason', ''))}</li>")
            else:
                items.append(f"<li>{_h(f)}</li>")
        parts.append(f'<details class="note"><summary>{len(failed)} file{"s" if len(failed) != 1 else ""} could '
                     f'not be scored and {"are" if len(failed) != 1 else "is"} left out of the figures</summary>'
                     f'<ul>{"".join(items)}</ul></details>')
    return "".join(parts)


_CSS = """
:root{--ink:#1d2330;--muted:#5f6b7a;--line:#e3e7ee;--soft:#f5f7fa;--accent:#1f5fa8;--bad:#c8372d;--good:#2f8a4a}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:#eef1f5;color:var(--ink);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,"Noto Sans","Liberation Sans",sans-serif}
header.top{background:#1b2a41;color:#fff;padding:22px 0 0}
.wrap{max-width:1240px;margin:0 auto;padding:0 28px}
header.top h1{margin:0;font-size:24px;font-weight:650;letter-spacing:.2px}
header.top .sub{color:#b8c4d6;margin:4px 0 14px}
nav{display:flex;flex-wrap:wrap;gap:2px}
nav a{color:#dfe7f2;text-decoration:none;padding:8px 12px;border-radius:6px 6px 0 0;font-size:13px}
nav a:hover{background:#2b3d5a;color:#fff}
main{padding:22px 0 40px}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:18px 22px 20px;margin:0 0 18px;
box-shadow:0 1px 2px rgba(20,30,50,.04)}
h2{font-size:17px;margin:0 0 12px;font-weight:650}
h3{font-size:14px;margin:18px 0 8px;color:var(--muted);font-weight:600;text-transform:capitalize}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
.card{background:var(--soft);border:1px solid var(--line);border-radius:8px;padding:12px 14px}
.card .value{font-size:26px;font-weight:650;font-variant-numeric:tabular-nums;color:var(--accent)}
.card .caption{font-weight:600;margin-top:2px}
.card .hint{color:var(--muted);font-size:12px;line-height:1.35}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
table.data{width:100%}
table.data.fit{width:auto;min-width:min(100%,640px)}
table.data.fit th,table.data.fit td{padding:6px 16px 6px 10px}
table.data th,table.data td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:middle}
table.data thead th{font-size:12px;color:var(--muted);font-weight:600;background:var(--soft);
border-bottom:1px solid #d5dbe4;white-space:nowrap}
table.data tbody tr:hover{background:#f8fafc}
table.data tbody th{font-weight:600}
.num{text-align:right!important;white-space:nowrap}
table.kv{margin-top:14px;font-size:13px}
table.kv th{font-weight:500;color:var(--muted);text-align:left;padding:2px 18px 2px 0}
table.kv td{padding:2px 0}
.bar{display:inline-block;width:70px;height:8px;background:#e8edf4;border-radius:4px;margin-right:8px;
vertical-align:middle;overflow:hidden}
.bar>span{display:block;height:100%;background:var(--accent);border-radius:4px}
.bar.err>span{background:var(--bad)}
table.confusion{font-size:13px;margin:4px 0}
table.confusion th,table.confusion td{border:1px solid #fff;padding:0}
table.confusion td{width:64px;min-width:52px;height:50px;text-align:center;vertical-align:middle;
background:#f6f7f9;line-height:1.15}
table.confusion td.zero{color:#b3bac6}
table.confusion td .n{display:block;font-weight:650;font-size:14px}
table.confusion td .r{display:block;font-size:11px;opacity:.85}
table.confusion th{background:none;font-weight:600;color:var(--ink)}
table.confusion th.row{text-align:right;padding:0 10px 0 4px;white-space:nowrap;max-width:220px;overflow:hidden;
text-overflow:ellipsis}
table.confusion th.col{vertical-align:bottom;padding:4px 2px;max-width:64px;font-size:12px}
table.confusion th.col span{display:block;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
table.confusion th.corner{font-size:11px;color:var(--muted);font-weight:500;text-align:right;padding:4px 10px;
white-space:nowrap;vertical-align:bottom}
table.confusion .total{color:var(--muted);font-size:12px;padding:0 8px;background:none;width:auto}
table.confusion thead .total{vertical-align:bottom;padding-bottom:6px}
table.confusion.vert th.col{max-width:none;height:1px;padding:6px 2px}
table.confusion.vert th.col span{writing-mode:vertical-rl;transform:rotate(180deg);max-height:170px;margin:0 auto;
text-align:left}
table.confusion.compact td{width:34px;min-width:30px;height:30px}
table.confusion.compact td .r{display:none}
table.confusion.compact td .n{font-size:12px}
table.confusion.compact th.col{max-width:34px;font-size:11px}
.legend{display:flex;gap:18px;color:var(--muted);font-size:12px;margin:10px 0 0;flex-wrap:wrap}
.legend i{display:inline-block;width:22px;height:12px;border-radius:2px;vertical-align:-1px;margin-right:6px}
.figs{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
figure{margin:0;flex:1 1 420px;max-width:620px}
figure img{width:100%;height:auto;border:1px solid var(--line);border-radius:6px;background:#fff}
figcaption{color:var(--muted);font-size:12px;margin-top:6px}
.muted{color:var(--muted)}
.note{background:#fff8e6;border:1px solid #f0dfb0;border-radius:6px;padding:8px 12px;margin:12px 0 0}
.note summary{cursor:pointer}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;background:var(--soft);
padding:1px 4px;border-radius:3px;word-break:break-all}
.badge{display:inline-block;font-size:11px;font-weight:600;padding:0 7px;border-radius:9px;margin-left:4px}
.badge.bad{background:#fde8e6;color:var(--bad)}
.badge.good{background:#e5f4ea;color:var(--good)}
table.worst td{vertical-align:top}
table.worst td.file{min-width:300px;max-width:440px}
.fname{font-weight:600;word-break:break-all}
.seg{font-weight:400;color:var(--muted)}
.fpath{color:var(--muted);font-size:11px;word-break:break-all;margin-bottom:4px}
audio{width:100%;max-width:400px;height:34px;display:block}
ul.scores{list-style:none;margin:0;padding:0;font-size:12px;min-width:150px}
ul.scores li{display:flex;justify-content:space-between;gap:12px}
ul.scores li.truth{font-weight:650}
ul.scores .lab{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;max-width:160px}
tr.wrong td:first-child{box-shadow:inset 3px 0 0 var(--bad)}
footer{color:var(--muted);font-size:12px;text-align:center;padding:0 0 30px}
@media print{body{background:#fff}header.top{background:#fff;color:#000}header.top .sub{color:#444}
nav,audio{display:none}section{box-shadow:none;break-inside:avoid}}
"""


def render_report_html(predictions: Sequence[Mapping[str, Any]], metrics: Mapping[str, Any], cm: np.ndarray,
                       labels: Sequence[str], *, det_png: bytes | None = None, confusion_png: bytes | None = None,
                       report_dir: str | os.PathLike, title: str | None = None, top_pairs: int = 10,
                       worst_files: int = 20) -> str:
    """The evaluation report as one self-contained HTML page (no script, no network loads).

    Parameters
    ----------
    predictions : the rows of predictions.csv (``file``, ``truth``, ``predicted``, ``correct``, ``margin``,
        ``n_frames``, ``score_<class>``...); extra keys are ignored.
    metrics : metrics.json's dict; figures that are present are shown, absent ones left out.
    cm : (C, C) confusion counts, rows true classes, columns predictions, in ``labels`` order.
    labels : the C class labels.
    det_png, confusion_png : PNG bytes embedded as images (None: that figure is left out).
    report_dir : the folder report.html will live in; audio links are relative to it.
    title : page title (default: "gmmspeech evaluation report").
    top_pairs, worst_files : how many most-confused pairs and worst files to list.

    Returns
    -------
    The HTML text.
    """
    cm = np.asarray(cm, dtype=np.int64).reshape(len(labels), len(labels))
    labels = [str(lab) for lab in labels]
    report_dir = Path(report_dir)
    title = title or "gmmspeech evaluation report"
    n_items = _num(metrics.get("n_items"))
    n_items = int(n_items) if n_items is not None else int(cm.sum())

    buckets_html, bucket_keys = _buckets(metrics)
    others = _other_figures(metrics, _STRUCTURED | bucket_keys | {"n_items"})
    eer_note = (f'<p class="muted small">EER trials: {_h(metrics["eer_score"])}.</p>'
                if isinstance(metrics.get("eer_score"), str) else "")
    summary = (f'<section id="summary"><h2>Summary</h2>{_cards(metrics)}{others}{eer_note}'
               f'{buckets_html}{_notes(metrics)}</section>')

    legend = ('<div class="legend"><span><i style="background:rgba(31,95,168,.75)"></i>right (share of the true '
              'class)</span><span><i style="background:rgba(200,55,45,.75)"></i>confused</span><span>cells: '
              f'files, {"hover for the" if len(labels) > 16 else "and"} % of the row</span></div>')
    confusion = (f'<section id="confusion"><h2>Confusion matrix</h2>{_confusion_table(cm, labels)}{legend}'
                 f'</section>')
    figures = (_image(det_png, "DET curve",
                      "DET curve: miss rate against false-alarm rate of the one-vs-rest detection trials, on "
                      "normal-deviate axes; the circle marks the equal error rate.")
               + _image(confusion_png, "confusion matrix heat map",
                        "Confusion matrix heat map (colour = share of the true class)."))
    figures_html = f'<section id="figures"><h2>Figures</h2><div class="figs">{figures}</div></section>' \
        if figures else ""
    per_class = f'<section id="classes"><h2>Per class</h2>{_per_class(metrics, cm, labels)}</section>'
    pairs = (f'<section id="pairs"><h2>Most confused pairs</h2>{_confused_pairs(cm, labels, top_pairs)}'
             f'</section>')
    worst = f'<section id="worst"><h2>Worst test files</h2>{_worst_files(predictions, report_dir, worst_files)}' \
            f'</section>'
    nav = "".join(f'<a href="#{i}">{t}</a>' for i, t in (
        ("summary", "Summary"), ("confusion", "Confusion"), *((("figures", "Figures"),) if figures else ()),
        ("classes", "Per class"), ("pairs", "Confused pairs"), ("worst", "Worst files")))
    csp = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; media-src 'self' file: blob: data:; "
           "base-uri 'none'; form-action 'none'")
    sub = (f"{n_items:,} test file{'s' if n_items != 1 else ''} &middot; {len(labels)} classes &middot; "
           f"{_h(report_dir.name or str(report_dir))}")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="gmmspeech {_h(__version__)}">'
        f"<title>{_h(title)}</title><style>{_CSS}</style></head>\n<body>"
        f'<header class="top"><div class="wrap"><h1>{_h(title)}</h1><div class="sub">{sub}</div>'
        f"<nav>{nav}</nav></div></header>\n"
        f'<main class="wrap">{summary}\n{confusion}\n{figures_html}\n{per_class}\n{pairs}\n{worst}</main>\n'
        f"<footer>written by gmmspeech {_h(__version__)} &middot; self-contained: no script, no network</footer>"
        "</body></html>\n")


def write_report_html(path: str | os.PathLike, predictions: Sequence[Mapping[str, Any]], metrics: Mapping[str, Any],
                      cm: np.ndarray, labels: Sequence[str], *, det_png: bytes | None = None,
                      confusion_png: bytes | None = None, report_dir: str | os.PathLike | None = None,
                      **options: Any) -> Path:
    """Write :func:`render_report_html`'s page to ``path`` atomically; returns the path.

    ``report_dir`` (where the page will finally live, for the relative audio links) defaults to ``path``'s
    folder; ``options`` are passed on (``title``, ``top_pairs``, ``worst_files``).
    """
    path = Path(path)
    text = render_report_html(predictions, metrics, cm, labels, det_png=det_png, confusion_png=confusion_png,
                              report_dir=path.parent if report_dir is None else report_dir, **options)
    atomic_write_text(path, text)
    return path
