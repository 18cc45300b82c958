import json
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from sklearn.metrics import balanced_accuracy_score, f1_score, precision_recall_fscore_support, roc_curve

from gmmspeech.app.report import PLOT_MISSING, format_confusion, format_metrics, plot_confusion, write_report
from gmmspeech.core.metrics import (
    classification_metrics,
    confusion_matrix,
    detection_metrics,
    detection_scores,
    equal_error_rate,
)


def test_metrics_agree_with_sklearn():
    rng = np.random.default_rng(0)
    labels = ["de", "en", "fr"]
    y_true = list(rng.choice(labels, 200))
    y_pred = [t if rng.random() < 0.7 else rng.choice(labels) for t in y_true]
    m = classification_metrics(y_true, y_pred, labels)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    assert m["accuracy"] == np.mean(np.array(y_true) == np.array(y_pred))
    assert np.isclose(m["balanced_accuracy"], balanced_accuracy_score(y_true, y_pred))
    assert np.isclose(m["macro_f1"], f1_score(y_true, y_pred, average="macro"))
    for i, lab in enumerate(labels):
        assert np.isclose(m["per_class"][lab]["precision"], p[i]) and m["per_class"][lab]["support"] == s[i]


def test_confusion_table_is_aligned_and_names_classes():
    cm = confusion_matrix(["a", "a", "long_name"], ["a", "long_name", "long_name"], ["a", "long_name"])
    assert cm.tolist() == [[1, 1], [0, 1]]
    lines = format_confusion(cm, ["a", "long_name"]).splitlines()
    assert len({len(line) for line in lines}) == 1 and "long_name" in lines[0]


def test_report_files(tmp_path):
    cm = np.array([[2, 0], [1, 1]])
    m = classification_metrics(["a", "a", "b", "b"], ["a", "a", "a", "b"], ["a", "b"])
    rows = [{"file": "f1", "truth": "a", "predicted": "a"}]
    write_report(tmp_path / "rep", rows, m, cm, ["a", "b"])
    assert json.loads((tmp_path / "rep" / "metrics.json").read_text())["accuracy"] == 0.75
    assert (tmp_path / "rep" / "confusion.csv").read_text().splitlines()[2] == "b,1,1"
    assert (tmp_path / "rep" / "predictions.csv").read_text().startswith("file,truth,predicted")


def _sklearn_eer_bracket(t, n):
    """The two ROC operating points around the FAR = FRR crossing, from scikit-learn's roc_curve."""
    y = np.r_[np.ones(len(t)), np.zeros(len(n))]
    fpr, tpr, _ = roc_curve(y, np.r_[t, n], drop_intermediate=False)
    fnr = 1 - tpr
    i = int(np.argmax(fnr <= fpr))
    return sorted([fpr[i], fnr[i], fpr[max(i - 1, 0)], fnr[max(i - 1, 0)]])


def test_eer_of_two_gaussians_is_phi_of_half_the_separation():
    rng = np.random.default_rng(0)
    eer, thr = equal_error_rate(rng.normal(2, 1, 40000), rng.normal(0, 1, 40000))
    assert abs(eer - norm.cdf(-1)) < 0.006 and abs(thr - 1.0) < 0.05


def test_eer_edge_cases():
    assert equal_error_rate([2, 3], [0, 1])[0] == 0.0
    assert equal_error_rate([0, 1], [2, 3])[0] == 1.0
    assert equal_error_rate([1, 1], [1, 1])[0] == 0.5
    with pytest.raises(ValueError, match="at least one"):
        equal_error_rate([], [1.0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-20, 20), min_size=1, max_size=30), st.lists(st.integers(-20, 20), min_size=1,
                                                                         max_size=30))
def test_eer_lies_between_the_bracketing_roc_points_and_ignores_monotone_maps(t, n):
    t, n = np.array(t, float), np.array(n, float)
    eer, _ = equal_error_rate(t, n)
    pts = _sklearn_eer_bracket(t, n)
    assert pts[0] - 1e-12 <= eer <= pts[-1] + 1e-12
    assert np.isclose(equal_error_rate(np.exp(t / 5), np.exp(n / 5))[0], eer)
    assert np.isclose(equal_error_rate(-n, -t)[0], eer)  # swapping the roles mirrors the curve


def test_detection_scores_are_one_vs_rest_log_likelihood_ratios():
    s = np.random.default_rng(1).normal(-50, 3, (7, 4))
    llr = detection_scores(s)
    for j in range(4):
        others = np.delete(s, j, axis=1)
        np.testing.assert_allclose(llr[:, j], s[:, j] - np.log(np.exp(others).mean(axis=1)))
    np.testing.assert_allclose(detection_scores(s + 100), llr)  # a per-file offset cancels


def test_detection_metrics_pool_trials_and_count_unknown_labels_as_non_targets():
    rng = np.random.default_rng(2)
    classes = ["a", "b", "c"]
    truth = [classes[i % 3] for i in range(60)] + ["zz"] * 6
    s = rng.normal(0, 1, (66, 3))
    for i, t in enumerate(truth):
        if t in classes:
            s[i, classes.index(t)] += 3
    m = detection_metrics(s, truth, classes)
    llr = detection_scores(s)
    tgt = np.array([[t == c for c in classes] for t in truth])
    assert m["eer"] == equal_error_rate(llr[tgt], llr[~tgt])[0]
    assert 0 < m["eer"] < 0.2 and set(m["eer_per_class"]) == set(classes)
    assert m["eer_per_class"]["b"] == equal_error_rate(llr[tgt[:, 1], 1], llr[~tgt[:, 1], 1])[0]
    assert detection_metrics(s[:2], ["a", "a"], classes)["eer_per_class"]["b"] is None
    text = format_metrics({**classification_metrics(truth, truth, classes + ["zz"]), **m})
    assert "equal error rate" in text and "EER" in text.splitlines()[2]


def test_confusion_png_is_written(tmp_path):
    cm = np.array([[5, 1, 0], [0, 6, 0], [2, 0, 4]])
    plot_confusion(cm, ["english", "german", "finnish"], tmp_path / "c.png")
    data = (tmp_path / "c.png").read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 5000
    written = write_report(tmp_path / "rep", [], classification_metrics(["a"], ["a"], ["a"]), np.array([[1]]), ["a"])
    assert sorted(p.name for p in written) == ["confusion.csv", "confusion.png", "det.png", "metrics.json",
                                              "predictions.csv", "report.html"]


def test_without_matplotlib_the_other_files_are_still_written(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    with pytest.raises(ImportError, match="pip install 'gmmspeech\\[plot\\]'"):
        plot_confusion(np.eye(2), ["a", "b"], tmp_path / "c.png")
    written = write_report(tmp_path / "rep", [{"file": "f"}], classification_metrics(["a"], ["a"], ["a"]),
                           np.array([[1]]), ["a"])
    assert sorted(p.name for p in written) == ["confusion.csv", "metrics.json", "predictions.csv", "report.html"]
    assert not (tmp_path / "rep" / "confusion.png").exists() and "matplotlib" in PLOT_MISSING
