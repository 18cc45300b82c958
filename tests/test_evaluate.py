import json

import numpy as np
from sklearn.metrics import balanced_accuracy_score, f1_score, precision_recall_fscore_support

from gmmspeech.evaluate import classification_metrics, confusion_matrix, format_confusion, write_report


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
