"""The table of known layouts, :func:`prepare` (build a layout by name) and :func:`write_prepared` (write it)."""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Callable
from pathlib import Path

from ...infra.atomic import atomic_write_text
from ...infra.errors import UsageError
from ..manifest import check_split, write_manifest
from .common import Prepared, PrepareError
from .commonvoice import prepare_commonvoice
from .folders import prepare_folders
from .gtzan import prepare_gtzan
from .kaldi import prepare_kaldi
from .probe import probe_durations
from .voxceleb1 import prepare_voxceleb1
from .voxlingua107 import prepare_voxlingua107

__all__ = ["LAYOUTS", "prepare", "write_prepared"]

LAYOUTS: dict[str, Callable[..., Prepared]] = {
    "folders": prepare_folders, "gtzan": prepare_gtzan, "voxlingua107": prepare_voxlingua107,
    "commonvoice": prepare_commonvoice, "voxceleb1": prepare_voxceleb1, "kaldi": prepare_kaldi,
}


def prepare(layout: str, root: str | Path, *, probe: bool = True, **options) -> Prepared:
    """Build split manifests for ``layout`` (a key of :data:`LAYOUTS`) from ``root``.

    ``options`` go to the layout's ``prepare_*`` function (options it does not take are a ``ValueError``
    naming them). With ``probe`` every file's header is read: unreadable files are skipped and reported, and
    hours per split and class are counted.
    """
    if layout not in LAYOUTS:
        raise UsageError(f"unknown layout {layout!r} (known: {', '.join(LAYOUTS)})")
    func = LAYOUTS[layout]
    accepted = set(inspect.signature(func).parameters) - {"root"}
    given = {k: v for k, v in options.items() if v is not None}
    extra = sorted(set(given) - accepted)
    if extra:
        raise UsageError(f"layout '{layout}' does not take option(s) {', '.join(extra)} "
                         f"(it takes: {', '.join(sorted(accepted))})")
    prep = func(root, **given)
    return probe_durations(prep) if probe else prep


def write_prepared(prep: Prepared, out_dir: str | Path, *, min_files: int = 1) -> list[Path]:
    """Check the split and write ``train.csv``, ``test.csv`` (``dev.csv``) and ``summary.json`` to ``out_dir``.

    Raises ``ValueError`` listing every problem (:func:`gmmspeech.data.manifest.check_split`: the same audio in
    two of train, dev and test, a class with fewer than ``min_files`` training files, no training file at all)
    before anything is written.
    """
    out_dir = Path(out_dir)
    # number the rows as they will appear in the written CSVs, so messages point at real lines
    prep.splits = {n: [dataclasses.replace(u, line=i + 2) for i, u in enumerate(utts)]
                   for n, utts in prep.splits.items()}
    train, test = prep.splits.get("train", []), prep.splits.get("test", [])
    problems = check_split(train, test, min_files=min_files)
    if "dev" in prep.splits:
        problems += [p for p in check_split(train, prep.splits["dev"], min_files=min_files, names=("train", "dev"))
                     if p not in problems]
        problems += check_split(prep.splits["dev"], test, min_files=0, names=("dev", "test"))
    if not train:
        problems.insert(0, "no training files")
    if problems:
        raise PrepareError(f"{prep.root}: the {prep.layout} split has {len(problems)} problem(s):\n"
                         + "\n".join(f"  {p}" for p in problems))
    written = []
    for name, utts in prep.splits.items():
        write_manifest(out_dir / f"{name}.csv", utts)
        written.append(out_dir / f"{name}.csv")
    atomic_write_text(out_dir / "summary.json", json.dumps(prep.summary(), indent=2) + "\n")
    return written
