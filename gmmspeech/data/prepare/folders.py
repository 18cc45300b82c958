"""The ``folders`` layout: one sub-folder per class, ``ROOT/<class>/**/<audio>``.

Any corpus sorted into class folders (nested folders inside a class are fine; hidden files and folders are
ignored)::

    ROOT/
      yes/spk1_001.wav
      yes/session2/spk2_001.flac
      no/spk1_002.wav

It has no official split: each class is split with a seeded shuffle, speaker-disjoint when the speaker is
given by a regular expression on the file name or by a CSV table.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ...frontend.audio import AUDIO_EXTENSIONS
from ...infra.errors import UsageError
from ..manifest import Utterance
from .common import (
    LayoutError,
    Prepared,
    PrepareError,
    audio_files,
    by_split,
    check_root,
    listing,
    split_notes,
    subdirs,
)
from .split import cap_per_class, stratified_split

__all__ = ["prepare_folders"]


def _speaker_map(path: Path) -> dict[str, str]:
    """``{file name or relative path: speaker}`` from a CSV with a ``speaker`` column and ``path`` or ``file``.

    A file listed again with another speaker is a ``ValueError`` naming both lines.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            cols = reader.fieldnames or []
            col = "path" if "path" in cols else "file" if "file" in cols else None
            if col is None or "speaker" not in cols:
                raise PrepareError(f"{path}: needs a 'speaker' column and a 'path' or 'file' column "
                                 f"(found: {', '.join(cols) or 'none'})")
            out: dict[str, tuple[str, int]] = {}
            for r in reader:
                key, spk = (r[col] or "").strip(), (r["speaker"] or "").strip()
                if key in out and out[key][0] != spk:
                    raise PrepareError(f"{path} line {reader.line_num}: {key} is given speaker {spk!r}, but line "
                                     f"{out[key][1]} gave it {out[key][0]!r}")
                out.setdefault(key, (spk, reader.line_num))
            return {key: spk for key, (spk, _) in out.items()}
    except OSError as exc:
        raise PrepareError(f"{path}: cannot read speaker table ({exc.strerror})") from None


def prepare_folders(root: str | Path, *, test_fraction: float = 0.2, dev_fraction: float = 0.0, seed: int = 0,
                    speaker_regex: str | None = None, speakers: str | Path | None = None,
                    max_per_class: int | None = None) -> Prepared:
    """One sub-folder per class (``ROOT/<class>/**/<audio>``), split per class with a seeded shuffle.

    Parameters
    ----------
    root : the corpus folder.
    test_fraction, dev_fraction : share of each class's files for test and dev.
    seed : shuffle seed.
    speaker_regex : regular expression searched in each file name; its first group (or whole match) is the
        speaker, and all files of one speaker stay on one side of the split.
    speakers : alternatively (not both), a CSV with columns ``speaker`` and ``path`` (relative to ``root``) or
        ``file`` (the file name); a file given two different speakers is an error.
    max_per_class : keep at most this many files per class (seeded random subset).

    Audio files directly in ``root`` (in no class folder) are left out, with a note.
    """
    layout = "folders"
    root = check_root(root, layout)
    classes = [d for d in subdirs(root) if audio_files(d)]
    if len(classes) < 2:
        raise LayoutError(root, layout, f"expected one sub-folder per class holding audio files, at least two; "
                                        f"found {len(classes)} (folder holds: {listing(root)})")
    if speaker_regex and speakers:
        raise UsageError("give the speakers either as a regex on the file names or as a table, not both")
    rx = None
    if speaker_regex:
        try:
            rx = re.compile(speaker_regex)
        except re.error as exc:
            raise UsageError(f"invalid speaker regex {speaker_regex!r}: {exc}") from None
    table = _speaker_map(Path(speakers)) if speakers else None
    utts, unmatched = [], []
    for d in classes:
        for p in audio_files(d):
            spk = ""
            rel = p.relative_to(root).as_posix()
            if rx is not None:
                m = rx.search(p.name)
                spk = (m.group(1) if m and m.groups() else m.group(0)) if m else ""
            elif table is not None:
                spk = table.get(rel, table.get(p.name, ""))
            if (rx is not None or table is not None) and not spk:
                unmatched.append(rel)
            utts.append(Utterance(p, d.name, speaker=spk))
    if unmatched:
        how = f"speaker regex {speaker_regex!r} does not match" if rx else f"{speakers} names no speaker for"
        raise LayoutError(root, layout, f"{how} {len(unmatched)} file(s), e.g. {', '.join(unmatched[:3])}")
    utts = cap_per_class(utts, max_per_class, seed)
    grouped = rx is not None or table is not None
    utts = stratified_split(utts, test_fraction=test_fraction, dev_fraction=dev_fraction, seed=seed,
                            group=(lambda u: u.speaker) if grouped else None)
    splits = by_split(utts)
    notes = []
    loose = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in AUDIO_EXTENSIONS)
    if loose:
        notes.append(f"ignored {len(loose)} audio file(s) directly in {root.name}/, in no class folder "
                     f"(e.g. {loose[0].name})")
    return Prepared(layout, root, splits, notes=notes + split_notes(splits))
