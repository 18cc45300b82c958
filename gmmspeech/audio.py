"""Reading audio files: decode, mix down to mono, resample.

Everything that can go wrong with a file surfaces as :class:`AudioError`, a one-line message that names the
file and the reason, never a traceback from inside libsndfile or numpy.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

__all__ = ["AudioError", "load_audio", "AUDIO_EXTENSIONS"]

#: File name endings treated as audio when a folder is scanned.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".au", ".snd", ".opus")


class AudioError(Exception):
    """A file could not be turned into samples; ``str(err)`` is ``"<path>: <reason>"``."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def _resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling with soxr (librosa's default high-quality resampler)."""
    import librosa

    return librosa.resample(y, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq").astype(np.float32)


def load_audio(
    path: str | os.PathLike,
    sr: int = 16000,
    *,
    offset: float = 0.0,
    duration: float | None = None,
) -> np.ndarray:
    """Read an audio file as float32 mono samples at ``sr`` Hz.

    Parameters
    ----------
    path : file to read (any format libsndfile reads: WAV, FLAC, OGG, MP3, AIFF, ...).
    sr : target sample rate in Hz; the file is resampled when its own rate differs.
    offset : start of the segment to read, in seconds from the beginning of the file.
    duration : length of the segment in seconds; ``None`` reads to the end.

    Returns
    -------
    y : float32 array, shape (n_samples,), values nominally in [-1, 1].

    Raises
    ------
    AudioError : the file is missing, not audio, empty, or holds non-finite samples, or the segment lies
        outside the file.
    """
    p = Path(path)
    if p.is_dir():
        raise AudioError(p, "is a directory, not an audio file")
    if not p.exists():
        raise AudioError(p, "no such file")
    if offset < 0 or (duration is not None and duration <= 0):
        raise AudioError(p, f"invalid segment offset={offset} duration={duration}")
    try:
        with sf.SoundFile(str(p)) as f:
            file_sr = f.samplerate
            total = f.frames
            start = int(round(offset * file_sr))
            if total > 0 and start >= total:
                raise AudioError(p, f"segment starts at {offset:.3f} s, after the end of the file "
                                    f"({total / file_sr:.3f} s)")
            if start:
                f.seek(start)
            n = -1 if duration is None else int(round(duration * file_sr))
            data = f.read(frames=n, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AudioError(p, f"cannot decode audio ({reason})") from None
    if data.size == 0:
        raise AudioError(p, "contains no audio samples")
    y = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(y)):
        raise AudioError(p, "contains NaN or infinite samples")
    y = np.ascontiguousarray(y, dtype=np.float32)
    if file_sr != sr:
        y = _resample(y, file_sr, sr)
    return y
