"""Measure task presets (and candidate settings) on development corpora: accuracy per setting, same run.

This is how the presets in ``gmmspeech/settings.py`` were chosen. Each candidate is a task preset plus
overrides; every candidate trains per-class GMMs on the train manifest (through :func:`gmmspeech.app.settings.resolve`
and :func:`gmmspeech.app.pipeline.train_classifier`, the same path as ``gmmspeech train``) and is scored on each test
manifest. The baseline row ``defaults`` is ``gmmspeech train`` without ``--task``.

Development corpora (not bundled; build them first):

    python scripts/make_dev_speech.py lid /work/dev/lid       # 8+ languages, held-out voices and sentences
    python scripts/make_dev_speech.py spk /work/dev/spk       # 16+ synthetic speakers, held-out sentences
    python scripts/make_genre_corpus.py --dev /work/dev/genre # 8 genres, held-out songs (+ another soundfont)

Run:

    python benchmarks/bench_presets.py genre /work/dev/genre/train.csv /work/dev/genre/test.csv [more tests]
    python benchmarks/bench_presets.py language /work/dev/lid/train.csv /work/dev/lid/test.csv
    python benchmarks/bench_presets.py speaker /work/dev/spk/train.csv /work/dev/spk/test.csv
    ... --only preset,defaults     # a subset of the candidates
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from gmmspeech.app.pipeline import train_classifier
from gmmspeech.app.settings import resolve
from gmmspeech.data.featstore import FeatureCache, compute_features
from gmmspeech.data.manifest import read_manifest

GENRE_BASE = {"sample_rate": 22050, "frame_length_ms": 46.4, "frame_shift_ms": 23.2, "n_mels": 64, "n_mfcc": 20,
              "fmin": 0.0, "preemphasis": 0.0, "lifter": 0.0, "deltas": 1, "cmvn": "none"}

#: name -> (task or None, feature overrides, model overrides)
CANDIDATES: dict[str, dict[str, tuple]] = {
    "genre": {
        "defaults": (None, {}, {}),
        "mfcc-music(16)": (None, GENRE_BASE, {"components": 16}),
        "+contrast": (None, {**GENRE_BASE, "spectral_contrast": True}, {"components": 16}),
        "+chroma": (None, {**GENRE_BASE, "chroma": True}, {"components": 16}),
        "+timbre": (None, {**GENRE_BASE, "timbre": ["centroid", "rolloff", "flatness", "zcr"]}, {"components": 16}),
        "+texture1s": (None, {**GENRE_BASE, "texture_window_s": 1.0}, {"components": 16}),
        "+rhythm": (None, {**GENRE_BASE, "rhythm": True}, {"components": 16}),
        "+contrast+texture": (None, {**GENRE_BASE, "spectral_contrast": True, "texture_window_s": 1.0},
                              {"components": 16}),
        "+contrast+texture+rhythm": (None, {**GENRE_BASE, "spectral_contrast": True, "texture_window_s": 1.0,
                                            "rhythm": True}, {"components": 16}),
        "all": (None, {**GENRE_BASE, "spectral_contrast": True, "chroma": True, "texture_window_s": 1.0,
                       "rhythm": True, "timbre": ["centroid", "rolloff", "flatness", "zcr"]}, {"components": 16}),
        "defaults@22k": (None, {"sample_rate": 22050}, {}),
        "music+cmvn(64)": (None, {**GENRE_BASE, "cmvn": "utterance"}, {"components": 64}),
        "music(64)": (None, GENRE_BASE, {"components": 64}),
        "music+cmvn+texture(64)": (None, {**GENRE_BASE, "cmvn": "utterance", "texture_window_s": 1.0},
                                   {"components": 64}),
        "music+cmvn+contrast+texture(64)": (None, {**GENRE_BASE, "cmvn": "utterance", "texture_window_s": 1.0,
                                                   "spectral_contrast": True}, {"components": 64}),
        "music+cmvn+contrast+texture+rhythm(64)": (None, {**GENRE_BASE, "cmvn": "utterance", "texture_window_s": 1.0,
                                                          "spectral_contrast": True, "rhythm": True},
                                                   {"components": 64}),
        "music+cmvn+all(64)": (None, {**GENRE_BASE, "cmvn": "utterance", "texture_window_s": 1.0,
                                      "spectral_contrast": True, "rhythm": True, "chroma": True,
                                      "timbre": ["centroid", "rolloff", "flatness", "zcr"]}, {"components": 64}),
        "d22+contrast": (None, {"sample_rate": 22050, "spectral_contrast": True}, {}),
        "d22+rhythm": (None, {"sample_rate": 22050, "rhythm": True}, {}),
        "d22+contrast+rhythm": (None, {"sample_rate": 22050, "spectral_contrast": True, "rhythm": True}, {}),
        "d22+texture": (None, {"sample_rate": 22050, "texture_window_s": 1.0}, {}),
        "d22+contrast+texture+rhythm": (None, {"sample_rate": 22050, "spectral_contrast": True, "rhythm": True,
                                               "texture_window_s": 1.0}, {}),
        "m46+cmvn+dd+contrast+rhythm": (None, {**GENRE_BASE, "cmvn": "utterance", "deltas": 2,
                                               "spectral_contrast": True, "rhythm": True}, {"components": 64}),
        "defaults mfcc20": (None, {"n_mfcc": 20}, {}),
        "defaults (128)": (None, {}, {"components": 128}),
        "defaults (32)": (None, {}, {"components": 32}),
        "m46+cmvn+dd": (None, {**GENRE_BASE, "cmvn": "utterance", "deltas": 2}, {"components": 64}),
        "preset": ("genre", {}, {}),
    },
    "language": {
        "defaults": (None, {}, {}),
        "sdc7+vad (32)": (None, {"n_mfcc": 7, "deltas": 0, "sdc": True, "vad": "max"}, {"components": 32}),
        "sdc7+vad (64)": (None, {"n_mfcc": 7, "deltas": 0, "sdc": True, "vad": "max"}, {"components": 64}),
        "mfcc13+sdc+vad": (None, {"n_mfcc": 13, "deltas": 0, "sdc": True, "vad": "max"}, {"components": 32}),
        "mfcc13dd+vad": (None, {"vad": "max"}, {"components": 64}),
        "mfcc13dd+vad (32)": (None, {"vad": "max"}, {"components": 32}),
        "mfcc13dd+vad (128)": (None, {"vad": "max"}, {"components": 128}),
        "mfcc13d+sdc+vad": (None, {"deltas": 1, "sdc": True, "vad": "max"}, {"components": 64}),
        "mfcc20dd+vad": (None, {"n_mfcc": 20, "vad": "max"}, {"components": 64}),
        "mfcc13dd+vad+slidingcmvn": (None, {"vad": "max", "cmvn": "sliding"}, {"components": 64}),
        "preset": ("language", {}, {}),
    },
    "speaker": {
        "defaults": (None, {}, {}),
        "defaults+vad": (None, {"vad": "max"}, {}),
        "mfcc20+d": (None, {"n_mfcc": 20, "deltas": 1}, {}),
        "mfcc20+d+vad": (None, {"n_mfcc": 20, "deltas": 1, "vad": "max"}, {}),
        "mfcc20+dd+vad": (None, {"n_mfcc": 20, "deltas": 2, "vad": "max"}, {}),
        "mfcc20+d+vad (32)": (None, {"n_mfcc": 20, "deltas": 1, "vad": "max"}, {"components": 32}),
        "mfcc20+d+vad (128)": (None, {"n_mfcc": 20, "deltas": 1, "vad": "max"}, {"components": 128}),
        "mfcc20+d+vad nocmvn": (None, {"n_mfcc": 20, "deltas": 1, "vad": "max", "cmvn": "none"}, {}),
        "mfcc20+d+vad mels64": (None, {"n_mfcc": 20, "deltas": 1, "vad": "max", "n_mels": 64}, {}),
        "mfcc30+d+vad mels64": (None, {"n_mfcc": 30, "deltas": 1, "vad": "max", "n_mels": 64}, {}),
        "mfcc30+dd+vad mels64": (None, {"n_mfcc": 30, "deltas": 2, "vad": "max", "n_mels": 64}, {}),
        "mfcc40+d+vad mels64": (None, {"n_mfcc": 40, "deltas": 1, "vad": "max", "n_mels": 64}, {}),
        "mfcc20+d+vad ubm256": (None, {"n_mfcc": 20, "deltas": 1, "vad": "max"},
                                {"type": "ubm_map", "components": 256}),
        "preset": ("speaker", {}, {}),
    },
}


def accuracy(clf, cfg, utts, cache) -> tuple[float, int]:
    fs = compute_features(utts, cfg, progress=False, cache=cache)
    ok = fs.ok()
    hits = sum(clf.classes_[int(np.argmax(clf.score(x)))] == u.label for u, x in ok)
    return hits / max(len(ok), 1), len(fs.errors)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("task", choices=sorted(CANDIDATES))
    ap.add_argument("train", type=Path)
    ap.add_argument("tests", type=Path, nargs="+")
    ap.add_argument("--only", help="comma-separated candidate names")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=None, help="feature cache folder (default: gmmspeech's)")
    ap.add_argument("--json", type=Path, help="also write the table as JSON here")
    args = ap.parse_args()
    cache = FeatureCache(args.cache)
    train = read_manifest(args.train)
    tests = [read_manifest(t) for t in args.tests]
    names = args.only.split(",") if args.only else list(CANDIDATES[args.task])
    print(f"{args.task}: {len(train)} training files; tests: "
          + ", ".join(f"{t.name} ({len(u)})" for t, u in zip(args.tests, tests, strict=True)))
    print(f"{'candidate':<28} {'dims':>5} {'K':>4} " + " ".join(f"{t.stem[:14]:>14}" for t in args.tests)
          + f" {'seconds':>8}")
    rows = []
    for name in names:
        task, feats, model = CANDIDATES[args.task][name]
        st = resolve(task, [("candidate", {"features": feats, "model": {**model, "seed": args.seed}})])
        t0 = time.perf_counter()
        res = train_classifier(train, st.features, st.model, quiet=True, cache=cache, settings=st)
        accs = [accuracy(res.classifier, st.features, u, cache)[0] for u in tests]
        dt = time.perf_counter() - t0
        rows.append({"candidate": name, "dims": st.features.n_dims, "components": st.model.components,
                     "accuracy": dict(zip([str(t) for t in args.tests], accs, strict=True)), "seconds": dt,
                     "settings": st.to_dict()})
        print(f"{name:<28} {st.features.n_dims:>5} {st.model.components:>4} "
              + " ".join(f"{a:>14.3f}" for a in accs) + f" {dt:>8.1f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()
