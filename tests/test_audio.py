import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gmmspeech.frontend.audio import AudioError, load_audio

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


# --- formats, channels, segments ---------------------------------------------------------------------------------

FORMATS = [("wav", "WAV", "PCM_U8", 1e-2), ("wav", "WAV", "PCM_16", 1e-4), ("wav", "WAV", "PCM_24", 1e-6),
           ("wav", "WAV", "PCM_32", 1e-6), ("wav", "WAV", "FLOAT", 0), ("wav", "WAV", "DOUBLE", 0),
           ("flac", "FLAC", "PCM_24", 1e-6), ("ogg", "OGG", "VORBIS", None), ("mp3", "MP3", "MPEG_LAYER_III", None)]


@pytest.mark.parametrize("ext, fmt, subtype, atol", FORMATS, ids=[f"{f[1]}-{f[2]}" for f in FORMATS])
def test_reads_every_libsndfile_format(tmp_path, ext, fmt, subtype, atol):
    if fmt not in sf.available_formats() or subtype not in sf.available_subtypes(fmt):
        pytest.skip(f"this libsndfile cannot write {fmt}/{subtype}")
    y = tone(440, 1.0)
    p = tmp_path / f"a.{ext}"
    sf.write(str(p), y, SR, format=fmt, subtype=subtype)
    out = load_audio(p, SR)
    assert out.dtype == np.float32 and out.ndim == 1
    if atol is not None:  # lossless: sample-exact up to quantisation
        assert out.shape == y.shape
        np.testing.assert_allclose(out, y, atol=atol)
    else:  # lossy codecs: same length give or take codec padding, same dominant pitch
        assert abs(out.size - y.size) < 0.05 * SR
        peak_hz = np.argmax(np.abs(np.fft.rfft(out))) * SR / out.size
        assert abs(peak_hz - 440) < 3


def test_many_channels_are_averaged(tmp_path):
    chans = np.stack([tone(200 * (i + 1), 0.3, seed=i) for i in range(6)], axis=1)
    p = tmp_path / "six.wav"
    sf.write(str(p), chans, SR, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(p, SR), chans.mean(axis=1), atol=1e-6)


def test_segment_of_resampled_file_matches_cut_of_whole(tmp_path):
    y = tone(700, 3.0, sr=44100)
    p = write_wav(tmp_path / "a.wav", y, sr=44100, subtype="FLOAT")
    whole = load_audio(p, SR)
    seg = load_audio(p, SR, offset=1.0, duration=1.0)
    assert abs(seg.size - SR) <= 1
    # away from the segment's own edges the resampled segment equals the resampled whole
    np.testing.assert_allclose(seg[200:-200], whole[SR + 200: SR + seg.size - 200], atol=2e-3)


def test_segment_reads_only_the_segment(tmp_path, monkeypatch):
    p = write_wav(tmp_path / "long.flac", tone(300, 20.0))
    requested = []
    real_read = sf.SoundFile.read

    def spy(self, frames=-1, *args, **kwargs):
        requested.append(frames)
        return real_read(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    seg = load_audio(p, SR, offset=15.0, duration=0.5)
    assert seg.size == SR // 2 and requested == [SR // 2]


# --- one test per failure kind, on files the test writes ----------------------------------------------------------

def _one_line_error(p, match, **kwargs):
    with pytest.raises(AudioError) as ei:
        load_audio(p, SR, **kwargs)
    msg = str(ei.value)
    assert msg.startswith(str(p) + ": ") and "\n" not in msg
    assert match in msg, msg
    return msg


def test_error_empty_file(tmp_path):
    p = tmp_path / "empty.flac"
    p.write_bytes(b"")
    _one_line_error(p, "empty file (0 bytes)")


def test_error_truncated_wav(tmp_path):
    p = write_wav(tmp_path / "cut.wav", tone(300, 1.0), subtype="PCM_16")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    _one_line_error(p, "truncated file")


def test_error_truncated_flac(tmp_path):
    p = write_wav(tmp_path / "cut.flac", tone(300, 2.0) + tone(1700, 2.0, seed=2))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    _one_line_error(p, "truncated")


def test_error_not_audio(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_bytes(b"RIFF? no, just some text pretending to be audio\n" * 20)
    _one_line_error(p, "cannot decode audio")


def test_error_directory(tmp_path):
    d = tmp_path / "folder.wav"
    d.mkdir()
    _one_line_error(d, "is a directory")


def test_error_shorter_than_one_frame(tmp_path):
    p = write_wav(tmp_path / "blip.wav", tone(300, 0.01))  # 160 samples < a 25 ms frame (400)
    msg = _one_line_error(p, "too short", min_samples=400)
    assert "160 samples" in msg and "400 samples" in msg
    assert load_audio(p, SR).size == 160  # without a minimum the samples are returned


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_error_non_finite_samples(tmp_path, bad):
    y = tone(200, 0.2)
    y[50] = bad
    p = tmp_path / "bad.wav"
    sf.write(str(p), y, SR, subtype="FLOAT")
    _one_line_error(p, "NaN or infinite samples (1 of")


def test_digital_silence_is_not_an_error(tmp_path):
    p = write_wav(tmp_path / "silence.wav", np.zeros(SR, dtype=np.float32))
    y = load_audio(p, SR, min_samples=400)
    assert y.size == SR and not y.any()


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_non_regular_files_are_refused_without_opening_them(tmp_path, kind):
    """A FIFO would block the open, /dev/zero would never end: both are refused at once, naming the file."""
    from gmmspeech.frontend.audio import audio_duration, audio_info, check_regular_file

    if kind == "fifo":
        p = tmp_path / "pipe.wav"
        os.mkfifo(p)  # nobody ever writes to it: opening it for reading would wait forever
        reason = "is a named pipe (FIFO), not a regular file"
    else:
        p = Path("/dev/zero")
        reason = "is a device, not a regular file"
    for call in (lambda: load_audio(p, SR), lambda: audio_info(p), lambda: audio_duration(p),
                 lambda: check_regular_file(p)):
        with pytest.raises(AudioError) as ei:
            call()
        assert str(ei.value) == f"{p}: {reason}"
