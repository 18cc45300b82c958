"""Cavg, multiclass Cllr, DCF and the per-duration figures of gmmspeech.core.metrics, each checked against a
worked example and an independent (loop / brute-force / scikit-learn) computation."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_curve

from gmmspeech.core.metrics import (
    act_dcf,
    bayes_threshold,
    cavg,
    detection_metrics,
    detection_scores,
    duration_buckets,
    equal_error_rate,
    lre_metrics,
    min_cavg,
    min_dcf,
    min_multiclass_cllr,
    multiclass_cllr,
)

# ------------------------------------------------------------------------------------------------ references


def cavg_loops(llr, y, classes, thr, p_target=0.5, p_oos=0.0, c_miss=1.0, c_fa=1.0):
    """Cavg straight from the LRE 2007 plan, one language pair at a time (as the Kaldi-style scripts do)."""
    langs = [c for c in classes if c in y]
    n_l = len(langs)
    p_non = (1 - p_target - p_oos) / (n_l - 1)
    total = 0.0
    for lt in langs:
        j = classes.index(lt)
        tgt = [llr[i][j] for i in range(len(y)) if y[i] == lt]
        cost = c_miss * p_target * sum(v < thr for v in tgt) / len(tgt)
        for ln in langs:
            if ln != lt:
                non = [llr[i][j] for i in range(len(y)) if y[i] == ln]
                cost += c_fa * p_non * sum(v >= thr for v in non) / len(non)
        oos = [llr[i][j] for i in range(len(y)) if y[i] not in classes]
        if p_oos:
            cost += c_fa * p_oos * sum(v >= thr for v in oos) / len(oos)
        total += cost
    return total / n_l


def cllr_loops(scores, y, classes):
    """FoCal's multiclass Cllr: average over classes of the mean -log2 flat-prior posterior of the true class."""
    per_class = {}
    for row, lab in zip(scores, y, strict=True):
        if lab in classes:
            p = np.exp(row - row.max())
            p /= p.sum()
            per_class.setdefault(lab, []).append(-math.log2(p[classes.index(lab)]))
    return float(np.mean([np.mean(v) for v in per_class.values()]))


def dcf_brute(t, n, thr, p=0.5, cm=1.0, cf=1.0):
    return (cm * p * np.mean(np.asarray(t) < thr) + cf * (1 - p) * np.mean(np.asarray(n) >= thr)) / min(
        cm * p, cf * (1 - p))


# ------------------------------------------------------------------------------------------------ Cavg

CLASSES = ["a", "b", "c"]
# worked example: 2 files of a, 2 of b, 1 of c; detection LLRs, accept when >= 0
LLR = np.array([[1.0, -1.0, 0.5],     # a: a hit, false alarm for c
                [-0.5, -2.0, -1.0],   # a: a missed
                [0.2, 0.3, -1.0],     # b: false alarm for a, b hit
                [-1.0, -0.1, -3.0],   # b: b missed
                [-2.0, 0.0, 2.0]])    # c: false alarm for b (0 >= 0), c hit
Y = ["a", "a", "b", "b", "c"]


def test_cavg_worked_example():
    # P_NonTarget = (1 - 0.5) / 2 = 0.25
    # a: 0.5 * P_miss 1/2 + 0.25 * (P_fa(a, b) 1/2 + P_fa(a, c) 0)  = 0.375
    # b: 0.5 * 1/2        + 0.25 * (P_fa(b, a) 0   + P_fa(b, c) 1)  = 0.5
    # c: 0.5 * 0          + 0.25 * (P_fa(c, a) 1/2 + P_fa(c, b) 0)  = 0.125      -> mean 1/3
    assert cavg(LLR, Y, CLASSES) == pytest.approx(1 / 3, abs=1e-12)
    assert cavg(LLR, Y, CLASSES, threshold=0.0) == pytest.approx(cavg_loops(LLR, Y, CLASSES, 0.0))
    # one out-of-set file accepted by a and b; open-set P_OOS = 0.2, P_NonTarget = 0.3 / 2 = 0.15
    # a: 0.25 + 0.15 * 1/2 + 0.2 = 0.525;  b: 0.25 + 0.15 * 1 + 0.2 = 0.6;  c: 0.15 * 1/2 = 0.075 -> mean 0.4
    llr = np.vstack([LLR, [0.1, 0.5, -1.0]])
    assert cavg(llr, Y + ["zz"], CLASSES) == pytest.approx(0.4, abs=1e-12)          # p_oos None -> 0.2
    assert cavg(llr, Y + ["zz"], CLASSES, p_oos=0.2) == pytest.approx(0.4, abs=1e-12)
    assert cavg(llr, Y + ["zz"], CLASSES, p_oos=0.0) == pytest.approx(1 / 3, abs=1e-12)


def test_cavg_threshold_extremes_and_min():
    assert cavg(LLR, Y, CLASSES, threshold=np.inf) == pytest.approx(0.5)    # reject all: C_miss P_target
    assert cavg(LLR, Y, CLASSES, threshold=-np.inf) == pytest.approx(0.5)   # accept all: C_fa (1 - P_target)
    m, thr = min_cavg(LLR, Y, CLASSES)
    grid = np.unique(np.r_[LLR.ravel(), np.inf])
    costs = [cavg_loops(LLR, Y, CLASSES, t) for t in grid]
    assert m == pytest.approx(min(costs)) and thr == grid[int(np.argmin(costs))]
    assert cavg(LLR, Y, CLASSES, threshold=thr) == pytest.approx(m)
    assert bayes_threshold() == 0.0 and bayes_threshold(0.01) == pytest.approx(math.log(99))


def test_cavg_errors():
    with pytest.raises(ValueError, match="at least 2 target languages"):
        cavg(LLR[:2], Y[:2], CLASSES)
    with pytest.raises(ValueError, match="no out-of-set"):
        cavg(LLR, Y, CLASSES, p_oos=0.2)
    with pytest.raises(ValueError, match="p_target"):
        cavg(LLR, Y, CLASSES, p_target=1.0)
    with pytest.raises(ValueError, match="shape"):
        cavg(LLR[:, :2], Y, CLASSES)


labels_st = st.lists(st.sampled_from(["a", "b", "c", "zz"]), min_size=2, max_size=14)


@settings(max_examples=60, deadline=None)
@given(labels_st, st.data())
def test_cavg_matches_the_pairwise_loops_and_min_cavg_the_sweep(y, data):
    if len({lab for lab in y if lab in CLASSES}) < 2:
        y = y + ["a", "b"]
    llr = np.array(data.draw(st.lists(st.lists(st.integers(-4, 4), min_size=3, max_size=3), min_size=len(y),
                                      max_size=len(y))), dtype=float) / 2
    p_oos = 0.2 if "zz" in y else 0.0
    thr = data.draw(st.sampled_from([-1.0, -0.5, 0.0, 0.25, 1.0]))
    c = cavg(llr, y, CLASSES, threshold=thr)
    assert c == pytest.approx(cavg_loops(llr, y, CLASSES, thr, p_oos=p_oos), abs=1e-12)
    assert 0.0 <= c <= 1.0
    m, _ = min_cavg(llr, y, CLASSES)
    grid = np.r_[np.unique(llr), np.inf]
    assert m == pytest.approx(min(cavg_loops(llr, y, CLASSES, t, p_oos=p_oos) for t in grid), abs=1e-12)
    assert m <= c + 1e-12 and m <= 0.5 + 1e-12
    # a common per-file shift of the LLRs changes decisions, an increasing map of LLR and threshold does not
    assert cavg(np.exp(llr), y, CLASSES, threshold=math.exp(thr)) == pytest.approx(c)


# ------------------------------------------------------------------------------------------------ Cllr


def test_cllr_worked_example_weighs_classes_equally():
    # flat-prior posteriors of the true class: a files 0.8 and 0.4, the b file 0.5
    s = np.log([[0.8, 0.2], [0.4, 0.6], [0.5, 0.5]])
    # class a: (-log2 0.8 - log2 0.4) / 2 = (0.321928 + 1.321928) / 2 = 0.821928;  class b: 1  -> 0.910964
    assert multiclass_cllr(s, ["a", "a", "b"], ["a", "b"]) == pytest.approx(0.9109640474, abs=1e-9)
    # (the plain mean over files would be 0.881285)
    assert multiclass_cllr(s + 7.0, ["a", "a", "b"], ["a", "b"]) == pytest.approx(0.9109640474, abs=1e-9)
    # out-of-set files are left out
    assert multiclass_cllr(np.vstack([s, [0.0, 9.0]]), ["a", "a", "b", "x"], ["a", "b"]) == pytest.approx(
        0.9109640474, abs=1e-9)


def test_cllr_flat_and_perfect_scores():
    y = ["a", "b", "c", "d"] * 3
    assert multiclass_cllr(np.zeros((12, 4)), y, list("abcd")) == pytest.approx(2.0)      # log2(4)
    perfect = 50.0 * np.eye(4)[[0, 1, 2, 3] * 3]
    assert multiclass_cllr(perfect, y, list("abcd")) < 1e-15
    with pytest.raises(ValueError, match="at least one file"):
        multiclass_cllr(np.zeros((2, 2)), ["x", "y"], ["a", "b"])


def _gaussian_scores(rng, n, n_classes=3, sep=1.0, scale=0.3, offsets=None):
    mu = rng.normal(0, sep, (n_classes, 3))
    y = np.arange(n) % n_classes
    x = mu[y] + rng.normal(size=(n, 3))
    ll = -0.5 * ((x[:, None, :] - mu[None]) ** 2).sum(-1)
    off = np.zeros(n_classes) if offsets is None else offsets
    return scale * ll + off - 30.0, y


def test_min_cllr_matches_binary_logistic_regression_from_sklearn():
    rng = np.random.default_rng(3)
    s, y = _gaussian_scores(rng, 301, n_classes=2, offsets=np.array([0.4, -0.2]))
    y = list(np.array(["a", "b"])[y])
    d = (s[:, 1] - s[:, 0])[:, None]
    lr = LogisticRegression(C=1e12, class_weight="balanced", tol=1e-12, max_iter=10000).fit(d, y)
    ref = multiclass_cllr(lr.predict_log_proba(d), y, ["a", "b"])
    assert min_multiclass_cllr(s, y, ["a", "b"]) == pytest.approx(ref, abs=1e-6)


def test_min_cllr_is_the_optimum_of_scale_and_offsets():
    rng = np.random.default_rng(4)
    s, y = _gaussian_scores(rng, 90, offsets=np.array([0.5, 0.0, -0.7]))
    labels = [str(i) for i in y]
    classes = ["0", "1", "2"]

    def objective(p):
        return cllr_loops(p[0] * s + np.r_[p[1:], 0.0], labels, classes)

    ref = minimize(objective, [1.0, 0.0, 0.0], method="Nelder-Mead",
                   options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20000}).fun
    got = min_multiclass_cllr(s, labels, classes)
    assert got == pytest.approx(ref, abs=1e-6)
    assert got < multiclass_cllr(s, labels, classes)


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.05, 20.0), st.floats(-3.0, 3.0))
def test_min_cllr_properties(seed, a, b):
    rng = np.random.default_rng(seed)
    s, y = _gaussian_scores(rng, 24, sep=rng.uniform(0.2, 2.0))
    labels = [str(i) for i in y]
    classes = ["0", "1", "2"]
    m = min_multiclass_cllr(s, labels, classes)
    assert 0.0 <= m <= multiclass_cllr(s, labels, classes) + 1e-9
    assert m <= math.log2(3) + 1e-9                          # alpha = 0 gives flat posteriors
    # invariant to the affine maps it optimises over (scale, per-class offsets, per-file shifts)
    shifted = a * s + np.array([b, 0.0, -b]) + rng.normal(size=(24, 1))
    assert min_multiclass_cllr(shifted, labels, classes) == pytest.approx(m, abs=2e-4)


def test_min_cllr_leaves_out_absent_classes():
    rng = np.random.default_rng(5)
    s, y = _gaussian_scores(rng, 40)
    labels = [str(i) for i in y]
    keep = [i for i, lab in enumerate(labels) if lab != "2"]
    sub = [labels[i] for i in keep]
    assert min_multiclass_cllr(s[keep], sub, ["0", "1", "2"]) == pytest.approx(
        min_multiclass_cllr(s[keep][:, :2], sub, ["0", "1"]), abs=1e-9)
    assert min_multiclass_cllr(s[:3], ["0", "0", "0"], ["0", "1", "2"]) == 0.0


# ------------------------------------------------------------------------------------------------ DCF

TGT = [2.0, 0.5, -1.0]
NON = [-2.0, -0.5, 0.3, 1.2]


def test_dcf_worked_example():
    # threshold 0: P_miss = 1/3, P_fa = 2/4; DCF = 0.5/3 + 0.5 * 0.5 = 0.416667, normalised by 0.5 -> 0.833333
    assert act_dcf(TGT, NON) == pytest.approx(5 / 6)
    assert act_dcf(TGT, NON, normalize=False) == pytest.approx(5 / 12)
    # thresholds -2, -1, -0.5, 0.3, 0.5, 1.2, 2, inf give 1, 3/4, 13/12, 5/6, 7/12, 11/12, 2/3, 1
    assert min_dcf(TGT, NON) == (pytest.approx(7 / 12), 0.5)
    # SRE-style prior: the Bayes threshold log(99) rejects everything -> normalised cost 1
    assert act_dcf(TGT, NON, p_target=0.01) == pytest.approx(1.0)
    assert act_dcf(TGT, NON, threshold=10.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="target_scores is empty"):
        min_dcf([], NON)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-20, 20), min_size=1, max_size=25), st.lists(st.integers(-20, 20), min_size=1,
                                                                         max_size=25),
       st.sampled_from([0.5, 0.1, 0.01]), st.sampled_from([1.0, 10.0]))
def test_min_dcf_is_the_best_threshold_and_matches_the_roc(t, n, p, cm):
    t, n = np.array(t, float), np.array(n, float)
    m, thr = min_dcf(t, n, p_target=p, c_miss=cm)
    grid = np.r_[np.unique(np.r_[t, n]), np.inf]
    brute = [dcf_brute(t, n, g, p, cm) for g in grid]
    assert m == pytest.approx(min(brute), abs=1e-12) and 0 <= m <= 1 + 1e-12
    assert act_dcf(t, n, p_target=p, c_miss=cm, threshold=thr) == pytest.approx(m)
    assert m <= act_dcf(t, n, p_target=p, c_miss=cm) + 1e-12
    if p == 0.5 and cm == 1.0:   # normalised cost = P_miss + P_fa, the ROC's best fnr + fpr
        fpr, tpr, _ = roc_curve(np.r_[np.ones(t.size), np.zeros(n.size)], np.r_[t, n], drop_intermediate=False)
        assert m == pytest.approx(min(np.min(1 - tpr + fpr), 1.0), abs=1e-12)


# ------------------------------------------------------------------------------------------------ everything


def _eval_set(rng, n=240):
    classes = ["de", "en", "fr", "it"]
    y = [classes[i % 4] for i in range(n - 12)] + ["xx"] * 12
    s = rng.normal(0, 1, (n, 4))
    for i, lab in enumerate(y):
        if lab in classes:
            s[i, classes.index(lab)] += 2.0
    return s, y, classes, rng.uniform(0.5, 25.0, n)


def test_lre_metrics_gathers_the_figures_as_plain_json():
    rng = np.random.default_rng(6)
    s, y, classes, dur = _eval_set(rng)
    m = lre_metrics(s, y, classes, durations=dur)
    text = json.dumps(m, allow_nan=False)
    assert json.loads(text) == m
    llr = detection_scores(s)
    assert m["cavg"] == pytest.approx(cavg(llr, y, classes)) and m["p_oos"] == 0.2
    assert m["min_cavg"] == pytest.approx(min_cavg(llr, y, classes)[0])
    assert m["cllr"] == pytest.approx(multiclass_cllr(s, y, classes))
    assert m["min_cllr"] == pytest.approx(min_multiclass_cllr(s, y, classes))
    assert m["eer"] == detection_metrics(s, y, classes)["eer"]
    truth = np.array([[lab == c for c in classes] for lab in y])
    assert m["min_dcf"] == pytest.approx(min_dcf(llr[truth], llr[~truth])[0])
    assert m["act_dcf"] == pytest.approx(act_dcf(llr[truth], llr[~truth]))
    assert m["per_class"]["fr"]["eer"] == equal_error_rate(llr[truth[:, 2], 2], llr[~truth[:, 2], 2])[0]
    assert m["per_class"]["fr"]["n_target"] == 57 and m["per_class"]["fr"]["n_nontarget"] == 183
    assert m["n_out_of_set"] == 12 and m["accuracy"] == pytest.approx(
        np.mean([np.argmax(s[i]) == classes.index(lab) for i, lab in enumerate(y) if lab in classes]))
    assert list(m["by_duration"]) == ["<=3s", "3-10s", ">10s"]
    b = m["by_duration"]["3-10s"]
    rows = np.flatnonzero((dur > 3) & (dur <= 10))
    assert b["n_items"] == rows.size and (b["min_s"], b["max_s"]) == (3.0, 10.0)
    assert b["cavg"] == pytest.approx(cavg(llr[rows], [y[i] for i in rows], classes))
    assert b["min_cllr"] == pytest.approx(min_multiclass_cllr(s[rows], [y[i] for i in rows], classes))


def test_lre_metrics_one_bucket_equals_the_whole_and_empty_buckets_are_skipped():
    rng = np.random.default_rng(7)
    s, y, classes, dur = _eval_set(rng, 80)
    m = lre_metrics(s, y, classes, durations=np.full(80, 5.0), bucket_edges=(1.0, 2.0, 30.0))
    assert list(m["by_duration"]) == ["2-30s"]
    whole = {k: v for k, v in m.items() if k not in ("by_duration", "conventions")}
    assert {k: v for k, v in m["by_duration"]["2-30s"].items() if k not in ("min_s", "max_s")} == whole


def test_lre_metrics_undefined_figures_are_none():
    s = np.array([[1.0, 0.0], [0.5, 0.2], [0.0, 1.0]])
    m = lre_metrics(s, ["a", "a", "x"], ["a", "b"])   # one language and an out-of-set file
    assert m["cavg"] is None and m["min_cavg"] is None and m["min_cllr"] == 0.0
    assert m["per_class"]["b"]["eer"] is None and m["per_class"]["a"]["eer"] is not None
    assert "by_duration" not in m
    with pytest.raises(ValueError, match="durations"):
        lre_metrics(s, ["a", "a", "x"], ["a", "b"], durations=[1.0])


def test_duration_buckets():
    d = np.array([0.5, 3.0, 3.01, 10.0, 10.5, 60.0])
    b = duration_buckets(d)
    assert [x[0] for x in b] == ["<=3s", "3-10s", ">10s"]
    assert [x[3].tolist() for x in b] == [[1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1]]
    assert [x[0] for x in duration_buckets(d, (2.5,))] == ["<=2.5s", ">2.5s"]
    for bad in ((), (10.0, 3.0), (0.0, 1.0), (float("nan"),)):
        with pytest.raises(ValueError, match="bucket edges"):
            duration_buckets(d, bad)
    with pytest.raises(ValueError, match="durations"):
        duration_buckets([-1.0])
