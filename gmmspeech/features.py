"""The speech front-end: MFCC frames with deltas and cepstral mean/variance normalisation.

:func:`extract` is pure: a signal array and a :class:`FeatureConfig` in, a float32 ``(n_frames, n_dims)``
array out. The configuration travels with every model file, so scoring always rebuilds exactly the features
a model was trained on.

Feature dimension: ``n_mfcc * (1 + deltas)`` (default 13 * 3 = 39).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.fft

__all__ = ["FeatureConfig", "extract", "mfcc", "deltas", "cmvn"]

_CMVN_MODES = ("none", "utterance")


@dataclass(frozen=True)
class FeatureConfig:
    """Everything that determines the feature frames of a signal.

    Attributes
    ----------
    sample_rate : Hz; audio is resampled to it on load (16 kHz suits speech: telephone to wideband).
    frame_length_ms : analysis window length in ms (25 ms: the speech standard, a few pitch periods).
    frame_shift_ms : hop between frames in ms (10 ms, i.e. 100 frames per second).
    n_mels : mel filters (40 covers 0-8 kHz finely enough for 13-20 cepstra).
    n_mfcc : cepstral coefficients kept, c0 included (13 is the classic speech choice).
    fmin, fmax : frequency range of the mel filterbank in Hz; ``fmax=None`` means ``sample_rate / 2``.
    preemphasis : first-order pre-emphasis coefficient (0 disables); 0.97 flattens speech's spectral tilt.
    lifter : sinusoidal cepstral liftering parameter (0 disables; 22 as in HTK/Kaldi).
    deltas : 0, 1 or 2 -- append first and second time derivatives of the cepstra.
    delta_window : N in the regression formula ``d_t = sum_n n (c_{t+n} - c_{t-n}) / (2 sum_n n^2)``.
    cmvn : ``"utterance"`` normalises every dimension to zero mean, unit variance over the utterance
        (removes channel effects); ``"none"`` keeps raw values.
    """

    sample_rate: int = 16000
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    n_mels: int = 40
    n_mfcc: int = 13
    fmin: float = 20.0
    fmax: float | None = None
    preemphasis: float = 0.97
    lifter: float = 22.0
    deltas: int = 2
    delta_window: int = 2
    cmvn: str = "utterance"

    def __post_init__(self) -> None:
        problems = []
        if self.sample_rate <= 0:
            problems.append(f"sample_rate must be positive, got {self.sample_rate}")
        if self.frame_length_ms <= 0 or self.frame_shift_ms <= 0:
            problems.append("frame_length_ms and frame_shift_ms must be positive")
        if not 1 <= self.n_mfcc <= self.n_mels:
            problems.append(f"n_mfcc must be in 1..n_mels ({self.n_mels}), got {self.n_mfcc}")
        top = self.sample_rate / 2 if self.fmax is None else self.fmax
        if not 0 <= self.fmin < top <= self.sample_rate / 2:
            problems.append(f"need 0 <= fmin < fmax <= sample_rate/2, got fmin={self.fmin} fmax={self.fmax}")
        if not 0 <= self.preemphasis < 1:
            problems.append(f"preemphasis must be in [0, 1), got {self.preemphasis}")
        if self.deltas not in (0, 1, 2):
            problems.append(f"deltas must be 0, 1 or 2, got {self.deltas}")
        if self.delta_window < 1:
            problems.append(f"delta_window must be >= 1, got {self.delta_window}")
        if self.cmvn not in _CMVN_MODES:
            problems.append(f"cmvn must be one of {_CMVN_MODES}, got {self.cmvn!r}")
        if problems:
            raise ValueError("invalid FeatureConfig: " + "; ".join(problems))

    @property
    def win_length(self) -> int:
        """Analysis window in samples."""
        return int(round(self.frame_length_ms * self.sample_rate / 1000))

    @property
    def hop_length(self) -> int:
        """Frame shift in samples."""
        return int(round(self.frame_shift_ms * self.sample_rate / 1000))

    @property
    def n_fft(self) -> int:
        """FFT size: the next power of two at or above the window length."""
        return 1 << (self.win_length - 1).bit_length()

    @property
    def n_dims(self) -> int:
        """Number of feature dimensions :func:`extract` returns."""
        return self.n_mfcc * (1 + self.deltas)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (JSON/TOML-serialisable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureConfig:
        """Build from a dict; unknown keys raise ``ValueError`` naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown feature setting(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**d)


@lru_cache(maxsize=16)
def _mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=True).astype(np.float32)


@lru_cache(maxsize=16)
def _window(n: int) -> np.ndarray:
    return np.hamming(n).astype(np.float32)


def mfcc(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Mel-frequency cepstral coefficients of a signal.

    Parameters
    ----------
    y : array (n_samples,), the signal at ``cfg.sample_rate`` Hz.
    cfg : feature configuration.

    Returns
    -------
    c : float32 array (n_frames, n_mfcc), ``n_frames = 1 + (n_samples - win_length) // hop_length``.
    """
    y = np.asarray(y, dtype=np.float32)
    win, hop = cfg.win_length, cfg.hop_length
    if y.ndim != 1:
        raise ValueError(f"expected a 1-D signal, got shape {y.shape}")
    if y.shape[0] < win:
        raise ValueError(f"signal of {y.shape[0]} samples is shorter than one analysis frame ({win} samples)")
    if cfg.preemphasis:
        y = np.concatenate([y[:1], y[1:] - np.float32(cfg.preemphasis) * y[:-1]])
    frames = np.lib.stride_tricks.sliding_window_view(y, win)[::hop] * _window(win)
    spec = np.fft.rfft(frames, n=cfg.n_fft, axis=1)
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    fmax = cfg.sample_rate / 2 if cfg.fmax is None else cfg.fmax
    mel = power @ _mel_basis(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, fmax).T
    logmel = np.log(np.maximum(mel, np.float32(1e-10)))
    c = scipy.fft.dct(logmel, type=2, norm="ortho", axis=1)[:, : cfg.n_mfcc]
    if cfg.lifter:
        n = np.arange(cfg.n_mfcc, dtype=np.float32)
        c = c * (1 + (cfg.lifter / 2) * np.sin(np.pi * n / cfg.lifter)).astype(np.float32)
    return c.astype(np.float32, copy=False)


def deltas(x: np.ndarray, window: int = 2) -> np.ndarray:
    """Regression deltas along time, edges padded by repetition.

    Parameters
    ----------
    x : array (n_frames, n_dims).
    window : N; ``d_t = sum_{n=1..N} n (x_{t+n} - x_{t-n}) / (2 sum n^2)``.

    Returns
    -------
    d : float32 array (n_frames, n_dims).
    """
    x = np.asarray(x, dtype=np.float32)
    padded = np.pad(x, ((window, window), (0, 0)), mode="edge")
    t = x.shape[0]
    d = np.zeros_like(x)
    for n in range(1, window + 1):
        d += n * (padded[window + n : window + n + t] - padded[window - n : window - n + t])
    return d / np.float32(2 * sum(n * n for n in range(1, window + 1)))


def cmvn(x: np.ndarray, mode: str = "utterance") -> np.ndarray:
    """Cepstral mean and variance normalisation over the whole utterance.

    Parameters
    ----------
    x : array (n_frames, n_dims).
    mode : ``"utterance"`` or ``"none"``.

    Returns
    -------
    float32 array (n_frames, n_dims); constant dimensions become zero rather than NaN.
    """
    x = np.asarray(x, dtype=np.float32)
    if mode == "none":
        return x
    if mode != "utterance":
        raise ValueError(f"unknown cmvn mode {mode!r}")
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    return ((x - mu) / np.maximum(sd, np.float32(1e-8))).astype(np.float32)


def extract(y: np.ndarray, sr: int, cfg: FeatureConfig) -> np.ndarray:
    """Feature frames of a signal: MFCC, optional deltas, then CMVN.

    Parameters
    ----------
    y : array (n_samples,), mono signal.
    sr : its sample rate in Hz; must equal ``cfg.sample_rate`` (resample on load, see ``audio.load_audio``).
    cfg : feature configuration.

    Returns
    -------
    float32 array (n_frames, cfg.n_dims), frames every ``cfg.frame_shift_ms`` ms.
    """
    if sr != cfg.sample_rate:
        raise ValueError(f"signal is at {sr} Hz but the feature config expects {cfg.sample_rate} Hz")
    y = np.asarray(y, dtype=np.float32)
    if not np.all(np.isfinite(y)):
        raise ValueError("signal contains NaN or infinite samples")
    c = mfcc(y, cfg)
    parts = [c]
    if cfg.deltas >= 1:
        d1 = deltas(c, cfg.delta_window)
        parts.append(d1)
        if cfg.deltas >= 2:
            parts.append(deltas(d1, cfg.delta_window))
    x = np.concatenate(parts, axis=1) if len(parts) > 1 else c
    return cmvn(x, cfg.cmvn)
