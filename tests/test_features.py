import numpy as np
import pytest

from gmmspeech.features import FeatureConfig, cmvn, deltas, extract, mfcc

from .conftest import SR, tone


@pytest.mark.parametrize("n_mfcc, order, dims", [(13, 2, 39), (20, 2, 60), (13, 0, 13), (20, 1, 40)])
def test_feature_dimension_matches_config(n_mfcc, order, dims):
    cfg = FeatureConfig(n_mfcc=n_mfcc, deltas=order)
    x = extract(tone(300, 1.0), SR, cfg)
    assert cfg.n_dims == dims
    assert x.shape == (1 + (SR - cfg.win_length) // cfg.hop_length, dims)
    assert x.dtype == np.float32


def test_cmvn_normalises_each_dimension():
    x = extract(tone(300, 1.0) + tone(1200, 1.0, seed=3), SR, FeatureConfig())
    np.testing.assert_allclose(x.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(x.std(0), 1, atol=1e-3)


def test_cmvn_leaves_constant_dimension_zero():
    x = np.ones((50, 3), dtype=np.float32)
    x[:, 1] = np.arange(50)
    out = cmvn(x)
    assert np.all(np.isfinite(out)) and np.all(out[:, 0] == 0)


def test_deltas_of_a_ramp_are_its_slope_inside():
    x = (np.arange(40, dtype=np.float32) * 0.5)[:, None]
    d = deltas(x, window=2)
    np.testing.assert_allclose(d[2:-2, 0], 0.5, rtol=1e-6)


def test_mfcc_tells_low_from_high_tones():
    cfg = FeatureConfig(deltas=0, cmvn="none")
    low, high = mfcc(tone(200, 0.5), cfg), mfcc(tone(3000, 0.5), cfg)
    assert np.linalg.norm(low.mean(0) - high.mean(0)) > 5 * low.std(0).mean()


def test_wrong_sample_rate_and_short_signal_raise():
    cfg = FeatureConfig()
    with pytest.raises(ValueError, match="Hz"):
        extract(tone(300, 0.5, sr=8000), 8000, cfg)
    with pytest.raises(ValueError, match="shorter than one analysis frame"):
        extract(np.zeros(100, dtype=np.float32), SR, cfg)


def test_config_round_trip_and_unknown_key():
    cfg = FeatureConfig(n_mfcc=20, cmvn="none")
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="n_mfc"):
        FeatureConfig.from_dict({"n_mfc": 3})
    with pytest.raises(ValueError, match="deltas"):
        FeatureConfig(deltas=3)
