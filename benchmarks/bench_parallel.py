"""Does the default ``--jobs`` pay? Feature extraction with the default against ``-j 1``, same run, empty cache.

Two corpora, both from the bundled demo (``gmmspeech/demo/train.csv`` + ``test.csv``, 156 files of 2-5 s):

* ``demo``: the demo as it is;
* ``20x demo`` (``--scale``): every demo file listed 20 times with distinct segment bounds (start 0, 0.01,
  0.02 ... s), i.e. 3120 files, 20 times the audio.

Each measurement is a fresh Python process (as the command line is: no worker processes running yet) calling
``compute_features(utts, cfg, n_jobs=J, cache=None)`` with the demo recipe's features (``--task language``),
where ``J`` is ``1`` or ``None`` (the default: :func:`gmmspeech.data.featstore.plan_jobs` decides). Printed per
corpus: the median seconds of both (``--repeat`` rounds, the two modes alternating first), the job count the
default chose, the ratio ``-j 1 / default`` (goals: >= 1 on the demo -- never slower -- and >= 1.6 on 20x) and
how long after the call the first progress line was written. ``--run`` also times the whole
``gmmspeech run demo --no-cache`` both ways (training and scoring included, so mostly not feature extraction).

The worker processes run with glibc malloc settings that save a quarter of extraction time
(:data:`gmmspeech.infra.parallel.WORKER_MALLOC_ENV`); ``--malloc-env`` gives the main process the same settings
in both modes, so that the ratio measures parallelism alone.

The machine may be busy: the ratios of the same run are what counts; the load average is printed. Run:

    python benchmarks/bench_parallel.py [--repeat 3] [--scale 20] [--run] [--malloc-env]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _child(corpus: str, mode: str, scale: int) -> None:
    """Runs in a fresh process: time one ``compute_features`` call, print a JSON line."""
    import dataclasses

    from gmmspeech.app.settings import resolve
    from gmmspeech.data.featstore import compute_features
    from gmmspeech.data.manifest import read_manifest

    demo = REPO / "gmmspeech" / "demo"
    utts = read_manifest(demo / "train.csv") + read_manifest(demo / "test.csv")
    if corpus != "demo":
        utts = [dataclasses.replace(u, start=k * 0.01 if k else None) for k in range(scale) for u in utts]
    cfg = resolve("language").features

    class Stamp:
        """stderr that remembers when it was first written to."""

        first = None

        def write(self, text):
            Stamp.first = Stamp.first or time.perf_counter()
            lines.append(text)
            return len(text)

        def flush(self):
            pass

        def isatty(self):
            return False

    lines: list[str] = []
    real, sys.stderr = sys.stderr, Stamp()
    try:
        t0 = time.perf_counter()
        fs = compute_features(utts, cfg, n_jobs=None if mode == "default" else int(mode), progress=True, cache=None)
        seconds = time.perf_counter() - t0
    finally:
        sys.stderr = real
    plan = next(line for line in lines if line.startswith("features:")).strip()
    jobs = 1 if plan.endswith("1 process") else int(plan.rsplit(",", 1)[1].split()[0])
    print(json.dumps({"seconds": seconds, "first_line": Stamp.first - t0, "jobs": jobs, "plan": plan,
                      "files": len(utts), "ok": len(fs.ok())}))


def _measure(corpus: str, mode: str, scale: int, env: dict[str, str]) -> dict:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", corpus, mode, "--scale", str(scale)], check=True,
                         capture_output=True, text=True, cwd=REPO, env=env)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process"] = time.perf_counter() - t0
    return res


def _time_run(mode: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "gmmspeech.cli", "run", "demo", "--no-cache", "-q", "--out", tmp]
        t0 = time.perf_counter()
        subprocess.run(cmd + ([] if mode == "default" else ["-j", mode]), check=True, capture_output=True, cwd=tmp)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", type=int, default=20)
    ap.add_argument("--run", action="store_true", help="also time the whole `gmmspeech run demo --no-cache`")
    ap.add_argument("--malloc-env", action="store_true", help="the workers' malloc settings for every process")
    ap.add_argument("--child", nargs=2, metavar=("CORPUS", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child, args.scale)
        return
    env = dict(os.environ)
    if args.malloc_env:
        from gmmspeech.infra.parallel import WORKER_MALLOC_ENV

        env.update(WORKER_MALLOC_ENV)
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, load average {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f} at the start; {args.repeat} rounds, medians"
          f"{'; every process with the worker malloc settings' if args.malloc_env else ''}")
    corpora = [("demo", "demo"), (f"{args.scale}x", f"{args.scale}x demo")]
    results: dict[tuple[str, str], list[dict]] = {}
    for r in range(args.repeat):
        for corpus, _ in corpora:
            modes = ("1", "default") if r % 2 == 0 else ("default", "1")
            for mode in modes:
                results.setdefault((corpus, mode), []).append(_measure(corpus, mode, args.scale, env))
    print(f"{'corpus':<12} {'files':>6} {'-j 1 s':>8} {'default s':>10} {'jobs':>5} {'ratio':>7} {'per round':>22} "
          f"{'1st line':>9} {'process ratio':>14}")
    verdicts = []
    for corpus, name in corpora:
        one, auto = results[(corpus, "1")], results[(corpus, "default")]
        t1 = statistics.median(x["seconds"] for x in one)
        td = statistics.median(x["seconds"] for x in auto)
        p1 = statistics.median(x["process"] for x in one)
        pd = statistics.median(x["process"] for x in auto)
        rounds = " ".join(f"{a['seconds'] / b['seconds']:.2f}" for a, b in zip(one, auto, strict=True))
        jobs = sorted({x["jobs"] for x in auto})
        first = max(x["first_line"] for x in auto)
        print(f"{name:<12} {one[0]['files']:>6} {t1:8.2f} {td:10.2f} {','.join(map(str, jobs)):>5} {t1 / td:6.2f}x "
              f"{rounds:>22} {first:8.3f}s {p1 / pd:13.2f}x")
        goal = "1.6" if corpus != "demo" else "1, within noise"
        verdicts.append(f"{name}: -j 1 / default = {t1 / td:.2f} (goal >= {goal})")
    print(f"default's plan lines: {results[('demo', 'default')][0]['plan']!r}; "
          f"{results[(corpora[1][0], 'default')][0]['plan']!r}")
    print("; ".join(verdicts))
    if args.run:
        one = [_time_run("1") for _ in range(args.repeat)]
        auto = [_time_run("default") for _ in range(args.repeat)]
        print(f"gmmspeech run demo --no-cache: -j 1 {statistics.median(one):.2f} s, default "
              f"{statistics.median(auto):.2f} s (ratio {statistics.median(one) / statistics.median(auto):.2f})")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")


if __name__ == "__main__":
    main()
