"""Features of an audio file (or a segment of it): decode, resample, extract -- one call, errors name the file.

Recordings longer than :data:`~gmmspeech.frontend.stream.STREAM_MIN_SECONDS` are extracted block by block
(:func:`~gmmspeech.frontend.stream.stream_features`: the same frames to float32 rounding, in bounded memory);
shorter ones are decoded and extracted whole, as before.
"""

from __future__ import annotations

import os

import numpy as np

from .audio import AudioError, load_audio, segment_samples
from .features import FeatureConfig, extract
from .stream import STREAM_MIN_SECONDS, stream_features

__all__ = ["file_features"]


def file_features(path: str | os.PathLike, cfg: FeatureConfig, *, offset: float = 0.0,
                  duration: float | None = None) -> np.ndarray:
    """Feature frames of ``path`` (from ``offset`` seconds, ``duration`` seconds long), shape (n_frames, n_dims).

    A recording (or segment) longer than ``STREAM_MIN_SECONDS`` (120 s) goes through
    :func:`~gmmspeech.frontend.stream.stream_features`: decoded and framed one block at a time, so memory stays
    bounded (the output array plus about 60 MB) whatever its length -- except with ``spectral_contrast=True``,
    which is extracted whole (see :func:`~gmmspeech.frontend.stream.can_stream`).

    Raises :class:`AudioError` naming the file for any problem: unreadable or unsupported audio, a signal
    shorter than one analysis window, or a file in which VAD finds no voiced frame.
    """
    if segment_samples(path, cfg.sample_rate, offset=offset, duration=duration) > \
            STREAM_MIN_SECONDS * cfg.sample_rate:
        return stream_features(path, cfg, offset=offset, duration=duration)
    y = load_audio(path, cfg.sample_rate, offset=offset, duration=duration, min_samples=cfg.win_length)
    try:
        return extract(y, cfg.sample_rate, cfg)
    except ValueError as exc:
        raise AudioError(path, str(exc)) from None
