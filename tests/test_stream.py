"""Streaming front end: block-by-block extraction equals whole-file extraction, in bounded memory."""

import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from gmmspeech.app.settings import resolve
from gmmspeech.frontend import fileframes, stream
from gmmspeech.frontend.audio import AudioError, iter_audio_blocks, load_audio, resampled_length, segment_samples
from gmmspeech.frontend.features import FeatureConfig, extract
from gmmspeech.frontend.stream import can_stream, stream_features

SECONDS = 200  # many 7-second blocks; short enough for a quick whole-file reference


def _speechlike(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """Gliding harmonics gated into 'syllables', faint noise, and 3 s of near-silence at 30 s (for VAD)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(120 + 40 * np.sin(2 * np.pi * 0.3 * t)) / sr
    y = sum(np.sin(k * phase) / k for k in range(1, 8))
    env = (np.sin(2 * np.pi * 0.7 * t) > -0.2) * (0.2 + 0.8 * np.abs(np.sin(2 * np.pi * 3.1 * t)))
    y = 0.3 * y * env + 0.003 * rng.standard_normal(t.size)
    y[int(30 * sr):int(33 * sr)] *= 1e-4
    return y.astype(np.float32)


@pytest.fixture(scope="module")
def wav16(tmp_path_factory):
    """16 kHz mono float WAV (no resampling)."""
    path = tmp_path_factory.mktemp("stream") / "long16.wav"
    sf.write(path, _speechlike(SECONDS, 16000), 16000, subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def flac32(tmp_path_factory):
    """32 kHz stereo 24-bit FLAC (down-mixing, resampling to 16 and 22.05 kHz)."""
    path = tmp_path_factory.mktemp("stream") / "long32.flac"
    y = _speechlike(130, 32000, seed=3)
    sf.write(path, np.stack([y, 0.5 * np.roll(y, 100)], axis=1), 32000, subtype="PCM_24")
    return path


def _assert_float32_equal(got, ref):
    """Same shape; each dimension equal to float32 rounding (1e-5 of its largest magnitude, ~80 ulps)."""
    assert got.dtype == np.float32 and got.shape == ref.shape
    scale = np.abs(ref).max(axis=0)
    err = np.abs(got - ref).max(axis=0)
    assert np.all(err <= 1e-5 * scale), f"worst dim error / scale: {np.max(err / np.maximum(scale, 1e-30)):.3g}"


def _whole(path, cfg, offset=0.0, duration=None):
    return extract(load_audio(path, cfg.sample_rate, offset=offset, duration=duration), cfg.sample_rate, cfg)


# ---- block reader ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sr,offset,duration,block", [(16000, 0.0, None, 7.0), (22050, 12.34, 100.0, 1.1)])
def test_audio_blocks_are_load_audio_bit_for_bit(flac32, sr, offset, duration, block):
    blocks = list(iter_audio_blocks(flac32, sr, offset=offset, duration=duration, block_seconds=block))
    ref = load_audio(flac32, sr, offset=offset, duration=duration)
    assert max(b.size for b in blocks) <= 2 * block * sr  # bounded, whatever the file's length
    got = np.concatenate(blocks)
    assert got.dtype == np.float32 and np.array_equal(got, ref)
    assert segment_samples(flac32, sr, offset=offset, duration=duration) == ref.size


def test_audio_blocks_without_resampling(wav16):
    got = np.concatenate(list(iter_audio_blocks(wav16, 16000, block_seconds=3.0)))
    assert np.array_equal(got, load_audio(wav16, 16000))
    assert resampled_length(1000, 16000, 16000) == 1000 and resampled_length(1000, 44100, 16000) == 363


def test_audio_blocks_report_bad_samples_and_short_files(tmp_path):
    y = _speechlike(5, 16000)
    y[40000] = np.nan
    sf.write(tmp_path / "nan.wav", y, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or infinite"):
        list(iter_audio_blocks(tmp_path / "nan.wav", 16000, block_seconds=1.0))
    sf.write(tmp_path / "short.wav", y[:100], 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="too short"):
        list(iter_audio_blocks(tmp_path / "short.wav", 16000, min_samples=400))


# ---- streamed features equal whole-file features ------------------------------------------------------------------

CONFIGS = {
    "default": FeatureConfig(),
    "language-preset": resolve("language").features,
    "vad-mean-hangover-sliding-cmvn": FeatureConfig(vad="mean", vad_hangover=7, cmvn="sliding", cmvn_window=301),
    "sdc-log-energy-vad-max": FeatureConfig(n_mfcc=7, deltas=0, sdc=True, energy="log_energy", vad="max"),
    "no-c0-deltas-no-cmvn": FeatureConfig(energy="none", deltas=1, delta_window=3, cmvn="none"),
    "chroma-timbre": FeatureConfig(chroma=True, timbre=("centroid", "bandwidth", "rolloff", "flatness", "zcr"),
                                   vad="max", preemphasis=0.0),
    "texture-rhythm-sliding": FeatureConfig(texture_window_s=1.0, rhythm=True, chroma=True, vad="max",
                                            cmvn="sliding"),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_stream_equals_whole_file(wav16, name):
    cfg = CONFIGS[name]
    assert can_stream(cfg)
    _assert_float32_equal(stream_features(wav16, cfg, block_seconds=7.0), _whole(wav16, cfg))


@pytest.mark.parametrize("task", ["speaker", "genre"])
def test_stream_equals_whole_file_resampled_segment(flac32, task):
    cfg = resolve(task).features  # genre: 22.05 kHz, 46 ms windows
    got = stream_features(flac32, cfg, offset=12.34, duration=100.0, block_seconds=9.0)
    _assert_float32_equal(got, _whole(flac32, cfg, offset=12.34, duration=100.0))


def test_windows_longer_than_blocks(flac32):
    """Blocks shorter than the sliding-CMVN, texture and rhythm windows are lengthened, still exact."""
    cfg = FeatureConfig(**{**resolve("genre").features.to_dict(), "texture_window_s": 3.0, "rhythm": True,
                           "vad": "mean", "cmvn": "sliding", "cmvn_window": 500})
    got = stream_features(flac32, cfg, offset=5.0, duration=60.0, block_seconds=1.3)
    _assert_float32_equal(got, _whole(flac32, cfg, offset=5.0, duration=60.0))


def test_spectral_contrast_falls_back_to_whole_file(wav16):
    cfg = FeatureConfig(spectral_contrast=True, vad="max")
    assert not can_stream(cfg)
    got = stream_features(wav16, cfg, duration=40.0, block_seconds=7.0)
    assert np.array_equal(got, _whole(wav16, cfg, duration=40.0))


def test_blocks_are_bounded(wav16, monkeypatch):
    """No feature computation ever sees more than one block (plus context) of signal."""
    seen = []
    real = stream.frame_features

    def spy(y, cfg, **kw):
        seen.append(y.size)
        return real(y, cfg, **kw)

    monkeypatch.setattr(stream, "frame_features", spy)
    stream_features(wav16, FeatureConfig(sdc=True), block_seconds=7.0)
    assert len(seen) == -(-SECONDS // 7) and max(seen) < 7.5 * 16000


def test_peak_memory_is_a_few_blocks(wav16):
    """numpy allocations (traced by tracemalloc) stay near the output plus a block; whole-file needs ~10x more."""
    cfg = resolve("language").features
    tracemalloc.start()
    try:
        x = stream_features(wav16, cfg, block_seconds=7.0)
        _, streamed = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        _whole(wav16, cfg)
        _, whole = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    out = SECONDS * 100 * cfg.n_dims * 4  # every frame's row, before VAD drops some
    assert x.nbytes <= out and streamed < out + 25e6 and streamed < whole / 3


# ---- file_features switches to streaming for long recordings -------------------------------------------------

def test_file_features_streams_long_recordings(wav16, monkeypatch):
    calls = []
    real = fileframes.stream_features

    def spy(*args, **kw):
        calls.append(kw)
        return real(*args, **kw)

    monkeypatch.setattr(fileframes, "stream_features", spy)
    cfg = resolve("language").features
    short = fileframes.file_features(wav16, cfg, offset=10.0, duration=60.0)  # below STREAM_MIN_SECONDS: whole
    assert calls == [] and np.array_equal(short, _whole(wav16, cfg, offset=10.0, duration=60.0))
    assert stream.STREAM_MIN_SECONDS < SECONDS
    _assert_float32_equal(fileframes.file_features(wav16, cfg), _whole(wav16, cfg))
    assert calls == [{"offset": 0.0, "duration": None}]


def test_stream_errors_name_the_file(tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000 * 20, np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="silent.wav: energy VAD kept no frame"):
        stream_features(silent, FeatureConfig(vad="max"), block_seconds=3.0)
    short = tmp_path / "short.wav"
    sf.write(short, _speechlike(2, 16000), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="short.wav: .*texture window"):
        stream_features(short, FeatureConfig(texture_window_s=5.0), block_seconds=1.0)
    with pytest.raises(AudioError, match="no such file"):
        stream_features(tmp_path / "missing.wav", FeatureConfig())
