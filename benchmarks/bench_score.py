"""Scoring speed: all class models in one pass vs. a loop over scikit-learn GaussianMixture per class.

Scores 10-second files (1000 frames at a 10 ms hop) against 10 classes x 256 components x 39 dims, with the
same random parameters loaded into both implementations, and prints files per second and the ratio. Feature
extraction is not timed: both sides receive the same frames.

By default BLAS runs single-threaded for both sides (``--threads``), which is how files are scored when one
worker process per core runs in parallel, and keeps the figures steady on a shared machine.

Usage::

    python benchmarks/bench_score.py [--classes 10] [--components 256] [--dims 39] [--seconds 10]
                                     [--files 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--components", type=int, default=256)
    ap.add_argument("--dims", type=int, default=39)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--files", type=int, default=20, help="files scored per timing repeat")
    ap.add_argument("--repeats", type=int, default=5, help="best of this many repeats is reported")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads for both sides (0: library default)")
    args = ap.parse_args(argv)
    if args.threads > 0:  # must happen before numpy loads its BLAS
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)

    import numpy as np

    try:
        from sklearn.mixture import GaussianMixture
    except ImportError:
        print("scikit-learn is needed for the baseline: pip install 'gmmspeech[test]'", file=sys.stderr)
        return 1
    from gmmspeech.core.gmm import DiagGMM
    from gmmspeech.model.classifier import GMMClassifier

    C, K, D = args.classes, args.components, args.dims
    n_frames = int(round(args.seconds * 100))
    rng = np.random.default_rng(0)
    ours, theirs = {}, []
    for c in range(C):
        w = rng.dirichlet(np.ones(K))
        mu = rng.standard_normal((K, D))
        var = rng.uniform(0.3, 2.0, (K, D))
        g = DiagGMM(K)
        g.weights_, g.means_, g.variances_ = w, mu, var
        ours[f"class{c}"] = g
        sk = GaussianMixture(K, covariance_type="diag")
        sk.weights_, sk.means_, sk.covariances_ = w, mu, var
        sk.precisions_cholesky_ = 1.0 / np.sqrt(var)
        theirs.append(sk)
    clf = GMMClassifier.from_models(ours)
    files = [rng.standard_normal((n_frames, D)) for _ in range(args.files)]

    def run_ours():
        return [clf.score(x) for x in files]

    def run_sklearn():
        return [np.array([m.score_samples(x).mean() for m in theirs]) for x in files]

    a, b = np.array(run_ours()), np.array(run_sklearn())   # warm-up, and check both compute the same scores
    max_diff = float(np.abs(a - b).max())
    same_decisions = bool(np.all(a.argmax(1) == b.argmax(1)))

    best = {run_ours: float("inf"), run_sklearn: float("inf")}
    for _ in range(args.repeats):  # interleaved, best of N: both sides see the same machine load
        for fn in best:
            t0 = time.perf_counter()
            fn()
            best[fn] = min(best[fn], time.perf_counter() - t0)
    r_ours, r_sk = len(files) / best[run_ours], len(files) / best[run_sklearn]
    print(f"scoring {args.seconds:g}-second files ({n_frames} frames) against {C} classes x {K} components x {D} "
          f"dims; BLAS threads: {args.threads or 'default'}")
    print(f"  gmmspeech GMMClassifier.score (one stacked pass): {r_ours:8.1f} files/s")
    print(f"  sklearn GaussianMixture.score_samples per class : {r_sk:8.1f} files/s")
    print(f"  speed-up: {r_ours / r_sk:.1f}x   (max |score difference| {max_diff:.2e} nats/frame, "
          f"same decisions: {same_decisions})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
