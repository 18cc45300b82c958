"""Music descriptors: agreement with librosa, rhythm on click tracks, texture statistics, dimensions."""

from __future__ import annotations

import numpy as np
import pytest

from gmmspeech.frontend import music
from gmmspeech.frontend.features import FeatureConfig, extract, power_spectrogram

SR = 22050
MUSIC = dict(sample_rate=SR, frame_length_ms=46.4, frame_shift_ms=23.2, n_mels=64, n_mfcc=20, fmin=0.0,
             preemphasis=0.0, lifter=0.0, deltas=1, cmvn="none")


def clicks(bpm: float, seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A click track: short decaying noise bursts every beat, plus faint noise."""
    rng = np.random.default_rng(seed)
    y = 0.002 * rng.standard_normal(int(seconds * sr))
    burst = rng.standard_normal(int(0.03 * sr)) * np.exp(-np.arange(int(0.03 * sr)) / (0.005 * sr))
    for t in np.arange(0.1, seconds - 0.05, 60.0 / bpm):
        i = int(t * sr)
        y[i:i + len(burst)] += 0.5 * burst[: len(y) - i]
    return y.astype(np.float32)


def chord(seconds: float, freqs=(261.63, 329.63, 392.0), sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.2 * sum(np.sin(2 * np.pi * f * t) for f in freqs)).astype(np.float32)


def test_chroma_matches_librosa_and_finds_the_notes():
    import librosa

    cfg = FeatureConfig(**MUSIC)
    p = power_spectrogram(chord(2.0), cfg)
    ours = music.chroma(p, SR, cfg.n_fft)
    ref = librosa.feature.chroma_stft(S=p.T, sr=SR, n_fft=cfg.n_fft, tuning=0.0).T
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    top3 = set(np.argsort(-ours[20])[:3])
    assert top3 == {0, 4, 7}  # C, E, G


def test_spectral_contrast_matches_librosa():
    import librosa

    cfg = FeatureConfig(**MUSIC)
    p = power_spectrogram(chord(1.0) + clicks(120, 1.0), cfg)
    ours = music.spectral_contrast(p, SR, cfg.n_fft)
    ref = librosa.feature.spectral_contrast(S=np.sqrt(p.T), sr=SR, n_fft=cfg.n_fft, fmin=200.0, n_bands=6).T
    assert ours.shape == (p.shape[0], music.CONTRAST_DIMS)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-3)


def test_spectral_contrast_works_at_low_sample_rates():
    cfg = FeatureConfig(sample_rate=8000, fmin=0.0)
    p = power_spectrogram(np.random.default_rng(0).standard_normal(8000).astype(np.float32), cfg)
    assert np.isfinite(music.spectral_contrast(p, 8000, cfg.n_fft)).all()


def test_timbre_centroid_of_a_tone_is_its_frequency():
    cfg = FeatureConfig(**MUSIC)
    t = np.arange(SR) / SR
    y = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    p = power_spectrogram(y, cfg)
    frames = np.lib.stride_tricks.sliding_window_view(y, cfg.win_length)[:: cfg.hop_length]
    tb = music.timbre(p, frames, SR, cfg.n_fft, music.TIMBRE_FEATURES)
    import librosa

    mag = np.sqrt(p.T)
    for i, ref in enumerate([librosa.feature.spectral_centroid(S=mag, sr=SR, n_fft=cfg.n_fft),
                             librosa.feature.spectral_bandwidth(S=mag, sr=SR, n_fft=cfg.n_fft),
                             librosa.feature.spectral_rolloff(S=mag, sr=SR, n_fft=cfg.n_fft)]):
        np.testing.assert_allclose(np.exp(tb[:, i]), ref[0], rtol=2e-3)
    centroid, bandwidth, rolloff, flatness, zcr = np.median(tb, axis=0)
    assert abs(np.exp(centroid) - 1000) < 200 and abs(np.exp(rolloff) - 1000) < 30
    assert flatness < -30
    assert abs(zcr - 2000 / SR) < 0.002  # two zero crossings per period
    noise = np.random.default_rng(1).standard_normal(SR).astype(np.float32) * 0.1
    tn = music.timbre(power_spectrogram(noise, cfg), None, SR, cfg.n_fft, ("flatness",))
    assert np.median(tn) > -8  # white noise is flat


def test_texture_stats_equal_brute_force():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((50, 4)).astype(np.float32) * 10 + 1000
    out = music.texture_stats(x, 7)
    for t in (0, 3, 25, 49):
        lo = min(max(t - 3, 0), 50 - 7)
        w = x[lo:lo + 7].astype(np.float64)
        np.testing.assert_allclose(out[t, :4], w.mean(0), rtol=1e-6)
        np.testing.assert_allclose(out[t, 4:], w.std(0), rtol=1e-4)
    with pytest.raises(ValueError, match="texture window"):
        music.texture_stats(x[:5], 7)


@pytest.mark.parametrize("bpm, band, absent", [(120, 2, (1, 3, 4)), (60, 0, (1, 2, 3, 4)), (200, 4, (3,))])
def test_rhythm_peaks_in_the_band_of_the_tempo(bpm, band, absent):
    """The tempo's band (and its sub-multiples: autocorrelation also peaks at 2, 3... beats) is high; bands
    the tempo cannot explain stay low."""
    cfg = FeatureConfig(**MUSIC, rhythm=True, rhythm_window_s=3.0)
    x = extract(clicks(bpm, 8.0), SR, cfg)
    r = np.median(x[:, -music.rhythm_dims():-1], axis=0)
    assert r[band] > 0.5, r
    assert all(r[b] < 0.25 for b in absent), r


def test_rhythm_strength_separates_percussive_from_sustained():
    cfg = FeatureConfig(**MUSIC, rhythm=True)
    drums = extract(clicks(100, 5.0), SR, cfg)[:, -1]
    noise = 0.002 * np.random.default_rng(0).standard_normal(int(5.0 * SR)).astype(np.float32)  # as in clicks()
    pad = extract(chord(5.0) + noise, SR, cfg)[:, -1]
    assert np.median(drums) > np.median(pad) + 0.3


@pytest.mark.parametrize("sr", [22050, 44100])
@pytest.mark.parametrize("opts", [
    dict(spectral_contrast=True),
    dict(chroma=True, timbre=["centroid", "zcr"]),
    dict(texture_window_s=1.0, rhythm=True, spectral_contrast=True),
    dict(texture_window_s=0.5, chroma=True, timbre=("flatness",), rhythm=True, preemphasis=0.97),
])
def test_dimensions_match_the_config(sr, opts):
    cfg = FeatureConfig(**{**MUSIC, "sample_rate": sr, **opts})
    x = extract(clicks(110, 3.0, sr=sr) + chord(3.0, sr=sr), sr, cfg)
    assert x.shape[1] == cfg.n_dims and x.dtype == np.float32 and np.isfinite(x).all()
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg


def test_clip_shorter_than_a_texture_window_is_an_error_naming_the_file(tmp_path):
    from gmmspeech.data.featstore import features_for
    from gmmspeech.data.manifest import Utterance
    from gmmspeech.frontend.audio import AudioError

    from .conftest import write_wav

    p = write_wav(tmp_path / "short.wav", chord(0.8), sr=SR)
    cfg = FeatureConfig(**MUSIC, texture_window_s=1.0)
    with pytest.raises(AudioError) as ei:
        features_for(Utterance(p, "x"), cfg)
    assert "short.wav" in str(ei.value) and "texture window" in str(ei.value)


@pytest.mark.parametrize("bad, needle", [
    (dict(timbre=["loudness"]), "timbre"),
    (dict(texture_window_s=-1), "texture_window_s"),
    (dict(rhythm="yes"), "rhythm"),
    (dict(rhythm_window_s=0.1), "rhythm_window_s"),
])
def test_bad_music_settings_are_refused(bad, needle):
    with pytest.raises(ValueError, match=needle):
        FeatureConfig(**bad)
