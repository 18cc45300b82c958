"""GMM-UBM: UBM training by mix-up, MAP adaptation, top-C scoring, the UBM classifier and its model files."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from typer.testing import CliRunner

from gmmspeech.app.recipe import ModelConfig, RecipeError, load_recipe
from gmmspeech.core.gmm import DiagGMM, SuffStats, accumulate_chunks, accumulate_stats, maximize
from gmmspeech.core.map import map_adapt, topc_log_likelihoods, train_ubm
from gmmspeech.model.classifier import GMMClassifier
from gmmspeech.model.modelio import ModelFileError, load_model, save_model
from gmmspeech.model.ubm_classifier import UBMClassifier

from .conftest import toy_features


def mixture(n, *, d=3, k=4, seed=0, spread=4.0):
    """Frames of a well-separated k-component diagonal GMM, float64 (n, d)."""
    rng = np.random.default_rng(seed)
    mu = rng.standard_normal((k, d)) * spread
    lab = rng.integers(k, size=n)
    return mu[lab] + rng.standard_normal((n, d)) * rng.uniform(0.5, 1.5, (k, d))[lab]


def log_dens(X, w, mu, var):
    """(N, K) weighted log-densities, by the textbook formula (float64)."""
    return (np.log(w) - 0.5 * (((X[:, None, :] - mu) ** 2 / var).sum(-1) + np.log(2 * np.pi * var).sum(-1)))


def random_params(rng, k, d):
    return rng.dirichlet(np.ones(k)), rng.standard_normal((k, d)) * 2, rng.uniform(0.3, 2.0, (k, d))


def three_classes(n=600, seed=0, d=3):
    rng = np.random.default_rng(seed)
    return {"a": rng.standard_normal((n, d)) + [3, 0, 0][:d], "b": rng.standard_normal((n, d)) - [3, 0, 0][:d],
            "c": rng.standard_normal((n, d)) * [1, 3, 1][:d]}


# ------------------------------------------------------------------------------------------------- train_ubm
def test_mixup_grows_by_doubling_and_fits_as_well_as_kmeans():
    X = mixture(3000, k=8, seed=1)
    g = train_ubm(X, 8, init="mixup", max_iter=30)
    assert [k for k, _, _ in g.mixup_history_] == [1, 2, 4, 8]
    assert [it for _, it, _ in g.mixup_history_[1:-1]] == [3, 3]
    ref = DiagGMM(8, max_iter=100, random_state=0).fit(X)
    assert g.weights_.shape == (8,) and abs(g.weights_.sum() - 1) < 1e-12
    # same data, same K: mix-up reaches (at least nearly) the k-means++ EM optimum
    assert g.score(X) > ref.score(X) - 0.02
    lls = [ll for _, _, ll in g.mixup_history_]
    assert np.all(np.diff(lls) > 0)   # each round explains the data better


def test_mixup_with_a_fixed_step_and_kmeans_init():
    X = mixture(800, k=4, seed=2)
    g = train_ubm(X, 8, mixup_step=3, max_iter=2)
    assert [k for k, _, _ in g.mixup_history_] == [1, 4, 7, 8] and g.means_.shape == (8, 3)
    h = train_ubm(X, 8, init="kmeans++", max_iter=2)
    assert [k for k, _, _ in h.mixup_history_] == [8] and h.n_iter_ == 2


def test_train_ubm_passes_gmm_keywords_to_every_em_including_an_accumulator(tmp_path):
    """Every E-step of every round goes through a DiagGMM keyword hook (e.g. a cluster accumulator)."""
    X = mixture(900, k=4, seed=3).astype(np.float32)
    paths = []
    for i, part in enumerate(np.array_split(X, 3)):
        paths.append(tmp_path / f"part{i}.npy")
        np.save(paths[-1], part)
    calls = []

    def accumulator(items, w, mu, var, *, chunk_size, dtype):
        calls.append((len(items), len(w), chunk_size))
        return accumulate_chunks(items, w, mu, var, chunk_size=chunk_size, dtype=dtype)

    g = train_ubm(paths, 4, max_iter=3, tol=0, accumulator=accumulator, chunk_size=100)
    assert len(calls) == sum(it for _, it, _ in g.mixup_history_) == 1 + 3 + 3   # K = 1, 2, 4
    assert {c[0] for c in calls} == {3} and {c[2] for c in calls} == {100}
    assert [c[1] for c in calls] == [1] + [2] * 3 + [4] * 3
    local = train_ubm(X, 4, max_iter=3, tol=0, chunk_size=100)
    np.testing.assert_allclose(g.means_, local.means_, rtol=1e-6, atol=1e-6)


def test_train_ubm_refuses_bad_settings():
    X = mixture(100)
    with pytest.raises(ValueError, match="init"):
        train_ubm(X, 4, init="splitt")
    with pytest.raises(TypeError, match="means_init"):
        train_ubm(X, 4, means_init=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="fewer than n_components"):
        train_ubm(X[:3], 4)
    with pytest.raises(ValueError, match="NaN"):
        Y = X.copy()
        Y[5, 1] = np.nan
        train_ubm(Y, 2)


# ------------------------------------------------------------------------------------------------- map_adapt
def _ubm(rng, k=5, d=3):
    g = DiagGMM(k)
    g.weights_, g.means_, g.variances_ = random_params(rng, k, d)
    return g


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([0.5, 4.0, 16.0, 100.0]))
def test_map_follows_reynolds_equations(seed, r):
    rng = np.random.default_rng(seed)
    ubm = _ubm(rng)
    X = rng.standard_normal((200, 3)) * 2 + 1
    stats = accumulate_stats(X, ubm.weights_, ubm.means_, ubm.variances_, dtype=np.float64)
    w, mu, var = map_adapt(ubm, stats, relevance=r, adapt="mwv")
    n = stats.n
    a = (n / (n + r))[:, None]
    ex, ex2 = stats.s / n[:, None], stats.q / n[:, None]
    np.testing.assert_allclose(mu, a * ex + (1 - a) * ubm.means_, rtol=1e-10)
    w_ref = a[:, 0] * n / n.sum() + (1 - a[:, 0]) * ubm.weights_
    np.testing.assert_allclose(w, w_ref / w_ref.sum(), rtol=1e-10)
    np.testing.assert_allclose(var, a * ex2 + (1 - a) * (ubm.variances_ + ubm.means_**2) - mu**2, rtol=1e-8)
    assert abs(w.sum() - 1) < 1e-12 and np.all(var > 0)
    # means only: weights and variances are exactly the UBM's; the UBM itself is untouched
    w1, mu1, var1 = map_adapt(ubm, stats, relevance=r)
    assert np.array_equal(w1, ubm.weights_) and np.array_equal(var1, ubm.variances_)
    np.testing.assert_allclose(mu1, mu, rtol=1e-12)
    assert mu1 is not ubm.means_


def test_map_limits_tiny_relevance_is_the_ml_step_huge_is_the_ubm():
    rng = np.random.default_rng(0)
    ubm = _ubm(rng)
    X = rng.standard_normal((500, 3)) * 2
    stats = accumulate_stats(X, ubm.weights_, ubm.means_, ubm.variances_, dtype=np.float64)
    ml = maximize(stats)
    for got, want in zip(map_adapt(ubm, stats, relevance=1e-9, adapt="mwv"), ml, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    for got, want in zip(map_adapt(ubm, stats, relevance=1e12, adapt="wmv"),
                         (ubm.weights_, ubm.means_, ubm.variances_), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def test_components_a_class_never_visits_keep_the_ubm_parameters_exactly():
    rng = np.random.default_rng(1)
    ubm = _ubm(rng)
    stats = SuffStats(np.array([10.0, 0, 5, 0, 0]), rng.standard_normal((5, 3)), np.ones((5, 3)) * 50, -1.0, 15)
    stats.s[[1, 3, 4]] = 0
    stats.q[[1, 3, 4]] = 0
    w, mu, var = map_adapt(ubm, stats, adapt="mv")
    for k in (1, 3, 4):
        assert np.array_equal(mu[k], ubm.means_[k]) and np.array_equal(var[k], ubm.variances_[k])
    assert not np.allclose(mu[0], ubm.means_[0])


@pytest.mark.parametrize("kwargs, match", [
    ({"adapt": ""}, "adapt"), ({"adapt": "mx"}, "adapt"), ({"relevance": 0}, "relevance"),
    ({"relevance": float("nan")}, "relevance"),
])
def test_map_refuses_bad_settings(kwargs, match):
    rng = np.random.default_rng(0)
    ubm = _ubm(rng)
    stats = accumulate_stats(rng.standard_normal((20, 3)), ubm.weights_, ubm.means_, ubm.variances_)
    with pytest.raises(ValueError, match=match):
        map_adapt(ubm, stats, **kwargs)
    with pytest.raises(ValueError, match="do not match"):
        map_adapt(ubm, SuffStats.zeros(4, 3))


# ---------------------------------------------------------------------------------------------- top-C scoring
def _classes(rng, ubm_w, ubm_mu, ubm_var, C, shared):
    K, D = ubm_mu.shape
    mu = ubm_mu + 0.5 * rng.standard_normal((C, K, D))
    if shared:
        return np.broadcast_to(ubm_w, (C, K)).copy(), mu, np.broadcast_to(ubm_var, (C, K, D)).copy()
    return (np.stack([rng.dirichlet(np.ones(K)) for _ in range(C)]), mu,
            ubm_var * rng.uniform(0.5, 1.5, (C, K, D)))


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1), st.booleans(), st.integers(1, 12), st.sampled_from([3, 64]))
def test_topc_equals_the_exact_sum_over_each_frames_top_ubm_components(seed, shared, top_c, chunk):
    rng = np.random.default_rng(seed)
    K, D, C = 10, 3, 4
    uw, umu, uvar = random_params(rng, K, D)
    w, mu, var = _classes(rng, uw, umu, uvar, C, shared)
    X = rng.standard_normal((50, D)) * 2
    ubm_ll, cls_ll = topc_log_likelihoods(X, uw, umu, uvar, w, mu, var, top_c=top_c, chunk_size=chunk,
                                          dtype=np.float64)
    lpu = log_dens(X, uw, umu, uvar)
    top = np.argsort(-lpu, axis=1)[:, :min(top_c, K)]
    np.testing.assert_allclose(ubm_ll, logsumexp(np.take_along_axis(lpu, top, 1), axis=1), rtol=1e-10)
    for c in range(C):
        lpc = log_dens(X, w[c], mu[c], var[c])
        ref = logsumexp(np.take_along_axis(lpc, top, 1), axis=1)
        np.testing.assert_allclose(cls_ll[:, c], ref, rtol=1e-9, atol=1e-9)
        assert np.all(cls_ll[:, c] <= logsumexp(lpc, axis=1) + 1e-9)   # a lower bound on the exact value
    if top_c >= K:   # all components: exact
        np.testing.assert_allclose(ubm_ll, logsumexp(lpu, axis=1), rtol=1e-10)


def test_topc_float32_agrees_with_float64_and_is_close_to_exact_for_adapted_models():
    rng = np.random.default_rng(5)
    X = mixture(4000, d=4, k=16, seed=5)
    ubm = train_ubm(X, 16, max_iter=5)
    stats = accumulate_stats(X[:1000], ubm.weights_, ubm.means_, ubm.variances_)
    w, mu, var = map_adapt(ubm, stats)
    args = (ubm.weights_, ubm.means_, ubm.variances_, w[None], mu[None], var[None])
    T = X[rng.choice(len(X), 300, replace=False)]
    u32, c32 = topc_log_likelihoods(T, *args)
    u64, c64 = topc_log_likelihoods(T, *args, dtype=np.float64)
    assert np.abs(u32 - u64).max() < 1e-3 and np.abs(c32 - c64).max() < 1e-3
    exact = logsumexp(log_dens(T, w, mu, var), axis=1)
    assert np.abs((c64[:, 0] - u64) - (exact - ubm.score_samples(T))).mean() < 1e-2   # LLR barely changes


def test_topc_refuses_bad_input():
    rng = np.random.default_rng(0)
    uw, umu, uvar = random_params(rng, 4, 2)
    with pytest.raises(ValueError, match="top_c"):
        topc_log_likelihoods(np.zeros((3, 2)), uw, umu, uvar, uw[None], umu[None], uvar[None], top_c=0)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        topc_log_likelihoods(np.zeros((3, 5)), uw, umu, uvar, uw[None], umu[None], uvar[None])
    with pytest.raises(ValueError, match="shapes disagree"):
        topc_log_likelihoods(np.zeros((3, 2)), uw, umu, uvar, uw[None], umu[None, :3], uvar[None])


# ------------------------------------------------------------------------------------------------- classifier
@pytest.fixture(scope="module")
def fitted():
    return UBMClassifier(8, max_iter=5, random_state=0).fit(three_classes())


def test_ubm_classifier_predicts_held_out_data(fitted):
    test = three_classes(n=60, seed=1)
    assert fitted.classes_ == ["a", "b", "c"] and fitted.n_features == 3
    assert all(fitted.predict(X) == lab for lab, X in test.items())
    assert fitted.ubm_.means_.shape == (8, 3) and set(fitted.models_) == {"a", "b", "c"}
    for m in fitted.models_.values():   # adapted from the UBM: means moved, the rest shared
        assert np.array_equal(m.variances_, fitted.ubm_.variances_) and not np.allclose(m.means_, fitted.ubm_.means_)


def test_scores_are_llrs_against_the_ubm_and_topc_tracks_full_scoring(fitted):
    X = three_classes(n=80, seed=2)["c"]
    ubm_ll, cls_ll = fitted.frame_scores(X)
    np.testing.assert_allclose(fitted.frame_log_likelihoods(X), cls_ll)
    np.testing.assert_allclose(fitted.score(X), (cls_ll - ubm_ll[:, None]).mean(0))
    f_ubm, f_cls = fitted.frame_scores(X, full=True)
    np.testing.assert_allclose(f_ubm, fitted.ubm_.score_samples(X), atol=1e-4)
    for j, lab in enumerate(fitted.classes_):
        np.testing.assert_allclose(f_cls[:, j], fitted.models_[lab].score_samples(X), atol=1e-4)
    assert np.all(cls_ll <= f_cls + 1e-4)
    assert np.abs(fitted.score(X) - fitted.score(X, full=True)).max() < 0.05
    np.testing.assert_allclose(fitted.predict_proba(X).sum(), 1.0)
    top8 = UBMClassifier.from_models(fitted.ubm_, fitted.models_, top_c=8)
    np.testing.assert_allclose(top8.score(X), fitted.score(X, full=True), atol=1e-4)


def test_per_file_lists_train_the_same_models_as_arrays():
    data = three_classes(n=400, seed=3)
    files = {lab: np.array_split(X, 7) for lab, X in data.items()}
    a = UBMClassifier(4, max_iter=4).fit(data)
    b = UBMClassifier(4, max_iter=4).fit(files)
    for lab in data:
        np.testing.assert_allclose(a.models_[lab].means_, b.models_[lab].means_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.reject_thresholds_, b.reject_thresholds_, rtol=1e-5)
    pa = GMMClassifier(n_components=3, random_state=0).fit(data)
    pb = GMMClassifier(n_components=3, random_state=0).fit(files)
    for lab in data:
        np.testing.assert_allclose(pa.models_[lab].means_, pb.models_[lab].means_, rtol=1e-4, atol=1e-5)


def test_ubm_classifier_runs_every_e_step_through_an_accumulator_on_the_files(tmp_path):
    """With DiagGMM(accumulator=...) (the cluster hook), the UBM's EM and the MAP statistics go through it, on the
    memory-mapped per-file blocks themselves (whose paths a cluster sends), and give the local models."""
    from gmmspeech.model.cluster import feature_file_path

    files = {}
    for lab, X in three_classes(300).items():
        files[lab] = []
        for i, part in enumerate(np.array_split(X.astype(np.float32), 3)):
            np.save(tmp_path / f"{lab}{i}.npy", part)
            files[lab].append(np.load(tmp_path / f"{lab}{i}.npy", mmap_mode="r"))
    seen = []

    def accumulator(items, w, mu, var, *, chunk_size, dtype):
        seen.append([feature_file_path(it) for it in items])   # refuses in-memory arrays
        return accumulate_chunks(items, w, mu, var, chunk_size=chunk_size, dtype=dtype)

    remote = UBMClassifier(4, max_iter=2, tol=0, accumulator=accumulator).fit(files)
    local = UBMClassifier(4, max_iter=2, tol=0).fit(files)
    assert [len(s) for s in seen] == [9] * (1 + 3 + 2) + [3] * 3   # UBM rounds K = 1, 2, 4; MAP per class
    for lab in files:
        np.testing.assert_allclose(remote.models_[lab].means_, local.models_[lab].means_, rtol=1e-4, atol=1e-5)


def test_open_set_thresholds_are_in_llr_units(fitted):
    thr = fitted.open_set_thresholds()
    assert thr.shape == (3,) and np.all(np.isfinite(thr))
    assert fitted.calibration_["optimism_correction"] == "aic_effective_map"
    # about the quantile (1%) of a class's own 50-frame training segments fall below its threshold
    seg = fitted.frame_llrs(three_classes()["a"])[:, 0].reshape(-1, 50).mean(1)
    assert np.mean(seg < thr[0]) <= 0.05
    # a file no class claims more than the background does (drawn from the UBM itself) is rejected; ratios
    # against the UBM do not flag outliers far from all the data (gmmspeech.model.novelty does that)
    background, _ = fitted.ubm_.sample(300, random_state=9)
    assert np.all(fitted.score(background) < thr) and fitted.predict_open_set(background) == "unknown"
    assert fitted.predict_open_set(three_classes(n=100, seed=4)["b"]) == "b"


def test_ubm_classifier_refuses_bad_input():
    with pytest.raises(ValueError, match="no classes"):
        UBMClassifier(2).fit({})
    with pytest.raises(ValueError, match="fewer than the 8"):
        UBMClassifier(8).fit({"a": np.random.default_rng(0).standard_normal((5, 2))})
    with pytest.raises(ValueError, match="no frames"):
        UBMClassifier(2).fit({"a": np.ones((50, 2)), "b": []})
    with pytest.raises(ValueError, match="adapt"):
        UBMClassifier(2, adapt="q").fit(three_classes(50))
    with pytest.raises(ValueError, match="top_c"):
        UBMClassifier(2, top_c=0).fit(three_classes(50))


def test_ubm_classifier_rejects_bad_frames(fitted):
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        fitted.score(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        fitted.score(np.full((4, 3), np.nan))


# ---------------------------------------------------------------------------------------------- model files
def test_model_file_round_trip_keeps_the_ubm_scores_and_thresholds(tmp_path, fitted):
    p = tmp_path / "ubm.npz"
    save_model(fitted, p, features=toy_features(fitted))
    clf, meta = load_model(p)
    assert isinstance(clf, UBMClassifier) and clf.classes_ == fitted.classes_
    assert meta.model_type == "ubm_map" and (meta.map.relevance, meta.map.top_c, meta.map.adapt) == (16.0, 5, "m")
    X = three_classes(n=50, seed=6)["b"]
    np.testing.assert_array_equal(clf.score(X), fitted.score(X))
    np.testing.assert_array_equal(clf.score(X, full=True), fitted.score(X, full=True))
    np.testing.assert_array_equal(clf.reject_thresholds_, fitted.reject_thresholds_)
    np.testing.assert_array_equal(clf.ubm_.means_, fitted.ubm_.means_)
    # a per-class model records its type too, and still loads as before
    pc = GMMClassifier(n_components=2).fit(three_classes(100))
    save_model(pc, tmp_path / "pc.npz", features=toy_features(pc))
    clf2, meta2 = load_model(tmp_path / "pc.npz")
    assert meta2.model_type == "per_class" and type(clf2) is GMMClassifier


def _rewrite(tmp_path, src, drop=(), meta=None, **arrays):
    with np.load(src, allow_pickle=False) as z:
        out = {k: z[k] for k in z.files if k not in drop}
    out.update(arrays)
    if meta is not None:
        m = json.loads(str(out["meta"]))
        for k, v in meta.items():
            if v is None:
                m.pop(k, None)
            else:
                m[k] = v
        out["meta"] = np.array(json.dumps(m))
    p = tmp_path / "bad.npz"
    np.savez(p, **out)
    return p


@pytest.mark.parametrize("change, message", [
    ({"drop": ("ubm_means",)}, "missing ubm_means"),
    ({"ubm_means": np.zeros((8, 2))}, "UBM array shapes"),
    ({"ubm_weights": np.full(8, 0.5)}, "UBM weights"),
    ({"ubm_variances": -np.ones((8, 3))}, "UBM variances"),
    ({"ubm_means": np.full((8, 3), np.nan)}, "UBM means must be finite"),
    ({"ubm_weights": np.array(["x"] * 8)}, "floating-point"),
    ({"meta": {"model_type": "per_class"}}, "must not hold UBM arrays"),
    ({"meta": {"model_type": "gmm_svm"}}, "unknown model_type"),
    ({"meta": {"map": None}}, "'map' metadata"),
    ({"meta": {"map": {"relevance": -1, "top_c": 5, "adapt": "m"}}}, "relevance"),
    ({"meta": {"map": {"relevance": 16, "top_c": 0, "adapt": "m"}}}, "top_c"),
    ({"meta": {"map": {"relevance": 16, "top_c": 5, "adapt": "z"}}}, "adapt"),
])
def test_invalid_ubm_model_files_are_refused(tmp_path, fitted, change, message):
    p = tmp_path / "ubm.npz"
    save_model(fitted, p, features=toy_features(fitted))
    with pytest.raises(ModelFileError, match=message) as ei:
        load_model(_rewrite(tmp_path, p, **change))
    assert "bad.npz" in str(ei.value)


def test_a_model_without_model_type_is_per_class(tmp_path, fitted):
    p = tmp_path / "ubm.npz"
    save_model(fitted, p, features=toy_features(fitted))
    bad = _rewrite(tmp_path, p, meta={"model_type": None})
    with pytest.raises(ModelFileError, match="must not hold UBM arrays"):
        load_model(bad)
    old = _rewrite(tmp_path, p, drop=("ubm_weights", "ubm_means", "ubm_variances"),
                   meta={"model_type": None, "map": None})
    clf, _ = load_model(old)
    assert type(clf) is GMMClassifier


# ----------------------------------------------------------------------------------------- recipe, CLI
def test_recipe_model_type_and_map_settings(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text('[data]\ntrain="a.csv"\n[model]\ntype="ubm_map"\nrelevance=8\ntop_c=3\nadapt="mw"\ninit="split"\n')
    m = load_recipe(p).model
    assert (m.type, m.relevance, m.top_c, m.adapt) == ("ubm_map", 8, 3, "mw")
    assert m.ubm_params()["init"] == "mixup" and m.ubm_params()["relevance"] == 8.0
    assert ModelConfig().type == "per_class"
    for body, needle in (('type="svm"', "model.type"), ("relevance=0", "model.relevance"),
                         ("top_c=1.5", "model.top_c"), ('adapt="x"', "model.adapt")):
        p.write_text(f'[data]\ntrain="a.csv"\n[model]\n{body}\n')
        with pytest.raises(RecipeError, match=needle) as ei:
            load_recipe(p)
        assert str(p) in str(ei.value)


def test_cli_trains_evaluates_and_inspects_a_ubm_model(toy_corpus, tmp_path):
    from gmmspeech.cli import app

    runner = CliRunner()
    config = tmp_path / "feats.toml"
    config.write_text('[features]\ncmvn = "none"\n')
    model = tmp_path / "ubm.npz"
    # tones and noise occupy separate regions of feature space, so each class owns its own UBM components: what
    # tells them apart is the weights ("w"); means-only MAP leaves every class model close to the UBM here
    r = runner.invoke(app, ["train", str(toy_corpus["train"]), "-o", str(model), "--model-type", "ubm_map",
                            "--components", "8", "--top-c", "3", "--relevance", "8", "--adapt", "mw",
                            "--config", str(config),
                            "--jobs", "1", "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    clf, meta = load_model(model)
    assert isinstance(clf, UBMClassifier) and clf.top_c == 3 and clf.relevance == 8.0 and clf.adapt == "mw"
    assert meta.training.model["type"] == "ubm_map" and meta.training.ubm["iterations"] <= 8
    r = runner.invoke(app, ["evaluate", str(model), str(toy_corpus["test"]), "--report", str(tmp_path / "rep"),
                            "--jobs", "1", "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "rep" / "metrics.json").read_text())["accuracy"] == 1.0
    r = runner.invoke(app, ["inspect", str(model)], catch_exceptions=False)
    assert r.exit_code == 0 and "ubm_map" in r.output and "LLR" in r.output
    r = runner.invoke(app, ["train", str(toy_corpus["train"]), "-o", str(model), "--model-type", "svm"])
    assert r.exit_code == 2
