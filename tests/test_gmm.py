import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gmmspeech.core.gmm import DiagGMM, accumulate_stats, estimate_log_prob, maximize


def blobs(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[-5.0, 0.0], [5.0, 0.0], [0.0, 6.0]])
    scales = np.array([[1.0, 0.5], [0.5, 1.0], [1.5, 1.5]])
    lab = rng.integers(0, 3, n)
    return centres[lab] + rng.standard_normal((n, 2)) * scales[lab], centres, scales


def test_fit_recovers_well_separated_components():
    X, centres, scales = blobs()
    g = DiagGMM(3, random_state=0, max_iter=200, tol=1e-6).fit(X)
    order = [int(np.argmin(((g.means_ - c) ** 2).sum(1))) for c in centres]
    np.testing.assert_allclose(g.means_[order], centres, atol=0.15)
    np.testing.assert_allclose(np.sqrt(g.variances_[order]), scales, rtol=0.1)
    assert g.converged_ and abs(g.weights_.sum() - 1) < 1e-12


def test_log_likelihood_never_decreases():
    X, *_ = blobs(seed=1)
    g = DiagGMM(6, random_state=1, max_iter=40, tol=0, var_floor=0, dtype=np.float64).fit(X)
    h = np.array(g.log_likelihood_history_)
    assert np.all(np.diff(h) >= -1e-9)


def test_log_prob_matches_scipy_density():
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(2)
    X = rng.standard_normal((20, 3))
    w = np.array([0.3, 0.7])
    mu = rng.standard_normal((2, 3))
    var = rng.uniform(0.5, 2, (2, 3))
    lp = estimate_log_prob(X, w, mu, var)
    for k in range(2):
        ref = np.log(w[k]) + multivariate_normal(mu[k], np.diag(var[k])).logpdf(X)
        np.testing.assert_allclose(lp[:, k], ref, rtol=1e-10)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 299), st.integers(0, 2**31 - 1))
def test_stats_over_a_split_sum_to_the_whole(cut, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((300, 4))
    w, mu, var = np.full(3, 1 / 3), rng.standard_normal((3, 4)), rng.uniform(0.5, 2, (3, 4))
    whole = accumulate_stats(X, w, mu, var, dtype=np.float64)
    parts = accumulate_stats(X[:cut], w, mu, var, dtype=np.float64) + accumulate_stats(X[cut:], w, mu, var,
                                                                                         dtype=np.float64)
    np.testing.assert_allclose(parts.n, whole.n, rtol=1e-10)
    np.testing.assert_allclose(parts.s, whole.s, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(parts.q, whole.q, rtol=1e-9, atol=1e-9)
    assert abs(parts.loglik - whole.loglik) < 1e-8 * abs(whole.loglik)
    assert parts.n_frames == 300


def test_maximize_applies_floor_and_reseeds_dead_component():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((500, 2))
    w, mu, var = np.array([0.5, 0.5]), np.array([[0.0, 0.0], [1e3, 1e3]]), np.ones((2, 2))
    stats = accumulate_stats(X, w, mu, var, dtype=np.float64)
    assert stats.n[1] < 1e-3
    w2, mu2, var2 = maximize(stats, var_floor=np.array([2.0, 2.0]))
    assert np.all(np.isfinite(mu2)) and np.all(var2 >= 2.0)
    np.testing.assert_allclose(w2, [0.5, 0.5])
    assert not np.allclose(mu2[0], mu2[1])


def test_seeded_fits_are_identical():
    X, *_ = blobs(seed=4)
    a = DiagGMM(4, random_state=7).fit(X)
    b = DiagGMM(4, random_state=7).fit(X)
    assert np.array_equal(a.means_, b.means_) and np.array_equal(a.variances_, b.variances_)


def test_scores_agree_with_sklearn_for_the_same_parameters():
    from sklearn.mixture import GaussianMixture

    X, *_ = blobs(seed=5)
    g = DiagGMM(3, random_state=0).fit(X)
    sk = GaussianMixture(3, covariance_type="diag")
    sk.weights_, sk.means_, sk.covariances_ = g.weights_, g.means_, g.variances_
    sk.precisions_cholesky_ = 1 / np.sqrt(g.variances_)
    np.testing.assert_allclose(g.score_samples(X), sk.score_samples(X), rtol=1e-10)
    np.testing.assert_allclose(g.predict_proba(X), sk.predict_proba(X), atol=1e-10)


def test_bad_input_gives_clear_errors():
    with pytest.raises(ValueError, match="fewer than n_components"):
        DiagGMM(10).fit(np.zeros((5, 2)))
    X = np.random.default_rng(0).standard_normal((100, 2))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DiagGMM(2).fit(X)
    with pytest.raises(ValueError, match="2D|2-D"):
        DiagGMM(2).fit(np.zeros(100))


def test_sample_bic_aic_predict():
    X, *_ = blobs(seed=6)
    g3 = DiagGMM(3, random_state=0).fit(X)
    g1 = DiagGMM(1, random_state=0).fit(X)
    assert g3.bic(X) < g1.bic(X) and g3.aic(X) < g1.aic(X)
    S, lab = g3.sample(500, random_state=0)
    assert S.shape == (500, 2) and lab.shape == (500,)
    assert g3.predict(X).shape == (len(X),)
    np.testing.assert_allclose(g3.predict_proba(X).sum(1), 1)
