"""Feature extraction speed: gmmspeech's front-end against librosa and python_speech_features, same run.

Writes ``--minutes`` of 16 kHz speech-like audio (voiced harmonic segments through moving formant resonators,
noise fricatives, pauses) as FLAC files in a temp folder, then times, per file, *loading + MFCC (13) + deltas +
delta-deltas + utterance CMVN*:

* gmmspeech in one process (``compute_features(n_jobs=1)``) and on all cores (``n_jobs=-1``, workers started
  before timing), no cache;
* ``librosa.load`` + ``librosa.feature.mfcc`` + ``librosa.feature.delta`` (order 1 and 2) + CMVN, the obvious way;
* ``soundfile.read`` + ``python_speech_features.mfcc`` + ``delta`` twice + CMVN (if installed);
* gmmspeech with the feature cache: a cold run (extract + write) and a warm run (hash + read) on all cores.

Prints the real-time factor (seconds of audio per second of wall time) and ratios.

With ``--genre``, the same comparison for the genre preset (``--task genre``) on 22.05 kHz music-like audio
(chords, bass, drum hits, noise) in 5-second clips: gmmspeech in one process against librosa computing the same
features the obvious way (``librosa.load``, ``librosa.feature.mfcc``/``delta``/``spectral_contrast``/
``chroma_stft``/spectral shape functions on the signal, ``onset_strength`` + ``tempogram`` reduced to the same
tempo bands, texture statistics with a sliding window). Goal: >= 300x real time on one core, and not slower
than librosa. Run:

    python benchmarks/bench_features.py [--minutes 10] [--files 60] [--jobs -1]
    python benchmarks/bench_features.py --genre [--minutes 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

from gmmspeech.data.featstore import FeatureCache, compute_features
from gmmspeech.data.manifest import Utterance
from gmmspeech.frontend.features import FeatureConfig
from gmmspeech.infra.parallel import effective_jobs

SR = 16000


def speechlike(seconds: float, seed: int) -> np.ndarray:
    """Speech-like float32 signal: 250 ms 'syllables' (voiced, fricative or pause) with moving formants."""
    rng = np.random.default_rng(seed)
    n_blk = int(seconds / 0.25)
    blk = int(0.25 * SR)
    out = np.empty(n_blk * blk, np.float32)
    phase = 0.0
    for b in range(n_blk):
        kind = rng.choice(["voiced", "voiced", "voiced", "fricative", "pause"])
        if kind == "voiced":
            f0 = rng.uniform(90, 220) * (1 + 0.1 * np.sin(np.linspace(0, np.pi, blk)))
            ph = phase + np.cumsum(2 * np.pi * f0 / SR)
            phase = float(ph[-1])
            x = (ph / np.pi) % 2 - 1  # sawtooth source
            for fc, bw in ((rng.uniform(300, 900), 80), (rng.uniform(900, 2500), 120), (rng.uniform(2500, 3500), 200)):
                r = np.exp(-np.pi * bw / SR)
                x = lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * fc / SR), r * r], x)
            x *= np.hanning(blk) * rng.uniform(0.1, 0.4) / (np.abs(x).max() + 1e-9)
        elif kind == "fricative":
            x = lfilter([1, -0.9], [1], rng.standard_normal(blk)) * 0.02 * np.hanning(blk)
        else:
            x = 1e-3 * rng.standard_normal(blk)
        out[b * blk:(b + 1) * blk] = x
    return out


def librosa_way(paths: list[Path]) -> None:
    import librosa

    for p in paths:
        y, sr = librosa.load(p, sr=SR)
        m = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13, n_fft=512, win_length=400, hop_length=160, n_mels=40)
        x = np.vstack([m, librosa.feature.delta(m), librosa.feature.delta(m, order=2)]).T
        (x - x.mean(0)) / x.std(0)


def psf_way(paths: list[Path]) -> None:
    import python_speech_features as psf

    for p in paths:
        y, sr = sf.read(p, dtype="float32")
        m = psf.mfcc(y, sr, winlen=0.025, winstep=0.01, numcep=13, nfilt=40, nfft=512, winfunc=np.hamming)
        d1 = psf.delta(m, 2)
        x = np.hstack([m, d1, psf.delta(d1, 2)])
        (x - x.mean(0)) / x.std(0)


def musiclike(seconds: float, seed: int, sr: int = 22050) -> np.ndarray:
    """Music-like float32 signal: a chord progression, a bass line, drum hits on a random tempo, some noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = 0.003 * rng.standard_normal(n)
    beat = 60.0 / rng.uniform(70, 180)
    for k, start in enumerate(np.arange(0, seconds, 4 * beat)):
        root = 110 * 2 ** (rng.integers(0, 12) / 12)
        seg = (t >= start) & (t < start + 4 * beat)
        for ratio in (1, 1.26, 1.5, 2):
            y[seg] += 0.05 * np.sin(2 * np.pi * root * ratio * t[seg] + k)
        y[seg] += 0.1 * np.sign(np.sin(2 * np.pi * root / 2 * t[seg]))
    hit = rng.standard_normal(int(0.05 * sr)) * np.exp(-np.arange(int(0.05 * sr)) / (0.01 * sr))
    for b in np.arange(0, seconds - 0.06, beat):
        i = int(b * sr)
        y[i:i + hit.size] += 0.3 * hit
    return (y / np.abs(y).max() * 0.8).astype(np.float32)


def librosa_genre_way(paths: list[Path], cfg) -> None:
    """The features of ``cfg`` (a genre-style FeatureConfig) computed the obvious librosa way, file by file."""
    import librosa

    from gmmspeech.frontend.music import RHYTHM_BANDS_BPM

    sr, n_fft, hop, win = cfg.sample_rate, cfg.n_fft, cfg.hop_length, cfg.win_length
    for p in paths:
        y, _ = librosa.load(p, sr=sr)
        kw = dict(n_fft=n_fft, hop_length=hop, win_length=win, window="hamming", center=False)
        m = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=cfg.n_mfcc, n_mels=cfg.n_mels, fmin=cfg.fmin, **kw)
        parts = [m] + [librosa.feature.delta(m, order=o) for o in range(1, cfg.deltas + 1)]
        if cfg.spectral_contrast:
            parts.append(librosa.feature.spectral_contrast(y=y, sr=sr, **kw))
        if cfg.chroma:
            parts.append(librosa.feature.chroma_stft(y=y, sr=sr, **kw))
        for name in cfg.timbre:
            fn = {"centroid": librosa.feature.spectral_centroid, "bandwidth": librosa.feature.spectral_bandwidth,
                  "rolloff": librosa.feature.spectral_rolloff, "flatness": librosa.feature.spectral_flatness}.get(name)
            if name == "flatness":
                parts.append(fn(y=y, **kw))
            else:
                parts.append(fn(y=y, sr=sr, **kw) if fn else librosa.feature.zero_crossing_rate(
                    y, frame_length=win, hop_length=hop, center=False))
        t = min(x.shape[1] for x in parts)
        x = np.vstack([q[:, :t] for q in parts]).T
        if cfg.texture_window_s:
            w = np.lib.stride_tricks.sliding_window_view(x, cfg.texture_frames, axis=0)
            x = np.hstack([w.mean(axis=2), w.std(axis=2)])
        if cfg.rhythm:
            onset = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop, n_fft=n_fft, center=False)
            tg = librosa.feature.tempogram(onset_envelope=onset, sr=sr, hop_length=hop, win_length=cfg.rhythm_frames)
            bpm = librosa.tempo_frequencies(tg.shape[0], sr=sr, hop_length=hop)
            bands = [tg[(bpm >= lo) & (bpm < hi)].max(axis=0) for lo, hi in RHYTHM_BANDS_BPM]
            np.vstack(bands + [np.log(onset + 1e-3)])


CPU: dict[str, float] = {}


def timed(fn, name: str | None = None) -> float:
    """Wall seconds of ``fn()``; with ``name``, also record this process's CPU seconds (one-process runs)."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    if name:
        CPU[name] = time.process_time() - c0
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="minutes of audio (default 10)")
    ap.add_argument("--files", type=int, default=60, help="number of files the audio is split into")
    ap.add_argument("--jobs", type=int, default=-1, help="worker processes for the all-cores runs (-1: all)")
    ap.add_argument("--genre", action="store_true", help="benchmark the genre preset on music-like audio")
    args = ap.parse_args()
    if args.genre:
        return genre_main(args)
    cfg = FeatureConfig()  # MFCC 13 + deltas + delta-deltas + utterance CMVN, 25/10 ms
    jobs = effective_jobs(args.jobs)
    with tempfile.TemporaryDirectory(prefix="bench_features_") as tmp:
        root = Path(tmp)
        secs = args.minutes * 60 / args.files
        paths = []
        for i in range(args.files):
            p = root / f"utt{i:04d}.flac"
            sf.write(p, speechlike(secs, i), SR)
            paths.append(p)
        total = sum(sf.info(p).duration for p in paths)
        utts = [Utterance(p, "x") for p in paths]
        print(f"{len(paths)} FLAC files, {total / 60:.1f} min of 16 kHz speech-like audio; {jobs} cores; "
              f"features: MFCC 13 + d + dd + CMVN ({cfg.n_dims} dims)")
        compute_features(utts[:2], cfg, n_jobs=1, progress=False)  # warm up imports and filterbank caches
        import librosa  # noqa: F401 - import time excluded for every method

        rows: list[tuple[str, float | None]] = []
        rows.append(("gmmspeech, 1 process", timed(lambda: compute_features(utts, cfg, n_jobs=1, progress=False),
                                                   "gmmspeech, 1 process")))
        compute_features(utts[: 2 * jobs], cfg, n_jobs=jobs, progress=False)  # start the worker pool
        rows.append((f"gmmspeech, {jobs} processes",
                     timed(lambda: compute_features(utts, cfg, n_jobs=jobs, progress=False))))
        librosa_way(paths[:1])
        rows.append(("librosa mfcc+delta, 1 process", timed(lambda: librosa_way(paths),
                                                            "librosa mfcc+delta, 1 process")))
        try:
            psf_way(paths[:1])
            rows.append(("python_speech_features, 1 process", timed(lambda: psf_way(paths),
                                                                    "python_speech_features, 1 process")))
        except ImportError:
            rows.append(("python_speech_features", None))
        cache = FeatureCache(root / "cache")
        cold = timed(lambda: compute_features(utts, cfg, n_jobs=jobs, progress=False, cache=cache))
        warm_fs: list = []
        warm = timed(lambda: warm_fs.append(compute_features(utts, cfg, n_jobs=jobs, progress=False, cache=cache)))
        assert warm_fs[0].cached == len(utts)
        rows += [(f"gmmspeech cache cold, {jobs} processes", cold), (f"gmmspeech cache warm, {jobs} processes", warm)]

        ref = dict(rows)["librosa mfcc+delta, 1 process"]
        print(f"\n{'method':<38} {'wall s':>8} {'x real time':>12} {'speed vs librosa':>17} {'CPU s':>7} "
              f"{'x real time/CPU s':>18}")
        for name, t in rows:
            if t is None:
                print(f"{name:<38} {'not installed':>8}")
                continue
            cpu = f"{CPU[name]:7.3f} {total / CPU[name]:18.0f}" if name in CPU else f"{'-':>7} {'-':>18}"
            print(f"{name:<38} {t:8.3f} {total / t:12.0f} {ref / t:16.2f}x {cpu}")
        print(f"\nwarm cache / cold cache time: {warm / cold:.3f} (goal < 0.10)")
        one = dict(rows)["gmmspeech, 1 process"]
        one_cpu = CPU["gmmspeech, 1 process"]
        print(f"gmmspeech 1 process: {total / one:.0f}x real time by wall clock, {total / one_cpu:.0f}x "
              f"per CPU second (goal >= 1000x), {ref / one:.2f}x librosa's speed (goal >= 1)")
        print("(wall-clock figures depend on other load on the machine; CPU seconds count this process only)")


def genre_main(args) -> None:
    """Real-time factor of the genre preset against the obvious librosa code, one process each."""
    import dataclasses

    from gmmspeech.app.settings import resolve

    preset = resolve("genre").features
    full = dataclasses.replace(preset, spectral_contrast=True, chroma=True, texture_window_s=1.0, rhythm=True,
                               timbre=("centroid", "rolloff", "flatness", "zcr"))
    for name, cfg in (("genre preset", preset), ("genre preset + every music descriptor", full)):
        print(f"== {name}")
        genre_run(args, cfg)


def genre_run(args, cfg) -> None:
    """Time one feature configuration on music-like clips: gmmspeech against librosa, one process each."""
    with tempfile.TemporaryDirectory(prefix="bench_genre_") as tmp:
        paths = []
        n = max(1, int(args.minutes * 60 / 5))
        for i in range(n):
            p = Path(tmp) / f"clip{i:04d}.flac"
            sf.write(p, musiclike(5.0, i, cfg.sample_rate), cfg.sample_rate)
            paths.append(p)
        total = 5.0 * n
        utts = [Utterance(p, "x") for p in paths]
        print(f"{n} FLAC clips of 5 s, {total / 60:.1f} min of 22.05 kHz music-like audio; features: "
              f"{cfg.n_dims} dims (" + ", ".join(f"{k}={v}" for k, v in cfg.to_dict().items()
                                              if v != FeatureConfig().to_dict()[k]) + ")")
        compute_features(utts[:2], cfg, n_jobs=1, progress=False)
        librosa_genre_way(paths[:2], cfg)
        ours = timed(lambda: compute_features(utts, cfg, n_jobs=1, progress=False), "ours")
        theirs = timed(lambda: librosa_genre_way(paths, cfg), "librosa")
        print(f"\n{'method':<34} {'wall s':>8} {'x real time':>12} {'CPU s':>7} {'x real time/CPU s':>18}")
        for name, key, t in (("gmmspeech, 1 process", "ours", ours),
                             ("librosa, the obvious way, 1 process", "librosa", theirs)):
            print(f"{name:<34} {t:8.3f} {total / t:12.0f} {CPU[key]:7.3f} {total / CPU[key]:18.0f}")
        print(f"\ngmmspeech / librosa speed: {theirs / ours:.2f}x (goal >= 1); gmmspeech {total / CPU['ours']:.0f}x "
              "real time per CPU second (goal >= 300x)")


if __name__ == "__main__":
    main()
