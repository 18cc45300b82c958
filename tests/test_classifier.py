import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp, softmax

from gmmspeech.core.gmm import DiagGMM
from gmmspeech.model.classifier import UNKNOWN, GMMClassifier, open_set_decision, posteriors


def make_classes(seed=0, n=800):
    rng = np.random.default_rng(seed)
    return {
        "a": rng.standard_normal((n, 4)) + [3, 0, 0, 0],
        "b": rng.standard_normal((n, 4)) - [3, 0, 0, 0],
        "c": rng.standard_normal((n, 4)) * 3,
    }


def random_gmm(rng, k, d):
    g = DiagGMM(k)
    g.weights_ = rng.dirichlet(np.ones(k))
    g.means_ = rng.standard_normal((k, d)) * 2
    g.variances_ = rng.uniform(0.2, 3.0, (k, d))
    return g


def test_classifier_predicts_held_out_data():
    clf = GMMClassifier(n_components=4, random_state=0).fit(make_classes(0))
    test = make_classes(1, n=60)
    hits = sum(clf.predict(x[i:i + 20]) == lab for lab, x in test.items() for i in range(0, 60, 20))
    assert hits == 9
    assert clf.classes_ == ["a", "b", "c"]


def test_stacked_scoring_equals_per_model_scores():
    clf = GMMClassifier(n_components=3, random_state=0).fit(make_classes(2))
    X = make_classes(3, n=50)["c"]
    exact = clf.frame_log_likelihoods(X, chunk_size=7, dtype=np.float64)
    fast = clf.frame_log_likelihoods(X)
    for j, lab in enumerate(clf.classes_):
        ref = clf.models_[lab].score_samples(X)
        np.testing.assert_allclose(exact[:, j], ref, rtol=1e-10)
        np.testing.assert_allclose(fast[:, j], ref, atol=1e-3, rtol=1e-5)
    np.testing.assert_allclose(clf.predict_proba(X).sum(), 1)
    np.testing.assert_allclose(clf.score(X), fast.mean(0))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 6), d=st.integers(1, 5), n=st.integers(1, 40),
       sizes_differ=st.booleans())
def test_one_pass_scoring_matches_a_loop_over_classes(seed, k, d, n, sizes_differ):
    rng = np.random.default_rng(seed)
    models = {f"c{j}": random_gmm(rng, k + (j if sizes_differ else 0), d) for j in range(3)}
    clf = GMMClassifier.from_models(models)
    X = rng.standard_normal((n, d)) * 2
    got = clf.frame_log_likelihoods(X, chunk_size=5, dtype=np.float64)
    for j, g in enumerate(models.values()):
        lp = (np.log(g.weights_) - 0.5 * (np.log(2 * np.pi * g.variances_).sum(1)
                                          + (((X[:, None, :] - g.means_) ** 2) / g.variances_).sum(2)))
        np.testing.assert_allclose(got[:, j], logsumexp(lp, axis=1), rtol=1e-9, atol=1e-9)


@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=8), st.floats(-1e3, 1e3))
def test_posteriors_are_a_shift_invariant_softmax(scores, shift):
    p = posteriors(np.array(scores))
    np.testing.assert_allclose(p, softmax(np.array(scores)), atol=1e-12)
    np.testing.assert_allclose(p, posteriors(np.array(scores) + shift), atol=1e-9)
    assert np.isclose(p.sum(), 1)


def test_replacing_a_models_parameters_refreshes_the_stacked_cache():
    clf = GMMClassifier(n_components=2).fit(make_classes(4, n=100))
    X = make_classes(5, n=20)["a"]
    before = clf.score(X)
    clf.models_["a"].means_ = clf.models_["a"].means_ + 5.0
    after = clf.score(X)
    assert after[0] != before[0] and np.allclose(after[1:], before[1:])


def test_too_few_frames_wrong_dims_and_nan_frames():
    with pytest.raises(ValueError, match="fewer than"):
        GMMClassifier(n_components=8).fit({"a": np.zeros((4, 2))})
    clf = GMMClassifier(n_components=2).fit(make_classes(4, n=100))
    with pytest.raises(ValueError, match="shape"):
        clf.score(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="NaN"):
        clf.score(np.full((10, 4), np.nan))


def test_open_set_rejects_what_no_class_fits():
    rng = np.random.default_rng(6)
    clf = GMMClassifier(n_components=2, random_state=0).fit(
        {"a": rng.standard_normal((9000, 4)) + 3, "b": rng.standard_normal((9000, 4)) - 3})
    thr = clf.reject_thresholds_
    assert thr.shape == (2,) and np.all(np.isfinite(thr))
    assert clf.calibration_ == {"quantile": 0.01, "segment_frames": 50, "optimism_correction": "aic"}
    own = np.array([clf.score(rng.standard_normal((50, 4)) + 3)[0] for _ in range(200)])
    assert np.mean(own < thr[0]) <= 0.05        # new in-class 50-frame segments: about 1% rejected
    train_a = np.random.default_rng(6).standard_normal((9000, 4)) + 3
    seg = clf.frame_log_likelihoods(train_a)[:, 0].reshape(-1, 50).mean(1)
    assert np.isclose(thr[0], np.quantile(seg, 0.01) - (1 + 2 * 2 * 4) / 9000)
    assert clf.predict_open_set(rng.standard_normal((3000, 4)) + 3) == "a"
    far = rng.standard_normal((200, 4)) * 0.3 + [0, 0, 20, -20]
    assert clf.predict(far) in ("a", "b")
    assert clf.predict_open_set(far) == UNKNOWN
    s = clf.score(far)
    assert clf.predict_open_set(far, reject_below=s.max() - 1) != UNKNOWN
    assert clf.predict_open_set(far, reject_below=s.max() + 1) == UNKNOWN


def test_open_set_decision_means_every_class_below_its_threshold():
    s = np.array([[-10.0, -20.0], [-30.0, -5.0], [-30.0, -30.0]])
    assert open_set_decision(s, np.array([-15.0, -4.0])).tolist() == [False, True, True]
    assert open_set_decision(s, -25.0).tolist() == [False, False, True]
    clf = GMMClassifier.from_models({"x": random_gmm(np.random.default_rng(0), 2, 2)})
    with pytest.raises(ValueError, match="no calibrated open-set thresholds"):
        clf.predict_open_set(np.zeros((5, 2)))
