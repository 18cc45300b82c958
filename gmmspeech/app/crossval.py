"""k-fold cross-validation: stratified by class and, with a group column, group-aware (one speaker or artist never
sits on both sides of a fold), as music-IR papers report GTZAN and as small speech corpora need.

Features are extracted once for every file (through the cache); each fold then fits the configured classifier on
its training files and scores its test files. Folds run side by side on local worker processes (``n_jobs``).
The printed figures are the mean and standard deviation over folds; the summed confusion matrix and the metrics
of all folds' predictions pooled go into the same report files as ``evaluate``.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.folds import fold_indices
from ..data.featstore import FeatureCache, compute_features
from ..data.manifest import Utterance, read_manifest
from ..infra.errors import UsageError
from ..infra.parallel import parallel_map
from .pipeline import EvalResult, fit_classifier, score_features, summarise_scores
from .report import check_report_dir, write_report
from .settings import ModelConfig, Settings

__all__ = ["CrossvalResult", "FoldResult", "crossval", "crossval_inputs", "fold_indices", "manifest_groups"]


@dataclass
class FoldResult:
    """One fold: its size and its evaluation."""

    fold: int
    n_train: int
    n_test: int
    evaluation: EvalResult


@dataclass
class CrossvalResult:
    """All folds, the pooled evaluation of every fold's predictions, and the files that failed."""

    folds: list[FoldResult]
    pooled: EvalResult
    group: str | None
    errors: list[tuple[Utterance, str]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)

    def summary(self, key: str = "accuracy") -> tuple[float, float]:
        """Mean and standard deviation over folds of a metric (e.g. ``accuracy``); NaN when absent."""
        vals = np.array([f.evaluation.metrics.get(key, np.nan) for f in self.folds], dtype=np.float64)
        if np.all(np.isnan(vals)):
            return float("nan"), float("nan")
        return float(np.nanmean(vals)), float(np.nanstd(vals, ddof=1) if np.sum(~np.isnan(vals)) > 1 else 0.0)


def manifest_groups(utts: list[Utterance], sources: list[Path], column: str) -> list[str]:
    """The value of ``column`` for every utterance (``speaker`` and ``split`` from the record, any other column
    read from its manifest -- ``sources[i]`` is utterance i's manifest -- by line number); :class:`UsageError`
    when a manifest lacks the column or a file has no value."""
    if column in ("speaker", "split"):
        values = [getattr(u, column) for u in utts]
    else:
        table: dict[tuple[Path, int], str] = {}
        for m in dict.fromkeys(sources):
            with open(m, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                if column not in (reader.fieldnames or []):
                    raise UsageError(f"{m}: no column {column!r} to group by (columns: "
                                     f"{', '.join(reader.fieldnames or [])})")
                for i, row in enumerate(reader, start=2):
                    table[(m, i)] = row[column] or ""
        values = [table.get((src, u.line), "") for u, src in zip(utts, sources, strict=True)]
    missing = sum(1 for v in values if not v)
    if missing:
        raise UsageError(f"--group {column}: {missing} file(s) have no {column} value; every file needs one")
    return values


def crossval_inputs(inputs: list[str], config: str | os.PathLike | None) -> tuple[list[Path], Path | None]:
    """What ``crossval`` reads: ``(manifests, settings file)``. Each input is a manifest (``.csv``), a recipe file
    or a bundled recipe name (``demo``, ``demo-genre``): a recipe contributes its train and test manifests and
    is the settings layer (then ``config`` must not be given)."""
    from .bundled import bundled_run

    manifests: list[Path] = []
    recipe_file: Path | None = None
    for item in inputs:
        if item.lower().endswith(".csv"):
            manifests.append(Path(item))
            continue
        r = bundled_run(item)
        if recipe_file is not None or config is not None:
            raise UsageError("crossval takes one recipe, which gives the settings: drop --config or the "
                             "second recipe")
        recipe_file = r.path
        manifests += [m for m in (r.train, r.test) if m is not None]
    return manifests, recipe_file if recipe_file is not None else (None if config is None else Path(config))


def _fold_task(job: tuple[int, np.ndarray, np.ndarray], shared: tuple) -> tuple[int, list, int, list[str]]:
    """Fit on one fold's training blocks and score its test blocks:
    ``(fold, [(index, scores, n_frames)], n_train, classes)``."""
    fold, train_idx, test_idx = job
    blocks, labels, model = shared
    by_class: dict[str, list[np.ndarray]] = defaultdict(list)
    for i in train_idx:
        by_class[labels[i]].append(blocks[i])
    clf = fit_classifier(dict(by_class), model)
    scored = []
    for i in test_idx:
        scores, n_frames, _ = score_features(blocks[i], (clf, None))
        scored.append((int(i), scores, n_frames))
    return fold, scored, len(train_idx), list(clf.classes_)


def crossval(manifests: list[str | os.PathLike], settings: Settings, *, folds: int = 10, group: str | None = None,
             seed: int = 0, n_jobs: int | None = None, quiet: bool = False, cache: FeatureCache | None = None,
             report: str | os.PathLike | None = None,
             progress: Callable[[int, int, int, float], None] | None = None) -> CrossvalResult:
    """Cross-validate ``settings`` on the files of ``manifests`` (concatenated) with ``folds`` folds.

    Returns per-fold evaluations and the pooled one (summed confusion matrix); with ``report``, the pooled
    evaluation's report files are written there (checked before any work). ``progress(fold, n_train, n_test,
    accuracy)`` is called as each fold finishes (folds finish in order).
    """
    if report is not None:
        check_report_dir(report)
    utts, sources = [], []
    for m in map(Path, manifests):
        part = read_manifest(m)
        utts += part
        sources += [m] * len(part)
    groups = manifest_groups(utts, sources, group) if group else None
    fs = compute_features(utts, settings.features, n_jobs=n_jobs, progress=not quiet, desc="features", cache=cache)
    ok = [(i, u, x) for i, (u, x) in enumerate(zip(fs.utterances, fs.features, strict=True)) if x is not None]
    kept_utts = [u for _, u, _ in ok]
    labels = [u.label for u in kept_utts]
    blocks = [np.asarray(x) for _, _, x in ok]
    kept_groups = None if groups is None else [groups[i] for i, _, _ in ok]
    plan = fold_indices(labels, kept_groups, folds, seed)
    model: ModelConfig = settings.model
    jobs = [(k, tr, te) for k, (tr, te) in enumerate(plan)]
    results_by_fold = {}
    for fold, scored, n_train, classes in parallel_map(_fold_task, jobs, n_jobs=n_jobs, shared=(blocks, labels,
                                                                                                model)):
        results_by_fold[fold] = (scored, n_train, classes)
        if progress is not None:
            acc = float(np.mean([labels[i] == classes[int(np.argmax(s))] for i, s, _ in scored]))
            progress(fold + 1, n_train, len(scored), acc)
    fold_results, pooled_items = [], []
    hop = settings.features.frame_shift_ms / 1000
    all_classes = sorted(set(labels))
    for fold in range(len(plan)):
        scored, n_train, classes = results_by_fold[fold]
        items = [(kept_utts[i], _align(s, classes, all_classes), n, None) for i, s, n in scored]
        pooled_items.extend(items)
        fold_results.append(FoldResult(fold + 1, n_train, len(scored),
                                       summarise_scores(all_classes, items, frame_shift_s=hop)))
    pooled = summarise_scores(all_classes, pooled_items, fs.errors, frame_shift_s=hop)
    res = CrossvalResult(fold_results, pooled, group, fs.errors)
    if report is not None:
        pooled.metrics["crossval"] = _crossval_block(res, folds, seed)
        res.written = write_report(report, pooled.predictions, pooled.metrics, pooled.confusion, pooled.labels)
    return res


def _align(scores: np.ndarray, classes: list[str], all_classes: list[str]) -> np.ndarray:
    """A fold's (C_fold,) scores on the full class list (a class absent from a fold's training set scores -inf)."""
    out = np.full(len(all_classes), -np.inf)
    idx = {c: j for j, c in enumerate(all_classes)}
    for c, v in zip(classes, scores, strict=True):
        out[idx[c]] = v
    return out


def _crossval_block(res: CrossvalResult, folds: int, seed: int) -> dict[str, Any]:
    """The cross-validation summary stored in metrics.json."""
    mean, std = res.summary("accuracy")
    cavg_mean, cavg_std = res.summary("cavg")
    return {"folds": folds, "seed": seed, "group": res.group, "accuracy_mean": mean, "accuracy_std": std,
            "cavg_mean": cavg_mean, "cavg_std": cavg_std,
            "per_fold": [{"fold": f.fold, "n_train": f.n_train, "n_test": f.n_test,
                          "accuracy": f.evaluation.metrics["accuracy"], "cavg": f.evaluation.metrics.get("cavg")}
                         for f in res.folds]}
