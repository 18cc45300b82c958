"""The ``gtzan`` layout: genre folders of <genre>.000NN tracks, a random or the fault-filtered split."""

from pathlib import Path

import numpy as np
import pytest

from gmmspeech.data.prepare import LayoutError, prepare

from .conftest import chirpy, write_wav


def _alternating(kinds: tuple[str, str], seconds: float, seed: int, sr: int = 22050) -> np.ndarray:
    """Two sound kinds alternating every 0.1 s: music-like change within a clip, which survives per-clip CMVN
    (the genre preset's), unlike one stationary sound."""
    a, b = (chirpy(k, seconds, seed=seed + 7 * j, sr=sr) for j, k in enumerate(kinds))
    blocks = (np.arange(a.size) // int(0.1 * sr)) % 2 == 1
    return np.where(blocks, b, a).astype(np.float32)


def make_gtzan(root: Path, genres=("blues", "metal", "classical"), n=6, sub="genres", seconds=1.0) -> Path:
    pairs = (("low", "noise"), ("high", "noise"), ("low", "high"))
    for g, kinds in zip(genres, pairs, strict=False):
        for i in range(n):
            write_wav(root / sub / g / f"{g}.{i:05d}.wav", _alternating(kinds, seconds, seed=i), sr=22050)
    return root


def write_lists(lists: Path, train: str, valid: str, test: str) -> Path:
    lists.mkdir(exist_ok=True)
    for name, text in (("train", train), ("valid", valid), ("test", test)):
        (lists / f"{name}_filtered.txt").write_text(text)
    return lists


def test_gtzan_random_split_reports_counts_and_hours(tmp_path):
    root = make_gtzan(tmp_path / "GTZAN", sub="genres_original")
    prep = prepare("gtzan", root, test_fraction=1 / 3)
    assert {lab: n for lab, n in prep.summary()["splits"]["test"]["classes"].items()} == \
        {"blues": 2, "classical": 2, "metal": 2}
    assert sum(prep.seconds["train"].values()) == pytest.approx(12.0, abs=1e-3)
    assert prep.summary()["splits"]["train"]["hours"] == pytest.approx(12 / 3600, abs=1e-4)
    text = prep.format_summary()
    assert "blues" in text and "hours" in text and "3 of the 10 genres present" in text
    default = prepare("gtzan", root, probe=False)  # test_fraction 0.2 when not given
    assert len(default.splits["test"]) == 3 and "dev" not in default.splits


def test_gtzan_filtered_split_from_list_files(tmp_path):
    root = make_gtzan(tmp_path / "GTZAN")
    lists = write_lists(tmp_path / "lists",
                        "blues/blues.00000.au\nblues/blues.00001.au\nmetal/metal.00000.au\nmetal/metal.00001.au\n"
                        "classical/classical.00000.au\nclassical/classical.00001.au\n",
                        "blues/blues.00002.au\n",
                        "blues/blues.00003.au\nmetal/metal.00003.au\nclassical/classical.00003\nrock/rock.00042.au\n")
    prep = prepare("gtzan", root, split="filtered", split_lists=lists)
    assert {s: len(u) for s, u in prep.splits.items()} == {"train": 6, "dev": 1, "test": 3}
    assert ("rock.00042", "listed in test_filtered.txt but not found") in prep.skipped
    assert any("8 track(s) in no list left out" in n for n in prep.notes)  # 18 tracks, 10 listed and found


def test_gtzan_filtered_split_refuses_contradictory_or_unreadable_lists(tmp_path):
    root = make_gtzan(tmp_path / "GTZAN", n=3)
    # a track in train and test used to land in test silently
    lists = write_lists(tmp_path / "l1", "blues/blues.00000.wav\nmetal/metal.00000.wav\n", "",
                        "metal/metal.00001.wav\nblues/blues.00000.wav\n")
    with pytest.raises(LayoutError, match=r"test_filtered.txt line 2: blues.00000 is also in train_filtered.txt "
                                          r"line 1"):
        prepare("gtzan", root, split="filtered", split_lists=lists)
    # the first version of the published lists held track indices: every track used to be dropped silently
    lists = write_lists(tmp_path / "l2", "    13\n    14\n", "    15\n", "    16\n")
    with pytest.raises(LayoutError, match=r"4 problem\(s\).*train_filtered.txt line 1: expected a track such as "
                                          r"blues/blues.00012.au, got '13'"):
        prepare("gtzan", root, split="filtered", split_lists=lists)
    # lists of tracks this copy does not have: an empty training set used to be written
    lists = write_lists(tmp_path / "l3", "rock/rock.00000.wav\n", "", "blues/blues.00000.wav\n")
    with pytest.raises(LayoutError, match="none of the tracks in train_filtered.txt exist"):
        prepare("gtzan", root, split="filtered", split_lists=lists)


def test_gtzan_options_that_do_not_fit_the_split_are_refused(tmp_path):
    root = make_gtzan(tmp_path / "GTZAN", n=3)
    lists = write_lists(tmp_path / "lists", "blues/blues.00000.wav\n", "", "blues/blues.00001.wav\n")
    with pytest.raises(ValueError, match="only read by the filtered GTZAN split"):  # used to split at random
        prepare("gtzan", root, split_lists=lists)
    with pytest.raises(ValueError, match="do not apply"):  # used to be ignored
        prepare("gtzan", root, split="filtered", split_lists=lists, test_fraction=0.3)
    with pytest.raises(ValueError, match="needs --split-lists"):
        prepare("gtzan", root, split="filtered")
    with pytest.raises(ValueError, match="'random' or 'filtered'"):
        prepare("gtzan", root, split="artist")


def test_gtzan_keeps_one_copy_of_a_track_present_twice(tmp_path):
    root = make_gtzan(tmp_path / "g", n=3)
    (root / "genres" / "blues" / "blues.00001.au").write_bytes((root / "genres" / "blues" / "blues.00001.wav")
                                                               .read_bytes())  # a converted copy beside it
    prep = prepare("gtzan", root, test_fraction=0.34, probe=False)
    blues = [u.path.name for s in prep.splits.values() for u in s if u.label == "blues"]
    assert sorted(blues) == ["blues.00000.wav", "blues.00001.au", "blues.00002.wav"]
    assert any(f.endswith("blues.00001.wav") and r == "same track as blues/blues.00001.au" for f, r in prep.skipped)


def test_unreadable_files_are_skipped_and_reported(tmp_path):
    root = make_gtzan(tmp_path / "g")
    (root / "genres" / "metal" / "metal.00099.wav").write_bytes(b"RIFF nonsense")
    prep = prepare("gtzan", root, test_fraction=0.3)
    assert any(f.endswith("metal.00099.wav") and "cannot read audio" in r for f, r in prep.skipped)
    assert all(not str(u.path).endswith("metal.00099.wav") for s in prep.splits.values() for u in s)
