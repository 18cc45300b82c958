import numpy as np
import pytest

from gmmspeech.frontend.features import FeatureConfig, cmvn, deltas, extract, mfcc

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


# --- new settings: energy, SDC, sliding CMVN, VAD -----------------------------------------------------------------

import dataclasses  # noqa: E402
import json  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

from gmmspeech.frontend.features import frame_energy_db, sdc, vad_mask  # noqa: E402

DIM_CASES = [
    ({}, 39),
    ({"energy": "log_energy"}, 39),
    ({"energy": "none"}, 36),
    ({"energy": "none", "deltas": 1, "n_mfcc": 20}, 38),
    ({"n_mfcc": 7, "deltas": 0, "sdc": True}, 56),
    ({"n_mfcc": 7, "deltas": 0, "sdc": True, "energy": "none", "sdc_n": 6}, 6 + 42),
    ({"sdc": True}, 39 + 49),
    ({"n_mfcc": 20, "deltas": 1, "sdc": True, "sdc_n": 10, "sdc_k": 3}, 40 + 30),
    ({"vad": "max", "cmvn": "sliding"}, 39),
]


@pytest.mark.parametrize("kw, dims", DIM_CASES)
def test_dimension_formula_for_every_configuration(kw, dims):
    cfg = FeatureConfig(**kw)
    x = extract(tone(300, 1.0) + tone(2000, 1.0, seed=5), SR, cfg)
    assert cfg.n_dims == dims == x.shape[1]
    assert x.dtype == np.float32 and np.isfinite(x).all()


def test_default_config_is_mfcc_deltas_utterance_cmvn_without_vad_or_sdc():
    cfg = FeatureConfig()
    assert (cfg.energy, cfg.deltas, cfg.cmvn, cfg.vad, cfg.sdc) == ("c0", 2, "utterance", "none", False)
    assert cfg.n_dims == 39


def test_log_energy_replaces_c0_and_none_drops_it():
    y = tone(300, 0.5)
    base = FeatureConfig(deltas=0, cmvn="none")
    c = extract(y, SR, base)
    e = extract(y, SR, dataclasses.replace(base, energy="log_energy"))
    frames = np.lib.stride_tricks.sliding_window_view(y.astype(np.float64), base.win_length)[:: base.hop_length]
    np.testing.assert_allclose(e[:, 0], np.log((frames ** 2).sum(1)), rtol=1e-5)
    np.testing.assert_array_equal(e[:, 1:], c[:, 1:])
    np.testing.assert_array_equal(extract(y, SR, dataclasses.replace(base, energy="none")), c[:, 1:])


def _naive_sdc(c, n, d, p, k):
    t = len(c)
    at = lambda j: c[min(max(j, 0), t - 1), :n]  # noqa: E731 - edge repetition
    return np.array([np.concatenate([at(s + i * p + d) - at(s + i * p - d) for i in range(k)]) for s in range(t)])


@settings(max_examples=40, deadline=None)
@given(c=arrays(np.float32, st.tuples(st.integers(1, 30), st.integers(3, 8)),
                elements=st.floats(-100, 100, width=32)),
       d=st.integers(1, 3), p=st.integers(1, 4), k=st.integers(1, 5))
def test_sdc_matches_the_definition(c, d, p, k):
    n = c.shape[1] - 1
    out = sdc(c, n, d, p, k)
    assert out.shape == (len(c), n * k) and out.dtype == np.float32
    np.testing.assert_allclose(out, _naive_sdc(c.astype(np.float64), n, d, p, k), rtol=1e-5, atol=1e-3)


def test_sdc_block_i_is_the_delta_shifted_by_i_p():
    c = np.cumsum(np.random.default_rng(0).standard_normal((60, 7)), axis=0).astype(np.float32)
    out = sdc(c)  # 7-1-3-7
    first = out[:, :7]
    for i in range(7):
        np.testing.assert_array_equal(out[10:40, 7 * i: 7 * i + 7], first[10 + 3 * i: 40 + 3 * i])


@settings(max_examples=30, deadline=None)
@given(x=arrays(np.float32, st.tuples(st.integers(2, 60), st.integers(1, 4)), elements=st.floats(-50, 50, width=32)),
       window=st.integers(2, 20))
def test_sliding_cmvn_matches_a_naive_window(x, window):
    out = cmvn(x, "sliding", window)
    t = len(x)
    if t <= window:
        np.testing.assert_allclose(out, cmvn(x, "utterance"), atol=1e-3)
        return
    for i in range(t):
        lo = min(max(i - window // 2, 0), t - window)
        seg = x[lo: lo + window].astype(np.float64)
        sd = seg.std(0)
        expect = np.where(sd > 1e-3, (x[i] - seg.mean(0)) / np.maximum(sd, 1e-8), out[i])
        np.testing.assert_allclose(out[i], expect, rtol=1e-3, atol=1e-3)


def test_sliding_cmvn_removes_a_slow_channel_drift_that_utterance_cmvn_keeps():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3000, 2)) + np.linspace(0, 20, 3000)[:, None]).astype(np.float32)
    slid = cmvn(x, "sliding", 300)
    utt = cmvn(x, "utterance")
    assert abs(slid[:300].mean()) < 0.5 and abs(slid[-300:].mean()) < 0.5
    assert utt[:300].mean() < -1 and utt[-300:].mean() > 1


def _bursts(on_s=0.5, off_s=0.5, n=3):
    """Alternating ``on_s`` of tone and ``off_s`` of faint noise, starting with silence; returns (y, on-mask)."""
    rng = np.random.default_rng(1)
    parts, mask = [], []
    for _ in range(n):
        parts += [1e-3 * rng.standard_normal(int(off_s * SR)), tone(400, on_s)]
        mask += [np.zeros(int(off_s * SR), bool), np.ones(int(on_s * SR), bool)]
    return np.concatenate(parts).astype(np.float32), np.concatenate(mask)


def test_vad_keeps_the_loud_frames_and_hangover_widens_them():
    y, on = _bursts()
    cfg = FeatureConfig(vad="max", vad_hangover=0)
    e = frame_energy_db(y, cfg.win_length, cfg.hop_length)
    frame_on = np.array([on[i * cfg.hop_length: i * cfg.hop_length + cfg.win_length].mean() > 0.5
                         for i in range(len(e))])
    strict = vad_mask(e, "max", hangover=0)
    assert np.mean(strict == frame_on) > 0.98
    wide = vad_mask(e, "max", hangover=5)
    # 5 frames on each side of the 3 bursts, except after the last one, which ends the signal
    assert wide.sum() - strict.sum() == pytest.approx(5 * 5, abs=2)
    assert np.all(wide[strict])
    assert np.array_equal(vad_mask(e, "mean", hangover=0), strict)  # the mean sits between the two levels
    x = extract(y, SR, cfg)
    assert len(x) == strict.sum() and cfg.n_dims == x.shape[1]
    np.testing.assert_allclose(x.mean(0), 0, atol=1e-3)  # CMVN over the kept frames only


def test_vad_threshold_is_relative_to_the_reference():
    e = np.array([-20, -25, -45, -60, -30], dtype=np.float32)
    assert vad_mask(e, "max", -30, hangover=0).tolist() == [True, True, True, False, True]
    assert vad_mask(e, "max", -5, hangover=0).tolist() == [True, False, False, False, False]
    assert vad_mask(e, "mean", 0, hangover=0).tolist() == [True, True, False, False, True]  # mean = -36


def test_vad_on_digital_silence_raises_a_clear_error():
    silent = np.zeros(SR, dtype=np.float32)
    assert np.all(extract(silent, SR, FeatureConfig()) == 0)  # not an error without VAD
    with pytest.raises(ValueError, match="VAD kept no frame .* silent or too quiet"):
        extract(silent, SR, FeatureConfig(vad="max"))


def test_every_field_round_trips_through_dict_and_json():
    cfg = FeatureConfig(n_mfcc=7, deltas=0, energy="none", cmvn="sliding", cmvn_window=150, vad="mean",
                        vad_threshold_db=-6.0, vad_hangover=3, sdc=True, sdc_n=6, sdc_d=2, sdc_p=2, sdc_k=5,
                        fmax=7000.0, lifter=0.0)
    d = cfg.to_dict()
    assert set(d) == {f.name for f in dataclasses.fields(FeatureConfig)}
    assert FeatureConfig.from_dict(json.loads(json.dumps(d))) == cfg


def test_dicts_from_before_the_new_fields_still_load_with_old_meaning():
    old = {"sample_rate": 16000, "frame_length_ms": 25.0, "frame_shift_ms": 10.0, "n_mels": 40, "n_mfcc": 20,
           "fmin": 20.0, "fmax": None, "preemphasis": 0.97, "lifter": 22.0, "deltas": 2, "delta_window": 2,
           "cmvn": "utterance"}
    cfg = FeatureConfig.from_dict(old)
    assert cfg == FeatureConfig(n_mfcc=20) and cfg.n_dims == 60


@pytest.mark.parametrize("kw, word", [({"energy": "c1"}, "energy"), ({"vad": "on"}, "vad"),
                                      ({"cmvn": "window"}, "cmvn"), ({"cmvn_window": 1}, "cmvn_window"),
                                      ({"vad_hangover": -1}, "vad_hangover"), ({"vad_threshold_db": 3.0}, "vad_thr"),
                                      ({"sdc": True, "sdc_n": 14}, "sdc_n"), ({"sdc_k": 0}, "sdc_k"),
                                      ({"energy": "none", "n_mfcc": 1}, "n_mfcc")])
def test_invalid_new_settings_are_named(kw, word):
    with pytest.raises(ValueError, match=word):
        FeatureConfig(**kw)


# --- the mel filterbank ---------------------------------------------------------------------------------------------

import subprocess  # noqa: E402
import sys  # noqa: E402

from gmmspeech.frontend.features import hz_to_mel, mel_filterbank, mel_to_hz  # noqa: E402


def test_filterbank_triangles_have_height_one_and_overlap_to_unity():
    fb = mel_filterbank(16000, 512, 40, 20.0, 8000.0)
    assert fb.shape == (40, 257) and fb.min() >= 0 and fb.max() <= 1
    # HTK's construction: between the first and the last centre every bin is shared by two neighbouring
    # filters whose weights add up to 1 (no area normalisation)
    centres = mel_to_hz(np.linspace(hz_to_mel(20.0), hz_to_mel(8000.0), 42)[1:-1])
    freqs = np.arange(257) * 16000 / 512
    inner = (freqs >= centres[0]) & (freqs <= centres[-1])
    np.testing.assert_allclose(fb[:, inner].sum(axis=0), 1.0, atol=1e-12)
    assert np.all((fb > 0).sum(axis=0) <= 2)
    assert not fb[:, freqs <= 20.0].any() and not fb[:, freqs >= 8000.0].any()


def test_filter_whose_centre_falls_on_a_bin_peaks_at_one():
    # 4 filters from 0 Hz: the second centre is at 2/5 of mel(fmax); put it on bin 10 (312.5 Hz)
    fmax = float(mel_to_hz(2.5 * hz_to_mel(10 * 16000 / 512)))
    fb = mel_filterbank(16000, 512, 4, 0.0, fmax)
    assert fb[1, 10] == pytest.approx(1.0, abs=1e-9)
    assert fb[1, 9] < 1 and fb[1, 11] < 1 and fb[0, 10] == fb[2, 10] == 0


def test_filterbank_rejects_bad_band_and_warns_about_empty_filters():
    with pytest.raises(ValueError, match="fmin"):
        mel_filterbank(16000, 512, 40, 100.0, 9000.0)
    with pytest.raises(ValueError, match="n_mels"):
        mel_filterbank(16000, 512, 0)
    with pytest.warns(UserWarning, match="cover no FFT bin"):
        extract(tone(300, 0.5, sr=8000), 8000, FeatureConfig(sample_rate=8000, frame_length_ms=16, n_mels=80,
                                                              fmin=0.0))


def test_extract_does_not_import_librosa():
    # cold start of the command line: the speech front end needs numpy and scipy.fft only
    code = ("import sys, numpy as np\n"
            "from gmmspeech.frontend.features import FeatureConfig, extract\n"
            "extract(np.random.default_rng(0).standard_normal(16000).astype(np.float32), 16000, FeatureConfig())\n"
            "print(sorted(m for m in ('librosa', 'numba', 'scipy.signal') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("key, value", [("n_mels", 1e6), ("sample_rate", 10**9), ("frame_shift_ms", 0.01),
                                        ("delta_window", 3_000_000), ("vad_hangover", 300), ("n_mels", "40")])
def test_settings_out_of_range_are_refused_naming_the_key(key, value):
    with pytest.raises(ValueError, match=f"{key} must be"):
        FeatureConfig(**{key: value})


def test_a_long_vad_hangover_on_a_short_file():
    """A hangover longer than the file (2 x 100 frames around a 0.3-s clip) used to raise an IndexError."""
    y = np.random.default_rng(0).standard_normal(4800).astype(np.float32) * 0.1
    x = extract(y, 16000, FeatureConfig(vad="max", vad_hangover=100))
    assert x.shape[0] == 28 and np.isfinite(x).all()
