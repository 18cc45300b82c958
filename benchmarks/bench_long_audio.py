"""Memory and time of feature extraction on long recordings: streaming (block by block) against whole-file.

Writes speech-like 16 kHz recordings of ``--minutes`` (default 10, 60 and 180) as FLAC in a temp folder, block by
block so this script stays lean, and removes them afterwards. For each recording and each feature configuration
(the built-in defaults and the ``language`` preset: VAD, utterance CMVN, 39 dims), a fresh child process runs
``file_features`` (which streams recordings longer than ``STREAM_MIN_SECONDS``) and reports its peak resident
memory (``ru_maxrss``) and wall time; the old whole-file path (``extract(load_audio(...))``) runs on the
shortest recording for comparison. A child that only imports the package gives the baseline. Wall time depends
on what else the machine runs; the child's CPU time (user + system) is printed too. Goal: peak memory flat in
the duration (<= 400 MB for 60 and 180 minutes; what grows is the returned array itself, ``out MB``) and time
linear in it. Run:

    python benchmarks/bench_long_audio.py [--minutes 10 60 180] [--whole-minutes 10] [--block-seconds 60]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000
SYLLABLE = 0.25  # seconds

CHILD = r"""
import json, resource, sys, time
path, mode, task, block = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
from gmmspeech.app.settings import resolve
from gmmspeech.frontend import stream
from gmmspeech.frontend.audio import load_audio
from gmmspeech.frontend.features import extract
from gmmspeech.frontend.fileframes import file_features
cfg = resolve(None if task == "default" else task).features
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
cpu0 = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = cpu0.ru_utime + cpu0.ru_stime
if mode == "stream":
    x = file_features(path, cfg) if block == 60.0 else stream.stream_features(path, cfg, block_seconds=block)
elif mode == "whole":
    x = extract(load_audio(path, cfg.sample_rate), cfg.sample_rate, cfg)
else:
    x = None
dt = time.perf_counter() - t0
use = resource.getrusage(resource.RUSAGE_SELF)
peak, cpu = use.ru_maxrss, use.ru_utime + use.ru_stime
print(json.dumps({"import_kb": base, "peak_kb": peak, "seconds": dt, "cpu": cpu - cpu0,
                  "shape": None if x is None else list(x.shape), "mb_out": 0 if x is None else x.nbytes / 2**20}))
"""


def write_speechlike(path: Path, minutes: float, seed: int = 0, block_seconds: float = 60.0) -> None:
    """Writes a speech-like 16 kHz mono FLAC of ``minutes``, one ``block_seconds`` block at a time.

    Syllables of 250 ms: voiced (harmonics of a gliding f0, random spectral tilt and loudness), fricative (noise)
    or pause (faint noise), so VAD and CMVN see speech-like statistics.
    """
    rng = np.random.default_rng(seed)
    blk = int(SYLLABLE * SR)
    per_block = int(block_seconds / SYLLABLE)
    total = int(round(minutes * 60 / SYLLABLE))
    t = np.arange(blk) / SR
    with sf.SoundFile(str(path), "w", samplerate=SR, channels=1, format="FLAC", subtype="PCM_16") as f:
        for start in range(0, total, per_block):
            n = min(per_block, total - start)
            kind = rng.choice(3, size=n, p=[0.6, 0.2, 0.2])  # voiced, fricative, pause
            f0 = rng.uniform(90, 220, size=(n, 1)) * (1 + 0.1 * np.sin(np.pi * t / SYLLABLE))
            phase = 2 * np.pi * np.cumsum(f0, axis=1) / SR
            tilt = rng.uniform(0.5, 1.0, size=(n, 1))
            voiced = sum(tilt ** k * np.sin(k * phase) for k in range(1, 16))
            env = np.sin(np.pi * t / SYLLABLE) ** 2 * rng.uniform(0.05, 0.4, size=(n, 1))
            noise = rng.standard_normal((n, blk))
            y = np.where(kind[:, None] == 0, voiced * env, np.where(kind[:, None] == 1, 0.1 * noise * env, 0.0))
            y += 3e-4 * noise
            f.write(np.clip(y.reshape(-1), -1, 1).astype(np.float32))


def run_child(path: Path, mode: str, task: str, block: float) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), mode, task, str(block)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[10, 60, 180])
    ap.add_argument("--whole-minutes", type=float, nargs="*", default=[10],
                    help="recordings (by length) also extracted whole, the old path (about 40 MB per minute)")
    ap.add_argument("--block-seconds", type=float, default=60.0)
    ap.add_argument("--tasks", nargs="+", default=["default", "language"])
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_long_audio_") as tmp:
        base = run_child(Path(tmp) / "none", "import", "default", args.block_seconds)
        print(f"baseline: a child that imports gmmspeech peaks at {base['peak_kb'] / 1024:.0f} MB")
        print(f"{'audio':>8} {'config':>9} {'path':>7} {'peak MB':>8} {'wall s':>7} {'cpu s':>6} {'x real':>7} "
              f"{'frames x dims':>15} {'out MB':>7}")
        for minutes in args.minutes:
            path = Path(tmp) / f"speech_{minutes:g}min.flac"
            t0 = time.perf_counter()
            write_speechlike(path, minutes)
            gen = time.perf_counter() - t0
            print(f"# {minutes:g} min written in {gen:.1f} s ({path.stat().st_size / 2**20:.0f} MB FLAC)", flush=True)
            modes = ["stream"] + (["whole"] if minutes in args.whole_minutes else [])
            for task in args.tasks:
                for mode in modes:
                    r = run_child(path, mode, task, args.block_seconds)
                    shape = "x".join(map(str, r["shape"]))
                    print(f"{minutes:>6g} m {task:>9} {mode:>7} {r['peak_kb'] / 1024:>8.0f} {r['seconds']:>7.1f} "
                          f"{r['cpu']:>6.1f} {minutes * 60 / r['seconds']:>7.0f} {shape:>15} {r['mb_out']:>7.1f}",
                          flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
