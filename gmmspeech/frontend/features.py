"""The speech front-end: MFCC frames, deltas, shifted delta cepstra, energy VAD and CMVN.

:func:`extract` is pure: a signal array and a :class:`FeatureConfig` in, a float32 ``(n_frames, n_dims)``
array out. The configuration travels with every model file, so scoring always rebuilds exactly the features
a model was trained on.

Pipeline: pre-emphasis -> Hamming-windowed frames -> power spectrum -> HTK/Kaldi mel filterbank (triangles of
height 1, linear on the mel scale ``2595 log10(1 + f/700)``, no area normalisation; :func:`mel_filterbank`) ->
natural log -> DCT-II (ortho) -> liftering -> c0 kept, replaced by log-energy or dropped -> deltas and/or SDC
(on the full, contiguous frame sequence) -> energy VAD keeps voiced frames -> CMVN over the kept frames.

Music descriptors (opt-in, any task; see :mod:`gmmspeech.music`) are computed from the same power spectrum and
appended to the frame features: spectral contrast (7), chroma (12), timbral shape (one per name). VAD and CMVN
apply to the frame features; then, with ``texture_window_s > 0``, each frame is replaced by the running mean and
standard deviation of the (normalised) frame features over the window around it, and the rhythm descriptor
(computed over ``rhythm_window_s``) comes last. Neither is normalised per clip: they carry clip-level
differences that per-clip CMVN would remove.

Feature dimension (:attr:`FeatureConfig.n_dims`)::

    B = n_mfcc - 1 if energy == "none" else n_mfcc          # static coefficients
    F = B * (1 + deltas) + (sdc_n * sdc_k if sdc else 0)
        + 7 * spectral_contrast + 12 * chroma + len(timbre)   # per-frame features
    D = F * (2 if texture_window_s > 0 else 1) + (6 if rhythm else 0)

e.g. default 13 * 3 = 39; ``n_mfcc=20`` -> 60; ``n_mfcc=7, deltas=0, sdc=True`` (7-1-3-7) -> 7 + 49 = 56.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import scipy.fft

from .music import (
    CHROMA_DIMS,
    CONTRAST_DIMS,
    TIMBRE_FEATURES,
    chroma,
    onset_strength,
    rhythm,
    rhythm_dims,
    spectral_contrast,
    texture_stats,
    timbre,
)

__all__ = ["FeatureConfig", "extract", "mfcc", "power_spectrogram", "log_mel", "mel_filterbank", "hz_to_mel",
           "mel_to_hz", "deltas", "sdc", "cmvn", "cmvn_apply", "frame_energy_db", "vad_mask", "frame_features",
           "frame_context", "FrameFeatures", "FEATURES_VERSION", "FEATURE_LIMITS"]

#: Bumped whenever :func:`extract` changes its output for an unchanged config (invalidates feature caches).
#: 3: HTK/Kaldi filterbank (height-1 triangles linear in mel) instead of librosa's Slaney-normalised one.
FEATURES_VERSION = 3

_CMVN_MODES = ("none", "utterance", "sliding")
_ENERGY_MODES = ("c0", "log_energy", "none")
_VAD_MODES = ("none", "max", "mean")
_VAD_DEFAULT_DB = {"max": -30.0, "mean": -10.0}
#: Frames whose mean power is below this (dB re full scale) are never voiced: digital silence, dither.
VAD_ABSOLUTE_FLOOR_DB = -80.0


#: Documented ranges (inclusive) of the numeric settings; recipes, options and model files are checked against them
#: before anything is allocated. ``int`` fields must be integers.
FEATURE_LIMITS: dict[str, tuple[type, float, float]] = {
    "sample_rate": (int, 4000, 192000), "frame_length_ms": (float, 1.0, 1000.0),
    "frame_shift_ms": (float, 1.0, 1000.0), "n_mels": (int, 1, 512), "n_mfcc": (int, 1, 512),
    "fmin": (float, 0.0, 96000.0), "lifter": (float, 0.0, 1000.0), "preemphasis": (float, 0.0, 0.999999),
    "delta_window": (int, 1, 50), "cmvn_window": (int, 2, 1_000_000), "vad_hangover": (int, 0, 100),
    "sdc_n": (int, 1, 512), "sdc_d": (int, 1, 50), "sdc_p": (int, 1, 50), "sdc_k": (int, 1, 50),
}


def _range_problems(cfg) -> list[str]:
    """Type and range problems of ``cfg``'s numeric fields (:data:`FEATURE_LIMITS`), each naming the key."""
    out = []
    for key, (kind, lo, hi) in FEATURE_LIMITS.items():
        v = getattr(cfg, key)
        ok_type = isinstance(v, int) if kind is int else isinstance(v, int | float)
        if isinstance(v, bool) or not ok_type or not lo <= v <= hi:
            what = "an integer" if kind is int else "a number"
            out.append(f"{key} must be {what} in [{lo:g}, {hi:g}], got {v!r}")
    if cfg.fmax is not None and (isinstance(cfg.fmax, bool) or not isinstance(cfg.fmax, int | float)):
        out.append(f"fmax must be a number or absent, got {cfg.fmax!r}")
    return out


@dataclass(frozen=True)
class FeatureConfig:
    """Everything that determines the feature frames of a signal.

    Attributes
    ----------
    sample_rate : Hz; audio is resampled to it on load (16 kHz suits speech: telephone to wideband).
    frame_length_ms : analysis window length in ms (25 ms: the speech standard, a few pitch periods).
    frame_shift_ms : hop between frames in ms (10 ms, i.e. 100 frames per second).
    n_mels : mel filters (40 covers 0-8 kHz finely enough for 13-20 cepstra): triangles of height 1 (not
        area-normalised) whose corners are evenly spaced on the HTK mel scale (see :func:`mel_filterbank`).
    mel_triangles : ``"mel"``: each triangle is linear in mel, exactly HTK's and Kaldi's filterbank (default);
        ``"hz"``: linear in frequency between the same corners (librosa's ``htk=True, norm=None``; measured
        better for language ID on the development data, see README's preset table).
    n_mfcc : cepstral coefficients computed, c0 included (13 is the classic speech choice).
    fmin, fmax : outer edges of the mel filterbank in Hz; ``fmax=None`` means ``sample_rate / 2``.
    preemphasis : first-order pre-emphasis coefficient (0 disables); 0.97 flattens speech's spectral tilt.
    lifter : sinusoidal cepstral liftering parameter (0 disables; 22 as in HTK/Kaldi).
    energy : what the first coefficient holds: ``"c0"`` (cepstral c0, default), ``"log_energy"`` (natural
        log of the raw frame's energy, before pre-emphasis and window, as HTK's ``_E``/Kaldi's
        ``--use-energy``) or ``"none"`` (c0 dropped: ``n_mfcc - 1`` coefficients, loudness-invariant).
    deltas : 0, 1 or 2 -- append first and second time derivatives of the cepstra.
    delta_window : N in the regression formula ``d_t = sum_n n (c_{t+n} - c_{t-n}) / (2 sum_n n^2)``.
    cmvn : ``"utterance"`` normalises every dimension to zero mean, unit variance over the (voiced frames
        of the) utterance, removing channel effects; ``"sliding"`` does the same over a window of
        ``cmvn_window`` frames centred on each frame (for long recordings whose channel drifts);
        ``"none"`` keeps raw values.
    cmvn_window : window of the sliding CMVN in frames (300 = 3 s at a 10 ms shift); shorter utterances
        fall back to the whole utterance.
    vad : energy-based voice activity detection: ``"none"`` (keep every frame), ``"max"`` (keep frames whose
        log-energy is within ``vad_threshold_db`` of the utterance's loudest frame) or ``"mean"`` (relative to
        the utterance's mean frame log-energy). Frames below -80 dBFS are never voiced.
    vad_threshold_db : threshold in dB relative to the reference; ``None`` uses -30 dB for ``"max"``,
        -10 dB for ``"mean"``.
    vad_hangover : smoothing in frames: every voiced decision is extended by this many frames on both sides,
        so word onsets, trailing consonants and short pauses are kept (0 disables).
    sdc : append shifted delta cepstra for language ID (Torres-Carrasquillo et al., ICSLP 2002).
    sdc_n, sdc_d, sdc_p, sdc_k : the SDC N-d-P-k parameters (default 7-1-3-7): the first N static
        coefficients, deltas ``c(t+d) - c(t-d)``, stacked at k shifts ``t, t+P, ..., t+(k-1)P``.
    spectral_contrast : append octave-band spectral contrast (7 dims, Jiang et al. 2002).
    chroma : append the 12-dim chroma (pitch-class profile) of each frame.
    timbre : timbral shape features to append, any of ``centroid``, ``bandwidth``, ``rolloff``, ``flatness``,
        ``zcr`` (one dim each; see :func:`gmmspeech.music.timbre`).
    texture_window_s : texture window in seconds (0 = off). Each output frame becomes the running mean and
        standard deviation of the frame features over this window (Tzanetakis & Cook 2002), doubling the
        dimension; a signal shorter than one window is an error.
    rhythm : append the rhythm descriptor (6 dims): onset-strength autocorrelation peaks in 5 tempo bands and
        the log mean onset strength, over ``rhythm_window_s`` around each frame.
    rhythm_window_s : window of the rhythm descriptor in seconds (long enough for two beats at 40 BPM: 3 s).
    """

    sample_rate: int = 16000
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    n_mels: int = 40
    mel_triangles: str = "mel"
    n_mfcc: int = 13
    fmin: float = 20.0
    fmax: float | None = None
    preemphasis: float = 0.97
    lifter: float = 22.0
    deltas: int = 2
    delta_window: int = 2
    cmvn: str = "utterance"
    energy: str = "c0"
    cmvn_window: int = 300
    vad: str = "none"
    vad_threshold_db: float | None = None
    vad_hangover: int = 5
    sdc: bool = False
    sdc_n: int = 7
    sdc_d: int = 1
    sdc_p: int = 3
    sdc_k: int = 7
    spectral_contrast: bool = False
    chroma: bool = False
    timbre: tuple[str, ...] = ()
    texture_window_s: float = 0.0
    rhythm: bool = False
    rhythm_window_s: float = 3.0

    def __post_init__(self) -> None:
        problems = []
        if isinstance(self.timbre, list | str):
            object.__setattr__(self, "timbre", tuple([self.timbre] if isinstance(self.timbre, str) else self.timbre))
        if not isinstance(self.timbre, tuple) or not set(self.timbre) <= set(TIMBRE_FEATURES) \
                or len(set(self.timbre)) != len(self.timbre):
            problems.append(f"timbre must be a list of distinct names from {', '.join(TIMBRE_FEATURES)}, "
                            f"got {self.timbre!r}")
        for name in ("spectral_contrast", "chroma", "rhythm"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.texture_window_s, int | float) or isinstance(self.texture_window_s, bool) \
                or not 0 <= self.texture_window_s <= 30:
            problems.append(f"texture_window_s must be between 0 (off) and 30 seconds, got {self.texture_window_s!r}")
        elif self.texture_window_s and self.frame_shift_ms > 0 and self.texture_frames < 2:
            problems.append(f"texture_window_s ({self.texture_window_s} s) must span at least 2 frames")
        if not isinstance(self.rhythm_window_s, int | float) or isinstance(self.rhythm_window_s, bool) \
                or not 0.5 <= self.rhythm_window_s <= 30:
            problems.append(f"rhythm_window_s must be between 0.5 and 30 seconds, got {self.rhythm_window_s!r}")
        problems += _range_problems(self)
        if problems:
            raise ValueError("invalid FeatureConfig: " + "; ".join(problems))
        if self.mel_triangles not in ("mel", "hz"):
            problems.append(f"mel_triangles must be 'mel' or 'hz', got {self.mel_triangles!r}")
        if not 1 <= self.n_mfcc <= self.n_mels:
            problems.append(f"n_mfcc must be in 1..n_mels ({self.n_mels}), got {self.n_mfcc}")
        if self.win_length < 16 or self.hop_length < 1:
            problems.append(f"frame_length_ms ({self.frame_length_ms}) and frame_shift_ms ({self.frame_shift_ms}) "
                            f"must give at least 16 and 1 samples at {self.sample_rate} Hz")
        top = self.sample_rate / 2 if self.fmax is None else self.fmax
        if not 0 <= self.fmin < top <= self.sample_rate / 2:
            problems.append(f"need 0 <= fmin < fmax <= sample_rate/2, got fmin={self.fmin} fmax={self.fmax}")
        if not 0 <= self.preemphasis < 1:
            problems.append(f"preemphasis must be in [0, 1), got {self.preemphasis}")
        if self.deltas not in (0, 1, 2):
            problems.append(f"deltas must be 0, 1 or 2, got {self.deltas}")
        if self.delta_window < 1:
            problems.append(f"delta_window must be >= 1, got {self.delta_window}")
        for name, allowed in (("cmvn", _CMVN_MODES), ("energy", _ENERGY_MODES), ("vad", _VAD_MODES)):
            if getattr(self, name) not in allowed:
                problems.append(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.energy == "none" and self.n_mfcc < 2:
            problems.append("energy='none' drops c0, so n_mfcc must be >= 2")
        if not isinstance(self.cmvn_window, int) or self.cmvn_window < 2:
            problems.append(f"cmvn_window must be an integer >= 2 frames, got {self.cmvn_window!r}")
        if not isinstance(self.vad_hangover, int) or self.vad_hangover < 0:
            problems.append(f"vad_hangover must be an integer >= 0 frames, got {self.vad_hangover!r}")
        if self.vad_threshold_db is not None and not self.vad_threshold_db <= 0:
            problems.append(f"vad_threshold_db must be <= 0 (dB below the reference), got {self.vad_threshold_db}")
        if not isinstance(self.sdc, bool):
            problems.append(f"sdc must be true or false, got {self.sdc!r}")
        if any(not isinstance(v, int) or v < 1 for v in (self.sdc_n, self.sdc_d, self.sdc_p, self.sdc_k)):
            problems.append("sdc_n, sdc_d, sdc_p and sdc_k must be positive integers")
        elif self.sdc and self.sdc_n > self.n_static:
            problems.append(f"sdc_n ({self.sdc_n}) exceeds the {self.n_static} static coefficients")
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
    def n_static(self) -> int:
        """Static coefficients per frame: ``n_mfcc``, minus one when c0 is dropped."""
        return self.n_mfcc - (self.energy == "none")

    @property
    def texture_frames(self) -> int:
        """Texture window in frames (0 when off)."""
        return int(round(self.texture_window_s * 1000 / self.frame_shift_ms)) if self.texture_window_s else 0

    @property
    def rhythm_frames(self) -> int:
        """Rhythm window in frames."""
        return int(round(self.rhythm_window_s * 1000 / self.frame_shift_ms))

    @property
    def uses_music(self) -> bool:
        """Whether any music descriptor (contrast, chroma, timbre, rhythm) is on."""
        return self.spectral_contrast or self.chroma or bool(self.timbre) or self.rhythm

    @property
    def n_frame_dims(self) -> int:
        """Per-frame dimensions before the texture window (see the module docstring)."""
        return (self.n_static * (1 + self.deltas) + (self.sdc_n * self.sdc_k if self.sdc else 0)
                + CONTRAST_DIMS * self.spectral_contrast + CHROMA_DIMS * self.chroma + len(self.timbre))

    @property
    def n_dims(self) -> int:
        """Number of feature dimensions :func:`extract` returns (see the module docstring)."""
        return self.n_frame_dims * (2 if self.texture_window_s else 1) + (rhythm_dims() if self.rhythm else 0)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (JSON-serialisable; ``None`` values are omitted when writing TOML)."""
        d = dataclasses.asdict(self)
        d["timbre"] = list(self.timbre)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureConfig:
        """Build from a dict; missing keys take their defaults, unknown keys raise ``ValueError`` naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown feature setting(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**d)


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: ``2595 log10(1 + f / 700)`` (= ``1127 ln(1 + f / 700)``).

    Parameters
    ----------
    f : frequency in Hz, scalar or array of any shape.

    Returns
    -------
    float64 array of the same shape, in mel.
    """
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`: ``700 (10^(m / 2595) - 1)``.

    Parameters
    ----------
    m : mel value(s), scalar or array of any shape.

    Returns
    -------
    float64 array of the same shape, in Hz.
    """
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None,
                   triangles: str = "mel") -> np.ndarray:
    """HTK/Kaldi mel filterbank: triangles of height 1, linear in mel, without area normalisation.

    With ``triangles="hz"`` the same filters rise and fall linearly in *frequency* between the same corners
    (librosa's ``mel(htk=True, norm=None)``).

    ``n_mels + 2`` edges are spaced evenly on the HTK mel scale (:func:`hz_to_mel`) from ``fmin`` to ``fmax``;
    filter ``i`` rises linearly *in mel* from edge ``i`` (weight 0) to edge ``i + 1`` (weight 1) and falls to
    edge ``i + 2`` (weight 0), sampled at the exact FFT bin frequencies ``k * sample_rate / n_fft`` (no rounding
    of the edges to bins). This is the filterbank of HTK's ``HSigP.c`` (``InitFBank``) and Kaldi's ``MelBanks``,
    applied here, as in Kaldi and HTK with ``USEPOWER = T``, to the power spectrum. ``librosa.filters.mel`` differs
    even with ``htk=True``: its triangles are linear in Hz and, unless ``norm=None``, scaled to unit area
    (Slaney), which adds a different constant to each log mel channel. Bins at or beyond a filter's edges get
    weight 0, so DC (with ``fmin=0``) and bins above ``fmax`` feed no filter.

    Parameters
    ----------
    sample_rate : sampling rate in Hz.
    n_fft : FFT size in samples; the filters cover its ``n_fft // 2 + 1`` non-negative frequency bins.
    n_mels : number of filters.
    fmin, fmax : band edges in Hz, ``0 <= fmin < fmax <= sample_rate / 2``; ``fmax=None`` means
        ``sample_rate / 2``.

    Returns
    -------
    fb : float64 array (n_mels, n_fft // 2 + 1), dimensionless weights in [0, 1]; ``fb @ power`` turns a power
        spectrum (n_fft // 2 + 1,) into mel band energies (n_mels,).

    Raises
    ------
    ValueError : band edges out of range, or fewer than one filter / two FFT bins.
    """
    fmax = sample_rate / 2 if fmax is None else fmax
    if not 0 <= fmin < fmax <= sample_rate / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= sample_rate/2, got fmin={fmin} fmax={fmax} at {sample_rate} Hz")
    if n_mels < 1 or n_fft < 2:
        raise ValueError(f"need n_mels >= 1 and n_fft >= 2, got n_mels={n_mels} n_fft={n_fft}")
    if triangles not in ("mel", "hz"):
        raise ValueError(f"triangles must be 'mel' or 'hz', got {triangles!r}")
    edges = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)  # (n_mels + 2,) in mel
    bin_mel = hz_to_mel(np.arange(n_fft // 2 + 1) * (sample_rate / n_fft))  # (n_bins,) in mel
    if triangles == "hz":
        edges, bin_mel = mel_to_hz(edges), np.arange(n_fft // 2 + 1) * (sample_rate / n_fft)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bin_mel - left) / (centre - left)
    falling = (right - bin_mel) / (right - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


@lru_cache(maxsize=16)
def _mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float, triangles: str = "mel"):
    """:func:`mel_filterbank` as a float32 sparse CSR matrix (n_mels, n_fft // 2 + 1), built once per setting.

    Sparse on purpose: each FFT bin feeds at most two filters, and a sparse product runs single-threaded in
    a fraction of the time of a dense BLAS call (which, multi-threaded on a busy machine, was 30x slower).
    """
    import scipy.sparse

    dense = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, triangles)
    if not dense.any(axis=1).all():
        empty = np.flatnonzero(~dense.any(axis=1)).tolist()
        warnings.warn(f"mel filter(s) {empty} of {n_mels} cover no FFT bin (n_fft={n_fft} at {sr} Hz, "
                      f"{fmin:g}-{fmax:g} Hz): their log energy is the floor; use fewer mels or a longer window",
                      stacklevel=3)
    return scipy.sparse.csr_matrix(dense.astype(np.float32))


@lru_cache(maxsize=16)
def _window(n: int) -> np.ndarray:
    return np.hamming(n).astype(np.float32)


@lru_cache(maxsize=16)
def _dct_lifter(n_mels: int, n_mfcc: int, lifter: float) -> np.ndarray:
    """(n_mels, n_mfcc) matrix: orthonormal DCT-II rows times the lifter weights."""
    basis = scipy.fft.dct(np.eye(n_mels), type=2, norm="ortho", axis=1)[:, :n_mfcc]
    if lifter:
        n = np.arange(n_mfcc)
        basis = basis * (1 + (lifter / 2) * np.sin(np.pi * n / lifter))
    return basis.astype(np.float32)


def _frames(y: np.ndarray, win: int, hop: int) -> np.ndarray:
    """Read-only strided view (n_frames, win) of ``y``."""
    return np.lib.stride_tricks.sliding_window_view(y, win)[::hop]


def _check_signal(y: np.ndarray, win: int) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected a 1-D signal, got shape {y.shape}")
    if y.shape[0] < win:
        raise ValueError(f"signal of {y.shape[0]} samples is shorter than one analysis frame ({win} samples)")
    return y


def power_spectrogram(y: np.ndarray, cfg: FeatureConfig, *, preemphasis: float | None = None,
                      prev_sample: float | None = None) -> np.ndarray:
    """Power spectrum of Hamming-windowed frames.

    Parameters
    ----------
    y : array (n_samples,), the signal at ``cfg.sample_rate`` Hz.
    cfg : feature configuration (window, hop, FFT size).
    preemphasis : coefficient applied first (``None``: ``cfg.preemphasis``; 0: none).
    prev_sample : the sample just before ``y[0]`` when ``y`` is a block cut from a longer signal, so the
        pre-emphasis of ``y[0]`` is ``y[0] - a * prev_sample`` as in the whole signal; ``None``: ``y`` starts the
        signal and ``y[0]`` is kept as it is.

    Returns
    -------
    float32 array (n_frames, n_fft // 2 + 1), ``n_frames = 1 + (n_samples - win_length) // hop_length``.
    """
    win, hop = cfg.win_length, cfg.hop_length
    y = _check_signal(y, win)
    pre = cfg.preemphasis if preemphasis is None else preemphasis
    if pre:
        first = y[:1] if prev_sample is None else y[:1] - np.float32(pre) * np.float32(prev_sample)
        y = np.concatenate([first, y[1:] - np.float32(pre) * y[:-1]])
    frames = _frames(y, win, hop) * _window(win)
    spec = scipy.fft.rfft(frames, n=cfg.n_fft, axis=1, overwrite_x=True)
    del frames
    power = np.square(spec.real)
    power += np.square(spec.imag)
    return power


def log_mel(power: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """(n_frames, n_mels) natural-log mel energies (floored at 1e-10) of a (n_frames, n_bins) power spectrogram."""
    fmax = cfg.sample_rate / 2 if cfg.fmax is None else cfg.fmax
    basis = _mel_basis(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, fmax, cfg.mel_triangles)
    mel = np.ascontiguousarray((basis @ power.T).T)
    return np.log(np.maximum(mel, np.float32(1e-10), out=mel), out=mel)


def mfcc(y: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Mel-frequency cepstral coefficients of a signal (c0 always included, as cepstral c0).

    Parameters
    ----------
    y : array (n_samples,), the signal at ``cfg.sample_rate`` Hz.
    cfg : feature configuration.

    Returns
    -------
    c : float32 array (n_frames, n_mfcc), ``n_frames = 1 + (n_samples - win_length) // hop_length``.
    """
    return log_mel(power_spectrogram(y, cfg), cfg) @ _dct_lifter(cfg.n_mels, cfg.n_mfcc, float(cfg.lifter))


def _music_frames(y: np.ndarray, power: np.ndarray, cfg: FeatureConfig) -> list[np.ndarray]:
    """Per-frame music descriptors: a list of (n_frames, d) blocks (contrast, chroma, timbre as configured)."""
    if cfg.preemphasis:  # music descriptors describe the signal itself, not its pre-emphasised version
        power = power_spectrogram(y, cfg, preemphasis=0.0)
    sr, n_fft = cfg.sample_rate, cfg.n_fft
    parts = []
    if cfg.spectral_contrast:
        parts.append(spectral_contrast(power, sr, n_fft))
    if cfg.chroma:
        parts.append(chroma(power, sr, n_fft))
    if cfg.timbre:
        frames = _frames(y, cfg.win_length, cfg.hop_length) if "zcr" in cfg.timbre else None
        parts.append(timbre(power, frames, sr, n_fft, cfg.timbre))
    return parts


class FrameFeatures(NamedTuple):
    """What :func:`frame_features` returns (one row per analysis frame)."""

    #: float32 (n_frames, cfg.n_frame_dims): static cepstra, deltas, SDC and per-frame music descriptors.
    x: np.ndarray
    #: float32 (n_frames,) frame energy in dBFS (:func:`frame_energy_db`), or ``None`` when neither VAD nor
    #: ``energy="log_energy"`` needs it.
    energy_db: np.ndarray | None
    #: float32 (n_frames, n_mels) natural-log mel energies of the pre-emphasised signal, or ``None`` unless asked.
    log_mel: np.ndarray | None


def frame_context(cfg: FeatureConfig) -> tuple[int, int]:
    """Frames of context :func:`frame_features` needs on each side of a frame for its row to be exact.

    Deltas look ``delta_window`` frames each way per order, SDC ``sdc_d`` back and ``sdc_d + (sdc_k - 1) sdc_p``
    ahead; every other per-frame feature depends on its own frame only. A block of frames extracted with this
    many extra frames on each side (fewer only at the true ends of the signal) has the rows of whole-signal
    extraction.

    Returns
    -------
    (left, right) : context in frames.
    """
    left = right = cfg.delta_window * cfg.deltas
    if cfg.sdc:
        left = max(left, cfg.sdc_d)
        right = max(right, cfg.sdc_d + (cfg.sdc_k - 1) * cfg.sdc_p)
    return left, right


def frame_features(y: np.ndarray, cfg: FeatureConfig, *, prev_sample: float | None = None,
                   keep_log_mel: bool = False) -> FrameFeatures:
    """Frame features before VAD, CMVN, texture windows and rhythm (the per-frame stage of :func:`extract`).

    Parameters
    ----------
    y : array (n_samples,), signal at ``cfg.sample_rate`` Hz, ``n_samples >= cfg.win_length``.
    cfg : feature configuration.
    prev_sample : sample just before ``y[0]`` when ``y`` is a block of a longer signal (see
        :func:`power_spectrogram`); ``None`` when ``y`` starts the signal.
    keep_log_mel : also return the log mel energies (the rhythm descriptor's onset envelope is made from them).

    Returns
    -------
    :class:`FrameFeatures` with ``n_frames = 1 + (n_samples - win_length) // hop_length`` rows. Deltas and SDC
    repeat the edge frames of ``y``: rows within :func:`frame_context` of a cut edge differ from those of the
    whole signal and are to be discarded.
    """
    power = power_spectrogram(y, cfg, prev_sample=prev_sample)
    lm = log_mel(power, cfg)
    c = lm @ _dct_lifter(cfg.n_mels, cfg.n_mfcc, float(cfg.lifter))
    music = _music_frames(y, power, cfg) if cfg.uses_music else []
    del power
    if not keep_log_mel:
        lm = None
    energy_db = None
    if cfg.energy == "log_energy" or cfg.vad != "none":
        energy_db = frame_energy_db(y, cfg.win_length, cfg.hop_length)
    if cfg.energy == "log_energy":
        c[:, 0] = energy_db * np.float32(np.log(10) / 10) + np.float32(np.log(cfg.win_length))
    elif cfg.energy == "none":
        c = c[:, 1:]
    parts = [c]
    if cfg.deltas >= 1:
        d1 = deltas(c, cfg.delta_window)
        parts.append(d1)
        if cfg.deltas >= 2:
            parts.append(deltas(d1, cfg.delta_window))
    if cfg.sdc:
        parts.append(sdc(c, cfg.sdc_n, cfg.sdc_d, cfg.sdc_p, cfg.sdc_k))
    parts.extend(music)
    x = np.concatenate(parts, axis=1) if len(parts) > 1 else c
    return FrameFeatures(x, energy_db, lm)


def frame_energy_db(y: np.ndarray, win: int, hop: int) -> np.ndarray:
    """Mean power of each raw frame in dB re full scale (floored at -100 dB).

    Parameters
    ----------
    y : array (n_samples,), signal in [-1, 1].
    win, hop : frame length and shift in samples.

    Returns
    -------
    float32 array (n_frames,), the same frames as :func:`mfcc`.
    """
    y = _check_signal(y, win)
    e = np.einsum("ij,ij->i", fr := _frames(y, win, hop), fr, dtype=np.float64) / win
    return (10 * np.log10(np.maximum(e, 1e-10))).astype(np.float32)


def vad_mask(energy_db: np.ndarray, mode: str = "max", threshold_db: float | None = None,
             hangover: int = 5) -> np.ndarray:
    """Energy voice activity detection.

    Parameters
    ----------
    energy_db : array (n_frames,), frame energies in dB (see :func:`frame_energy_db`).
    mode : ``"max"`` or ``"mean"``: the reference the threshold is relative to.
    threshold_db : frames above ``reference + threshold_db`` are voiced (``None``: -30 for max, -10 for mean).
    hangover : frames added on both sides of every voiced frame (smoothing).

    Returns
    -------
    bool array (n_frames,): True for voiced frames. Frames below -80 dBFS are never voiced.
    """
    e = np.asarray(energy_db, dtype=np.float64)
    if mode not in _VAD_DEFAULT_DB:
        raise ValueError(f"unknown VAD mode {mode!r}")
    thr = _VAD_DEFAULT_DB[mode] if threshold_db is None else threshold_db
    ref = e.max() if mode == "max" else e.mean()
    voiced = (e > ref + thr) & (e > VAD_ABSOLUTE_FLOOR_DB)
    if hangover and voiced.any():
        # "full" then the centre slice: mode="same" returns the kernel's length when it is the longer one
        spread = np.convolve(voiced.astype(np.float32), np.ones(2 * hangover + 1, np.float32), mode="full")
        voiced = spread[hangover:hangover + len(voiced)] > 0.5
    return voiced


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


def sdc(c: np.ndarray, n: int = 7, d: int = 1, p: int = 3, k: int = 7) -> np.ndarray:
    """Shifted delta cepstra (Torres-Carrasquillo et al. 2002), edges padded by repetition.

    Parameters
    ----------
    c : array (n_frames, >= n), static cepstra.
    n, d, p, k : N-d-P-k: use the first ``n`` coefficients; ``delta(t) = c(t+d) - c(t-d)``;
        block i (0..k-1) is ``delta(t + i p)``.

    Returns
    -------
    float32 array (n_frames, n * k): the k delta blocks side by side.
    """
    c = np.asarray(c, dtype=np.float32)[:, :n]
    t = c.shape[0]
    cp = np.pad(c, ((d, d + (k - 1) * p), (0, 0)), mode="edge")
    delta = cp[2 * d:] - cp[: -2 * d]  # delta[j] = c(j+d) - c(j-d), j = 0 .. t + (k-1)p - 1
    return np.concatenate([delta[i * p: i * p + t] for i in range(k)], axis=1)


def cmvn(x: np.ndarray, mode: str = "utterance", window: int = 300) -> np.ndarray:
    """Cepstral mean and variance normalisation.

    Parameters
    ----------
    x : array (n_frames, n_dims).
    mode : ``"utterance"`` (statistics of all frames), ``"sliding"`` (statistics of the ``window`` frames
        centred on each frame, shifted inwards at the edges; the whole utterance when it is shorter) or
        ``"none"``.
    window : sliding window length in frames.

    Returns
    -------
    float32 array (n_frames, n_dims); constant dimensions become zero rather than NaN.
    """
    x = np.asarray(x, dtype=np.float32)
    if mode == "none":
        return x
    if mode not in ("utterance", "sliding"):
        raise ValueError(f"unknown cmvn mode {mode!r}")
    t = x.shape[0]
    x64 = x.astype(np.float64)  # float64 statistics: a constant column gives exactly zero, not +-1
    if mode == "utterance" or t <= window:
        mu = x64.mean(axis=0)
        sd = x64.std(axis=0)
        return cmvn_apply(x64, mu, sd)
    s1 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x64, axis=0)])
    s2 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x64 * x64, axis=0)])
    lo = np.clip(np.arange(t) - window // 2, 0, t - window)
    hi = lo + window
    mu = (s1[hi] - s1[lo]) / window
    var = np.maximum((s2[hi] - s2[lo]) / window - mu * mu, 0.0)
    return cmvn_apply(x64, mu, np.sqrt(var))


def cmvn_apply(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Normalise frames with given statistics, as :func:`cmvn` does: ``(x - mean) / std``.

    Parameters
    ----------
    x : array (n_frames, n_dims).
    mean, std : arrays broadcastable to ``x`` (``(n_dims,)`` or ``(n_frames, n_dims)``), float64 preferred.
        A standard deviation below ``1e-8 + 1e-7 |mean|`` is raised to it, so constant dimensions become zero.

    Returns
    -------
    float32 array (n_frames, n_dims).
    """
    x64 = np.asarray(x, dtype=np.float64)
    return ((x64 - mean) / np.maximum(std, 1e-8 + 1e-7 * np.abs(mean))).astype(np.float32)


def extract(y: np.ndarray, sr: int, cfg: FeatureConfig) -> np.ndarray:
    """Feature frames of a signal: MFCC (c0 / log-energy / none), deltas, SDC, music descriptors, texture
    window, rhythm, energy VAD, then CMVN.

    Parameters
    ----------
    y : array (n_samples,), mono signal, nominally in [-1, 1].
    sr : its sample rate in Hz; must equal ``cfg.sample_rate`` (resample on load, see ``audio.load_audio``).
    cfg : feature configuration.

    Returns
    -------
    float32 array (n_frames, cfg.n_dims), frames every ``cfg.frame_shift_ms`` ms (only the voiced ones when
    ``cfg.vad`` is on).

    Raises
    ------
    ValueError : wrong rate, non-finite samples, a signal shorter than one frame (or one texture window), or
        VAD keeping no frame.
    """
    if sr != cfg.sample_rate:
        raise ValueError(f"signal is at {sr} Hz but the feature config expects {cfg.sample_rate} Hz")
    y = _check_signal(y, cfg.win_length)
    if not np.isfinite(y).all():
        raise ValueError("signal contains NaN or infinite samples")
    if cfg.texture_window_s and (n_frames := 1 + (len(y) - cfg.win_length) // cfg.hop_length) < cfg.texture_frames:
        raise ValueError(f"{len(y) / sr:.2f} s of audio ({n_frames} frames) is shorter than one texture window "
                         f"({cfg.texture_window_s:g} s = {cfg.texture_frames} frames)")
    x, energy_db, lm = frame_features(y, cfg, keep_log_mel=cfg.rhythm)
    onset = onset_strength(lm) if cfg.rhythm else None
    del lm
    r = rhythm(onset, 1000.0 / cfg.frame_shift_ms, cfg.rhythm_frames) if onset is not None else None
    if cfg.vad != "none":
        keep = vad_mask(energy_db, cfg.vad, cfg.vad_threshold_db, cfg.vad_hangover)
        if not keep.any():
            thr = _VAD_DEFAULT_DB[cfg.vad] if cfg.vad_threshold_db is None else cfg.vad_threshold_db
            raise ValueError(f"energy VAD kept no frame of {len(keep)} (loudest frame {energy_db.max():.1f} dBFS; "
                             f"threshold {thr:g} dB re {cfg.vad} energy, floor {VAD_ABSOLUTE_FLOOR_DB:g} dBFS): "
                             f"the audio is silent or too quiet")
        x = x[keep]
        r = None if r is None else r[keep]
        if cfg.texture_window_s and len(x) < cfg.texture_frames:
            raise ValueError(f"energy VAD kept {len(x)} frames, fewer than one texture window "
                             f"({cfg.texture_frames} frames)")
    # CMVN normalises the frame features; texture statistics and rhythm summarise stretches of the clip, so they
    # are computed after it and not normalised per clip (that would remove the clip-level differences they carry)
    x = cmvn(x, cfg.cmvn, cfg.cmvn_window)
    if cfg.texture_window_s:
        x = texture_stats(x, cfg.texture_frames)
    if r is not None:
        x = np.concatenate([x, r], axis=1)
    return x
