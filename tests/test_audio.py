import numpy as np
import pytest
import soundfile as sf

from gmmspeech.audio import AudioError, load_audio

from .conftest import SR, tone, write_wav


def test_reads_flac_as_float32_mono(tmp_path):
    y = tone(440, 1.0)
    p = write_wav(tmp_path / "a.flac", y)
    out = load_audio(p, SR)
    assert out.dtype == np.float32 and out.ndim == 1
    assert out.shape == y.shape
    np.testing.assert_allclose(out, y, atol=1e-4)  # 16-bit quantisation


@pytest.mark.parametrize("file_sr", [8000, 22050, 44100])
def test_resamples_to_target_rate_keeping_pitch(tmp_path, file_sr):
    p = write_wav(tmp_path / "a.wav", tone(500, 1.0, sr=file_sr), sr=file_sr)
    out = load_audio(p, SR)
    assert abs(out.size - SR) <= 2
    spectrum = np.abs(np.fft.rfft(out))
    peak_hz = np.argmax(spectrum) * SR / out.size
    assert abs(peak_hz - 500) < 3


def test_stereo_is_mixed_to_mono(tmp_path):
    left, right = tone(300, 0.5), tone(900, 0.5, seed=1)
    p = tmp_path / "st.wav"
    sf.write(str(p), np.stack([left, right], axis=1), SR, subtype="FLOAT")
    out = load_audio(p, SR)
    np.testing.assert_allclose(out, (left + right) / 2, atol=1e-6)


def test_offset_and_duration_cut_a_segment(tmp_path):
    y = np.arange(SR * 2, dtype=np.float32) / (SR * 2)
    p = tmp_path / "ramp.wav"
    sf.write(str(p), y, SR, subtype="FLOAT")
    seg = load_audio(p, SR, offset=0.5, duration=0.25)
    assert seg.size == SR // 4
    np.testing.assert_allclose(seg, y[SR // 2: SR // 2 + SR // 4])


@pytest.mark.parametrize("make, reason", [
    (lambda d: d / "missing.wav", "no such file"),
    (lambda d: d, "directory"),
    (lambda d: (d / "text.wav").write_text("hello, not audio") and d / "text.wav", "cannot decode"),
    (lambda d: (d / "empty.wav").write_bytes(b"") is not None and d / "empty.wav", "cannot decode"),
])
def test_bad_files_raise_audio_error_naming_file(tmp_path, make, reason):
    p = make(tmp_path)
    with pytest.raises(AudioError) as ei:
        load_audio(p, SR)
    assert str(p) in str(ei.value) and reason in str(ei.value)
    assert "\n" not in str(ei.value)


def test_nan_samples_are_rejected(tmp_path):
    y = tone(200, 0.2)
    y[100] = np.nan
    p = tmp_path / "nan.wav"
    sf.write(str(p), y, SR, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(p, SR)


def test_zero_length_wav_is_rejected(tmp_path):
    p = tmp_path / "zero.wav"
    sf.write(str(p), np.zeros(0, dtype=np.float32), SR)
    with pytest.raises(AudioError, match="no audio samples"):
        load_audio(p, SR)


def test_offset_past_end_is_rejected(tmp_path):
    p = write_wav(tmp_path / "short.wav", tone(200, 0.5))
    with pytest.raises(AudioError, match="after the end"):
        load_audio(p, SR, offset=2.0)
