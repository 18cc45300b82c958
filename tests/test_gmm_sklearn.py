"""DiagGMM as a scikit-learn estimator: the estimator checks, model selection, pipelines, errors and warnings."""

import logging
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from gmmspeech.core.gmm import DiagGMM, verbose_logging
from gmmspeech.infra.errors import DataError


def blobs(n=1200, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    centres = np.array([[-6.0, 0.0, 1.0], [6.0, 0.0, -1.0], [0.0, 7.0, 0.0]])
    lab = rng.integers(0, 3, n)
    return centres[lab] + rng.standard_normal((n, 3)) + offset, lab


@parametrize_with_checks([DiagGMM(2, max_iter=20, subsample=1000)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_params_are_stored_as_given_and_clone_round_trips():
    w = np.array([0.5, 0.5])
    g = DiagGMM(2, tol=1e-3, weights_init=w, n_jobs=1, dtype=np.float64)
    params = g.get_params()
    assert params["weights_init"] is w and params["n_jobs"] == 1 and params["dtype"] is np.float64
    c = clone(g)
    assert c.get_params()["tol"] == 1e-3 and not hasattr(c, "means_")
    assert g.set_params(n_components=3) is g and g.n_components == 3
    assert DiagGMM().get_params()["n_jobs"] is None   # all cores by default


def test_grid_search_picks_the_true_number_of_components_by_its_score():
    X, _ = blobs()
    search = GridSearchCV(DiagGMM(max_iter=50), {"n_components": [1, 3]}, cv=KFold(3, shuffle=True, random_state=0))
    search.fit(X)
    assert search.best_params_ == {"n_components": 3}
    assert search.best_estimator_.means_.shape == (3, 3)


def test_cross_val_score_and_pipeline():
    X, _ = blobs(offset=100.0)
    scores = cross_val_score(DiagGMM(3, max_iter=50), X, cv=3)
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    pipe = make_pipeline(StandardScaler(), DiagGMM(3, max_iter=50)).fit(X)
    assert pipe.score(X) > make_pipeline(StandardScaler(), DiagGMM(1)).fit(X).score(X)
    assert pipe.predict(X).shape == (len(X),) and pipe.score_samples(X).shape == (len(X),)


def test_fit_predict_equals_fit_then_predict():
    X, lab = blobs(seed=1)
    a = DiagGMM(3, random_state=4, max_iter=50).fit_predict(X)
    b = DiagGMM(3, random_state=4, max_iter=50).fit(X).predict(X)
    np.testing.assert_array_equal(a, b)
    # the clusters are the true ones, up to naming
    assert len({(int(p), int(t)) for p, t in zip(a, lab, strict=True)}) == 3
    # a list of blocks: labels of every frame, in order
    c = DiagGMM(3, random_state=4, max_iter=50).fit_predict([X[:500], X[500:]])
    assert c.shape == (len(X),)


def test_methods_before_fit_raise_not_fitted_error():
    g = DiagGMM(2)
    X = np.zeros((3, 2))
    for method in (g.score_samples, g.score, g.predict, g.predict_proba, g.bic, g.aic):
        with pytest.raises(NotFittedError):
            method(X)
    with pytest.raises(NotFittedError):
        g.sample(3)


def test_convergence_warning_when_em_stops_early_and_not_with_tol_zero():
    X, _ = blobs()
    with pytest.warns(ConvergenceWarning, match="did not converge in 2 EM iterations"):
        g = DiagGMM(3, max_iter=2, tol=1e-12).fit(X)
    assert not g.converged_ and g.n_iter_ == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DiagGMM(3, max_iter=2, tol=0).fit(X)            # a fixed number of iterations, as asked
        assert DiagGMM(3, max_iter=200).fit(X).converged_


@pytest.mark.parametrize("method", ["score_samples", "score", "predict", "predict_proba", "bic", "aic"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_refused_by_every_scoring_method(method, bad):
    X, _ = blobs(300)
    g = DiagGMM(3, max_iter=30).fit(X)
    Y = X[:20].copy()
    Y[7, 1] = bad
    with pytest.raises(DataError, match=r"NaN or infinite.*frame 7"):
        getattr(g, method)(Y)
    with pytest.raises(ValueError):   # DataError is a ValueError, as scikit-learn expects
        getattr(g, method)(Y)


@pytest.mark.parametrize("kwargs, match", [
    ({"weights_init": np.ones(4)}, r"weights_init has shape \(4,\), expected \(3,\)"),
    ({"variances_init": np.ones((3, 2))}, r"variances_init has shape \(3, 2\), expected \(3, 3\)"),
    ({"means_init": np.zeros((2, 3))}, r"means_init has shape \(2, 3\), expected \(3, 3\)"),
    ({"weights_init": [0.5, -0.1, 0.6]}, "non-negative"),
    ({"variances_init": np.zeros((3, 3))}, "positive"),
    ({"means_init": np.full((3, 3), np.nan)}, "finite"),
    ({"variances_init": np.ones((4, 3)), "means_init": np.zeros((3, 3))}, "variances_init has shape"),
])
def test_init_arrays_are_validated_whenever_given(kwargs, match):
    X, _ = blobs(300)
    with pytest.raises(ValueError, match=match):
        DiagGMM(3, **kwargs).fit(X)


def test_given_init_arrays_are_used_without_means_init():
    X, _ = blobs(600)
    var = np.full((3, 3), 2.0)
    g = DiagGMM(3, max_iter=1, tol=0, variances_init=var, var_floor=0).fit(X)
    ref = DiagGMM(3, max_iter=1, tol=0, var_floor=0).fit(X)
    assert not np.allclose(g.variances_, ref.variances_)   # the given variances took part in the first E-step


@pytest.mark.parametrize("kwargs", [{"n_components": 0}, {"n_components": 2.5}, {"init": "nope"}, {"tol": -1},
                                    {"max_iter": 0}, {"weight_floor": 1.0}, {"dtype": np.int32}, {"n_jobs": 0},
                                    {"var_floor": float("nan")}, {"accumulator": 3}])
def test_bad_parameters_are_refused_at_fit(kwargs):
    X, _ = blobs(100)
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        DiagGMM(**{"n_components": 2, **kwargs}).fit(X)


def test_pickled_model_scores_the_same_and_lists_of_rows_are_arrays():
    X, _ = blobs(400)
    g = DiagGMM(3, max_iter=30).fit(X.tolist())          # a list of rows is one 2-D array-like
    assert g.n_features_in_ == 3
    h = pickle.loads(pickle.dumps(g))
    np.testing.assert_array_equal(h.score_samples(X), g.score_samples(X))
    with pytest.raises(ValueError, match="3 features"):
        g.score(X[:, :2])


def test_verbose_lines_are_logged_not_printed(capsys, caplog):
    X, _ = blobs(300)
    with caplog.at_level("DEBUG", logger="gmmspeech.core.gmm"):
        DiagGMM(3, max_iter=3, tol=0).fit(X)
    assert sum("EM iteration" in r.getMessage() for r in caplog.records) == 3
    assert all(r.levelname == "DEBUG" for r in caplog.records)
    caplog.clear()
    DiagGMM(3, max_iter=2, tol=0, verbose=True).fit(X)   # root at WARNING: verbose lifts this logger to INFO
    assert [r.levelname for r in caplog.records if "EM iteration" in r.getMessage()] == ["INFO", "INFO"]
    assert logging.getLogger("gmmspeech.core.gmm").level == logging.NOTSET   # restored
    assert "EM iteration" not in capsys.readouterr().out


def test_verbose_logging_shows_lines_on_stderr_when_logging_is_not_configured(capsys):
    log = logging.getLogger("gmmspeech.tests.unconfigured")
    log.propagate = False
    with verbose_logging(log, True):
        log.info("shown")
    log.info("not shown")
    with verbose_logging(log, False):
        log.info("not shown either")
    assert capsys.readouterr().err == "shown\n" and not log.handlers
