"""Shared fixtures: synthesised audio written to temporary files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 16000


def tone(freq: float, seconds: float = 1.0, sr: int = SR, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    """A sine at ``freq`` Hz with a little noise, float32 (n,)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def chirpy(kind: str, seconds: float, seed: int, sr: int = SR) -> np.ndarray:
    """Three easily told-apart sound classes: 'low' harmonic tones, 'high' tones, 'noise'."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    if kind == "noise":
        return (0.2 * rng.standard_normal(t.size)).astype(np.float32)
    f0 = {"low": 150.0, "high": 2500.0}[kind] * (1 + 0.05 * rng.standard_normal())
    y = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in (1, 2, 3))
    return (0.2 * y + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


def write_wav(path: Path, y: np.ndarray, sr: int = SR, subtype: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, sr, subtype=subtype)
    return path


@pytest.fixture(scope="session")
def toy_corpus(tmp_path_factory) -> dict[str, Path]:
    """A 3-class corpus (low/high/noise) with train and test manifests; returns their paths."""
    root = tmp_path_factory.mktemp("toy")
    manifests = {}
    for split, seeds in (("train", range(6)), ("test", range(100, 104))):
        rows = []
        for kind in ("low", "high", "noise"):
            for s in seeds:
                seed = s + {"low": 11, "high": 37, "noise": 71}[kind]  # fixed: str hash() varies per process
                p = write_wav(root / "audio" / kind / f"{split}_{s}.flac", chirpy(kind, 0.8, seed=seed))
                rows.append((p.relative_to(root).as_posix(), kind))
        m = root / f"{split}.csv"
        with open(m, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "label"])
            w.writerows(rows)
        manifests[split] = m
    manifests["root"] = root
    return manifests


@pytest.fixture(autouse=True, scope="session")
def _isolated_feature_cache(tmp_path_factory):
    """Keep the tests' feature cache out of the user's ~/.cache."""
    import os

    old = os.environ.get("GMMSPEECH_CACHE")
    os.environ["GMMSPEECH_CACHE"] = str(tmp_path_factory.mktemp("feature-cache"))
    yield
    if old is None:
        os.environ.pop("GMMSPEECH_CACHE", None)
    else:
        os.environ["GMMSPEECH_CACHE"] = old


def invoke(*args):
    """Run the ``gmmspeech`` CLI in-process with ``args`` (stringified); returns typer's Result."""
    from typer.testing import CliRunner

    from gmmspeech.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def toy_features(clf):
    """A FeatureConfig whose dimension matches a toy classifier's (MFCCs only), for saving it as a model file."""
    from gmmspeech.frontend.features import FeatureConfig

    d = next(iter(clf.models_.values())).means_.shape[1]
    return FeatureConfig(n_mfcc=d, deltas=0)
