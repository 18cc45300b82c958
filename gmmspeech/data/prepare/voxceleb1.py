"""The ``voxceleb1`` layout: VoxCeleb1 speaker identification (Nagrani, Chung & Zisserman 2017).

Speaker folders of YouTube videos of utterances, plus the official identification split::

    ROOT/wav/id10001/1zcIwhmdeo4/00001.wav      (or ROOT/vox1_dev_wav/wav/..., ROOT/vox1_test_wav/wav/...,
    ROOT/wav/id10001/1zcIwhmdeo4/00002.wav       or ROOT/id10001/... directly)
    ...
    ROOT/iden_split.txt                         (or ROOT/meta/iden_split.txt, or given as split_file)

``iden_split.txt`` lines read ``1 id10001/1zcIwhmdeo4/00001.wav`` with 1 = train, 2 = dev (validation),
3 = test; the label is the speaker id.
"""

from __future__ import annotations

from pathlib import Path

from ..manifest import Utterance
from .common import LayoutError, Prepared, by_split, check_root, listing, split_notes

__all__ = ["prepare_voxceleb1"]


def prepare_voxceleb1(root: str | Path, *, split_file: str | Path | None = None) -> Prepared:
    """VoxCeleb1 speaker identification (Nagrani, Chung & Zisserman 2017) with the official split.

    ``root`` holds ``wav/idNNNNN/<video>/NNNNN.wav`` (or the two archives' ``vox1_dev_wav/wav`` and
    ``vox1_test_wav/wav``) and ``iden_split.txt`` (or pass ``split_file``), whose lines read
    ``1 id10001/1zcIwhmdeo4/00001.wav`` with 1 = train, 2 = dev (validation), 3 = test. The label is the
    speaker id (1,251 speakers in the full corpus). A file listed twice is an error, like a malformed line.
    """
    layout = "voxceleb1"
    root = check_root(root, layout)
    if split_file and not Path(split_file).is_file():
        raise LayoutError(root, layout, f"split file {split_file}: no such file")
    sf_path = Path(split_file) if split_file else next(
        (p for p in (root / "iden_split.txt", root / "meta" / "iden_split.txt") if p.is_file()), None)
    if sf_path is None:
        raise LayoutError(root, layout, "speaker identification needs the official iden_split.txt (in ROOT, "
                                        f"ROOT/meta/ or given with --split-file); found {listing(root)}")
    wav_dirs = [d for d in (root / "wav", root / "vox1_dev_wav" / "wav", root / "vox1_test_wav" / "wav", root)
                if d.is_dir() and any(c.name.startswith("id") for c in d.iterdir() if c.is_dir())]
    if not wav_dirs:
        raise LayoutError(root, layout, f"expected wav/idNNNNN/<video>/NNNNN.wav speaker folders; "
                                        f"found {listing(root)}")
    codes = {"1": "train", "2": "dev", "3": "test"}
    bad, utts, skipped = [], [], []
    listed: dict[str, int] = {}
    for ln, line in enumerate(sf_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in codes or parts[1].count("/") != 2:
            bad.append(f"line {ln}: expected '<1|2|3> idNNNNN/<video>/NNNNN.wav', got {line.strip()[:60]!r}")
            continue
        if parts[1] in listed:
            bad.append(f"line {ln}: {parts[1]} is already listed on line {listed[parts[1]]}")
            continue
        listed[parts[1]] = ln
        p = next((d / parts[1] for d in wav_dirs if (d / parts[1]).is_file()), None)
        if p is None:
            skipped.append((parts[1], f"listed in {sf_path.name} line {ln} but not found"))
            continue
        spk = parts[1].split("/")[0]
        utts.append(Utterance(p, spk, speaker=spk, split=codes[parts[0]], line=ln))
    if bad:
        more = f"; ... {len(bad) - 10} more" if len(bad) > 10 else ""
        raise LayoutError(sf_path, layout, f"{len(bad)} unreadable line(s): {'; '.join(bad[:10])}{more}")
    if not utts:
        raise LayoutError(root, layout, f"none of the files listed in {sf_path.name} exist under "
                                        f"{', '.join(str(d) for d in wav_dirs)}")
    splits = by_split(utts)
    return Prepared(layout, root, splits, skipped, split_notes(splits))
