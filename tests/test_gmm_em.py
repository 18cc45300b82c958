"""EM core: agreement with scikit-learn, EM invariants (hypothesis), chunked sources, edge cases."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gmmspeech.core.gmm import DiagGMM, SuffStats, accumulate_stats, maximize


def mixture(n=2000, d=3, k=4, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (k, d))
    scales = rng.uniform(0.5, 2.0, (k, d))
    lab = rng.integers(0, k, n)
    return centres[lab] + rng.standard_normal((n, d)) * scales[lab]


def test_em_agrees_with_sklearn_iteration_by_iteration():
    from sklearn.mixture import GaussianMixture

    X = mixture(3000, d=5, k=4, seed=11) + 50.0   # an offset exercises the centring of the statistics
    rng = np.random.default_rng(0)
    K = 5
    w0 = np.full(K, 1 / K)
    mu0 = X[rng.choice(len(X), K, replace=False)]
    var0 = np.tile(X.var(0), (K, 1))
    g = DiagGMM(K, max_iter=20, tol=0, var_floor=0, weight_floor=0, dtype=np.float64, weights_init=w0,
                means_init=mu0, variances_init=var0).fit(X)
    sk = GaussianMixture(K, covariance_type="diag", reg_covar=0, max_iter=1, warm_start=True, tol=0,
                         weights_init=w0, means_init=mu0, precisions_init=1 / var0)
    sk_ll = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(20):
            sk.fit(X)
            sk_ll.append(sk.lower_bound_)
    assert g.n_iter_ == 20 and len(g.log_likelihood_history_) == 20
    np.testing.assert_allclose(g.log_likelihood_history_, sk_ll, rtol=1e-6)
    np.testing.assert_allclose(g.weights_, sk.weights_, rtol=1e-5)
    np.testing.assert_allclose(g.means_, sk.means_, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g.variances_, sk.covariances_, rtol=1e-5)


def test_float32_statistics_match_float64():
    X = mixture(5000, d=6, seed=1) * 30 - 200     # MFCC-like scale and offset
    rng = np.random.default_rng(1)
    w, mu, var = np.full(4, 0.25), X[rng.choice(len(X), 4)], np.tile(X.var(0), (4, 1))
    s32 = accumulate_stats(X, w, mu, var, dtype=np.float32, chunk_size=512)
    s64 = accumulate_stats(X, w, mu, var, dtype=np.float64)
    assert s32.n.dtype == np.float64 and s32.q.dtype == np.float64
    np.testing.assert_allclose(s32.n, s64.n, rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(s32.s, s64.s, rtol=1e-3, atol=1e-1)
    assert abs(s32.loglik - s64.loglik) < 1e-5 * abs(s64.loglik)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 6), st.integers(1, 4))
def test_log_likelihood_never_decreases_without_floors(seed, k, d):
    X = mixture(400, d=d, k=3, seed=seed)
    g = DiagGMM(k, max_iter=15, tol=0, var_floor=0, weight_floor=0, dtype=np.float64, random_state=seed,
                init="random").fit(X)
    h = np.array(g.log_likelihood_history_)
    # EM is monotone in exact arithmetic; at convergence the float64 E-step (expanded quadratic form about the
    # mixture's centre) wobbles at rounding level, so allow 1e-7 relative
    assert np.all(np.diff(h) >= -1e-7 * np.abs(h[1:]).max())


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([1e-3, 1e-1, 0.5]), st.sampled_from(["kmeans++", "split"]))
def test_weights_sum_to_one_and_variances_respect_the_floor(seed, floor, init):
    X = mixture(300, d=3, k=2, seed=seed)
    X[:40] = X[0]    # duplicate frames invite a collapsing component
    g = DiagGMM(6, max_iter=10, var_floor=floor, random_state=seed, init=init).fit(X)
    assert abs(g.weights_.sum() - 1) < 1e-12 and np.all(g.weights_ > 0)
    assert np.all(g.variances_ >= g.var_floor_ * (1 - 1e-12))
    np.testing.assert_allclose(g.var_floor_, floor * X.var(0), rtol=1e-9)
    assert np.all(np.isfinite(g.means_)) and np.all(np.isfinite(g.log_likelihood_history_))


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, 200), min_size=1, max_size=5), st.integers(0, 2**31 - 1), st.integers(1, 64))
def test_stats_over_any_split_sum_to_the_whole(cuts, seed, chunk):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((200, 3)) * 5 + 7
    w, mu, var = np.array([0.2, 0.3, 0.5]), rng.standard_normal((3, 3)) + 7, rng.uniform(5, 30, (3, 3))
    whole = accumulate_stats(X, w, mu, var, dtype=np.float64)
    bounds = [0, *sorted(cuts), 200]
    parts = SuffStats.zeros(3, 3)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        parts = parts + accumulate_stats(X[lo:hi], w, mu, var, dtype=np.float64, chunk_size=chunk)
    np.testing.assert_allclose(parts.n, whole.n, rtol=1e-10)
    np.testing.assert_allclose(parts.s, whole.s, rtol=1e-9)
    np.testing.assert_allclose(parts.q, whole.q, rtol=1e-9)
    assert abs(parts.loglik - whole.loglik) < 1e-9 * abs(whole.loglik) and parts.n_frames == 200


def test_threads_give_the_same_statistics():
    X = mixture(90000, d=4, seed=2).astype(np.float32)
    w, mu, var = np.full(4, 0.25), X[:4].astype(np.float64), np.ones((4, 4))
    one = accumulate_stats(X, w, mu, var, chunk_size=1000, n_jobs=1)
    two = accumulate_stats(X, w, mu, var, chunk_size=1000, n_jobs=2)
    # the same tasks (fixed ranges of frames) summed in the same order: bit-for-bit the same
    assert np.array_equal(two.n, one.n) and np.array_equal(two.q, one.q) and two.loglik == one.loglik
    assert two.n_frames == one.n_frames == 90000
    kw = dict(max_iter=5, tol=0, random_state=1, chunk_size=4096)
    a, b = DiagGMM(4, n_jobs=1, **kw).fit(X), DiagGMM(4, n_jobs=-1, **kw).fit(X)
    assert np.array_equal(a.means_, b.means_) and a.log_likelihood_history_ == b.log_likelihood_history_


def test_fit_from_npy_files_and_callable_equals_fit_in_memory(tmp_path):
    X = mixture(3000, d=3, seed=3).astype(np.float32)
    paths = []
    for i, (lo, hi) in enumerate([(0, 1000), (1000, 1000), (1000, 2200), (2200, 3000)]):   # one chunk empty
        p = tmp_path / f"c{i}.npy"
        np.save(p, X[lo:hi])
        paths.append(p)
    kw = dict(max_iter=8, tol=0, random_state=0, chunk_size=500)
    ref = DiagGMM(3, **kw).fit(X)
    from_files = DiagGMM(3, **kw).fit(paths)
    calls = []

    def chunks():
        calls.append(1)
        return (X[i:i + 700] for i in range(0, 3000, 700))

    from_callable = DiagGMM(3, **kw).fit(chunks)
    for g in (from_files, from_callable):
        np.testing.assert_allclose(g.means_, ref.means_, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(g.log_likelihood_history_, ref.log_likelihood_history_, rtol=1e-6)
    assert len(calls) >= 8 + 1    # read anew on every iteration (plus the scan and the subsample)


def test_bad_chunks_are_named(tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, mixture(100, d=3))
    wrong_d = tmp_path / "wrong.npy"
    np.save(wrong_d, np.zeros((10, 4)))
    with pytest.raises(ValueError, match=r"wrong\.npy.*4 feature dimensions"):
        DiagGMM(2).fit([good, wrong_d])
    bad = mixture(100, d=3)
    bad[17, 2] = np.inf
    nanf = tmp_path / "nan.npy"
    np.save(nanf, bad)
    with pytest.raises(ValueError, match=r"nan\.npy.*NaN or infinite.*frame 17"):
        DiagGMM(2).fit([good, nanf])
    (tmp_path / "junk.npy").write_text("not an array")
    with pytest.raises(ValueError, match=r"junk\.npy: cannot read"):
        DiagGMM(2).fit([tmp_path / "junk.npy"])
    with pytest.raises(ValueError, match="no frames"):
        DiagGMM(2).fit([np.zeros((0, 3))])


def test_edge_cases_give_clear_errors_or_sane_results():
    X = mixture(200, d=3)
    X[:, 1] = 4.0
    with pytest.raises(ValueError, match=r"dimension\(s\) \[1\] are constant"):
        DiagGMM(2).fit(X)
    # duplicate points: more components than distinct frames still gives a finite model
    Y = np.repeat(mixture(3, d=2, seed=5), 50, axis=0)
    g = DiagGMM(8, max_iter=20, random_state=0).fit(Y)
    assert np.all(np.isfinite(g.means_)) and np.all(g.variances_ > 0) and abs(g.weights_.sum() - 1) < 1e-12
    with pytest.raises(ValueError, match="init must be"):
        DiagGMM(2, init="nope").fit(mixture(50))
    with pytest.raises(ValueError, match="means_init has shape"):
        DiagGMM(2, means_init=np.zeros((3, 3))).fit(mixture(50))


def test_maximize_reseeds_components_below_the_weight_floor():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((1000, 2))
    w, mu, var = np.array([0.5, 0.5]), np.array([[0.0, 0.0], [4.5, 4.5]]), np.ones((2, 2))
    stats = accumulate_stats(X, w, mu, var, dtype=np.float64)
    assert stats.n[1] > 1e-3
    w2, mu2, _ = maximize(stats, weight_floor=0.01)
    np.testing.assert_allclose(w2, [0.5, 0.5])
    assert np.linalg.norm(mu2[1]) < 2 and not np.allclose(mu2[0], mu2[1])


@pytest.mark.parametrize("init", ["kmeans++", "random", "split"])
def test_every_init_fits_and_is_reproducible(init):
    X = mixture(3000, d=3, k=5, seed=6)
    a = DiagGMM(5, init=init, random_state=3, max_iter=30).fit(X)
    b = DiagGMM(5, init=init, random_state=3, max_iter=30).fit(X)
    assert np.array_equal(a.means_, b.means_) and a.log_likelihood_history_ == b.log_likelihood_history_
    one = DiagGMM(1).fit(X)
    assert a.score(X) > one.score(X) + 0.5 and a.n_iter_ <= 30
    best = DiagGMM(5, init="random", random_state=3, max_iter=30, n_init=3).fit(X)
    assert best.lower_bound_ >= DiagGMM(5, init="random", random_state=3, max_iter=30).fit(X).lower_bound_


def test_split_init_reaches_any_k():
    X = mixture(2000, d=2, k=3, seed=8)
    g = DiagGMM(7, init="split", max_iter=1, random_state=0).fit(X)
    assert g.means_.shape == (7, 2) and len(np.unique(g.means_.round(8), axis=0)) == 7


def test_score_samples_and_predict_proba_are_consistent():
    X = mixture(500, d=3, seed=9)
    g = DiagGMM(3, random_state=0, chunk_size=64).fit(X)
    p = g.predict_proba(X)
    np.testing.assert_allclose(p.sum(1), 1)
    np.testing.assert_array_equal(p.argmax(1), g.predict(X))
    assert g.score(X) == pytest.approx(g.score_samples(X).mean())
    S, lab = g.sample(2000, random_state=1)
    assert abs(g.score(S) - g.score(X)) < 0.3 and np.bincount(lab, minlength=3).min() > 0
