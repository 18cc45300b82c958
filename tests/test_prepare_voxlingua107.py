"""The ``voxlingua107`` layout: <lang>/ folders of YouTube segments, split by video."""

from pathlib import Path

from gmmspeech.data.prepare import prepare

from .conftest import chirpy, write_wav


def make_voxlingua(root: Path, langs=("en", "de", "sw"), videos=4, segs=2) -> Path:
    for lang, kind in zip(langs, ("low", "high", "noise"), strict=True):
        for v in range(videos):
            for s in range(segs):
                name = f"{lang}Vid{v:03d}x__U__S{s}---{s * 5:04d}.000-{s * 5 + 4:04d}.000.wav"
                write_wav(root / lang / name, chirpy(kind, 0.5, seed=10 * v + s))
    return root


def test_voxlingua_keeps_videos_together_and_caps_files(tmp_path):
    root = make_voxlingua(tmp_path / "vl")
    prep = prepare("voxlingua107", root, test_fraction=0.25, seed=1)
    tr, te = prep.splits["train"], prep.splits["test"]
    assert len(tr) + len(te) == 24 and {u.label for u in te} == {"en", "de", "sw"}
    assert not {u.speaker for u in tr} & {u.speaker for u in te}
    assert prep.notes == []
    capped = prepare("voxlingua107", root, max_per_class=5, test_fraction=0.25, seed=1, probe=False)
    counts = {}
    for u in capped.splits["train"] + capped.splits["test"]:
        counts[u.label] = counts.get(u.label, 0) + 1
    assert counts == {"en": 5, "de": 5, "sw": 5}


def test_voxlingua_notes_what_it_leaves_out_or_cannot_group(tmp_path):
    root = make_voxlingua(tmp_path / "vl")
    write_wav(root / "English" / "x__U__S0---0.000-4.000.wav", chirpy("low", 0.5, seed=0))
    write_wav(root / "en" / "renamed.wav", chirpy("low", 0.5, seed=0))
    prep = prepare("voxlingua107", root, probe=False)
    assert {u.label for s in prep.splits.values() for u in s} == {"en", "de", "sw"}
    assert any("ignored folder(s) English/" in n for n in prep.notes)
    assert any("1 file(s) not named <video id>__" in n for n in prep.notes)
