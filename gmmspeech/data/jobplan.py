"""How many worker processes a feature extraction should use: the work predicted from the uncached files and their
audio length against measured start-up costs (:func:`plan_jobs`), and how the files are batched for the workers."""

from __future__ import annotations

import math

from ..frontend.audio import AudioError, audio_duration
from ..frontend.features import FeatureConfig
from .manifest import Utterance

__all__ = ["plan_jobs", "estimate_audio_seconds", "extraction_costs", "plan_line", "batch_files",
           "PER_FILE_SECONDS", "PER_AUDIO_SECOND", "MUSIC_COST_FACTOR", "WORKER_STARTUP_SECONDS",
           "PER_WORKER_STARTUP_SECONDS", "LIBROSA_STARTUP_SECONDS", "POOL_OVERHEAD", "POOL_LATENCY", "MIN_SPEEDUP",
           "MAX_PROBES", "BATCH_SECONDS", "BATCHES_PER_WORKER"]


# --- how many worker processes pay (see plan_jobs) ---------------------------------------------------------------
# Measured on the 2-core dev VM (AMD EPYC, Python 3.11, numpy 2.4, scipy 1.17) with benchmarks/bench_parallel.py
# and per-file timings of 0.5, 3 and 30 s files; a busy machine makes every figure larger, not the rule different.

#: Seconds one process spends per file whatever its length (open, header, decoder set-up, Python calls).
PER_FILE_SECONDS = 0.001
#: Seconds one process spends per second of 16 kHz audio with the speech front end (decode, MFCC + deltas, VAD,
#: CMVN: 1.2-2.6 ms measured); scaled by the sample rate, and by :data:`MUSIC_COST_FACTOR` with music features.
PER_AUDIO_SECOND = 0.002
#: Cost factor of the music features (spectral contrast, chroma, timbre, rhythm, texture windows): 2-3x measured.
MUSIC_COST_FACTOR = 2.5
#: Wall seconds until a cold pool returns its first result: each worker is a fresh interpreter importing joblib's
#: loky, numpy, scipy.fft and soundfile (1.2 s quiet to 2.7 s busy for two workers), partly hidden because this
#: process works meanwhile.
WORKER_STARTUP_SECONDS = 1.5
#: Extra start-up per worker started (they start side by side and contend for memory bandwidth and disk).
PER_WORKER_STARTUP_SECONDS = 0.1
#: Extra start-up when the workers must import librosa (spectral contrast, chroma): ~2 s measured.
LIBROSA_STARTUP_SECONDS = 2.0
#: Work added by a pool: sending files and features between processes, scheduling, uneven ends.
POOL_OVERHEAD = 0.1
#: Seconds a pool costs even when its workers are running (the run's task folder, first and last round trips).
POOL_LATENCY = 0.05
#: A pool is used only when predicted at least this many times faster than one process.
MIN_SPEEDUP = 1.2
#: At most this many files have their headers read to estimate the audio length (the rest is extrapolated).
MAX_PROBES = 64
#: A batch sent to a worker holds about this many seconds of (predicted) work ...
BATCH_SECONDS = 0.1
#: ... but every worker gets at least this many batches (an even end).
BATCHES_PER_WORKER = 8


def plan_jobs(n_files: int, total_seconds: float, n_jobs: int, *, per_file: float = PER_FILE_SECONDS,
              per_second: float = PER_AUDIO_SECOND, startup: float = WORKER_STARTUP_SECONDS,
              per_worker: float = PER_WORKER_STARTUP_SECONDS, warm: int = 0, overhead: float = POOL_OVERHEAD,
              latency: float = POOL_LATENCY, min_speedup: float = MIN_SPEEDUP) -> int:
    """How many processes extract ``n_files`` files holding ``total_seconds`` of audio soonest (1: this process).

    A pure function of its arguments. One process takes ``W = n_files * per_file + total_seconds * per_second``;
    ``J`` workers take ``latency + S(J) + W * (1 + overhead) / J``, where the start-up ``S(J) = startup +
    per_worker * (J - warm)`` when ``J`` exceeds the ``warm`` workers already running, else 0. The answer is the
    ``J`` in ``1..min(n_jobs, n_files)`` with the least time (the smaller on a tie), and 1 unless that time beats
    ``W`` by ``min_speedup``.

    Examples (defaults, 16 kHz speech): the bundled demo, 156 files / 8 min of audio, ``W`` ~1.1 s -> 1; 20 times
    that, ``W`` ~22 s -> both of 2 cores. Two fresh workers pay from ``W`` ~6 s (~45 min of 3-second files);
    workers still running from an earlier call in this process pay from ``W`` ~0.2 s.
    """
    cap = min(int(n_jobs), int(n_files))
    if cap <= 1:
        return 1
    work = n_files * per_file + max(0.0, total_seconds) * per_second
    best, best_time = 1, work
    for j in range(2, cap + 1):
        t = latency + (startup + per_worker * (j - warm) if j > warm else 0.0) + work * (1.0 + overhead) / j
        if t < best_time:
            best, best_time = j, t
    return best if best > 1 and work >= min_speedup * best_time else 1


def estimate_audio_seconds(utts: list[Utterance], max_probes: int = MAX_PROBES) -> tuple[float, bool]:
    """Total seconds of audio in ``utts`` and whether that is exact: ``(seconds, exact)``.

    A segment with an end counts its bounds; other files have their header read (cheap: no decoding), at most
    ``max_probes`` of them, evenly spread, and the mean of those stands for the rest. An unreadable file counts 0.
    """
    # the bounds themselves, not Utterance.duration: the reliability tests make that property kill its caller
    total = sum(max(0.0, u.end - (u.start or 0.0)) for u in utts if u.end is not None)
    open_ended = [u for u in utts if u.end is None]
    if not open_ended:
        return float(total), True
    k = max(1, min(max_probes, len(open_ended)))
    picks = [open_ended[round(i * (len(open_ended) - 1) / (k - 1))] if k > 1 else open_ended[0] for i in range(k)]
    lengths = []
    for u in picks:
        try:
            lengths.append(max(0.0, audio_duration(u.path) - (u.start or 0.0)))
        except (AudioError, OSError):
            lengths.append(0.0)
    return float(total + sum(lengths) / k * len(open_ended)), k == len(open_ended)


def extraction_costs(cfg: FeatureConfig) -> tuple[float, float]:
    """Predicted ``(seconds of work per second of audio, worker start-up seconds)`` for the features ``cfg``
    (:data:`PER_AUDIO_SECOND` scaled by sample rate and music features; librosa's import for contrast/chroma)."""
    music = cfg.spectral_contrast or cfg.chroma or cfg.rhythm or bool(cfg.timbre) or cfg.texture_window_s > 0
    per_second = PER_AUDIO_SECOND * cfg.sample_rate / 16000 * (MUSIC_COST_FACTOR if music else 1.0)
    startup = WORKER_STARTUP_SECONDS + (LIBROSA_STARTUP_SECONDS if cfg.spectral_contrast or cfg.chroma else 0.0)
    return per_second, startup


def plan_line(desc: str, n: int, todo: int, seconds: float, exact: bool, jobs: int, cached: bool, hits: int
               ) -> str:
    """The first progress line: what is about to be computed and by how many processes."""
    if not todo:
        return f"{desc}: {n} files, " + ("all in the feature cache" if hits == n else f"{hits} in the feature cache")
    length = f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"
    who = "1 process" if jobs <= 1 else f"{jobs} worker processes"
    return f"{desc}: {n} files ({todo} {'uncached' if cached else 'to compute'}, {'' if exact else '~'}{length} " \
           f"of audio), {who}"



def batch_files(todo: list[int], jobs: int, work: float) -> list[list[int]]:
    """The files ``todo`` (indices) cut into consecutive batches, one task each, for ``jobs`` processes: about
    :data:`BATCH_SECONDS` of the predicted total ``work`` (seconds) per batch, at least :data:`BATCHES_PER_WORKER`
    batches per worker; one file per batch with one process."""
    n = len(todo)
    size = 1
    if jobs > 1 and n:
        size = max(1, min(n // (jobs * BATCHES_PER_WORKER), math.ceil(BATCH_SECONDS / max(work / n, 1e-6))))
    return [todo[k:k + size] for k in range(0, n, size)]
