"""report.html: self-contained, escaped, and rendered by a real (headless) browser without errors."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from gmmspeech.app.html_report import audio_link, render_report_html, write_report_html
from gmmspeech.core.metrics import classification_metrics, confusion_matrix, detection_metrics

from .conftest import tone, write_wav

HOSTILE = "<script>alert(1)</script>"
LABELS = ["de", "en", HOSTILE, "$x$", 'quote"amp&\x1b[31m']


def synthetic_eval(tmp_path: Path, n_per_class: int = 6, seed: int = 0):
    """Predictions rows, metrics, confusion matrix and labels of a fake 5-class evaluation, with real audio."""
    rng = np.random.default_rng(seed)
    rows, y_true, y_pred, scores = [], [], [], []
    audio = tmp_path / "audio dir #1"
    for ci, lab in enumerate(LABELS):
        for k in range(n_per_class):
            s = rng.normal(-60, 1.0, len(LABELS))
            s[ci] += rng.normal(1.2, 1.0)
            i = int(np.argmax(s))
            name = f"{ci}_{k}.wav" if k % 3 else f"{ci}_{k} <b>&?.wav"
            path = write_wav(audio / name, tone(200 + 40 * ci, seconds=1.2, seed=k))
            order = np.sort(s)
            file = str(path) if k != 1 else f"{path}[0.05-0.15]"
            rows.append({"file": file, "truth": lab, "predicted": LABELS[i], "correct": int(i == ci),
                         "margin": round(float(order[-1] - order[-2]), 6), "n_frames": 100 + k,
                         **{f"score_{c}": round(float(v), 6) for c, v in zip(LABELS, s, strict=True)}})
            y_true.append(lab)
            y_pred.append(LABELS[i])
            scores.append(s)
    metrics = classification_metrics(y_true, y_pred, LABELS)
    metrics.update(detection_metrics(np.array(scores), y_true, LABELS))
    metrics.update(unknown_labels=[], failed_files=[{"file": "/data/<bad>.wav", "line": 7, "reason": "unreadable"}],
                   cavg=0.1234, cllr=0.456, min_cllr=0.321, min_dcf=0.0789,
                   duration_buckets={"< 3 s": {"n_items": 10, "accuracy": 0.5, "eer": 0.3, "cavg": 0.2},
                                     "$x$ <i>": {"n_items": 20, "accuracy": 0.8, "eer": 0.1, "cavg": 0.05}})
    cm = confusion_matrix(y_true, y_pred, LABELS)
    return rows, metrics, cm, list(LABELS)


def _det_png() -> bytes | None:
    pytest.importorskip("matplotlib")
    from gmmspeech.app.det import render_det_png

    rng = np.random.default_rng(1)
    return render_det_png({"short": (rng.normal(1, 1, 50), rng.normal(-1, 1, 200)),
                           HOSTILE: (rng.normal(2, 1, 50), rng.normal(-1, 1, 200))})


def test_page_is_self_contained_and_escaped(tmp_path):
    rows, metrics, cm, labels = synthetic_eval(tmp_path)
    report = tmp_path / "report"
    page = render_report_html(rows, metrics, cm, labels, det_png=b"\x89PNG fake", confusion_png=None,
                              report_dir=report)
    assert HOSTILE not in page and "<b>&?" not in page and "\x1b" not in page
    assert html.escape(HOSTILE) in page and "quote&quot;amp&amp;\\x1b[31m" in page
    assert "<script" not in page.lower() and "http://" not in page and "https://" not in page
    assert "default-src 'none'" in page and 'src="data:image/png;base64,' in page
    assert 'id="confusion-table"' in page and 'id="per-class-table"' in page
    for caption in ("Accuracy", "Balanced accuracy", "Macro-F1", "EER", "C<sub>avg</sub>", "C<sub>llr</sub>",
                    "min C<sub>llr</sub>", "minDCF"):
        assert f'<div class="caption">{caption}</div>' in page
    assert "12.3%" not in page and "0.1234" in page                      # Cavg as a cost, not a percentage
    assert "duration buckets" in page and html.escape("$x$ <i>") in page
    assert "1 file could not be scored" in page and html.escape("/data/<bad>.wav") in page
    # the worst files come with a player whose link is relative to the report folder and percent-encoded
    srcs = re.findall(r'<audio controls preload="metadata" src="([^"]*)"', page)
    assert len(srcs) == 20 and all(s.startswith("../audio%20dir%20%231/") for s in srcs)
    assert any(s.endswith("#t=0.05,0.15") for s in srcs)


def test_page_without_optional_metrics(tmp_path):
    cm = np.array([[3, 1], [0, 4]])
    page = render_report_html([], {"accuracy": 0.875}, cm, ["a", "b"], report_dir=tmp_path)
    assert 'id="confusion-table"' in page and "No test file was scored" in page
    assert "C<sub>avg</sub>" not in page and "<img" not in page and 'id="figures"' not in page
    # per-class figures fall back to the confusion matrix
    assert "<td class=num>0.750</td>" in page


def test_write_report_html_is_atomic_utf8(tmp_path):
    rows, metrics, cm, labels = synthetic_eval(tmp_path, n_per_class=2)
    out = write_report_html(tmp_path / "rep" / "report.html", rows, metrics, cm, labels, title="LID $x$ <b>")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<title>LID $x$ &lt;b&gt;</title>" in text
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]


def test_audio_link(tmp_path):
    rep = tmp_path / "r"
    assert audio_link(str(tmp_path / "a b" / "x#?.wav"), rep) == "../a%20b/x%23%3F.wav"
    assert audio_link(str(tmp_path / "javascript:alert(1).wav"), tmp_path) == "javascript%3Aalert%281%29.wav"
    assert audio_link(str(tmp_path / "s.wav") + "[1.50-]", rep) == "../s.wav#t=1.5"
    assert audio_link(str(tmp_path / "s.wav") + "[0.00-2.25]", rep) == "../s.wav#t=0,2.25"


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


#: what chromium's log shows for a page problem: console messages (CSP refusals are console errors too), uncaught
#: exceptions
_PAGE_PROBLEM = re.compile(r":CONSOLE\b|Uncaught|Refused to|Content Security Policy")


def _run_chromium(browser: str, url: str, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [browser, "--headless=new", "--disable-gpu", "--no-sandbox", "--no-first-run", "--no-default-browser-check",
           "--disable-extensions", "--mute-audio", f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr",
           "--v=0", *extra, url]
    env = {**os.environ, "HOME": str(tmp)}  # chromium writes its caches under HOME
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.mark.filterwarnings("ignore:Glyph")  # plot_confusion draws the ESC in a label as a missing glyph
def test_report_renders_in_headless_chromium(tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium binary on PATH (apt-get install chromium); .ci/run installs it")
    # the log check below must be able to fail: a page that logs an error is seen as one
    probe = tmp_path / "probe.html"
    probe.write_text("<!DOCTYPE html><p>probe</p><script>console.error('gmmspeech-probe');</script>")
    probe_log = _run_chromium(browser, probe.as_uri(), tmp_path, "--dump-dom").stderr
    assert any(_PAGE_PROBLEM.search(line) and "gmmspeech-probe" in line for line in probe_log.splitlines()), \
        "chromium's log does not show console messages; the no-error check would prove nothing"

    rows, metrics, cm, labels = synthetic_eval(tmp_path)
    from gmmspeech.app.report import plot_confusion

    plot_confusion(cm, labels, tmp_path / "confusion.png")
    page = write_report_html(tmp_path / "report" / "report.html", rows, metrics, cm, labels, det_png=_det_png(),
                             confusion_png=(tmp_path / "confusion.png").read_bytes())
    shot = tmp_path / "shot.png"
    run = _run_chromium(browser, page.as_uri(), tmp_path, "--window-size=1280,2000", f"--screenshot={shot}",
                        "--dump-dom")
    keep = os.environ.get("GMMSPEECH_KEEP_SCREENSHOT")  # to look at the rendering: set it to a .png path
    if keep:
        shutil.copy(shot, keep)

    # no page errors: no console message, nothing uncaught, nothing (audio, images) refused by the CSP
    problems = [line for line in run.stderr.splitlines() if _PAGE_PROBLEM.search(line)]
    assert problems == [], "\n".join(problems)

    # the DOM holds the tables, and the hostile label as text (escaped, never run as a script)
    dom = run.stdout
    assert 'id="confusion-table"' in dom and dom.count("<tr>") > len(labels)
    assert "<script" not in dom.lower() and html.escape(HOSTILE) in dom
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}" alt="DET curve">', dom)

    # the screenshot is a real rendering: the expected size, many colours, not blank
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape[:2] == (2000, 1280)
    colours = np.unique(img.reshape(-1, 3)[::7], axis=0)
    assert len(colours) > 200
    assert (img < 200).any(axis=2).mean() > 0.05          # ink (text, table shading), not one flat colour
