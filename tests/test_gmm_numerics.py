"""Numerical accuracy of the EM core: float32 against float64, far components, offsets, near-constant dimensions.

Several of these failed before the E-step centred each group of components on its own point (float32 means biased
by ``centre - float32(centre)``, log-likelihoods off by 1e-3 nats per frame at 1000 sigma, scores off by millions
of nats for a near-constant dimension).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import norm

from gmmspeech.core.estep import EStepPlan, component_groups
from gmmspeech.core.gmm import DiagGMM, SuffStats, accumulate_stats, estimate_log_prob, maximize
from gmmspeech.infra.errors import DataError


def exact_log_prob(X, w, mu, var):
    """(N, K) weighted log-densities, one component at a time (no expanded quadratic form)."""
    return np.stack([np.log(w[k]) + norm.logpdf(X, mu[k], np.sqrt(var[k])).sum(1) for k in range(len(w))], 1)


def two_far_components(dist, *, n=20000, d=3, along="one", offset=0.0, narrow=1.0, weight=0.5, seed=0):
    """Frames of two unit-ish components ``dist`` sigma apart (in one dimension or spread over all)."""
    rng = np.random.default_rng(seed)
    step = np.zeros(d)
    if along == "one":
        step[0] = dist
    else:
        step[:] = dist / np.sqrt(d)
    centres = np.stack([np.zeros(d), step]) + offset
    scales = np.array([1.0, narrow])
    lab = (rng.random(n) < weight).astype(int)
    X = centres[lab] + rng.standard_normal((n, d)) * scales[lab, None]
    return X, centres, scales


def test_float32_means_are_not_biased_at_a_large_offset():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50000, 4)) * [1, 2, 3, 4] + [1e4, -2e4 + 0.3, 5e3 + 0.1, 1e4 + 0.7]
    w, mu, var = np.ones(1), X.mean(0, keepdims=True) + 0.123, X.var(0, keepdims=True)
    m32, v32 = accumulate_stats(X, w, mu, var, dtype=np.float32).moments()
    m64, v64 = accumulate_stats(X, w, mu, var, dtype=np.float64).moments()
    assert np.abs(m32 - m64).max() < 1e-6            # was 8.8e-4 = |centre - float32(centre)|
    np.testing.assert_allclose(v32, v64, rtol=1e-5)
    np.testing.assert_allclose(m64[0], X.mean(0), rtol=1e-12)


@pytest.mark.parametrize("dist", [30, 100, 300, 1000, 3000])
@pytest.mark.parametrize("layout", [dict(along="one"), dict(along="all", offset=1e4 + 0.37),
                                    dict(along="one", narrow=0.01, weight=0.1)])
def test_far_components_float32_agrees_with_float64(dist, layout):
    X, centres, scales = two_far_components(dist, **layout)
    w = np.array([0.5, 0.5])
    mu = centres + 0.3 * scales[:, None]
    var = np.tile(1.5 * scales[:, None] ** 2, (1, X.shape[1]))
    s32 = accumulate_stats(X, w, mu, var, dtype=np.float32)
    s64 = accumulate_stats(X, w, mu, var, dtype=np.float64)
    assert abs(s32.loglik - s64.loglik) / len(X) < 1e-5      # was 3.7e-3 nats per frame at 1000 sigma
    (w32, m32, v32), (w64, m64, v64) = maximize(s32), maximize(s64)
    np.testing.assert_allclose(w32, w64, rtol=1e-5)
    np.testing.assert_allclose(v32, v64, rtol=1e-4)          # was 3e-3 at 1000 sigma
    assert np.all(np.abs(m32 - m64) < 1e-5 * np.sqrt(v64))
    # whole fits from the same start: same path, log-likelihood never decreasing in float32 either
    kw = dict(max_iter=25, tol=0, var_floor=0, weights_init=w, means_init=mu, variances_init=var, n_jobs=1)
    g32 = DiagGMM(2, dtype=np.float32, **kw).fit(X)
    g64 = DiagGMM(2, dtype=np.float64, **kw).fit(X)
    np.testing.assert_allclose(g32.log_likelihood_history_, g64.log_likelihood_history_, rtol=0, atol=1e-4)
    assert np.all(np.diff(g32.log_likelihood_history_) > -1e-5)
    np.testing.assert_allclose(g32.variances_, g64.variances_, rtol=1e-4)
    assert np.all(np.abs(g32.means_ - g64.means_) < 1e-4 * np.sqrt(g64.variances_))
    # and the scores are the exact densities
    np.testing.assert_allclose(g64.score_samples(X[:500]),
                               logsumexp(exact_log_prob(X[:500], g64.weights_, g64.means_, g64.variances_), 1),
                               rtol=1e-10, atol=1e-9)


def test_components_group_around_points_float32_can_resolve():
    rng = np.random.default_rng(1)
    mu = rng.standard_normal((40, 5)) * 1.5
    var = rng.uniform(0.5, 2, (40, 5))
    w = np.full(40, 1 / 40)
    [(c, i32, i64)] = component_groups(w, mu, var, np.float32)       # ordinary data: one product, as before
    assert len(i32) == 40 and not len(i64)
    mu[7, 4] += 500.0                       # too far for float32 arithmetic about the centre, not for float64
    mu[[3, 17]] += [5000.0, 0, 0, 0, 0]     # too far for either: a centre of their own
    mu[25, 2] -= 1e5
    groups = component_groups(w, mu, var, np.float32)
    assert [(i32.tolist(), i64.tolist()) for _, i32, i64 in groups] == [
        ([k for k in range(40) if k not in (3, 7, 17, 25)], [7]), ([3, 17], []), ([25], [])]
    for c, i32, _ in groups:
        assert np.array_equal(c, c.astype(np.float32))                 # exactly representable centres
        r = (mu[i32] - c) ** 2 / var[i32]
        assert (r.sum(1) <= 1024).all() and (r.max(1) <= 128).all()
    assert [len(i64) for _, _, i64 in component_groups(w, mu, var, np.float64)] == [0, 0, 0]
    plan = EStepPlan(w, mu, var, np.float32)
    assert plan.refined and plan.n_groups == 3 and sorted(plan.order.tolist()) == list(range(40))


def test_scores_and_posteriors_keep_component_order_with_several_groups():
    rng = np.random.default_rng(2)
    mu = np.array([[0.0, 0.0], [1e7, 0.0], [3.0, 1.0]])   # 1e7 sigma: a group of its own even in float64
    var = np.array([[1.0, 1.0], [1.0, 2.0], [0.5, 1.0]])
    w = np.array([0.3, 0.3, 0.4])
    plan = EStepPlan(w, mu, var, np.float64)
    assert plan.n_groups == 2 and plan.order.tolist() == [0, 2, 1]
    X = np.concatenate([rng.standard_normal((50, 2)) + mu[k] for k in range(3)])
    ref = exact_log_prob(X, w, mu, var)
    np.testing.assert_allclose(estimate_log_prob(X, w, mu, var), ref, rtol=1e-12)
    g = DiagGMM(3)
    g.weights_, g.means_, g.variances_ = w, mu, var
    np.testing.assert_allclose(g.predict_proba(X), np.exp(ref - logsumexp(ref, 1, keepdims=True)), atol=1e-12)
    np.testing.assert_array_equal(g.predict(X), ref.argmax(1))
    np.testing.assert_allclose(g.score_samples(X), logsumexp(ref, 1), rtol=1e-12)
    resp = np.exp(ref - logsumexp(ref, 1, keepdims=True))
    stats = accumulate_stats(X, w, mu, var, dtype=np.float32)
    np.testing.assert_allclose(stats.n, resp.sum(0), rtol=1e-5)
    np.testing.assert_allclose(stats.moments()[0], (resp.T @ X) / resp.sum(0)[:, None], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_near_constant_dimension_is_modelled(dtype):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((20000, 3))
    X[:, 1] = 5 + 1e-9 * rng.standard_normal(len(X))
    g = DiagGMM(2, max_iter=20, dtype=dtype, random_state=0).fit(X)
    np.testing.assert_allclose(g.variances_[:, 1], 1e-18, rtol=0.1)  # was 1e-21 (float32) / 3.6e-15 (float64)
    exact = logsumexp(exact_log_prob(X, g.weights_, g.means_, g.variances_), 1)
    np.testing.assert_allclose(g.score_samples(X), exact, rtol=1e-9, atol=1e-8)   # was off by 2e6 nats
    assert abs(g.lower_bound_ - exact.mean()) < 1e-3


def test_dimensions_the_model_cannot_represent_are_refused_by_name():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((500, 4))
    Y = X.copy()
    Y[:, 2] = 5 + 1e-15 * rng.standard_normal(500)
    with pytest.raises(DataError, match=r"dimension\(s\) \[2\] are constant up to rounding"):
        DiagGMM(2).fit(Y)
    Y = X.copy()
    Y[:, 3] = 1e-17 * rng.standard_normal(500)
    with pytest.raises(DataError, match=r"dimension\(s\) \[3\] have variances .* outside float32's range"):
        DiagGMM(2).fit(Y)
    g = DiagGMM(2, dtype=np.float64, max_iter=10, tol=0).fit(Y)
    assert np.all(np.isfinite(g.score_samples(Y)))


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0, 1000), st.integers(1, 5), st.sampled_from([0.0, 1e4, -3e5]),
       st.floats(0.01, 1.0))
def test_float32_agrees_with_float64_on_components_within_1000_sigma(seed, dist, d, offset, narrow):
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal(d)
    direction /= np.linalg.norm(direction)
    centres = np.stack([np.zeros(d), dist * direction, rng.standard_normal(d) * 3]) + offset
    scales = np.array([1.0, narrow, 2.0])[:, None] * rng.uniform(0.5, 2, (3, d))
    lab = rng.integers(0, 3, 3000)
    X = centres[lab] + rng.standard_normal((3000, d)) * scales[lab]
    w, mu, var = np.full(3, 1 / 3), centres + 0.2 * scales, scales**2 * 1.3
    s32 = accumulate_stats(X, w, mu, var, dtype=np.float32, chunk_size=512)
    s64 = accumulate_stats(X, w, mu, var, dtype=np.float64)
    assert abs(s32.loglik - s64.loglik) / len(X) < 1e-4
    (w32, m32, v32), (w64, m64, v64) = maximize(s32), maximize(s64)
    np.testing.assert_allclose(w32, w64, rtol=1e-4)
    assert np.all(np.abs(m32 - m64) < 1e-4 * np.sqrt(v64))
    np.testing.assert_allclose(v32, v64, rtol=3e-4)      # float32 sums of squares: ~1e-5 typical, 3e-4 at worst


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 299), st.sampled_from([0.0, 50.0, 1e5]))
def test_stats_of_blocks_add_up_whatever_their_reference_points(seed, cut, offset):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((300, 3)) * 2 + offset
    w, mu, var = np.full(3, 1 / 3), rng.standard_normal((3, 3)) + offset, rng.uniform(1, 4, (3, 3))
    whole = accumulate_stats(X, w, mu, var, dtype=np.float64)
    a = accumulate_stats(X[:cut], w, mu, var, dtype=np.float64)
    b = accumulate_stats(X[cut:], w, mu, var, dtype=np.float64).about(rng.standard_normal(3) + offset)
    for total in (a + b, b + a, SuffStats.zeros(3, 3) + a + b):
        np.testing.assert_allclose(total.n, whole.n, rtol=1e-10)
        for got, want in zip(total.moments(), whole.moments(), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8)
        assert total.n_frames == 300 and abs(total.loglik - whole.loglik) < 1e-9 * abs(whole.loglik)
    np.testing.assert_allclose((a + b).s, whole.s, rtol=1e-9, atol=1e-9)   # the raw moments too
    np.testing.assert_allclose((a + b).q, whole.q, rtol=1e-9)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([0.0, 1e4]), st.sampled_from([5.0, 300.0]))
def test_float64_em_never_lowers_the_log_likelihood(seed, offset, dist):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [dist, 0.0], [0.0, 4.0]]) + offset
    lab = rng.integers(0, 3, 600)
    X = centres[lab] + rng.standard_normal((600, 2)) * rng.uniform(0.5, 2, (3, 2))[lab]
    w, mu, var = np.full(4, 0.25), X[rng.choice(600, 4, replace=False)], np.tile(X.var(0), (4, 1))
    history = []
    for _ in range(30):   # EM by hand, stopping where a floor would bind (a re-seeded component may lower it)
        stats = accumulate_stats(X, w, mu, var, dtype=np.float64)
        history.append(stats.loglik / stats.n_frames)
        if stats.n.min() < 1e-3:
            break
        w, mu, var = maximize(stats)
        if var.min() <= 1e-10 * X.var(0).max():
            break
    h = np.array(history)
    assert np.all(np.diff(h) >= -1e-9 * np.abs(h).max())
