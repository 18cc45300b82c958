"""Music descriptors: spectral contrast, chroma, timbral shape, texture-window statistics and rhythm.

Pure functions of arrays (no I/O). They share the power spectrogram the MFCC front end computes
(:func:`gmmspeech.features.power_spectrogram`), so turning them on costs no second STFT; librosa supplies the
filter banks and the spectral-contrast computation. All frame-level functions return one row per analysis
frame, aligned with the MFCC frames.

References: texture windows and the rhythm idea -- Tzanetakis & Cook, "Musical genre classification of audio
signals", IEEE TSAP 10(5), 2002; octave-band spectral contrast -- Jiang et al., ICME 2002.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["TIMBRE_FEATURES", "RHYTHM_BANDS_BPM", "CONTRAST_DIMS", "CHROMA_DIMS", "spectral_contrast", "chroma",
           "timbre", "onset_strength", "texture_stats", "rhythm", "rhythm_dims"]

#: Timbral frame features :func:`timbre` can compute (one dimension each).
TIMBRE_FEATURES = ("centroid", "bandwidth", "rolloff", "flatness", "zcr")
#: Tempo bands (beats per minute) the rhythm descriptor reduces the onset autocorrelation to.
RHYTHM_BANDS_BPM = ((40.0, 70.0), (70.0, 100.0), (100.0, 130.0), (130.0, 170.0), (170.0, 240.0))
#: Spectral contrast: 6 octave sub-bands above 200 Hz plus the residual band -> 7 values per frame.
CONTRAST_DIMS = 7
CHROMA_DIMS = 12
_CONTRAST_FMIN = 200.0
_CONTRAST_BANDS = 6


def rhythm_dims() -> int:
    """Dimensions of :func:`rhythm`: one autocorrelation peak per tempo band plus the log onset strength."""
    return len(RHYTHM_BANDS_BPM) + 1


def spectral_contrast(power: np.ndarray, sr: int, n_fft: int) -> np.ndarray:
    """Octave-band spectral contrast (Jiang et al. 2002) in dB.

    Parameters
    ----------
    power : array (n_frames, n_fft // 2 + 1), power spectrogram.
    sr, n_fft : sample rate in Hz and FFT size of that spectrogram.

    Returns
    -------
    float32 array (n_frames, 7): peak-minus-valley (dB) of 6 octave bands from 200 Hz, and the residual band.
    Bands that would reach past Nyquist are shrunk, so low sample rates still work.
    """
    import librosa

    fmin = _CONTRAST_FMIN
    n_bands = _CONTRAST_BANDS
    # librosa refuses band edges above Nyquist: lower fmin for low sample rates (e.g. 8 kHz telephone audio)
    while fmin * 2.0 ** (n_bands - 1) >= sr / 2 and fmin > 25:
        fmin /= 2
    mag = np.sqrt(np.maximum(power, 0, dtype=np.float32)).T
    c = librosa.feature.spectral_contrast(S=mag, sr=sr, n_fft=n_fft, fmin=fmin, n_bands=n_bands)
    return np.ascontiguousarray(c.T, dtype=np.float32)


@lru_cache(maxsize=16)
def _chroma_basis(sr: int, n_fft: int) -> np.ndarray:
    import librosa

    return librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=0.0).astype(np.float32).T  # (n_bins, 12)


def chroma(power: np.ndarray, sr: int, n_fft: int) -> np.ndarray:
    """Chroma (pitch-class energy) of each frame, as ``librosa.feature.chroma_stft(S=power, tuning=0)``.

    Parameters
    ----------
    power : array (n_frames, n_fft // 2 + 1), power spectrogram.
    sr, n_fft : its sample rate (Hz) and FFT size.

    Returns
    -------
    float32 array (n_frames, 12), each row scaled so its largest pitch class is 1 (silent frames: 0).
    """
    c = np.asarray(power, dtype=np.float32) @ _chroma_basis(sr, n_fft)
    peak = c.max(axis=1, keepdims=True)
    return c / np.maximum(peak, np.float32(1e-10))


def timbre(power: np.ndarray, frames: np.ndarray | None, sr: int, n_fft: int, names: tuple[str, ...]) -> np.ndarray:
    """Timbral shape descriptors of each frame, on log scales so they suit Gaussian models.

    Parameters
    ----------
    power : array (n_frames, n_fft // 2 + 1), power spectrogram.
    frames : array (n_frames, win) of raw signal frames (needed for ``"zcr"`` only; else may be ``None``).
    sr, n_fft : sample rate in Hz and FFT size.
    names : any of :data:`TIMBRE_FEATURES`, in the order wanted:
        ``centroid`` log of the magnitude-weighted mean frequency (log Hz); ``bandwidth`` log of the weighted
        standard deviation around it (log Hz); ``rolloff`` log of the frequency below which 85 % of the
        magnitude lies (log Hz); ``flatness`` spectral flatness (geometric / arithmetic mean power) in dB;
        ``zcr`` zero crossings per sample.

    Returns
    -------
    float32 array (n_frames, len(names)).
    """
    p = np.maximum(np.asarray(power, dtype=np.float32), np.float32(1e-10))
    freqs = np.linspace(0, sr / 2, p.shape[1], dtype=np.float32)
    out = []
    mag = total = centroid = None
    if {"centroid", "bandwidth", "rolloff"} & set(names):
        mag = np.sqrt(p)
        total = mag.sum(axis=1)
        centroid = (mag @ freqs) / total
    for name in names:
        if name == "centroid":
            out.append(np.log(np.maximum(centroid, 1.0)))
        elif name == "bandwidth":
            spread = (mag @ (freqs * freqs)) / total - centroid * centroid
            out.append(0.5 * np.log(np.maximum(spread, 1.0)))
        elif name == "rolloff":
            cum = np.cumsum(mag, axis=1)
            idx = np.minimum((cum < 0.85 * total[:, None]).sum(axis=1), p.shape[1] - 1)
            out.append(np.log(np.maximum(freqs[idx], 1.0)))
        elif name == "flatness":
            out.append(10 * (np.log(p).mean(axis=1) - np.log(p.mean(axis=1))) / np.log(10))
        elif name == "zcr":
            if frames is None:
                raise ValueError("zcr needs the signal frames")
            s = np.signbit(frames)
            out.append((s[:, 1:] != s[:, :-1]).mean(axis=1))
        else:
            raise ValueError(f"unknown timbre feature {name!r} (known: {', '.join(TIMBRE_FEATURES)})")
    return np.stack(out, axis=1).astype(np.float32)


def onset_strength(log_mel: np.ndarray) -> np.ndarray:
    """Spectral-flux onset strength, as ``librosa.onset.onset_strength`` (lag 1, mean over bands).

    Parameters
    ----------
    log_mel : array (n_frames, n_mels), natural-log mel energies.

    Returns
    -------
    float32 array (n_frames,): mean over bands of the half-wave rectified increase in dB from the previous
    frame (0 for the first frame).
    """
    db = np.asarray(log_mel, dtype=np.float32) * np.float32(10 / np.log(10))
    db = np.maximum(db, db.max() - 80.0)  # librosa's top_db=80 on power_to_db
    flux = np.maximum(np.diff(db, axis=0), 0).mean(axis=1)
    return np.concatenate([[0.0], flux]).astype(np.float32)


def _window_bounds(n: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Start/end (exclusive) of a ``width``-frame window centred on each of ``n`` frames, shifted inwards."""
    width = min(width, n)
    lo = np.clip(np.arange(n) - width // 2, 0, n - width)
    return lo, lo + width


def texture_stats(x: np.ndarray, width: int) -> np.ndarray:
    """Texture-window statistics (Tzanetakis & Cook 2002): running mean and standard deviation.

    Parameters
    ----------
    x : array (n_frames, D), frame features; ``n_frames >= width``.
    width : window in frames, centred on each frame (shifted inwards at the edges).

    Returns
    -------
    float32 array (n_frames, 2 D): ``[mean, std]`` of the window around each frame.
    """
    x64 = np.asarray(x, dtype=np.float64)
    n = x64.shape[0]
    if n < width:
        raise ValueError(f"{n} frames are fewer than one texture window ({width} frames)")
    lo, hi = _window_bounds(n, width)
    # centre on the global mean first so the running second moment does not cancel catastrophically
    xc = x64 - x64.mean(axis=0)
    s1 = np.concatenate([np.zeros((1, x64.shape[1])), np.cumsum(xc, axis=0)])
    s2 = np.concatenate([np.zeros((1, x64.shape[1])), np.cumsum(xc * xc, axis=0)])
    mu = (s1[hi] - s1[lo]) / width
    var = np.maximum((s2[hi] - s2[lo]) / width - mu * mu, 0.0)
    return np.concatenate([mu + x64.mean(axis=0), np.sqrt(var)], axis=1).astype(np.float32)


def rhythm(onset: np.ndarray, frame_rate: float, width: int) -> np.ndarray:
    """Rhythm descriptor over a window around each frame: onset autocorrelation reduced to tempo bands.

    For each frame, the onset-strength envelope (minus its running mean) in the ``width``-frame window
    around it is autocorrelated, normalised by its lag-0 value, and the largest value in each tempo band of
    :data:`RHYTHM_BANDS_BPM` is kept (a strong, regular beat at that tempo gives a value near 1). The last
    dimension is the log of the window's mean onset strength (how percussive the music is).

    Parameters
    ----------
    onset : array (n_frames,), onset strength (:func:`onset_strength`).
    frame_rate : frames per second.
    width : window length in frames (clipped to the signal).

    Returns
    -------
    float32 array (n_frames, :func:`rhythm_dims`).
    """
    o = np.asarray(onset, dtype=np.float64)
    n = o.shape[0]
    width = min(width, n)
    lo, hi = _window_bounds(n, width)
    cs = np.concatenate([[0.0], np.cumsum(o)])
    local_mean = (cs[hi] - cs[lo]) / width
    strength = np.log(local_mean + 1e-3)
    # lag range of the bands, in frames
    lags_of = [(max(1, int(np.floor(60.0 * frame_rate / b_hi))), int(np.ceil(60.0 * frame_rate / b_lo)))
               for b_lo, b_hi in RHYTHM_BANDS_BPM]
    max_lag = min(max(h for _, h in lags_of), width - 1)
    oc = o - local_mean  # remove the local level: the running mean around each frame
    out = np.zeros((n, len(RHYTHM_BANDS_BPM) + 1))
    out[:, -1] = strength
    if max_lag < 1:
        return out.astype(np.float32)
    c0 = np.concatenate([[0.0], np.cumsum(oc * oc)])
    energy = np.maximum(c0[hi] - c0[lo], 1e-12)
    ac = np.full((max_lag + 1, n), -np.inf)
    for lag in range(1, max_lag + 1):
        prod = np.concatenate([[0.0], np.cumsum(oc[:-lag] * oc[lag:])])  # prod[j] = sum_{i<j} o_i o_{i+lag}
        end = np.maximum(hi - lag, lo)
        ac[lag] = (prod[end] - prod[lo]) / energy
    for b, (l_lo, l_hi) in enumerate(lags_of):
        l_hi = min(l_hi, max_lag)
        if l_lo <= l_hi:
            out[:, b] = ac[l_lo:l_hi + 1].max(axis=0)
    return out.astype(np.float32)
