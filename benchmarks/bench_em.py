"""EM speed and memory: gmmspeech's ``DiagGMM`` against scikit-learn's diagonal ``GaussianMixture``, same run.

Generates MFCC-shaped data (D=39: a 64-Gaussian mixture whose per-dimension scales fall off like cepstra), and
prints for each size (N frames, K components):

* seconds per EM iteration (E-step + M-step, warm-started from the same parameters) of ``DiagGMM`` (float32
  compute, float64 statistics, ``--jobs`` threads) and of ``GaussianMixture(covariance_type="diag")`` on the
  same float64 array (one iteration: its ``_e_step`` + ``_m_step``, after a ``max_iter=1`` fit), and their ratio.
  Also shown: sklearn's warm-started ``fit(max_iter=1)``, which is one iteration plus the final E-step ``fit``
  always adds (so about two E-steps) -- the usual way to time "one iteration" of it, but not the headline ratio;
* the peak resident memory of each, each system running in its own child process (``ru_maxrss``), next to the
  size of the data itself;
* the lower bound for one iteration on this machine, measured in the same run: the two matrix products' FLOPs
  (2 x N x (2D+1) x K each) at the measured float32 GEMM rate for these shapes, plus N x K exponentials at the
  measured in-place ``np.exp`` rate -- both on all ``--jobs`` cores -- and how close ``DiagGMM`` comes to it.

Finally (unless ``--no-disk``) a fit from on-disk chunks: 10 million frames written as float32 ``.npy`` files to
a temporary folder (1.56 GB), trained for 2 EM iterations from the list of paths (memory-mapped, reopened every
pass), reporting seconds per iteration and peak resident memory; the folder is removed afterwards.

The machine may be shared: timings are noisy, ratios within one run are the figures to read. Run:

    python benchmarks/bench_em.py            # N=1M, K=256 (sklearn needs ~12 GB and ~20 s/iteration) + 10M disk fit
    python benchmarks/bench_em.py --quick    # small sizes, a few seconds
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

D = 39


def mfcc_like(n: int, seed: int = 0, dtype=np.float64, out: np.ndarray | None = None) -> np.ndarray:
    """(n, 39) frames from a fixed 64-component diagonal mixture with cepstrum-like scales, written in blocks."""
    rng = np.random.default_rng(1234)
    scale = np.concatenate([[12.0], 8.0 / np.arange(1, 13)] * 3)[:D] * np.repeat([1.0, 0.4, 0.2], 13)
    centres = rng.standard_normal((64, D)) * scale
    spread = rng.uniform(0.3, 1.0, (64, D)) * scale
    out = np.empty((n, D), dtype) if out is None else out
    rng = np.random.default_rng(seed)
    for s in range(0, n, 100_000):
        m = min(n, s + 100_000) - s
        lab = rng.integers(0, 64, m)
        out[s:s + m] = centres[lab] + rng.standard_normal((m, D)) * spread[lab]
    return out


def start_params(X: np.ndarray, K: int, seed: int = 0):
    """Same starting point for both systems: K random frames as means, global variance, uniform weights."""
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(X.shape[0], K, replace=False))
    var = np.var(X[: min(len(X), 200_000)], axis=0)
    return np.full(K, 1.0 / K), np.asarray(X[idx], dtype=np.float64), np.tile(var, (K, 1))


def peak_mb() -> float:
    """Peak resident memory of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------------------ child processes
def child_gmmspeech(n: int, k: int, jobs: int, iters: int) -> dict:
    from gmmspeech.core.gmm import DiagGMM, _accumulate, _blas_limit, _resolve_jobs, _threads_ok, maximize

    X = mfcc_like(n)
    base = peak_mb()
    w, mu, var = start_params(X, k)
    g = DiagGMM(k, max_iter=1, tol=0, n_jobs=jobs, weights_init=w, means_init=mu, variances_init=var).fit(X)
    nj = _threads_ok(_resolve_jobs(jobs))
    times = []
    import joblib
    with _blas_limit(), joblib.Parallel(n_jobs=nj, backend="threading") as pool:
        w, mu, var = g.weights_, g.means_, g.variances_
        for _ in range(iters):
            t = time.perf_counter()
            stats = _accumulate(X, w, mu, var, g.chunk_size, np.float32, nj, pool if nj > 1 else None)
            w, mu, var = maximize(stats, g.var_floor_, weight_floor=g.weight_floor)
            times.append(time.perf_counter() - t)
    return {"sec_per_iter": float(np.median(times)), "peak_mb": peak_mb(), "data_mb": X.nbytes / 2**20,
            "after_data_mb": base, "threads": nj}


def child_sklearn(n: int, k: int) -> dict:
    import warnings

    from sklearn.mixture import GaussianMixture

    X = mfcc_like(n)
    w, mu, var = start_params(X, k)
    gm = GaussianMixture(k, covariance_type="diag", max_iter=1, tol=0, init_params="random_from_data",
                         weights_init=w, means_init=mu, precisions_init=1 / var, random_state=0)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X)
    fit1 = time.perf_counter() - t
    t = time.perf_counter()
    _, log_resp = gm._e_step(X)
    gm._m_step(X, log_resp)
    it = time.perf_counter() - t
    del log_resp
    gm.warm_start = True   # what a user would time: one warm-started iteration (plus fit's final E-step)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X)
    return {"sec_per_iter": it, "fit_max_iter_1": fit1, "warm_fit": time.perf_counter() - t, "peak_mb": peak_mb(),
            "data_mb": X.nbytes / 2**20}


def child_rates(k: int, jobs: int, chunk: int = 2048) -> dict:
    """Float32 GEMM rate for the E-step's shapes and in-place exp rate, on ``jobs`` threads (BLAS 1 thread)."""
    from gmmspeech.core.gmm import _blas_limit, _resolve_jobs, _threads_ok

    nj = _threads_ok(_resolve_jobs(jobs))
    rng = np.random.default_rng(0)
    W = 2 * D + 1

    def gemm_worker(reps, out):
        a = rng.standard_normal((chunk, W)).astype(np.float32)
        b = rng.standard_normal((W, k)).astype(np.float32)
        c = np.empty((chunk, k), np.float32)
        for _ in range(reps):
            np.matmul(a, b, out=c)
            a.T @ c
        out.append(reps * 2 * 2 * chunk * W * k)

    def exp_worker(reps, out):
        a = (rng.standard_normal((chunk, k)) - 5).astype(np.float32)
        c = np.empty_like(a)
        for _ in range(reps):
            np.exp(a, out=c)
        out.append(reps * chunk * k)

    def rate(worker, reps):
        best = 0.0
        for _ in range(3):
            done: list = []
            threads = [threading.Thread(target=worker, args=(reps, done)) for _ in range(nj)]
            t = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            best = max(best, sum(done) / (time.perf_counter() - t))
        return best

    with _blas_limit():
        gemm = rate(gemm_worker, 150)
        ex = rate(exp_worker, 150)
    # BLAS on its own threads over one big product, in case that is faster on this machine
    a = rng.standard_normal((65536, W)).astype(np.float32)
    b = rng.standard_normal((W, k)).astype(np.float32)
    a @ b
    t = time.perf_counter()
    for _ in range(5):
        a @ b
    big = 5 * 2 * 65536 * W * k / (time.perf_counter() - t)
    return {"gemm_flops": max(gemm, big), "exp_per_s": ex, "threads": nj}


def child_disk(n: int, k: int, jobs: int, iters: int, chunk_frames: int) -> dict:
    from gmmspeech.core.gmm import DiagGMM

    tmp = Path(tempfile.mkdtemp(prefix="gmmspeech-bench-"))
    try:
        paths = []
        buf = np.empty((chunk_frames, D), np.float32)
        for i, s in enumerate(range(0, n, chunk_frames)):
            m = min(n, s + chunk_frames) - s
            mfcc_like(m, seed=100 + i, dtype=np.float32, out=buf[:m])
            paths.append(tmp / f"chunk{i:03d}.npy")
            np.save(paths[-1], buf[:m])
        del buf
        disk = sum(p.stat().st_size for p in paths) / 2**20
        base = peak_mb()
        t = time.perf_counter()
        g = DiagGMM(k, max_iter=iters, tol=0, n_jobs=jobs, verbose=True).fit(paths)
        total = time.perf_counter() - t
        return {"n_frames": n, "files": len(paths), "disk_mb": disk, "fit_seconds": total, "n_iter": g.n_iter_,
                "peak_mb": peak_mb(), "before_fit_mb": base, "loglik": g.log_likelihood_history_}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_child(*args) -> dict:
    """Run one measurement in a fresh process so peak memory figures do not contaminate each other."""
    r = subprocess.run([sys.executable, __file__, "--child", *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{r.stderr[-3000:]}")
    if r.stderr.strip():
        print(r.stderr.rstrip(), file=sys.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes only (seconds)")
    ap.add_argument("--jobs", type=int, default=-1, help="DiagGMM threads (-1: all cores)")
    ap.add_argument("--iters", type=int, default=3, help="DiagGMM iterations timed (median reported)")
    ap.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn")
    ap.add_argument("--no-disk", action="store_true", help="skip the 10M-frame on-disk fit")
    ap.add_argument("--disk-frames", type=int, default=10_000_000)
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.child:
        kind, *rest = a.child
        fn = {"gmmspeech": child_gmmspeech, "sklearn": child_sklearn, "rates": child_rates, "disk": child_disk}[kind]
        print(json.dumps(fn(*map(int, rest))))
        return

    sizes = [(20_000, 16), (100_000, 64)] if a.quick else [(100_000, 64), (1_000_000, 256)]
    print(f"# bench_em: D={D}, cpus={os.cpu_count()}, DiagGMM n_jobs={a.jobs}, float32 compute / float64 stats; "
          f"sklearn on float64 input. Each system in its own child process.")
    print(f"{'N':>9} {'K':>4} | {'gmmspeech s/it':>14} {'peak MB':>8} | {'sklearn s/it':>12} {'peak MB':>8} | "
          f"{'speed-up':>8} | {'bound s/it':>10} {'gmm/bound':>9} | {'data MB':>8} {'gmm-data MB':>11} "
          f"{'sk/data':>7}")
    for n, k in sizes:
        rates = run_child("rates", k, a.jobs)
        bound = 2 * 2 * n * (2 * D + 1) * k / rates["gemm_flops"] + n * k / rates["exp_per_s"]
        g = run_child("gmmspeech", n, k, a.jobs, a.iters)
        sk = None if a.no_sklearn else run_child("sklearn", n, k)
        sk_t = f"{sk['sec_per_iter']:12.2f} {sk['peak_mb']:8.0f}" if sk else f"{'-':>12} {'-':>8}"
        ratio = f"{sk['sec_per_iter'] / g['sec_per_iter']:7.1f}x" if sk else f"{'-':>8}"
        skd = f"{sk['peak_mb'] / sk['data_mb']:6.1f}x" if sk else f"{'-':>7}"
        print(f"{n:9d} {k:4d} | {g['sec_per_iter']:14.3f} {g['peak_mb']:8.0f} | {sk_t} | {ratio} | "
              f"{bound:10.3f} {g['sec_per_iter'] / bound:8.2f}x | {g['data_mb']:8.0f} "
              f"{g['peak_mb'] - g['data_mb']:11.0f} {skd}", flush=True)
        extra = ""
        if sk:
            extra = (f"; sklearn: first fit(max_iter=1) {sk['fit_max_iter_1']:.1f} s, warm-started fit(max_iter=1) "
                     f"{sk['warm_fit']:.2f} s (= {sk['warm_fit'] / g['sec_per_iter']:.1f}x DiagGMM's iteration; "
                     f"it adds a final E-step)")
        print(f"    measured rates: GEMM {rates['gemm_flops'] / 1e9:.1f} GFLOP/s, exp {rates['exp_per_s'] / 1e9:.2f} "
              f"G/s on {rates['threads']} thread(s){extra}", flush=True)
    if not a.no_disk:
        n = 200_000 if a.quick else a.disk_frames
        r = run_child("disk", n, 64 if a.quick else 256, a.jobs, 2, 100_000 if a.quick else 500_000)
        print(f"\n# on-disk fit: {r['n_frames']:,} frames x {D} float32 in {r['files']} .npy files "
              f"({r['disk_mb']:.0f} MB on disk), K={64 if a.quick else 256}, {r['n_iter']} EM iterations "
              f"from the list of paths")
        print(f"    fit (scan + init + EM) {r['fit_seconds']:.1f} s; peak RSS {r['peak_mb']:.0f} MB "
              f"({r['peak_mb'] / r['disk_mb'] * 100:.0f}% of the data); log-lik/frame {r['loglik']}")


if __name__ == "__main__":
    main()
