"""The ``kaldi`` layout: a Kaldi data directory, or a folder of ``train/``, ``dev/``, ``test/`` data dirs.

A data dir holds text tables keyed by recording or utterance id::

    DATA/wav.scp     <recording> <path to audio>          (plain paths only: no pipes, no ark offsets)
    DATA/utt2lang    <utterance> <language>                (the label, for language ID; else utt2spk is)
    DATA/utt2spk     <utterance> <speaker>
    DATA/segments    <utterance> <recording> <start s> <end s>   (optional; without it utterance = recording;
                                                                  end -1 = the end of the recording)

``ROOT`` is either one such data dir -- split here per class, speaker-disjoint when ``utt2spk`` exists -- or a
folder holding ``train/``, ``test/`` (and ``dev/``) data dirs, used as they are. Relative paths in ``wav.scp``
are tried against the data dir, its parent and grandparent (Kaldi resolves them from the ``egs/*/s5`` folder).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from ..manifest import Utterance
from .common import SPLITS, LayoutError, Prepared, by_split, check_root, listing, split_notes
from .split import stratified_split

__all__ = ["prepare_kaldi"]


def _kaldi_table(path: Path, n_fields: int | None, problems: list[str]) -> dict[str, list[str]]:
    """``{key: [fields...]}`` from a Kaldi text table; bad lines go to ``problems`` with their numbers."""
    out: dict[str, list[str]] = {}
    for ln, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        key, *rest = line.split(maxsplit=1 if n_fields is None else -1)
        if not rest or (n_fields is not None and len(rest) != n_fields):
            problems.append(f"{path.name} line {ln}: expected {n_fields or 1}+ field(s) after the key")
        elif key in out:
            problems.append(f"{path.name} line {ln}: duplicate key {key}")
        else:
            out[key] = rest
    return out


def _kaldi_dir(d: Path, split: str, problems: list[str], skipped: list[tuple[str, str]]) -> list[Utterance]:
    scp_problems: list[str] = []
    wav = _kaldi_table(d / "wav.scp", None, scp_problems)
    problems.extend(f"{d.name}/{p}" for p in scp_problems)
    label_file = d / "utt2lang" if (d / "utt2lang").is_file() else d / "utt2spk"
    if not label_file.is_file():
        problems.append(f"{d.name}/: needs utt2lang or utt2spk (the labels)")
        return []
    tab_problems: list[str] = []
    labels = _kaldi_table(label_file, 1, tab_problems)
    if label_file.name == "utt2spk":
        spk = labels
    else:
        spk = _kaldi_table(d / "utt2spk", 1, tab_problems) if (d / "utt2spk").is_file() else {}
    segs = _kaldi_table(d / "segments", 3, tab_problems) if (d / "segments").is_file() else None
    problems.extend(f"{d.name}/{p}" for p in tab_problems)
    paths: dict[str, Path] = {}
    rejected: set[str] = set()
    for rec, (value,) in wav.items():
        value = value.strip()
        if value.endswith("|") or " " in value or re.search(r"\.ark:\d+$", value):
            rejected.add(rec)
            problems.append(f"{d.name}/wav.scp {rec}: only plain file paths are supported, not pipes or ark "
                            f"offsets ({value[:50]!r}); write the audio to files first (e.g. with wav-copy)")
            continue
        q = Path(value)
        cands = [q] if q.is_absolute() else [d / q, d.parent / q, d.parent.parent / q]
        paths[rec] = next((c for c in cands if c.is_file()), cands[0])
    utts = []
    for utt, (label,) in sorted(labels.items()):
        if segs is not None:
            if utt not in segs:
                problems.append(f"{d.name}/{label_file.name}: {utt} has no line in segments")
                continue
            rec, start, end = segs[utt]
            try:
                t0, t1 = float(start), float(end)
                if not (math.isfinite(t0) and math.isfinite(t1)):
                    raise ValueError
            except ValueError:
                problems.append(f"{d.name}/segments {utt}: start/end must be seconds, got {start!r}/{end!r}")
                continue
            if t0 < 0 or 0 <= t1 <= t0:
                problems.append(f"{d.name}/segments {utt}: needs 0 <= start < end (or end -1 for the end of the "
                                f"recording), got {start}/{end}")
                continue
            seg = (t0, None if t1 < 0 else t1)
        else:
            rec, seg = utt, (None, None)
        if rec not in paths:
            if rec not in rejected:
                problems.append(f"{d.name}/{label_file.name}: {utt} (recording {rec}) has no line in wav.scp")
            continue
        if not paths[rec].is_file():
            skipped.append((str(paths[rec]), f"listed in {d.name}/wav.scp ({rec}) but not found"))
            continue
        utts.append(Utterance(paths[rec], label, seg[0], seg[1], spk.get(utt, [""])[0], split))
    return utts


def prepare_kaldi(root: str | Path, *, test_fraction: float = 0.2, dev_fraction: float = 0.0,
                  seed: int = 0) -> Prepared:
    """A Kaldi data directory: ``wav.scp`` (plain paths), ``utt2lang`` or ``utt2spk``, optional ``segments``.

    The label is ``utt2lang`` when present (language ID), else ``utt2spk`` (speaker ID). ``root`` is either one
    data dir -- split here per class, speaker-disjoint when ``utt2spk`` exists -- or a folder of ``train/``,
    ``test/`` (and ``dev/``) data dirs, used as they are. Relative paths in ``wav.scp`` are tried against the
    data dir, its parent and grandparent (Kaldi resolves them from the ``egs/*/s5`` folder).
    """
    layout = "kaldi"
    root = check_root(root, layout)
    problems: list[str] = []
    skipped: list[tuple[str, str]] = []
    if (root / "wav.scp").is_file():
        utts = _kaldi_dir(root, "", problems, skipped)
        if not problems:
            has_spk = any(u.speaker for u in utts)
            utts = stratified_split(utts, test_fraction=test_fraction, dev_fraction=dev_fraction, seed=seed,
                                    group=(lambda u: u.speaker or str(u.path)) if has_spk else None)
    else:
        sub = {s: root / s for s in SPLITS if (root / s / "wav.scp").is_file()}
        if "train" not in sub:
            raise LayoutError(root, layout, "expected a Kaldi data dir (wav.scp, utt2lang or utt2spk, optional "
                                            f"segments) or train/ and test/ data dirs; found {listing(root)}")
        utts = [u for s, d in sub.items() for u in _kaldi_dir(d, s, problems, skipped)]
    if problems:
        more = f"; ... {len(problems) - 10} more" if len(problems) > 10 else ""
        raise LayoutError(root, layout, f"{len(problems)} problem(s): {'; '.join(problems[:10])}{more}")
    if not utts:
        raise LayoutError(root, layout, "no usable utterance (every file in wav.scp is missing)")
    splits = by_split(utts)
    return Prepared(layout, root, splits, skipped, split_notes(splits))
