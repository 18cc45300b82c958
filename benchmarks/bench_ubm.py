"""Per-class EM vs GMM-UBM with MAP adaptation: accuracy, training time, scoring time (top-C vs full).

Two tasks, each side by side on the same features and the same number of components:

* the bundled demo (6-language ID, ``recipes/demo_lid.toml`` for per-class EM, ``recipes/demo_lid_ubm.toml``
  for UBM-MAP; same features), at the UBM recipe's 256 components and the per-class recipe's 32. The UBM is
  initialised by mix-up (the recipe's setting) and by k-means++. Each training is timed best-of-``--repeats``.
* a larger synthetic task: ``--classes`` classes drawn from a shared 64-component "universal" GMM with
  class-specific mean shifts and weights, plus a per-file offset (session variability) that per-file CMVN
  removes, as the feature pipeline does; files of 300 training and 100 test frames, ``--frames`` training
  frames in all, D = 39, K = 256; UBM-MAP adapting means only (the recipe's setting) and means + weights.

With ``--disk-frames N``, a UBM is also trained from N frames in 20 memory-mapped ``.npy`` files, in a child
process whose peak resident memory is reported (the data are streamed chunk by chunk on every EM pass).

Scoring: every test file scored by the stacked full evaluation (per-class: every class's components; UBM-MAP:
the UBM's and every class's components) and, for UBM-MAP, by top-C scoring; times are the best of 15 passes
over all test files, the two kinds of pass interleaved. "same" counts test files (and 100-frame demo,
50-frame synthetic segments of them) whose top-C decision equals the full one. The per-class models use the
per-class recipe's EM settings (kmeans++, up to 50 iterations, tol 1e-4).

BLAS runs on ``--threads`` threads (default 1) for everything, and the E-steps on one thread, so the
comparison is not at the mercy of how each side happens to use the 2 cores of a shared machine.

Usage::

    python benchmarks/bench_ubm.py [--repeats 3] [--frames 300000] [--classes 10] [--threads 1]
                                   [--no-demo] [--no-synthetic] [--quick] [--disk-frames 2000000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCORE_REPEATS = 15


def _best_time(fn, repeats: int):
    """(result of the last call, best wall time in seconds) over ``repeats`` calls."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def _evaluate(clf, test, segment_frames: int, ubm: bool):
    """Accuracy, score times and top-C/full agreement of a fitted classifier on test files [(label, X)]."""
    import numpy as np

    labels = [lab for lab, _ in test]

    def accuracy(scores):
        return float(np.mean([clf.classes_[int(np.argmax(s))] == lab for s, lab in zip(scores, labels, strict=True)]))

    full = (lambda x: clf.score(x, full=True)) if ubm else clf.score
    runs = {"full": lambda: [full(x) for _, x in test]}
    if ubm:
        runs["top"] = lambda: [clf.score(x) for _, x in test]
    best = dict.fromkeys(runs, float("inf"))
    out = {}
    for _ in range(SCORE_REPEATS):   # interleaved, best of N: both sides see the same machine load
        for key, fn in runs.items():
            out[key], t = _best_time(fn, 1)
            best[key] = min(best[key], t)
    s_full, t_full = out["full"], best["full"]
    res = {"acc_full": accuracy(s_full), "t_full": t_full}
    if not ubm:
        res.update(acc=res["acc_full"], t_score=t_full)
        return res
    s_top, t_top = out["top"], best["top"]
    pairs = list(zip(s_top, s_full, strict=True))
    res.update(acc=accuracy(s_top), t_score=t_top,
               same_files=(sum(int(np.argmax(a) == np.argmax(b)) for a, b in pairs), len(test)))
    segs = [x[i:i + segment_frames] for _, x in test for i in range(0, len(x) - segment_frames + 1, segment_frames)]
    same = sum(int(np.argmax(clf.score(s)) == np.argmax(clf.score(s, full=True))) for s in segs)
    res["same_segments"] = (same, len(segs))
    res["max_diff"] = float(max(np.abs(a - b).max() for a, b in pairs))
    return res


def _run(name, make, train, test, repeats, segment_frames, ubm):
    clf, t_train = _best_time(lambda: make().fit(train), repeats)
    res = _evaluate(clf, test, segment_frames, ubm)
    res.update(name=name, t_train=t_train)
    if ubm:
        res["rounds"] = clf.ubm_.mixup_history_
    return res


def _table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    print(f"{'K':>4}  {'model':<22} {'train s':>8} {'accuracy':>9} {'acc full':>9} {'score s':>8} "
          f"{'full s':>7} {'full/top':>8}  {'same files':>10} {'same segs':>13}  {'max |dLLR|':>10}")
    for r in rows:
        top = r["t_score"] if "same_files" in r else float("nan")
        same_f = f"{r['same_files'][0]}/{r['same_files'][1]}" if "same_files" in r else "-"
        same_s = f"{r['same_segments'][0]}/{r['same_segments'][1]}" if "same_segments" in r else "-"
        ratio = f"{r['t_full'] / top:7.2f}x" if "same_files" in r else "       -"
        diff = f"{r['max_diff']:10.4f}" if "max_diff" in r else "         -"
        print(f"{r['K']:>4}  {r['name']:<22} {r['t_train']:8.2f} {r['acc']:9.3f} {r['acc_full']:9.3f} "
              f"{r['t_score']:8.3f} {r['t_full']:7.3f} {ratio}  {same_f:>10} {same_s:>13}  {diff}")


def _speedups(rows: list[dict]) -> None:
    for K in sorted({r["K"] for r in rows}):
        base = next((r for r in rows if r["K"] == K and r["name"].startswith("per-class")), None)
        if base is None:
            continue
        for r in rows:
            if r["K"] == K and r is not base:
                print(f"  K={K}: {r['name']}: training {base['t_train'] / r['t_train']:.2f}x faster than per-class "
                      f"EM, accuracy {r['acc']:.3f} vs {base['acc']:.3f}; top-C scoring "
                      f"{r['t_full'] / r['t_score']:.2f}x faster than its full scoring, "
                      f"{base['t_score'] / r['t_score']:.2f}x faster than per-class scoring")


def demo(args) -> list[dict]:
    from collections import defaultdict

    import numpy as np

    from gmmspeech.app.recipe import load_recipe
    from gmmspeech.data.featstore import FeatureCache, compute_features
    from gmmspeech.data.manifest import read_manifest
    from gmmspeech.model.classifier import GMMClassifier
    from gmmspeech.model.ubm_classifier import UBMClassifier

    pc = load_recipe(REPO / "recipes" / "demo_lid.toml")
    ub = load_recipe(REPO / "recipes" / "demo_lid_ubm.toml")
    if pc.features != ub.features:
        raise SystemExit("demo_lid.toml and demo_lid_ubm.toml must use the same features")
    data = {}
    for split, man in (("train", pc.train), ("test", pc.test)):
        fs = compute_features(read_manifest(man), pc.features, cache=FeatureCache(), progress=False)
        data[split] = [(u.label, np.asarray(x)) for u, x in fs.ok()]
    by = defaultdict(list)
    for lab, x in data["train"]:
        by[lab].append(x)
    train = {lab: np.concatenate(xs) for lab, xs in sorted(by.items())}   # what the pipeline passes
    n = sum(len(x) for x in train.values())
    print(f"demo: {len(train)} classes, {len(data['train'])} training files ({n} frames), {len(data['test'])} "
          f"test files, D={pc.features.n_dims}; per-class: {pc.path.name} EM settings, UBM-MAP: {ub.path.name} "
          f"(UBM {ub.model.iterations} EM iterations at full size, relevance {ub.model.relevance:g}, "
          f"adapt '{ub.model.adapt}', top-{ub.model.top_c})")
    rows = []
    for K in ((32,) if args.quick else (256, 32)):
        per = {**pc.model.gmm_params(), "n_components": K}
        rows.append({"K": K, **_run("per-class EM", lambda p=per: GMMClassifier(**p), train, data["test"],
                                    args.repeats, 100, False)})
        for init in ("mixup", "kmeans++"):
            p = {**ub.model.ubm_params(), "n_components": K, "init": init}
            rows.append({"K": K, **_run(f"UBM-MAP ({init})", lambda p=p: UBMClassifier(**p), train, data["test"],
                                        args.repeats, 100, True)})
    lens = [len(x) for _, x in data["test"]]
    _table(f"demo language ID (test files of {min(lens)}-{max(lens)} frames; segments of 100 frames)", rows)
    _speedups(rows)
    for r in rows:
        if "rounds" in r and r["K"] == 256 and "mixup" in r["name"]:
            print("  mix-up rounds (components, EM iterations, log-lik/frame): "
                  + ", ".join(f"({k}, {i}, {ll:.2f})" for k, i, ll in r["rounds"]))
    return rows


def synthetic(args) -> list[dict]:
    import numpy as np

    from gmmspeech.app.recipe import load_recipe
    from gmmspeech.model.classifier import GMMClassifier
    from gmmspeech.model.ubm_classifier import UBMClassifier

    pc = load_recipe(REPO / "recipes" / "demo_lid.toml").model
    ub = load_recipe(REPO / "recipes" / "demo_lid_ubm.toml").model
    rng = np.random.default_rng(0)
    C, D, B = args.classes, 39, 64
    bw = rng.dirichlet(np.full(B, 2.0))
    bmu = rng.standard_normal((B, D)) * 1.5
    bvar = rng.uniform(0.3, 1.5, (B, D))
    classes = []
    for _ in range(C):
        classes.append((rng.dirichlet(bw * 1000 + 0.1), bmu + 0.05 * rng.standard_normal((B, D))))

    def draw(c, n):
        w, mu = classes[c]
        k = rng.choice(B, size=n, p=w)
        x = mu[k] + rng.standard_normal((n, D)) * np.sqrt(bvar[k]) + 0.3 * rng.standard_normal(D)
        return ((x - x.mean(0)) / x.std(0)).astype(np.float32)   # per-file CMVN, as the feature pipeline does

    per_class = max(1, args.frames // (C * 300))
    train = {f"c{c:02d}": np.concatenate([draw(c, 300) for _ in range(per_class)]) for c in range(C)}
    test = [(f"c{c:02d}", draw(c, 100)) for c in range(C) for _ in range(40)]
    n = sum(len(x) for x in train.values())
    print(f"\nsynthetic: {C} classes x {per_class} files of 300 frames = {n} training frames, {len(test)} test files "
          f"of 100 frames, D={D} (a shared 64-Gaussian structure; classes: mean shifts of 0.05 sd and perturbed "
          f"weights; per-file offsets of 0.3 sd, removed by per-file CMVN)")
    rows = []
    K = 256
    per = {**pc.gmm_params(), "n_components": K}
    rows.append({"K": K, **_run("per-class EM", lambda: GMMClassifier(**per), train, test, 1, 50, False)})
    for adapt in ("m", "mw"):
        p = {**ub.ubm_params(), "n_components": K, "adapt": adapt}
        rows.append({"K": K, **_run(f"UBM-MAP (mixup, {adapt})", lambda p=p: UBMClassifier(**p), train, test, 1, 50,
                                    True)})
    _table("synthetic task (test files of 100 frames; segments of 50 frames)", rows)
    _speedups(rows)
    return rows


_DISK_CHILD = """
import resource, sys, time
from gmmspeech.core.map import train_ubm
paths = sys.argv[2:]
t0 = time.perf_counter()
g = train_ubm(paths, int(sys.argv[1]))
print(time.perf_counter() - t0, g.n_iter_, g.lower_bound_, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def disk(args) -> None:
    """A UBM streamed from ``--disk-frames`` frames in 20 on-disk .npy files (memory-mapped), in a child process."""
    import subprocess
    import tempfile

    import numpy as np

    D, K, parts = 39, 256, 20
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        mu = rng.standard_normal((64, D)) * 1.5
        paths = []
        for i in range(parts):
            n = args.disk_frames // parts
            x = mu[rng.integers(64, size=n)] + rng.standard_normal((n, D)).astype(np.float32)
            paths.append(str(Path(tmp) / f"part{i:02d}.npy"))
            np.save(paths[-1], x.astype(np.float32))
            del x
        size = sum(os.path.getsize(p) for p in paths) / 2**20
        out = subprocess.run([sys.executable, "-c", _DISK_CHILD, str(K), *paths], capture_output=True, text=True,
                             check=True, env=os.environ).stdout.split()
    secs, iters, ll, rss = float(out[0]), int(out[1]), float(out[2]), float(out[3])
    print(f"\nUBM from disk: {args.disk_frames} frames x {D} dims in {parts} .npy files ({size:.0f} MB), K={K}, "
          f"mix-up + {iters} EM iterations at full size: {secs:.1f} s, log-lik/frame {ll:.3f}, "
          f"peak RSS of the training process {rss:.0f} MB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="demo trainings timed best of N")
    ap.add_argument("--frames", type=int, default=300_000, help="synthetic training frames in all")
    ap.add_argument("--classes", type=int, default=10, help="synthetic classes")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads (0: library default)")
    ap.add_argument("--no-demo", action="store_true")
    ap.add_argument("--no-synthetic", action="store_true")
    ap.add_argument("--disk-frames", type=int, default=0, help="also train a UBM streamed from this many frames "
                    "in .npy files on disk (0: skip; 2000000 takes about a minute)")
    ap.add_argument("--quick", action="store_true", help="K=32 on the demo, 30k synthetic frames, 1 repeat")
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.frames = 1, 30_000
    if args.threads > 0:  # before numpy loads its BLAS
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    print(f"BLAS threads: {args.threads or 'default'}; E-steps on one thread; cores: {os.cpu_count()}")
    if not args.no_demo:
        demo(args)
    if not args.no_synthetic:
        synthetic(args)
    if args.disk_frames:
        disk(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
