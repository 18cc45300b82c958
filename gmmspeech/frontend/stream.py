"""Feature frames of long recordings, block by block, in bounded memory.

:func:`stream_features` returns what ``extract(load_audio(path, ...), ...)`` returns (equal to float32 rounding)
without ever holding the decoded signal or its spectrogram for the whole file: an hour of audio is 230 MB of
float32 samples at 16 kHz and its STFT over 1 GB, while the features themselves are 56 MB (39 dims, 100 frames/s).
:func:`gmmspeech.frontend.fileframes.file_features` switches to it for recordings longer than
:data:`STREAM_MIN_SECONDS`, so scoring, evaluation and training (through the feature cache) all stream.

How each stage stays exact:

* **Signal.** :func:`~gmmspeech.frontend.audio.iter_audio_blocks` decodes ``block_seconds`` at a time and resamples
  with soxr's streaming resampler, bit for bit the one-shot resampler of ``load_audio``.
* **Frames.** Frames ``[f0, f1)`` are computed from the samples of frames ``[f0 - L, f1 + R)`` (clipped at the ends
  of the recording), where ``(L, R)`` = :func:`~gmmspeech.frontend.features.frame_context` covers deltas,
  delta-deltas and SDC; pre-emphasis continues from the sample before the block. The extra rows are dropped.
  Chroma and timbre depend on their own frame only (spectral contrast does not, see below).
* **VAD.** Frame energies of the whole recording (4 bytes a frame) are kept, so the mask (reference max or mean
  energy, hangover) is :func:`~gmmspeech.frontend.features.vad_mask` of the same array; unvoiced rows are then
  squeezed out of the output in place.
* **CMVN.** Utterance CMVN: per-dimension mean, then variance around it, accumulated in float64 over the voiced
  rows, then applied block-wise (:func:`~gmmspeech.frontend.features.cmvn_apply`). Sliding CMVN, texture windows
  (:func:`~gmmspeech.frontend.music.texture_stats`) and the rhythm descriptor
  (:func:`~gmmspeech.frontend.music.rhythm`) are centred windows: each block is computed with a window (twice
  the window for rhythm, whose local mean is itself windowed) of context on each side.
* **Rhythm** needs the onset envelope, and that is floored 80 dB below the loudest log-mel value of the whole
  recording, known only after the first pass: with ``rhythm=True`` the file is decoded a second time to make the
  envelope (4 bytes a frame).

What differs from whole-file extraction is summation order: float64 statistics summed block by block, and BLAS
products over blocks of a different size, so values agree to float32 rounding (within about 2e-6 of each
dimension's largest magnitude, a few to a few tens of float32 ulps), not bit for bit.

**Falls back to whole-file extraction:** ``spectral_contrast=True`` (:func:`can_stream` is false). librosa's
spectral contrast floors every band's peak and valley 80 dB below the loudest peak and the loudest valley of the
*whole recording*; :func:`gmmspeech.frontend.music.spectral_contrast` does not expose those two maxima, so block by
block it cannot reproduce the floors (values differ in near-silent frames). Such recordings are extracted whole,
with the whole-file memory peak (about 40 MB per minute of audio).

Memory: the output array (``n_frames x n_dims`` float32, allocated once from the header's length and shrunk in
place after VAD), 13 bytes a frame of energies, VAD mask and kept-row indices, and one block's signal, frames and
spectrogram (about 60 MB at 60 s blocks and 16 kHz). ``benchmarks/bench_long_audio.py`` measures it: 125 MB peak
for 10 minutes, 170 MB for 60 and 280 MB for 180 (of which 9, 54 and 161 MB are the returned array), against
465 MB and 2.4 GB whole-file for 10 and 60 minutes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from .audio import AudioError, iter_audio_blocks, load_audio, segment_samples
from .features import (
    VAD_ABSOLUTE_FLOOR_DB,
    FeatureConfig,
    cmvn,
    cmvn_apply,
    extract,
    frame_context,
    frame_features,
    log_mel,
    power_spectrogram,
    vad_mask,
)
from .music import onset_strength, rhythm, rhythm_dims, texture_stats

__all__ = ["stream_features", "can_stream", "STREAM_MIN_SECONDS", "DEFAULT_BLOCK_SECONDS"]

#: Recordings (or segments) longer than this many seconds are extracted block by block by ``file_features``.
#: Below it, whole-file extraction is used: its peak (about 40 MB per minute of audio) is small there.
STREAM_MIN_SECONDS = 120.0
#: Seconds of audio per block: large enough that block overheads (context frames, Python calls) are negligible,
#: small enough that a block's signal and spectrogram take a few tens of MB.
DEFAULT_BLOCK_SECONDS = 60.0


def stream_features(path: str | os.PathLike, cfg: FeatureConfig, *, offset: float = 0.0,
                    duration: float | None = None, block_seconds: float = DEFAULT_BLOCK_SECONDS) -> np.ndarray:
    """Feature frames of a recording (or a segment of it), computed block by block in bounded memory.

    Parameters
    ----------
    path : audio file (any format :func:`~gmmspeech.frontend.audio.load_audio` reads).
    cfg : feature configuration; with ``spectral_contrast=True`` the file is extracted whole (:func:`can_stream`).
    offset, duration : the segment, in seconds (``duration=None``: to the end of the file).
    block_seconds : seconds of audio decoded and framed at a time (> 0); smaller blocks use less memory. Blocks
        are lengthened to at least the sliding-CMVN, texture and rhythm windows.

    Returns
    -------
    float32 array (n_frames, cfg.n_dims): the frames ``extract(load_audio(path, ...), cfg.sample_rate, cfg)``
    returns, equal to float32 rounding; peak memory is that array plus a few blocks (when :func:`can_stream`).

    Raises
    ------
    AudioError : naming the file, for anything ``file_features`` reports (unreadable or corrupt audio, a signal
        shorter than one frame or one texture window, VAD keeping no frame).
    """
    if not block_seconds > 0:
        raise ValueError(f"block_seconds must be > 0, got {block_seconds}")
    try:
        if not can_stream(cfg):
            y = load_audio(path, cfg.sample_rate, offset=offset, duration=duration, min_samples=cfg.win_length)
            return extract(y, cfg.sample_rate, cfg)
        return _stream(path, cfg, offset, duration, block_seconds)
    except AudioError:
        raise
    except ValueError as exc:
        raise AudioError(path, str(exc)) from None


def can_stream(cfg: FeatureConfig) -> bool:
    """Whether :func:`stream_features` extracts ``cfg``'s features block by block (else it reads the file whole).

    Parameters
    ----------
    cfg : feature configuration.

    Returns
    -------
    bool : false only with ``spectral_contrast=True`` (see the module docstring).
    """
    return not cfg.spectral_contrast


def _stream(path, cfg: FeatureConfig, offset: float, duration: float | None, block_seconds: float) -> np.ndarray:
    win, hop, sr = cfg.win_length, cfg.hop_length, cfg.sample_rate
    n_frame_dims, n_dims = cfg.n_frame_dims, cfg.n_dims
    widths = [cfg.cmvn_window if cfg.cmvn == "sliding" else 0, cfg.texture_frames,
              cfg.rhythm_frames if cfg.rhythm else 0]
    block = max(1, int(round(block_seconds * 1000 / cfg.frame_shift_ms)), 2 * max(widths))

    def signal() -> Iterator[np.ndarray]:
        return iter_audio_blocks(path, sr, offset=offset, duration=duration, block_seconds=block_seconds,
                                 min_samples=win)

    n_est = segment_samples(path, sr, offset=offset, duration=duration)
    n_est = 1 + (n_est - win) // hop if n_est >= win else 1
    out = np.empty((n_est, n_dims), np.float32)
    energy = np.empty(n_est, np.float32) if cfg.vad != "none" else None
    left, right = frame_context(cfg)
    lm_max = -np.inf

    # pass 1: per-frame features of every frame, frame energies, loudest log-mel value
    windows = _FrameWindows(signal(), win, hop, block, left, right)
    for f0, f1, g0, y, prev in windows:
        ff = frame_features(y, cfg, prev_sample=prev, keep_log_mel=cfg.rhythm)
        if f1 > out.shape[0]:  # the header under-estimated the length (MP3 without an index): grow
            rows = max(f1, out.shape[0] + out.shape[0] // 8)
            out.resize((rows, n_dims), refcheck=False)
            if energy is not None:
                energy.resize(rows, refcheck=False)
        out[f0:f1, :n_frame_dims] = ff.x[f0 - g0:f1 - g0]
        if energy is not None:
            energy[f0:f1] = ff.energy_db[f0 - g0:f1 - g0]
        if cfg.rhythm:
            lm_max = max(lm_max, float(ff.log_mel[f0 - g0:f1 - g0].max()))
        del ff, y
    n = windows.n_frames
    if cfg.texture_window_s and n < cfg.texture_frames:
        raise ValueError(f"{windows.n_samples / sr:.2f} s of audio ({n} frames) is shorter than one texture window "
                         f"({cfg.texture_window_s:g} s = {cfg.texture_frames} frames)")

    if cfg.rhythm:  # pass 2: the onset envelope, floored relative to the whole recording's loudest value
        onset = _onset_envelope(signal(), cfg, n, np.float32(lm_max), block)
        width = cfg.rhythm_frames
        for a, b, s, e in _spans(n, block, 2 * width):
            out[a:b, n_dims - rhythm_dims():] = rhythm(onset[s:e], 1000.0 / cfg.frame_shift_ms, width)[a - s:b - s]
        del onset

    if energy is not None:
        keep = vad_mask(energy[:n], cfg.vad, cfg.vad_threshold_db, cfg.vad_hangover)
        if not keep.any():
            raise ValueError(f"energy VAD kept no frame of {n} (loudest frame {energy[:n].max():.1f} dBFS; vad="
                             f"{cfg.vad!r}, floor {VAD_ABSOLUTE_FLOOR_DB:g} dBFS): the audio is silent or too quiet")
        del energy
        n = _compact(out, np.flatnonzero(keep), block)
        if cfg.texture_window_s and n < cfg.texture_frames:
            raise ValueError(f"energy VAD kept {n} frames, fewer than one texture window "
                             f"({cfg.texture_frames} frames)")

    feats = slice(0, n_frame_dims)
    if cfg.cmvn == "utterance" or (cfg.cmvn == "sliding" and n <= cfg.cmvn_window):
        _utterance_cmvn(out, n, feats, block)
    elif cfg.cmvn == "sliding":
        w = cfg.cmvn_window
        _windowed(out, n, feats, feats, w, lambda v: cmvn(v, "sliding", w), block)
    if cfg.texture_window_s:
        w = cfg.texture_frames
        _windowed(out, n, feats, slice(0, 2 * n_frame_dims), w, lambda v: texture_stats(v, w), block)
    if n != out.shape[0]:
        out.resize((n, n_dims), refcheck=False)  # in place: no view of ``out`` is alive here
    return out


class _FrameWindows:
    """Iterates ``(f0, f1, g0, y, prev)`` over blocks of frames of a signal given as consecutive sample blocks.

    ``y`` holds the samples of frames ``[g0, g1)`` = ``[f0 - left, f1 + right)`` clipped to the signal, ``prev`` the
    sample before ``y[0]`` (``None`` at the start of the signal). After the loop, :attr:`n_frames` and
    :attr:`n_samples` hold the signal's totals.
    """

    def __init__(self, blocks: Iterable[np.ndarray], win: int, hop: int, block: int, left: int, right: int):
        self.blocks, self.win, self.hop, self.block, self.left, self.right = iter(blocks), win, hop, block, left, right
        self.n_frames = self.n_samples = 0

    def __iter__(self) -> Iterator[tuple[int, int, int, np.ndarray, float | None]]:
        win, hop = self.win, self.hop
        buf, buf0, eof, f0 = np.zeros(0, np.float32), 0, False, 0  # buf holds samples [buf0, buf0 + len(buf))
        while True:
            need = (f0 + self.block + self.right - 1) * hop + win
            parts = [buf]
            have = buf0 + buf.size
            while not eof and have < need:
                chunk = next(self.blocks, None)
                if chunk is None:
                    eof = True
                else:
                    parts.append(chunk)
                    have += chunk.size
            buf = np.concatenate(parts) if len(parts) > 1 else buf
            del parts
            if eof:
                self.n_samples = buf0 + buf.size
                self.n_frames = 1 + (self.n_samples - win) // hop if self.n_samples >= win else 0
                f1 = min(f0 + self.block, self.n_frames)
                g1 = min(f1 + self.right, self.n_frames)
            else:
                f1 = f0 + self.block
                g1 = f1 + self.right
            if f1 <= f0:
                return
            g0 = max(0, f0 - self.left)
            s, e = g0 * hop, (g1 - 1) * hop + win
            prev = float(buf[s - 1 - buf0]) if s else None
            yield f0, f1, g0, buf[s - buf0:e - buf0], prev
            f0 = f1
            drop = max(0, max(0, f0 - self.left) * hop - 1)  # keep the sample before the next block's first frame
            buf, buf0 = buf[drop - buf0:], drop


def _onset_envelope(blocks: Iterable[np.ndarray], cfg: FeatureConfig, n: int, lm_max: np.float32,
                    block: int) -> np.ndarray:
    """Onset strength (n,) of the whole recording, block by block.

    :func:`onset_strength` floors its input 80 dB below the input's loudest value; a leading row equal to the
    whole recording's loudest log-mel value ``lm_max`` makes every block use the whole recording's floor. The
    row after it is the frame before the block (one frame of left context), so the flux of the block's first
    frame is exact too.
    """
    onset = np.zeros(n, np.float32)
    lead = np.full((1, cfg.n_mels), lm_max, np.float32)
    for f0, f1, g0, y, prev in _FrameWindows(blocks, cfg.win_length, cfg.hop_length, block, 1, 0):
        lm = log_mel(power_spectrogram(y, cfg, prev_sample=prev), cfg)
        o = onset_strength(np.concatenate([lead, lm]))[1:]  # o[i]: onset of frame g0 + i (i >= 1)
        hi = min(f1, n)
        if f0 < hi:
            onset[f0:hi] = o[f0 - g0:hi - g0]
        if f0 == 0:
            onset[0] = 0.0  # as onset_strength: the first frame of the recording has no predecessor
    return onset


def _spans(n: int, block: int, ctx: int) -> Iterator[tuple[int, int, int, int]]:
    """``(a, b, s, e)``: blocks ``[a, b)`` of ``range(n)`` and their spans ``[s, e)`` with ``ctx`` rows of context."""
    for a in range(0, n, block):
        b = min(n, a + block)
        yield a, b, max(0, a - ctx), min(n, b + ctx)


def _compact(out: np.ndarray, idx: np.ndarray, block: int) -> int:
    """Moves rows ``idx`` (increasing) of ``out`` to its top, in place, block by block; returns ``len(idx)``."""
    for a in range(0, idx.size, block):
        rows = idx[a:a + block]
        out[a:a + rows.size] = out[rows]  # reads rows >= a + j, writes row a + j: nothing unread is lost
    return int(idx.size)


def _utterance_cmvn(out: np.ndarray, n: int, cols: slice, block: int) -> None:
    """Utterance CMVN of ``out[:n, cols]`` in place: float64 mean, then variance around it, then normalise."""
    spans = [(a, min(n, a + block)) for a in range(0, n, block)]
    total = np.zeros(cols.stop - cols.start)
    for a, b in spans:
        total += out[a:b, cols].sum(axis=0, dtype=np.float64)
    mean = total / n
    sq = np.zeros_like(total)
    for a, b in spans:
        d = out[a:b, cols].astype(np.float64) - mean
        sq += np.einsum("ij,ij->j", d, d)
    std = np.sqrt(sq / n)
    for a, b in spans:
        out[a:b, cols] = cmvn_apply(out[a:b, cols], mean, std)


def _windowed(out: np.ndarray, n: int, src: slice, dst: slice, ctx: int,
              fn: Callable[[np.ndarray], np.ndarray], block: int) -> None:
    """Applies a centred-window transform to rows ``[0, n)`` of ``out`` in place, block by block.

    ``fn`` maps (m, len(src)) rows to (m, len(dst)) rows, each output row depending on input rows within ``ctx``
    of it (clipped windows at the ends of its input). Each block is given ``ctx`` rows of context on each side;
    the raw rows of the left context, already overwritten in ``out``, are carried over from the previous block.
    """
    carry = out[0:0, src].copy()
    for a, b, s, e in _spans(n, block, ctx):
        inp = np.concatenate([carry, out[a:e, src]])  # rows [s, e), a copy
        out[a:b, dst] = fn(inp)[a - s:b - s]
        carry = inp[max(0, b - ctx) - s:b - s].copy()
        del inp

