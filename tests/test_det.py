"""DET curve points (against brute force), the EER on the curve, trials from evaluation rows, det.png."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gmmspeech.app.det import det_curve, detection_trials, plot_det, render_det_png
from gmmspeech.core.metrics import detection_metrics, equal_error_rate


def brute_force(tgt, non):
    """Miss and false-alarm rates at each distinct score and +inf, counted trial by trial."""
    thr = sorted(set(tgt) | set(non)) + [np.inf]
    p_miss = [sum(s < t for s in tgt) / len(tgt) for t in thr]
    p_fa = [sum(s >= t for s in non) / len(non) for t in thr]
    return np.array(p_miss), np.array(p_fa), np.array(thr)


scores = st.lists(st.integers(-6, 6).map(lambda v: v / 2), min_size=1, max_size=25)  # many ties


@settings(max_examples=150, deadline=None)
@given(scores, scores)
def test_det_points_match_brute_force(tgt, non):
    p_miss, p_fa, thr = det_curve(np.array(tgt), np.array(non))
    bm, bf, bt = brute_force(tgt, non)
    np.testing.assert_array_equal(thr, bt)
    np.testing.assert_allclose(p_miss, bm)
    np.testing.assert_allclose(p_fa, bf)
    assert (p_miss[0], p_fa[0]) == (0.0, 1.0) and (p_miss[-1], p_fa[-1]) == (1.0, 0.0)
    assert np.all(np.diff(p_miss) >= 0) and np.all(np.diff(p_fa) <= 0)


def _on_polyline(x: float, y: float, xs: np.ndarray, ys: np.ndarray, tol: float = 1e-9) -> bool:
    """Whether (x, y) lies on the piecewise-linear curve through (xs, ys)."""
    for x0, y0, x1, y1 in zip(xs[:-1], ys[:-1], xs[1:], ys[1:], strict=True):
        cross = (x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)
        inside = min(x0, x1) - tol <= x <= max(x0, x1) + tol and min(y0, y1) - tol <= y <= max(y0, y1) + tol
        if abs(cross) <= tol and inside:
            return True
    return False


@settings(max_examples=150, deadline=None)
@given(scores, scores)
def test_eer_point_is_on_the_curve(tgt, non):
    p_miss, p_fa, _ = det_curve(np.array(tgt), np.array(non))
    eer, _ = equal_error_rate(np.array(tgt), np.array(non))
    assert _on_polyline(eer, eer, p_fa, p_miss)


def test_continuous_scores_and_errors():
    rng = np.random.default_rng(0)
    tgt, non = rng.normal(1, 1, 300), rng.normal(-1, 1, 700)
    p_miss, p_fa, thr = det_curve(tgt, non)
    assert len(thr) == 1001 and np.isinf(thr[-1])
    eer, _ = equal_error_rate(tgt, non)
    i = int(np.argmin(np.abs(p_miss - p_fa)))
    assert abs(eer - (p_miss[i] + p_fa[i]) / 2) < 0.01
    with pytest.raises(ValueError, match="at least one target"):
        det_curve([], [1.0])
    with pytest.raises(ValueError, match="finite"):
        det_curve([np.nan], [1.0])


def test_trials_from_rows_match_the_pooled_eer():
    rng = np.random.default_rng(3)
    classes = ["a", "b", "c"]
    s = rng.normal(size=(40, 3))
    truth = list(rng.choice(classes, 40))
    s[np.arange(40), [classes.index(t) for t in truth]] += 1.0
    rows = [{"file": f"f{i}.wav", "truth": t, "predicted": "a", **{f"score_{c}": str(v) for c, v in zip(classes, r,
                                                                                                          strict=True)}}
            for i, (t, r) in enumerate(zip(truth, s, strict=True))]
    rows.append({"file": "broken.wav", "truth": "a", "score_a": "nan", "score_b": 0.0, "score_c": 0.0})
    tgt, non = detection_trials(rows)
    assert tgt.size == 40 and non.size == 80
    assert np.isclose(equal_error_rate(tgt, non)[0], detection_metrics(s, truth, classes)["eer"])
    assert [a.size for a in detection_trials([])] == [0, 0]


def test_det_png_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(1)
    one = (rng.normal(1, 1, 60), rng.normal(-1, 1, 120))
    plot_det(one, tmp_path / "det.png")
    buckets = {"< 3 s": one, "$x$ <b>\\bad{": (rng.normal(2, 1, 30), rng.normal(-1, 1, 90)),
               "empty": ([], [1.0])}
    plot_det(buckets, tmp_path / "sub" / "det_buckets.png", title="$not math$")
    for name in ("det.png", "sub/det_buckets.png"):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    assert render_det_png({"none": ([], [])}).startswith(b"\x89PNG")       # nothing to draw: a note, no error
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["det.png", "det_buckets.png", "sub"]
