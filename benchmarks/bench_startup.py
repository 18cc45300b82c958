"""Cold start of the command line, measured against `python -c "import numpy"` in the same run.

Prints the median wall time (over --repeat fresh processes) of:

* ``python -c "import numpy"`` -- the floor any numerical Python tool pays;
* ``gmmspeech --help`` (goal: under 0.5 s on a quiet machine);
* ``gmmspeech score MODEL one.flac --no-cache`` -- one file scored from a fresh shell, uncached (goal: 1.5 s),
  with a small model trained on the bundled demo at the start of the run.

The machine may be busy: read the ratios to the floor, measured in the same run. Run:

    python benchmarks/bench_startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GMMSPEECH = [sys.executable, "-m", "gmmspeech.cli"]


def _median_seconds(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    demo = REPO / "gmmspeech" / "demo"
    clip = sorted((demo / "audio" / "de").glob("*.flac"))[0]
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "m.npz"
        subprocess.run([*GMMSPEECH, "train", str(demo / "train.csv"), "-o", str(model), "--components", "8",
                        "--iterations", "5", "-q", "--no-cache"], check=True, cwd=REPO)
        rows = [("python -c 'import numpy'", [sys.executable, "-c", "import numpy"], None),
                ("gmmspeech --help", [*GMMSPEECH, "--help"], 0.5),
                ("gmmspeech score MODEL one.flac", [*GMMSPEECH, "score", str(model), str(clip), "--no-cache", "-q"],
                 1.5)]
        floor = None
        print(f"{'command':<34} {'median s':>9} {'x numpy':>8}  goal")
        for name, cmd, goal in rows:
            sec = _median_seconds(cmd, args.repeat)
            floor = floor or sec
            print(f"{name:<34} {sec:9.3f} {sec / floor:8.2f}  {'' if goal is None else f'< {goal} s'}")


if __name__ == "__main__":
    main()
