"""Reading audio files: decode, mix down to mono, resample.

Everything that can go wrong with a file surfaces as :class:`AudioError`, a one-line message that names the
file and the reason, never a traceback from inside libsndfile or numpy.

Decoding is libsndfile's (through ``soundfile``): WAV (PCM 8/16/24/32-bit, float, double), FLAC, OGG/Vorbis,
Opus, MP3 (libsndfile >= 1.1), AIFF, AU and more. A segment (``offset``/``duration``) is read by seeking,
so cutting a few seconds out of an hour-long file reads only those seconds.

Long recordings can be read block by block (:func:`iter_audio_blocks`) with bounded memory; the blocks put
together are bit for bit what :func:`load_audio` returns.

Resampling uses soxr's "HQ" band-limited resampler through ``librosa.resample(res_type="soxr_hq")``: it is
librosa's default (so no new dependency), far faster than FFT or sinc-table resamplers at equal quality, and
its passband/stopband (flat to ~95 % of Nyquist, >= 100 dB rejection) keeps aliasing out of the mel bands.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from ..infra.errors import GmmspeechError

__all__ = ["AudioError", "load_audio", "iter_audio_blocks", "segment_samples", "resampled_length", "audio_info",
           "audio_duration", "check_regular_file", "not_regular_reason", "AUDIO_EXTENSIONS", "UNREADABLE_FORMATS",
           "unreadable_format"]

#: File name endings treated as audio when a folder is scanned.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".au", ".snd", ".opus")


class AudioError(GmmspeechError):
    """A file could not be turned into samples; ``str(err)`` is ``"<path>: <reason>"``."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def not_regular_reason(mode: int) -> str | None:
    """Why a file of this ``st_mode`` cannot be read as audio (e.g. ``"is a named pipe (FIFO), not a regular
    file"``), or ``None`` for a regular file. Reading a FIFO or a device could block forever or never end."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not an audio file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def check_regular_file(path: str | os.PathLike) -> os.stat_result:
    """``os.stat`` of a path that must be a regular file (symlinks followed), without opening it.

    Raises :class:`AudioError` naming the file when it is missing, unreadable, a directory, a FIFO, a device or
    a socket -- before anything could block on it.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise AudioError(path, "no such file") from None
    except OSError as exc:
        raise AudioError(path, f"cannot read file ({exc.strerror or _first_line(exc)})") from None
    reason = not_regular_reason(st.st_mode)
    if reason:
        raise AudioError(path, reason)
    return st


def _resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling with soxr HQ (see the module docstring for why)."""
    import librosa

    return librosa.resample(y, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq").astype(np.float32)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _wav_truncation(path: Path) -> str | None:
    """For a RIFF/WAVE file, a reason string when its data chunk is shorter than the header declares."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            size = os.fstat(f.fileno()).st_size
            pos = 12
            while pos + 8 <= size:
                f.seek(pos)
                cid, clen = struct.unpack("<4sI", f.read(8))
                if cid == b"data":
                    have = size - pos - 8
                    if clen not in (0, 0xFFFFFFFF) and have < clen:
                        return f"truncated file: the WAV header declares {clen} data bytes but only {have} are present"
                    return None
                pos += 8 + clen + (clen & 1)
    except OSError:
        return None
    return None


def audio_info(path: str | os.PathLike) -> tuple[int, int, int]:
    """``(sample_rate, n_frames, n_channels)`` of an audio file without decoding it (raises :class:`AudioError`)."""
    p = Path(path)
    check_regular_file(p)
    try:
        info = sf.info(str(p))
    except sf.LibsndfileError as exc:
        raise _undecodable(p, exc) from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is reported in one line
        raise AudioError(p, f"cannot decode audio ({_first_line(exc)})") from None
    return info.samplerate, info.frames, info.channels


def audio_duration(path: str | os.PathLike) -> float:
    """Length of an audio file in seconds, read from its header (raises :class:`AudioError`)."""
    sr, frames, _ = audio_info(path)
    return frames / sr if sr else 0.0


#: Common audio formats libsndfile does not decode, by extension (shown with what to do about them).
UNREADABLE_FORMATS = {".m4a": "m4a/AAC", ".aac": "AAC", ".mp4": "MP4", ".wma": "WMA", ".webm": "WebM",
                      ".amr": "AMR", ".ape": "Monkey's Audio"}


def unreadable_format(path: str | os.PathLike) -> str | None:
    """What to say about a file whose extension names a format libsndfile cannot decode, else None."""
    q = Path(path)
    fmt = UNREADABLE_FORMATS.get(q.suffix.lower())
    if fmt is None:
        return None
    return f"{fmt} is not read by libsndfile (the decoder gmmspeech uses): convert it, e.g. ffmpeg -i '{q.name}' " \
           f"'{q.stem}.flac'"


def _undecodable(p: Path, exc: BaseException) -> AudioError:
    """The error for a file libsndfile cannot open: what to do for known unsupported formats."""
    hint = unreadable_format(p)
    if hint:
        return AudioError(p, f"cannot decode audio: {hint}")
    return AudioError(p, f"cannot decode audio: not a recognised or well-formed audio file ({_first_line(exc)})")


def _corrupt(exc: BaseException) -> str:
    return f"cannot decode audio: truncated or corrupt data after the header ({_first_line(exc)})"


def _open_segment(p: Path, offset: float, duration: float | None) -> tuple[sf.SoundFile, int, int, int]:
    """Checks and opens ``p`` for reading a segment: ``(open file positioned at the segment, file rate, first
    frame, frames wanted)``; raises :class:`AudioError` for every problem found before decoding."""
    st = check_regular_file(p)
    if offset < 0 or (duration is not None and duration <= 0):
        raise AudioError(p, f"invalid segment offset={offset} duration={duration}")
    if st.st_size == 0:
        raise AudioError(p, "cannot decode audio: empty file (0 bytes)")
    truncated = _wav_truncation(p)
    if truncated:
        raise AudioError(p, truncated)
    try:
        f = sf.SoundFile(str(p))
    except sf.LibsndfileError as exc:
        raise _undecodable(p, exc) from None
    except Exception as exc:  # noqa: BLE001 - permissions, odd OS errors: one line naming the file
        raise AudioError(p, f"cannot decode audio ({_first_line(exc)})") from None
    file_sr, total = f.samplerate, f.frames
    start = int(round(offset * file_sr))
    if total > 0 and start >= total:
        f.close()
        raise AudioError(p, f"segment starts at {offset:.3f} s, after the end of the file "
                            f"({total / file_sr:.3f} s)")
    want = total - start if duration is None else min(int(round(duration * file_sr)), total - start)
    try:
        if start:
            f.seek(start)
    except Exception as exc:  # noqa: BLE001 - decoder errors mid-stream
        f.close()
        raise AudioError(p, _corrupt(exc)) from None
    return f, file_sr, start, want


def _check_decoded(p: Path, n_read: int, want: int, offset: float) -> None:
    """AudioError when nothing, or clearly less than the header declares, could be decoded."""
    if n_read == 0:
        raise AudioError(p, "contains no audio samples")
    if n_read < want - max(0.01 * want, 2048):  # tolerance: MP3 headers without an index only estimate
        raise AudioError(p, f"truncated file: the header declares {want} samples from offset {offset:g} s, "
                            f"only {n_read} could be decoded")


def _mono(data: np.ndarray) -> np.ndarray:
    """(n, channels) float32 -> (n,) float32, channels averaged (the same arithmetic for a block as a whole file)."""
    return data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]


def load_audio(
    path: str | os.PathLike,
    sr: int = 16000,
    *,
    offset: float = 0.0,
    duration: float | None = None,
    min_samples: int = 1,
) -> np.ndarray:
    """Read an audio file (or a segment of it) as float32 mono samples at ``sr`` Hz.

    Parameters
    ----------
    path : file to read (any format libsndfile reads: WAV, FLAC, OGG, MP3, AIFF, ...).
    sr : target sample rate in Hz; the file is resampled (soxr HQ) when its own rate differs.
    offset : start of the segment to read, in seconds from the beginning of the file.
    duration : length of the segment in seconds; ``None`` reads to the end.
    min_samples : fewer samples than this (after resampling) is an error -- pass the analysis window
        length so a file too short for one feature frame is reported here, with its name.

    Returns
    -------
    y : float32 array, shape (n_samples,), values nominally in [-1, 1]; channels are averaged.

    Raises
    ------
    AudioError : the path is missing or not a regular file (a directory, FIFO or device); the file is empty,
        not audio, truncated or corrupt, holds NaN/Inf samples, is shorter than ``min_samples``; or the segment
        lies outside the file.
    """
    p = Path(path)
    f, file_sr, start, want = _open_segment(p, offset, duration)
    with f:
        try:
            data = f.read(frames=-1 if duration is None else want, dtype="float32", always_2d=True)
        except Exception as exc:  # noqa: BLE001 - decoder errors mid-stream
            raise AudioError(p, _corrupt(exc)) from None
    _check_decoded(p, data.shape[0], want, offset)
    y = _mono(data)
    if not np.isfinite(y).all():
        raise AudioError(p, f"contains NaN or infinite samples ({int(np.sum(~np.isfinite(y)))} of {y.size})")
    y = np.ascontiguousarray(y, dtype=np.float32)
    if file_sr != sr:
        y = _resample(y, file_sr, sr)
    if y.size < min_samples:
        raise AudioError(p, f"too short: {y.size} samples ({1000 * y.size / sr:.1f} ms at {sr} Hz) is less than "
                            f"one analysis frame ({min_samples} samples)")
    return y


def resampled_length(n_samples: int, orig_sr: int, target_sr: int) -> int:
    """Samples that :func:`load_audio` returns for ``n_samples`` decoded at ``orig_sr`` and resampled to ``target_sr``.

    Parameters
    ----------
    n_samples : decoded samples (per channel) at ``orig_sr`` Hz.
    orig_sr, target_sr : sample rates in Hz.

    Returns
    -------
    int : ``n_samples`` when the rates are equal, else ``ceil(n_samples * target_sr / orig_sr)`` (librosa's
    length, to which the resampled signal is trimmed or zero-padded).
    """
    if orig_sr == target_sr:
        return int(n_samples)
    return int(np.ceil(n_samples * (float(target_sr) / orig_sr)))


def segment_samples(path: str | os.PathLike, sr: int = 16000, *, offset: float = 0.0,
                    duration: float | None = None) -> int:
    """Samples :func:`load_audio` returns for these arguments, read from the file's header (nothing is decoded).

    Parameters
    ----------
    path, sr, offset, duration : as :func:`load_audio`.

    Returns
    -------
    int : length at ``sr`` Hz (exact for WAV, FLAC and most formats; an estimate for MP3 without an index).

    Raises
    ------
    AudioError : as :func:`load_audio` for a missing, unreadable or non-audio file or a segment outside it.
    """
    f, file_sr, _, want = _open_segment(Path(path), offset, duration)
    f.close()
    return resampled_length(max(want, 0), file_sr, sr)


def iter_audio_blocks(
    path: str | os.PathLike,
    sr: int = 16000,
    *,
    offset: float = 0.0,
    duration: float | None = None,
    block_seconds: float = 60.0,
    min_samples: int = 1,
) -> Iterator[np.ndarray]:
    """Read an audio file (or a segment of it) block by block, as float32 mono samples at ``sr`` Hz.

    The blocks are consecutive and do not overlap; put together they are exactly what :func:`load_audio` returns
    for the same arguments (same decoding and down-mixing; resampling with soxr's streaming resampler, which gives
    bit for bit the output of the one-shot soxr HQ resampler ``load_audio`` uses, trimmed or zero-padded to the
    same length). Memory stays at a few blocks whatever the length of the file.

    Parameters
    ----------
    path : file to read (any format libsndfile reads).
    sr : target sample rate in Hz.
    offset, duration : the segment to read, in seconds (``duration=None``: to the end), as in :func:`load_audio`.
    block_seconds : decoded audio per read, in seconds of the file (> 0); blocks are about this long, except the
        first, which the resampler's delay shortens, and the last.
    min_samples : a signal shorter than this in total (after resampling) is an error.

    Yields
    ------
    y : float32 array (n,), ``n >= 1``, the next samples at ``sr`` Hz, nominally in [-1, 1].

    Raises
    ------
    AudioError : as :func:`load_audio` (the problems found while decoding are raised when that block is reached;
        a truncated file and a too-short signal after the last block).
    """
    if not block_seconds > 0:
        raise ValueError(f"block_seconds must be > 0, got {block_seconds}")
    p = Path(path)
    f, file_sr, _, want = _open_segment(p, offset, duration)
    resampler = None
    if file_sr != sr:
        import soxr  # the library librosa's "soxr_hq" calls (a librosa dependency)

        resampler = soxr.ResampleStream(file_sr, sr, 1, dtype="float32", quality="HQ")
    step = max(1, int(round(block_seconds * file_sr)))
    n_read = n_out = 0
    pending = np.zeros(0, np.float32)  # held back one block, so the end can be trimmed to librosa's length
    with f:
        while duration is None or n_read < want:
            n = step if duration is None else min(step, want - n_read)
            try:
                data = f.read(frames=n, dtype="float32", always_2d=True)
            except Exception as exc:  # noqa: BLE001 - decoder errors mid-stream
                raise AudioError(p, _corrupt(exc)) from None
            if data.shape[0] == 0:
                break
            y = np.ascontiguousarray(_mono(data), dtype=np.float32)
            del data
            if not np.isfinite(y).all():
                raise AudioError(p, f"contains NaN or infinite samples ({int(np.sum(~np.isfinite(y)))} in the block "
                                    f"at {offset + n_read / file_sr:.3f}-{offset + (n_read + y.size) / file_sr:.3f} s)")
            n_read += y.size
            short = y.size < n
            if resampler is not None:
                y = resampler.resample_chunk(y, last=False)
            if y.size:
                if pending.size:
                    n_out += pending.size
                    yield pending
                pending = y
            if short:
                break
    _check_decoded(p, n_read, want, offset)
    if resampler is not None:
        pending = np.concatenate([pending, resampler.resample_chunk(np.zeros(0, np.float32), last=True)])
        target = resampled_length(n_read, file_sr, sr)
        extra = n_out + pending.size - target
        if extra > 0:
            pending = pending[:max(0, pending.size - extra)]
        elif extra < 0:
            pending = np.concatenate([pending, np.zeros(-extra, np.float32)])
    if n_out + pending.size < min_samples:
        raise AudioError(p, f"too short: {n_out + pending.size} samples ({1000 * (n_out + pending.size) / sr:.1f} ms "
                            f"at {sr} Hz) is less than one analysis frame ({min_samples} samples)")
    if pending.size:
        yield pending
