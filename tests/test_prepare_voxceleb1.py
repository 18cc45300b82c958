"""The ``voxceleb1`` layout: wav/idNNNNN/<video>/NNNNN.wav and the official iden_split.txt."""

from pathlib import Path

import pytest

from gmmspeech.data.prepare import LayoutError, prepare

from .conftest import chirpy, write_wav


def make_voxceleb1(root: Path, n_spk=3, videos=2, utts=2) -> Path:
    lines = []
    for s in range(n_spk):
        spk = f"id1{s:04d}"
        for v in range(videos):
            for u in range(utts + 1):
                rel = f"{spk}/vid{v}Yt_x/{u + 1:05d}.wav"
                write_wav(root / "wav" / rel, chirpy(("low", "high", "noise")[s % 3], 0.5, seed=100 * s + 10 * v + u))
                lines.append(f"{3 if (v == videos - 1 and u == utts) else 1 if u < utts else 2} {rel}")
    (root / "iden_split.txt").write_text("\n".join(lines) + "\n")
    return root


def test_voxceleb1_official_split_and_missing_files(tmp_path):
    root = make_voxceleb1(tmp_path / "vox1")
    (root / "wav" / "id10002" / "vid0Yt_x" / "00001.wav").unlink()
    prep = prepare("voxceleb1", root)
    assert {s: len(u) for s, u in prep.splits.items()} == {"train": 11, "dev": 3, "test": 3}
    assert {u.label for u in prep.splits["test"]} == {"id10000", "id10001", "id10002"}
    assert prep.skipped[0][0] == "id10002/vid0Yt_x/00001.wav" and "line 13" in prep.skipped[0][1]


def test_voxceleb1_split_file_elsewhere(tmp_path):
    root = make_voxceleb1(tmp_path / "vox1")
    moved = (root / "iden_split.txt").rename(tmp_path / "split.txt")
    assert prepare("voxceleb1", root, split_file=moved, probe=False).splits["test"]
    with pytest.raises(LayoutError, match=r"split file .*nope.txt: no such file"):
        prepare("voxceleb1", root, split_file=tmp_path / "nope.txt")


def test_voxceleb1_broken_split_lines_are_listed_with_line_numbers(tmp_path):
    root = make_voxceleb1(tmp_path / "vox1")
    text = (root / "iden_split.txt").read_text().splitlines()
    text[2] = "4 id10000/vid0Yt_x/00003.wav"
    text[5] = "garbage"
    (root / "iden_split.txt").write_text("\n".join(text))
    with pytest.raises(LayoutError, match=r"2 unreadable line\(s\): line 3: .*; line 6: .*'garbage'"):
        prepare("voxceleb1", root)


def test_voxceleb1_refuses_a_file_listed_twice(tmp_path):
    root = make_voxceleb1(tmp_path / "vox1")
    with open(root / "iden_split.txt", "a") as f:  # used to be kept twice (here: in train and in test)
        f.write("3 id10000/vid0Yt_x/00001.wav\n")
    with pytest.raises(LayoutError, match=r"line 19: id10000/vid0Yt_x/00001.wav is already listed on line 1"):
        prepare("voxceleb1", root, probe=False)
