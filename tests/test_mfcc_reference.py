"""Our MFCCs and mel filterbank against independent implementations.

* The filterbank against transcriptions of HTK's ``InitFBank`` (HSigP.c) and Kaldi's ``MelBanks`` constructor
  (mel-computations.cc), both written here as the scalar loops of the originals: equal to float64 rounding.
* The filterbank against ``python_speech_features.get_filterbanks``, which rounds the triangle corners to FFT
  bins (``floor((nfft + 1) f / sr)``) and is linear in bin index: equal up to that rounding (bounds below).
* The whole MFCC pipeline against ``python_speech_features.mfcc`` with matched settings, first with its
  filterbank swapped for ours (isolates framing, pre-emphasis, window, power, log, DCT and lifter: equal to
  float32 rounding), then end to end with its own filterbank (statistical bounds set by the bin rounding).

Every check fails on the librosa filterbank used before (``librosa.filters.mel(htk=True)`` keeps the Slaney
area normalisation, which scales filter i by ``2 / width_i`` and so shifts log mel channel i by -3.5 to -6 nats
at 16 kHz / 40 mels: c0 moves by ~32, c1 by ~13).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal

from gmmspeech.frontend.features import FeatureConfig, hz_to_mel, mel_filterbank, mel_to_hz, mfcc, power_spectrogram

psf = pytest.importorskip("python_speech_features")
psf_base = pytest.importorskip("python_speech_features.base")

SR = 16000

# (sample_rate, n_fft, n_mels, fmin, fmax): our defaults, the speaker preset, the genre preset, the VoxLingua
# recipe's band and narrowband telephone speech
FILTERBANKS = [(16000, 512, 40, 20.0, 8000.0), (16000, 512, 64, 20.0, 8000.0), (22050, 1024, 64, 0.0, 11025.0),
               (16000, 512, 40, 100.0, 7600.0), (8000, 256, 23, 64.0, 3800.0)]


def speechlike(seconds: float = 2.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Synthetic speech-like signal, float32 (n,): a glottal pulse train gliding 50-170 Hz through four vowels'
    formant resonators, a high-passed noise 'fricative', a 100 Hz - 7 kHz chirp and a -40 dB noise floor."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    phase = np.cumsum(110 + 60 * np.sin(2 * np.pi * 0.7 * t)) / sr
    pulses = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(np.float64)
    source = scipy.signal.lfilter([1.0], [1.0, -0.95], pulses)
    voiced = np.zeros(n)
    seg = n // 4
    for i, formants in enumerate([(700, 1200, 2600), (300, 2300, 3000), (500, 900, 2400), (400, 1900, 2700)]):
        out = source[i * seg: (i + 1) * seg]
        for f, bw in zip(formants, (80, 120, 160), strict=True):  # two-pole resonators
            r, theta = math.exp(-math.pi * bw / sr), 2 * math.pi * f / sr
            out = scipy.signal.lfilter([1 - r], [1, -2 * r * math.cos(theta), r * r], out)
        voiced[i * seg: (i + 1) * seg] = out
    voiced /= np.abs(voiced).max()
    hiss = scipy.signal.lfilter(*scipy.signal.butter(4, 0.22 * sr, "high", fs=sr), rng.standard_normal(n))
    y = (0.5 * voiced + 0.2 * ((t > 0.9) & (t < 1.1)) * hiss
         + 0.1 * scipy.signal.chirp(t, 100, seconds, 0.44 * sr) * (t > 1.5) + 0.01 * rng.standard_normal(n))
    return y.astype(np.float32)


# --- the filterbank ---------------------------------------------------------------------------------------------

def htk_fbank(sr: int, n_fft: int, n_chans: int, lopass: float, hipass: float) -> np.ndarray:
    """HTK's InitFBank (HSigP.c) as a dense (n_chans, n_fft // 2 + 1) matrix, 1-based like the original.

    Channel centres cf[1..n_chans] are evenly spaced in mel, cf[n_chans + 1] = mel(hipass); FFT bin k
    (1-based, frequency (k - 1) sr / n_fft) goes to channel loChan[k] with weight loWt[k] and to
    loChan[k] + 1 with 1 - loWt[k]. HTK restricts k to klo..khi by its own rounding of the band edges; here
    the bins strictly inside (lopass, hipass) are used, the ones whose weights the triangles define.
    """
    mel = lambda k: 1127.0 * math.log(1 + (k - 1) * sr / n_fft / 700.0)  # noqa: E731 - HTK's Mel(k, fres)
    mlo, mhi = 1127.0 * math.log(1 + lopass / 700.0), 1127.0 * math.log(1 + hipass / 700.0)
    max_chan = n_chans + 1
    cf = [None] + [mlo + chan / max_chan * (mhi - mlo) for chan in range(1, max_chan + 1)]
    fb = np.zeros((n_chans + 2, n_fft // 2 + 1))  # rows 0 and n_chans + 1 are HTK's dummy outer channels
    chan = 1
    for k in range(1, n_fft // 2 + 2):
        melk = mel(k)
        if not mlo < melk < mhi:
            continue
        while cf[chan] < melk and chan <= max_chan:
            chan += 1
        lo_chan = chan - 1
        lo_wt = (cf[lo_chan + 1] - melk) / (cf[lo_chan + 1] - (cf[lo_chan] if lo_chan > 0 else mlo))
        fb[lo_chan, k - 1] += lo_wt
        fb[lo_chan + 1, k - 1] += 1 - lo_wt
    return fb[1: n_chans + 1]


def kaldi_mel_banks(sr: int, n_fft: int, num_bins: int, low_freq: float, high_freq: float) -> np.ndarray:
    """Kaldi's MelBanks constructor (mel-computations.cc, no VTLN) as a dense (num_bins, n_fft // 2) matrix."""
    mel_scale = lambda f: 1127.0 * math.log(1.0 + f / 700.0)  # noqa: E731
    fft_bin_width = sr / n_fft
    mel_low, mel_high = mel_scale(low_freq), mel_scale(high_freq)
    delta = (mel_high - mel_low) / (num_bins + 1)
    out = np.zeros((num_bins, n_fft // 2))
    for b in range(num_bins):
        left, centre, right = mel_low + b * delta, mel_low + (b + 1) * delta, mel_low + (b + 2) * delta
        for i in range(n_fft // 2):
            m = mel_scale(fft_bin_width * i)
            if left < m <= centre:
                out[b, i] = (m - left) / (centre - left)
            elif centre < m < right:
                out[b, i] = (right - m) / (right - centre)
    return out


@pytest.mark.parametrize("sr, n_fft, n_mels, fmin, fmax", FILTERBANKS)
def test_filterbank_is_htks_and_kaldis(sr, n_fft, n_mels, fmin, fmax):
    fb = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    assert fb.shape == (n_mels, n_fft // 2 + 1)
    np.testing.assert_allclose(fb, htk_fbank(sr, n_fft, n_mels, fmin, fmax), rtol=0, atol=1e-9)
    # Kaldi drops the Nyquist bin, which lies on or above the last filter's upper edge (weight 0)
    np.testing.assert_allclose(fb[:, :-1], kaldi_mel_banks(sr, n_fft, n_mels, fmin, fmax), rtol=0, atol=1e-9)
    assert not fb[:, -1].any()


@pytest.mark.parametrize("sr, n_fft, n_mels, fmin, fmax", FILTERBANKS)
def test_filterbank_agrees_with_python_speech_features_up_to_bin_rounding(sr, n_fft, n_mels, fmin, fmax):
    ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    ref = psf.get_filterbanks(n_mels, n_fft, sr, fmin, fmax)
    assert ref.shape == ours.shape
    # Neither is area-normalised: triangles of height 1. psf's corners sit on bins, so its peaks are exactly 1;
    # ours are sampled at the bins, so a filter's largest weight is below 1 unless a bin hits its centre (> 0.49
    # here; the Slaney-normalised filters peaked at 0.016-0.03).
    assert np.all(ref.max(axis=1) == 1)
    assert np.all(ours.max(axis=1) <= 1) and np.all(ours.max(axis=1) > 0.45)
    # psf moves each corner from f n_fft / sr bins to floor((n_fft + 1) f / sr): by -1 .. +0.5 bins. So the
    # filters' centroids (a triangle's centroid is the mean of its corners) differ by less than that ...
    k = np.arange(ours.shape[1])
    shift = (ours @ k) / ours.sum(axis=1) - (ref @ k) / ref.sum(axis=1)
    assert np.all(shift > -0.5) and np.all(shift < 1.0), shift
    # ... and the sums of the weights (the filters' bandwidths in bins: base / 2) by less than one bin
    # (measured: <= 0.5; Slaney-normalised sums were ~0.03 against psf's 1.5-40)
    np.testing.assert_allclose(ours.sum(axis=1), ref.sum(axis=1), rtol=0, atol=1.0)


# --- the MFCC pipeline ------------------------------------------------------------------------------------------

# matched settings: 25 ms Hamming frames every 10 ms, 512-point FFT, pre-emphasis 0.97, 40 mels over 20 Hz -
# 8 kHz, 13 cepstra, lifter 22, c0 kept (psf: appendEnergy=False), raw cepstra (no deltas, no CMVN); plus the
# speaker preset (64 mels, 30 cepstra) and the genre preset (22.05 kHz, 46 ms, full band, no pre-emphasis or
# lifter)
CONFIGS = {
    "default": FeatureConfig(fmin=20.0, fmax=8000.0, deltas=0, cmvn="none"),
    "speaker": FeatureConfig(n_mels=64, n_mfcc=30, deltas=0, cmvn="none"),
    "genre": FeatureConfig(sample_rate=22050, frame_length_ms=46.4, frame_shift_ms=23.2, n_mels=64, n_mfcc=20,
                           fmin=0.0, preemphasis=0.0, lifter=0.0, deltas=0, cmvn="none"),
}


def psf_mfcc(y: np.ndarray, cfg: FeatureConfig, n_frames: int) -> np.ndarray:
    """python_speech_features' MFCCs with ``cfg``'s settings, on our framing and power-spectrum scale.

    psf zero-pads the signal to cover its end (``1 + ceil((n - win) / hop)`` frames against our
    ``1 + floor(...)``): its first ``n_frames`` frames are ours. Its power spectrum is ``|X|^2 / n_fft``, which
    adds ``-log(n_fft)`` to every log mel energy and so ``-log(n_fft) sqrt(n_mels)`` to c0 (orthonormal DCT,
    lifter weight 1 at c0): added back here.
    """
    fmax = cfg.sample_rate / 2 if cfg.fmax is None else cfg.fmax
    c = psf.mfcc(y.astype(np.float64), cfg.sample_rate, winlen=cfg.win_length / cfg.sample_rate,
                 winstep=cfg.hop_length / cfg.sample_rate, numcep=cfg.n_mfcc, nfilt=cfg.n_mels, nfft=cfg.n_fft,
                 lowfreq=cfg.fmin, highfreq=fmax, preemph=cfg.preemphasis, ceplifter=cfg.lifter,
                 appendEnergy=False, winfunc=np.hamming)
    assert len(c) - n_frames in (0, 1)
    c = c[:n_frames]
    c[:, 0] += math.log(cfg.n_fft) * math.sqrt(cfg.n_mels)
    return c


@pytest.mark.parametrize("name", list(CONFIGS))
def test_mfcc_pipeline_equals_python_speech_features_given_the_same_filterbank(name, monkeypatch):
    cfg = CONFIGS[name]
    y = speechlike(sr=cfg.sample_rate)
    ours = mfcc(y, cfg)
    monkeypatch.setattr(psf_base, "get_filterbanks",
                        lambda nfilt, nfft, samplerate, lowfreq, highfreq: mel_filterbank(samplerate, nfft, nfilt,
                                                                                          lowfreq, highfreq))
    ref = psf_mfcc(y, cfg, len(ours))
    # only float32 (ours) against float64 (psf) arithmetic differs: measured <= 2e-4 on cepstra of std 9-30
    np.testing.assert_allclose(ours, ref, rtol=0, atol=2e-3)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_mfcc_agrees_with_python_speech_features_end_to_end(name):
    cfg = CONFIGS[name]
    y = speechlike(sr=cfg.sample_rate)
    ours = mfcc(y, cfg).astype(np.float64)[:, :13]
    ref = psf_mfcc(y, cfg, len(ours))[:, :13]
    diff = ours - ref
    sd = ref.std(axis=0)
    corr = np.array([np.corrcoef(ours[:, i], ref[:, i])[0, 1] for i in range(ours.shape[1])])
    # With psf's own filterbank the MFCCs differ only through its bin-rounded triangle corners (the test above
    # shows the rest of the pipeline is identical; the next one that exact-frequency triangles agree to < 1 %).
    # On harmonic frames a corner moved by a fraction of a bin changes how much of a harmonic a narrow low
    # filter catches, up to ~1 nat in a low log mel channel, which the DCT spreads over the higher cepstra.
    # Hence statistical bounds on c0-c12 (beyond c12 with 64 mels on a 512-point FFT the low filters are
    # 1.5-2 bins wide and psf's rounding dominates: correlations fall to 0.77). Measured over the three
    # configurations, worst coefficient: 1 - corr 0.043 (c0-c3: 0.0034), |mean diff| 0.21 sd, RMS diff 0.33 sd,
    # c0 mean diff 0.085 sqrt(n_mels). The bounds leave ~1.4x or more.
    assert corr.min() > 0.93, corr
    assert corr[:4].min() > 0.99, corr[:4]
    assert np.all(np.abs(diff.mean(axis=0)) < 0.3 * sd), diff.mean(axis=0) / sd
    assert np.all(np.sqrt((diff ** 2).mean(axis=0)) < 0.45 * sd), np.sqrt((diff ** 2).mean(axis=0)) / sd
    # c0 is the filterbank's overall gain: agrees to a small fraction of a nat per channel (Slaney: ~5 per channel)
    assert abs(diff[:, 0].mean()) < 0.15 * math.sqrt(cfg.n_mels), diff[:, 0].mean()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_mfcc_matches_exact_frequency_triangles_of_librosa_closely(name):
    # librosa's filterbank with htk=True and norm=None: the same mel-spaced corners and height 1, sampled at the
    # exact bin frequencies, but linear in Hz between the corners where HTK's are linear in mel. Applied here to
    # our power spectrum, then log, orthonormal DCT-II and lifter written out: without bin rounding all cepstra
    # agree (measured 1 - corr <= 1e-5, RMS diff <= 0.7 % of sd, |mean diff| <= 0.4 % of sd).
    import librosa
    import scipy.fft

    cfg = CONFIGS[name]
    y = speechlike(sr=cfg.sample_rate)
    ours = mfcc(y, cfg).astype(np.float64)
    fb = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin,
                             fmax=cfg.fmax or cfg.sample_rate / 2, htk=True, norm=None, dtype=np.float64)
    log_mel = np.log(np.maximum(power_spectrogram(y, cfg).astype(np.float64) @ fb.T, 1e-10))
    ref = scipy.fft.dct(log_mel, type=2, norm="ortho", axis=1)[:, :cfg.n_mfcc]
    if cfg.lifter:
        ref *= 1 + cfg.lifter / 2 * np.sin(np.pi * np.arange(cfg.n_mfcc) / cfg.lifter)
    diff, sd = ours - ref, ref.std(axis=0)
    corr = np.array([np.corrcoef(ours[:, i], ref[:, i])[0, 1] for i in range(cfg.n_mfcc)])
    assert corr.min() > 0.9999, corr
    assert np.all(np.sqrt((diff ** 2).mean(axis=0)) < 0.02 * sd)
    assert np.all(np.abs(diff.mean(axis=0)) < 0.01 * sd)


def test_log_mel_energies_agree_with_python_speech_features():
    import scipy.fft

    cfg = CONFIGS["default"]
    y = speechlike()
    # the log mel energies extract() uses, recovered from all n_mels cepstra without lifter (DCT-III inverts
    # the orthonormal DCT-II)
    c = mfcc(y, FeatureConfig(**{**cfg.to_dict(), "n_mfcc": cfg.n_mels, "lifter": 0.0}))
    ours = scipy.fft.idct(c.astype(np.float64), type=2, norm="ortho", axis=1)
    feat, _ = psf.fbank(y.astype(np.float64), SR, cfg.win_length / SR, cfg.hop_length / SR, cfg.n_mels, cfg.n_fft,
                        cfg.fmin, cfg.fmax, cfg.preemphasis, winfunc=np.hamming)
    ref = np.log(feat[: len(ours)]) + math.log(cfg.n_fft)  # psf's power spectrum is |X|^2 / n_fft
    d = ours - ref
    # per channel, the median over frames: measured <= 0.48 nats (the narrowest, lowest filters, where bin
    # rounding moves psf's corners furthest relative to their width) and <= 0.1 above 600 Hz; the
    # Slaney-normalised filterbank was off by -3.5 to -6.2 nats in every channel
    med = np.median(d, axis=0)
    assert np.all(np.abs(med) < 0.75), med
    assert np.all(np.abs(med[12:]) < 0.2), med


def test_mel_scale_is_htks():
    np.testing.assert_allclose(hz_to_mel([0.0, 700.0, 1000.0]), [0.0, 2595 * math.log10(2), 999.985560], rtol=1e-7)
    # HTK and Kaldi write it 1127 ln(1 + f/700): 2595 / ln 10 = 1126.99..., the same scale to 5e-6 (and the
    # filter weights, ratios of mel differences, do not depend on the factor at all)
    np.testing.assert_allclose(hz_to_mel(4000.0), 1127 * math.log(1 + 4000 / 700), rtol=1e-5)
    f = np.linspace(0, 11025, 50)
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f)), f, atol=1e-9)
