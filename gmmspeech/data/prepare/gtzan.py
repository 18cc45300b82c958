"""The ``gtzan`` layout: the GTZAN genre collection (Tzanetakis & Cook 2002), 10 genres x 100 30-s tracks.

As unpacked from the archive (``genres/``, ``.au`` files) or from the Kaggle copy (``genres_original/``, ``.wav``,
possibly under ``Data/``)::

    ROOT/genres/blues/blues.00000.au ... blues.00099.au
    ROOT/genres/classical/classical.00000.au
    ...
    ROOT/genres_original/rock/rock.00099.wav          (or ROOT/Data/genres_original/..., or ROOT/<genre>/...)

Split either at random (seeded, stratified by genre) or with the fault-filtered, artist-disjoint lists of
Kereliuk, Sturm & Larsen (2015), read from ``train_filtered.txt``, ``valid_filtered.txt``, ``test_filtered.txt``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from ...infra.errors import UsageError
from ..manifest import Utterance
from .common import LayoutError, Prepared, audio_files, by_split, check_root, listing, split_notes, subdirs
from .split import stratified_split

__all__ = ["GTZAN_GENRES", "prepare_gtzan"]

GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")

_GTZAN_NAME = re.compile(r"^([a-z]+)\.(\d{5})\.(wav|au)$")
_TRACK_ID = re.compile(r"([a-z]+\.\d{5})")


def _gtzan_dir(root: Path) -> Path | None:
    for cand in (root / "genres", root / "genres_original", root / "Data" / "genres_original", root):
        if cand.is_dir() and any((cand / g).is_dir() for g in GTZAN_GENRES):
            return cand
    return None


def _read_split_list(path: Path, problems: list[str]) -> dict[str, int]:
    """``{track id: line}`` (``blues.00012``) from a list file with lines like ``blues/blues.00012.au``.

    A line naming no track id goes to ``problems`` with its number (e.g. the integer track indices of the first,
    superseded version of the lists).
    """
    ids: dict[str, int] = {}
    for ln, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        m = _TRACK_ID.search(line.split()[0].rsplit("/", 1)[-1])
        if m:
            ids.setdefault(m.group(1), ln)
        else:
            problems.append(f"{path.name} line {ln}: expected a track such as blues/blues.00012.au, got {line[:40]!r}")
    return ids


def _filtered_split(utts: list[Utterance], lists: Path, skipped: list[tuple[str, str]],
                    notes: list[str]) -> list[Utterance]:
    """``utts`` with ``split`` set from the three list files in ``lists``; tracks in no list are left out."""
    names = {"train": "train_filtered.txt", "dev": "valid_filtered.txt", "test": "test_filtered.txt"}
    absent = [n for n in names.values() if not (lists / n).is_file()]
    if absent:
        raise LayoutError(lists, "gtzan", f"filtered split needs {', '.join(absent)} in this folder")
    problems: list[str] = []
    side: dict[str, tuple[str, int]] = {}
    for s, n in names.items():
        for tid, ln in _read_split_list(lists / n, problems).items():
            if tid in side:
                problems.append(f"{n} line {ln}: {tid} is also in {names[side[tid][0]]} line {side[tid][1]}")
            else:
                side[tid] = (s, ln)
    if problems:
        more = f"; ... {len(problems) - 10} more" if len(problems) > 10 else ""
        raise LayoutError(lists, "gtzan", f"{len(problems)} problem(s) in the split lists: "
                                          f"{'; '.join(problems[:10])}{more}")
    have = {Path(u.path.name).stem for u in utts}
    for tid in sorted(set(side) - have):
        skipped.append((tid, f"listed in {names[side[tid][0]]} but not found"))
    kept = [dataclasses.replace(u, split=side[Path(u.path.name).stem][0]) for u in utts
            if Path(u.path.name).stem in side]
    notes.append(f"fault-filtered split: {len(have) - len(kept)} track(s) in no list left out")
    if not any(u.split == "train" for u in kept):
        raise LayoutError(lists, "gtzan", f"none of the tracks in {names['train']} exist under the genre folders")
    return kept


def prepare_gtzan(root: str | Path, *, split: str = "random", split_lists: str | Path | None = None,
                  test_fraction: float | None = None, dev_fraction: float | None = None, seed: int = 0) -> Prepared:
    """The GTZAN genre collection: ``ROOT/genres/<genre>/<genre>.000NN.wav`` (or ``genres_original/``, ``.au``).

    Parameters
    ----------
    split : ``"random"`` -- a seeded split stratified by genre (``test_fraction``, default 0.2, and
        ``dev_fraction``, default 0); or ``"filtered"`` -- the fault-filtered, artist-disjoint split of Kereliuk,
        Sturm & Larsen, "Deep learning and music adversaries" (IEEE Trans. Multimedia 2015; lists from
        github.com/coreyker/dnn-mgr, ``gtzan/``: 443 train / 197 valid / 290 test tracks), read from
        ``split_lists``: a folder with ``train_filtered.txt``, ``valid_filtered.txt`` and ``test_filtered.txt``
        (one track per line, e.g. ``blues/blues.00012.au``). Tracks in no list (the faulty ones) are left out; a
        track in two lists, or a line naming no track, is an error. The lists are not bundled: point at your
        copy. ``split_lists`` without the filtered split, or fractions with it, are a ``ValueError``.

    A track present twice (e.g. as ``.au`` and ``.wav``) is kept once; the other copy is skipped.
    """
    layout = "gtzan"
    if split not in ("random", "filtered"):
        raise UsageError(f"GTZAN split must be 'random' or 'filtered', got {split!r}")
    if split == "random" and split_lists is not None:
        raise UsageError("--split-lists is only read by the filtered GTZAN split (--split filtered)")
    if split == "filtered" and (test_fraction is not None or dev_fraction is not None):
        raise UsageError("the filtered GTZAN split is fixed by its list files: --test-fraction and --dev-fraction "
                         "do not apply")
    if split == "filtered" and split_lists is None:
        raise UsageError("the filtered GTZAN split needs --split-lists DIR holding train_filtered.txt, "
                         "valid_filtered.txt and test_filtered.txt (Kereliuk et al. 2015)")
    root = check_root(root, layout)
    gdir = _gtzan_dir(root)
    if gdir is None:
        raise LayoutError(root, layout, f"expected genres/<genre>/<genre>.000NN.wav (or genres_original/) with "
                                        f"genre folders such as {', '.join(GTZAN_GENRES[:3])}; found {listing(root)}")
    utts, skipped, notes = [], [], []
    seen: dict[str, Path] = {}
    for d in subdirs(gdir):
        if d.name not in GTZAN_GENRES:
            notes.append(f"ignored folder {d.name}/ (not one of the 10 GTZAN genres)")
            continue
        for p in audio_files(d):
            m = _GTZAN_NAME.match(p.name)
            if not m or m.group(1) != d.name:
                skipped.append((str(p), f"name does not follow {d.name}.000NN.wav"))
                continue
            tid = f"{m.group(1)}.{m.group(2)}"
            if tid in seen:
                skipped.append((str(p), f"same track as {seen[tid].relative_to(gdir).as_posix()}"))
                continue
            seen[tid] = p
            utts.append(Utterance(p, d.name))
    if not utts:
        raise LayoutError(root, layout, f"no <genre>.000NN.wav files in the genre folders of {gdir}")
    found = sorted({u.label for u in utts})
    if len(found) < len(GTZAN_GENRES):
        notes.append(f"{len(found)} of the 10 genres present (missing: "
                     f"{', '.join(g for g in GTZAN_GENRES if g not in found)})")
    if split == "random":
        utts = stratified_split(utts, test_fraction=0.2 if test_fraction is None else test_fraction,
                                dev_fraction=dev_fraction or 0.0, seed=seed)
    else:
        utts = _filtered_split(utts, Path(split_lists), skipped, notes)
    splits = by_split(utts)
    return Prepared(layout, root, splits, skipped, notes + split_notes(splits))
