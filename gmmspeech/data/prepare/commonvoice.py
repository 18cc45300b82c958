"""The ``commonvoice`` layout: Mozilla Common Voice releases, combined into one language-ID task.

A release folder holds one folder per locale; each has its clips and the official split as tab-separated
tables (``client_id`` is the speaker, ``path`` the clip's file name)::

    ROOT/                          (e.g. cv-corpus-17.0-2024-03-15/)
      en/clips/common_voice_en_00000001.mp3 ...
      en/train.tsv  en/dev.tsv  en/test.tsv   (validated.tsv, other.tsv, ... are not read)
      de/...

``ROOT`` may also be a single locale folder. The official splits are kept, so they stay speaker-disjoint.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..manifest import Utterance
from .common import SPLITS, LayoutError, Prepared, by_split, check_root, listing, split_notes, subdirs
from .split import cap_per_class

__all__ = ["prepare_commonvoice"]


def _read_tsv(path: Path) -> tuple[list[dict[str, str]], list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return list(reader), list(reader.fieldnames or [])


def prepare_commonvoice(root: str | Path, *, languages: list[str] | None = None,
                        max_per_class: int | None = None, seed: int = 0) -> Prepared:
    """Common Voice language releases combined into one language-ID task.

    ``root`` is one language folder (``clips/``, ``train.tsv``, ``dev.tsv``, ``test.tsv``) or a release folder
    (``cv-corpus-*/``) holding several; the label is the language folder's name (the locale code). Common
    Voice's own splits are kept, so train, dev and test are speaker-disjoint (``client_id`` is the speaker).
    ``languages`` selects folders; ``max_per_class`` caps each split's files per language (seeded). A clip
    listed twice (in one table or in two) is an error.
    """
    layout = "commonvoice"
    root = check_root(root, layout)
    if (root / "train.tsv").is_file() or (root / "test.tsv").is_file():
        dirs = [root]
    else:
        dirs = [d for d in subdirs(root) if (d / "train.tsv").is_file() or (d / "test.tsv").is_file()]
    if languages:
        unknown = sorted(set(languages) - {d.name for d in dirs})
        if unknown:
            raise LayoutError(root, layout, f"no language folder(s) {', '.join(unknown)} with train.tsv/test.tsv "
                                            f"(found: {', '.join(d.name for d in dirs) or 'none'})")
        dirs = [d for d in dirs if d.name in languages]
    if not dirs:
        raise LayoutError(root, layout, "expected a Common Voice language folder (clips/ with train.tsv, dev.tsv, "
                                        f"test.tsv) or a folder of them; found {listing(root)}")
    problems, skipped = [], []
    per_split: dict[str, list[Utterance]] = {s: [] for s in SPLITS}
    for d in dirs:
        if not (d / "clips").is_dir():
            problems.append(f"{d.name}/: no clips/ folder")
            continue
        listed: dict[str, str] = {}  # clip -> where it was first listed
        for split in SPLITS:
            tsv = d / f"{split}.tsv"
            if not tsv.is_file():
                continue
            rows, cols = _read_tsv(tsv)
            if "path" not in cols or "client_id" not in cols:
                problems.append(f"{d.name}/{tsv.name}: needs columns client_id and path (found: {', '.join(cols)})")
                continue
            for ln, r in enumerate(rows, start=2):
                name = (r.get("path") or "").strip()
                if not name:
                    problems.append(f"{d.name}/{tsv.name} line {ln}: empty path")
                    continue
                if name in listed:
                    problems.append(f"{d.name}/{tsv.name} line {ln}: {name} is already listed in {listed[name]}")
                    continue
                listed[name] = f"{tsv.name} line {ln}"
                p = d / "clips" / name
                if not p.is_file():
                    skipped.append((str(p), f"listed in {d.name}/{tsv.name} line {ln} but not found"))
                    continue
                per_split[split].append(Utterance(p, d.name, speaker=(r.get("client_id") or "").strip(),
                                                  split=split, line=ln))
    if problems:
        more = f"; ... {len(problems) - 10} more" if len(problems) > 10 else ""
        raise LayoutError(root, layout, f"{len(problems)} problem(s): {'; '.join(problems[:10])}{more}")
    utts = [u for s in SPLITS for u in cap_per_class(per_split[s], max_per_class, seed)]
    if not utts:
        raise LayoutError(root, layout, "none of the clips listed in the .tsv files exist under clips/")
    splits = by_split(utts)
    notes = []
    if len(dirs) < 2:
        notes.append("only one language: a language-ID task needs several (point ROOT at the release folder)")
    return Prepared(layout, root, splits, skipped, notes + split_notes(splits))
