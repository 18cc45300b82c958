"""Train the demo recipe on a local Dask cluster of 1 and of 2 single-threaded worker processes.

Usage::

    python benchmarks/bench_cluster.py [--recipe recipes/demo_lid.toml] [--repeat 2]

For each cluster size the whole training stage runs (feature extraction into an empty feature cache, then EM
with every E-step on the workers), and again with the cache warm (EM only, plus cache lookups). Prints seconds
and the speed-up of 2 workers over 1; also a local run (joblib, 1 process) as the reference, and checks that
all models agree with the local one. Needs the ``dask`` extra. Run it on a quiet machine: with 2 cores, 2
workers can at best be 2x faster.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gmmspeech.app.pipeline import train_classifier  # noqa: E402
from gmmspeech.app.recipe import load_recipe  # noqa: E402
from gmmspeech.data.featstore import FeatureCache  # noqa: E402
from gmmspeech.data.manifest import read_manifest  # noqa: E402


def _train(recipe, utts, cache_dir: str, scheduler: str | None):
    t0 = time.perf_counter()
    res = train_classifier(utts, recipe.features, recipe.model, n_jobs=1, quiet=True, recipe=recipe.name,
                           cache=FeatureCache(cache_dir), scheduler=scheduler)
    return time.perf_counter() - t0, res.classifier


def _max_rel(a, b) -> float:
    worst = 0.0
    for lab in a.classes_:
        for name in ("weights_", "means_", "variances_"):
            x, y = getattr(a.models_[lab], name), getattr(b.models_[lab], name)
            worst = max(worst, float(np.max(np.abs(x - y) / np.maximum(np.abs(x), 1e-300))))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default=str(Path(__file__).resolve().parents[1] / "recipes" / "demo_lid.toml"))
    ap.add_argument("--repeat", type=int, default=2, help="runs per setting; the best is reported")
    args = ap.parse_args()

    from distributed import LocalCluster

    recipe = load_recipe(args.recipe)
    utts = read_manifest(recipe.train)
    print(f"recipe {recipe.name}: {len(utts)} training files, {recipe.model.components} components, "
          f"model type {getattr(recipe.model, 'type', 'per_class')}; {os.cpu_count()} cores", flush=True)
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        best_cold, best_warm = [], []
        for r in range(args.repeat):
            cache = f"{tmp}/local{r}"
            best_cold.append(_train(recipe, utts, cache, None)[0])
            t, ref = _train(recipe, utts, cache, None)
            best_warm.append(t)
        results["local, 1 process"] = (min(best_cold), min(best_warm))
        for n in (1, 2):
            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0") as cl:
                cold, warm = [], []
                for r in range(args.repeat):
                    cache = f"{tmp}/cluster{n}_{r}"
                    cold.append(_train(recipe, utts, cache, cl.scheduler_address)[0])
                    t, clf = _train(recipe, utts, cache, cl.scheduler_address)
                    warm.append(t)
                    print(f"  {n} worker(s), run {r}: cold {cold[-1]:.2f} s, warm {warm[-1]:.2f} s, "
                          f"max relative difference from the local model {_max_rel(ref, clf):.1e}", flush=True)
                results[f"Dask, {n} worker(s)"] = (min(cold), min(warm))
    print()
    print(f"{'training the demo':<22} {'cold cache (s)':>15} {'warm cache (s)':>15}")
    for name, (c, w) in results.items():
        print(f"{name:<22} {c:>15.2f} {w:>15.2f}")
    c1, w1 = results["Dask, 1 worker(s)"]
    c2, w2 = results["Dask, 2 worker(s)"]
    print(f"\nspeed-up of 2 workers over 1: {c1 / c2:.2f}x with feature extraction (cold cache), "
          f"{w1 / w2:.2f}x EM only (warm cache)")


if __name__ == "__main__":
    main()
