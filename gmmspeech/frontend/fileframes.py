"""Features of an audio file (or a segment of it): decode, resample, extract -- one call, errors name the file."""

from __future__ import annotations

import os

import numpy as np

from .audio import AudioError, load_audio
from .features import FeatureConfig, extract

__all__ = ["file_features"]


def file_features(path: str | os.PathLike, cfg: FeatureConfig, *, offset: float = 0.0,
                  duration: float | None = None) -> np.ndarray:
    """Feature frames of ``path`` (from ``offset`` seconds, ``duration`` seconds long), shape (n_frames, n_dims).

    Raises :class:`AudioError` naming the file for any problem: unreadable or unsupported audio, a signal
    shorter than one analysis window, or a file in which VAD finds no voiced frame.
    """
    y = load_audio(path, cfg.sample_rate, offset=offset, duration=duration, min_samples=cfg.win_length)
    try:
        return extract(y, cfg.sample_rate, cfg)
    except ValueError as exc:
        raise AudioError(path, str(exc)) from None
