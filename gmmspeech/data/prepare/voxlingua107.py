"""The ``voxlingua107`` layout: VoxLingua107 (Valk & Alumae 2021), YouTube speech in 107 languages.

One folder per ISO language code, as the per-language zip files unpack::

    ROOT/en/<YouTube id>__U__S<n>---<start>-<end>.wav
    ROOT/de/...
    ROOT/sw/...

There is no official train/test split of the training data: segments are split per language with a seeded
shuffle, keeping all segments of one video (the part of the name before ``__``) on one side.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..manifest import Utterance
from .common import LayoutError, Prepared, by_split, check_root, listing, split_notes, subdirs
from .split import cap_per_class, stratified_split

__all__ = ["prepare_voxlingua107"]

_LANG_DIR = re.compile(r"^[a-z]{2,3}([-_][A-Za-z0-9]+)?$")


def prepare_voxlingua107(root: str | Path, *, max_per_class: int | None = None, test_fraction: float = 0.1,
                         dev_fraction: float = 0.0, seed: int = 0) -> Prepared:
    """VoxLingua107 (Valk & Alumae 2021): ``ROOT/<lang>/*.wav``, one folder per ISO language code.

    Files are named ``<YouTube id>__U__S<n>---<start>-<end>.wav``; all segments of one video stay on one side
    of the seeded, language-stratified split. ``max_per_class`` caps the files kept per language (seeded).
    The corpus's separate 33-language dev set is itself a folder of the same layout: prepare it on its own.
    Folders not named like a language code are left out, and files without a video id in their name are
    split one by one; both get a note.
    """
    layout = "voxlingua107"
    root = check_root(root, layout)
    folders = subdirs(root)
    langs = [d for d in folders if _LANG_DIR.match(d.name)]
    utts = [Utterance(p, d.name, speaker=p.name.split("__")[0]) for d in langs for p in sorted(d.glob("*.wav"))]
    labels = sorted({u.label for u in utts})
    if len(labels) < 2:
        raise LayoutError(root, layout, f"expected language folders <lang>/*.wav (ISO codes such as en/, de/), "
                                        f"at least two; found {len(labels)} (folder holds: {listing(root)})")
    notes = []
    ignored = [d.name for d in folders if not _LANG_DIR.match(d.name) and any(d.glob("*.wav"))]
    if ignored:
        notes.append(f"ignored folder(s) {', '.join(f'{n}/' for n in ignored)} (not a language code such as en/)")
    unnamed = sum("__" not in u.path.name for u in utts)
    if unnamed:
        notes.append(f"{unnamed} file(s) not named <video id>__...wav: each is split as its own video")
    utts = cap_per_class(utts, max_per_class, seed)
    utts = stratified_split(utts, test_fraction=test_fraction, dev_fraction=dev_fraction, seed=seed,
                            group=lambda u: u.speaker)
    splits = by_split(utts)
    return Prepared(layout, root, splits, notes=notes + split_notes(splits))
