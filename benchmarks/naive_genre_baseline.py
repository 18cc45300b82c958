"""Naive genre-identification baseline: the obvious script that gmmspeech is compared with.

librosa MFCC (20) + deltas at 22050 Hz, one scikit-learn ``GaussianMixture(16, covariance_type="diag")`` per
genre trained on all frames of its training clips, and each test clip labelled with the genre whose model gives
the highest mean frame log-likelihood.  Manifests are CSV files with ``path,label`` columns (paths relative to
the manifest).  Run:

    python benchmarks/naive_genre_baseline.py TRAIN.csv TEST.csv [MORE_TEST.csv ...]
    python benchmarks/naive_genre_baseline.py data_manifests/demo_genre/train.csv data_manifests/demo_genre/test.csv
"""

import csv
import sys
from pathlib import Path

import librosa
import numpy as np
from sklearn.mixture import GaussianMixture


def load(manifest: str) -> list[tuple[Path, str]]:
    base = Path(manifest).resolve().parent
    with open(manifest, newline="", encoding="utf-8") as fh:
        return [(base / row["path"], row["label"]) for row in csv.DictReader(fh)]


def features(path: Path) -> np.ndarray:
    y, sr = librosa.load(path, sr=22050, mono=True)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
    return np.vstack([mfcc, librosa.feature.delta(mfcc)]).T


def main(train_csv: str, *test_csvs: str) -> None:
    frames: dict[str, list[np.ndarray]] = {}
    for path, label in load(train_csv):
        frames.setdefault(label, []).append(features(path))
    models = {label: GaussianMixture(16, covariance_type="diag", random_state=0).fit(np.vstack(x))
              for label, x in sorted(frames.items())}
    labels = sorted(models)
    for test_csv in test_csvs:
        truth, pred = [], []
        for path, label in load(test_csv):
            x = features(path)
            truth.append(label)
            pred.append(labels[int(np.argmax([models[m].score(x) for m in labels]))])
        acc = np.mean([t == p for t, p in zip(truth, pred, strict=True)])
        print(f"{test_csv}: accuracy {acc:.3f} ({sum(t == p for t, p in zip(truth, pred, strict=True))}/{len(truth)})")
        for label in labels:  # confusion row: true label -> predicted counts
            row = [sum(t == label and p == q for t, p in zip(truth, pred, strict=True)) for q in labels]
            print(f"  {label:>10} " + " ".join(f"{n:3d}" for n in row))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
