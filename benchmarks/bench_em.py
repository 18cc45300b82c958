"""EM speed and memory: gmmspeech's default ``DiagGMM`` against scikit-learn's default diagonal ``GaussianMixture``.

Generates MFCC-shaped data (D=39: a 64-Gaussian mixture whose per-dimension scales fall off like cepstra), and
prints for each size (N frames, K components), every system in its own child process:

* seconds per EM iteration (E-step + M-step, warm-started from the same parameters) of ``DiagGMM(K)`` with its
  default settings (float32 compute, float64 statistics, all cores), the fastest of ``--iters`` iterations, read
  from its own per-iteration log lines; and of ``GaussianMixture(K, covariance_type="diag")`` with its defaults
  on the same float64 array (one iteration: its ``_e_step`` + ``_m_step``; its warm-started ``fit(max_iter=1)``
  adds a final E-step and is shown too), and their ratio;
* peak resident memory (``ru_maxrss``) of each child next to the size of the data: for ``DiagGMM`` also what the
  process held before ``fit`` (interpreter, numpy/scipy/scikit-learn, the data) and so what ``fit`` itself added;
* the lower bound for one iteration on this machine, measured in the same run: the two matrix products' FLOPs
  (2 x N x (2D+1) x K each) at the float32 GEMM rate measured for the E-step's shapes, plus N x K exponentials at
  the measured in-place ``np.exp`` rate -- both on as many threads as ``DiagGMM`` uses -- and how close
  ``DiagGMM`` comes to it;
* whole default fits on the smaller size (initialisation and EM to each one's default tolerance): seconds,
  iterations and the mean log-likelihood reached.

Finally (unless ``--no-disk``) a fit from on-disk chunks: 10 million frames written as float32 ``.npy`` files to
a temporary folder (1.56 GB), trained for 2 EM iterations from the list of paths (memory-mapped, reopened every
pass), reporting the time and peak resident memory; the folder is removed afterwards.

The machine may be shared: timings are noisy (the fastest of several iterations is reported), ratios within one
run are the figures to read. Run:

    python benchmarks/bench_em.py            # N=100k K=64 and N=1M K=256 (sklearn needs ~12 GB) + 10M disk fit
    python benchmarks/bench_em.py --quick    # small sizes, seconds
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

D = 39
W = 2 * D + 1
CHUNK = 2048   # DiagGMM's default chunk_size


def mfcc_like(n: int, seed: int = 0, dtype=np.float64, out: np.ndarray | None = None) -> np.ndarray:
    """(n, 39) frames from a fixed 64-component diagonal mixture with cepstrum-like scales, written in blocks."""
    rng = np.random.default_rng(1234)
    scale = np.concatenate([[12.0], 8.0 / np.arange(1, 13)] * 3)[:D] * np.repeat([1.0, 0.4, 0.2], 13)
    centres = rng.standard_normal((64, D)) * scale
    spread = rng.uniform(0.3, 1.0, (64, D)) * scale
    out = np.empty((n, D), dtype) if out is None else out
    rng = np.random.default_rng(seed)
    for s in range(0, n, 10_000):   # small blocks: the generator's temporaries stay out of the memory figures
        m = min(n, s + 10_000) - s
        lab = rng.integers(0, 64, m)
        out[s:s + m] = centres[lab] + rng.standard_normal((m, D)) * spread[lab]
    return out


def start_params(X: np.ndarray, K: int, seed: int = 0):
    """Same starting point for both systems: K random frames as means, global variance, uniform weights."""
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(X.shape[0], K, replace=False))
    var = np.var(X[: min(len(X), 20_000)], axis=0)
    return np.full(K, 1.0 / K), np.asarray(X[idx], dtype=np.float64), np.tile(var, (K, 1))


def peak_mb() -> float:
    """Peak resident memory of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _IterationTimes(logging.Handler):
    """Collects the seconds of every EM iteration from DiagGMM's DEBUG log lines."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.seconds: list[float] = []

    def emit(self, record):
        if record.getMessage().startswith("EM iteration"):
            self.seconds.append(float(record.args[-1]))


# ------------------------------------------------------------------------------------------------ child processes
def child_gmmspeech(n: int, k: int, iters: int) -> dict:
    from gmmspeech.core.gmm import DiagGMM
    from gmmspeech.core.threads import effective_threads

    X = mfcc_like(n)
    w, mu, var = start_params(X, k)
    before = peak_mb()
    log = logging.getLogger("gmmspeech.core.gmm")
    log.setLevel(logging.DEBUG)
    times = _IterationTimes()
    log.addHandler(times)
    t = time.perf_counter()
    g = DiagGMM(k, max_iter=iters, tol=0, weights_init=w, means_init=mu, variances_init=var).fit(X)
    total = time.perf_counter() - t
    return {"sec_per_iter": min(times.seconds), "median": float(np.median(times.seconds)), "fit_seconds": total,
            "peak_mb": peak_mb(), "before_fit_mb": before, "data_mb": X.nbytes / 2**20,
            "threads": effective_threads(g.n_jobs)}


def child_sklearn(n: int, k: int) -> dict:
    from sklearn.mixture import GaussianMixture

    X = mfcc_like(n)
    w, mu, var = start_params(X, k)
    gm = GaussianMixture(k, covariance_type="diag", max_iter=1, weights_init=w, means_init=mu,
                         precisions_init=1 / var)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X)
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
    return {"sec_per_iter": it, "warm_fit": time.perf_counter() - t, "peak_mb": peak_mb(),
            "data_mb": X.nbytes / 2**20}


def child_full(system: str, n: int, k: int) -> dict:
    """A whole fit with every default setting: initialisation and EM to the default tolerance."""
    X = mfcc_like(n)
    test = mfcc_like(n // 4, seed=99)
    if system == "gmmspeech":
        from gmmspeech.core.gmm import DiagGMM

        model = DiagGMM(k)
    else:
        from sklearn.mixture import GaussianMixture

        model = GaussianMixture(k, covariance_type="diag")
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    return {"seconds": time.perf_counter() - t, "n_iter": int(model.n_iter_), "converged": bool(model.converged_),
            "train_ll": float(model.score(X)), "test_ll": float(model.score(test)), "peak_mb": peak_mb()}


def child_rates(k: int) -> dict:
    """Float32 GEMM rate for the E-step's shapes and in-place exp rate, on the E-step's threads (BLAS 1 thread)."""
    from gmmspeech.core.threads import blas_limit, effective_threads

    nj = effective_threads(None)
    rng = np.random.default_rng(0)

    def gemm_worker(reps, out):
        z = rng.standard_normal((CHUNK, W)).astype(np.float32)
        m = rng.standard_normal((k, W)).astype(np.float32)
        e = np.empty((k, CHUNK), np.float32)
        for _ in range(reps):
            np.matmul(m, z.T, out=e)    # log-densities (K, chunk)
            e @ z                        # statistics (K, 2D+1)
        out.append(reps * 2 * 2 * CHUNK * W * k)

    def exp_worker(reps, out):
        a = (rng.standard_normal((k, CHUNK)) - 5).astype(np.float32)
        c = np.empty_like(a)
        for _ in range(reps):
            np.exp(a, out=c)
        out.append(reps * CHUNK * k)

    def rate(worker, reps):
        best = 0.0
        for _ in range(5):
            done: list = []
            threads = [threading.Thread(target=worker, args=(reps, done)) for _ in range(nj)]
            t = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            best = max(best, sum(done) / (time.perf_counter() - t))
        return best

    with blas_limit():
        gemm = rate(gemm_worker, 60)
        ex = rate(exp_worker, 60)
    # BLAS on its own threads over one big product, in case that is faster on this machine
    a = rng.standard_normal((65536, W)).astype(np.float32)
    b = rng.standard_normal((W, k)).astype(np.float32)
    a @ b
    t = time.perf_counter()
    for _ in range(5):
        a @ b
    big = 5 * 2 * 65536 * W * k / (time.perf_counter() - t)
    return {"gemm_flops": max(gemm, big), "exp_per_s": ex, "threads": nj}


def child_disk(n: int, k: int, iters: int, chunk_frames: int) -> dict:
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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = DiagGMM(k, max_iter=iters, tol=0).fit(paths)
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
    ap.add_argument("--iters", type=int, default=8, help="DiagGMM iterations timed (the fastest is reported)")
    ap.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn")
    ap.add_argument("--no-full", action="store_true", help="skip the whole default fits")
    ap.add_argument("--no-disk", action="store_true", help="skip the 10M-frame on-disk fit")
    ap.add_argument("--disk-frames", type=int, default=10_000_000)
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.child:
        kind, *rest = a.child
        if kind == "full":
            print(json.dumps(child_full(rest[0], *map(int, rest[1:]))))
            return
        fn = {"gmmspeech": child_gmmspeech, "sklearn": child_sklearn, "rates": child_rates, "disk": child_disk}[kind]
        print(json.dumps(fn(*map(int, rest))))
        return

    sizes = [(20_000, 16), (100_000, 64)] if a.quick else [(100_000, 64), (1_000_000, 256)]
    print(f"# bench_em: D={D}, cpus={os.cpu_count()}; DiagGMM(K) and GaussianMixture(K, covariance_type='diag') "
          "with default settings, float64 input, each in its own child process; s/it = one warm-started EM "
          "iteration")
    print(f"{'N':>9} {'K':>4} | {'gmmspeech s/it':>14} {'sklearn s/it':>12} {'speed-up':>8} | {'bound s/it':>10} "
          f"{'gmm/bound':>9} | {'data MB':>7} {'gmm peak':>8} {'gmm fit':>7} {'sk peak':>8}")
    for n, k in sizes:
        rates = run_child("rates", k)
        bound = 2 * 2 * n * W * k / rates["gemm_flops"] + n * k / rates["exp_per_s"]
        g = run_child("gmmspeech", n, k, a.iters)
        sk = None if a.no_sklearn else run_child("sklearn", n, k)
        sk_t = f"{sk['sec_per_iter']:12.2f}" if sk else f"{'-':>12}"
        ratio = f"{sk['sec_per_iter'] / g['sec_per_iter']:7.1f}x" if sk else f"{'-':>8}"
        sk_mb = f"{sk['peak_mb']:8.0f}" if sk else f"{'-':>8}"
        print(f"{n:9d} {k:4d} | {g['sec_per_iter']:14.3f} {sk_t} {ratio} | {bound:10.3f} "
              f"{g['sec_per_iter'] / bound:8.2f}x | {g['data_mb']:7.0f} {g['peak_mb']:8.0f} "
              f"{g['peak_mb'] - g['before_fit_mb']:7.0f} {sk_mb}", flush=True)
        extra = (f"; sklearn's warm-started fit(max_iter=1) {sk['warm_fit']:.2f} s "
                 f"(= {sk['warm_fit'] / g['sec_per_iter']:.1f}x; it adds a final E-step)") if sk else ""
        print(f"    DiagGMM on {g['threads']} thread(s): median {g['median']:.3f} s/it; peak RSS {g['peak_mb']:.0f} MB "
              f"= data {g['data_mb']:.0f} + {g['peak_mb'] - g['data_mb']:.0f} MB (of which interpreter and "
              f"libraries {g['before_fit_mb'] - g['data_mb']:.0f}, fit {g['peak_mb'] - g['before_fit_mb']:.0f})"
              f"{extra}", flush=True)
        print(f"    measured rates: GEMM {rates['gemm_flops'] / 1e9:.1f} GFLOP/s, exp {rates['exp_per_s'] / 1e9:.2f} "
              f"G/s on {rates['threads']} thread(s)", flush=True)
    if not a.no_full:
        n, k = sizes[0]
        print(f"\n# whole default fits on N={n}, K={k} (init + EM to the default tol; log-likelihood per frame on the "
              f"training frames and on {n // 4} new ones)")
        systems = ["gmmspeech"] + ([] if a.no_sklearn else ["sklearn"])
        for system in systems:
            r = run_child("full", system, n, k)
            print(f"    {system:9s}: {r['seconds']:7.2f} s, {r['n_iter']:3d} iterations, "
                  f"converged {r['converged']!s:5}, train {r['train_ll']:.4f}, test {r['test_ll']:.4f}, "
                  f"peak RSS {r['peak_mb']:.0f} MB", flush=True)
    if not a.no_disk:
        n = 200_000 if a.quick else a.disk_frames
        k = 64 if a.quick else 256
        r = run_child("disk", n, k, 2, 100_000 if a.quick else 500_000)
        print(f"\n# on-disk fit: {r['n_frames']:,} frames x {D} float32 in {r['files']} .npy files "
              f"({r['disk_mb']:.0f} MB on disk), K={k}, {r['n_iter']} EM iterations from the list of paths")
        print(f"    fit (scan + init + EM) {r['fit_seconds']:.1f} s; peak RSS {r['peak_mb']:.0f} MB "
              f"({r['peak_mb'] / r['disk_mb'] * 100:.0f}% of the data; {r['before_fit_mb']:.0f} MB before fit); "
              f"log-lik/frame {r['loglik']}")


if __name__ == "__main__":
    main()
