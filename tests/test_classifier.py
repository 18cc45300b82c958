import numpy as np
import pytest

from gmmspeech.classifier import GMMClassifier


def make_classes(seed=0, n=800):
    rng = np.random.default_rng(seed)
    return {
        "a": rng.standard_normal((n, 4)) + [3, 0, 0, 0],
        "b": rng.standard_normal((n, 4)) - [3, 0, 0, 0],
        "c": rng.standard_normal((n, 4)) * 3,
    }


def test_classifier_predicts_held_out_data():
    clf = GMMClassifier(n_components=4, random_state=0).fit(make_classes(0))
    test = make_classes(1, n=60)
    hits = sum(clf.predict(x[i:i + 20]) == lab for lab, x in test.items() for i in range(0, 60, 20))
    assert hits == 9
    assert clf.classes_ == ["a", "b", "c"]


def test_stacked_scoring_equals_per_model_scores():
    clf = GMMClassifier(n_components=3, random_state=0).fit(make_classes(2))
    X = make_classes(3, n=50)["c"]
    fl = clf.frame_log_likelihoods(X, chunk_size=7)
    for j, lab in enumerate(clf.classes_):
        np.testing.assert_allclose(fl[:, j], clf.models_[lab].score_samples(X), rtol=1e-10)
    np.testing.assert_allclose(clf.predict_proba(X).sum(), 1)


def test_too_few_frames_and_wrong_dims():
    with pytest.raises(ValueError, match="fewer than"):
        GMMClassifier(n_components=8).fit({"a": np.zeros((4, 2))})
    clf = GMMClassifier(n_components=2).fit(make_classes(4, n=100))
    with pytest.raises(ValueError, match="shape"):
        clf.score(np.zeros((10, 3)))
