"""The ``folders`` layout: one sub-folder per class, split here, speaker-disjoint when speakers are given."""

import pytest

from gmmspeech.data.prepare import LayoutError, prepare

from .conftest import chirpy, write_wav


def make_folders(root, classes=(("a", "low"), ("b", "noise")), n=4):
    for c, kind in classes:
        for i in range(n):
            write_wav(root / c / f"{i}.wav", chirpy(kind, 0.3, seed=i))
    return root


def test_folders_split_is_stratified_seeded_and_speaker_disjoint(tmp_path):
    for c, kind in zip(("yes", "no"), ("low", "high"), strict=True):
        for spk in range(5):
            for k in range(2):
                write_wav(tmp_path / "c" / c / f"{c}_spk{spk}_{k}.wav", chirpy(kind, 0.3, seed=spk))
    kw = dict(test_fraction=0.4, seed=3, speaker_regex=r"_(spk\d)_")
    a = prepare("folders", tmp_path / "c", **kw)
    b = prepare("folders", tmp_path / "c", **kw)
    assert [u.path for u in a.splits["test"]] == [u.path for u in b.splits["test"]]
    for c in ("yes", "no"):
        tr = [u for u in a.splits["train"] if u.label == c]
        te = [u for u in a.splits["test"] if u.label == c]
        assert len(tr) == 6 and len(te) == 4  # 2 of 5 speakers, whole
        assert not {u.speaker for u in tr} & {u.speaker for u in te}
    assert a.seconds["train"]["yes"] == pytest.approx(6 * 0.3, abs=1e-3)
    tests = {frozenset(u.path for u in prepare("folders", tmp_path / "c", test_fraction=0.4, seed=s, probe=False,
                                               speaker_regex=r"_(spk\d)_").splits["test"]) for s in range(6)}
    assert len(tests) > 1  # the seed matters


def test_folders_speaker_table_and_unmatched_speakers(tmp_path):
    make_folders(tmp_path / "c")
    (tmp_path / "spk.csv").write_text("path,speaker\n" + "".join(
        f"{c}/{i}.wav,{c}{i // 2}\n" for c in "ab" for i in range(4)))
    prep = prepare("folders", tmp_path / "c", speakers=tmp_path / "spk.csv", test_fraction=0.5, probe=False)
    assert {u.speaker for u in prep.splits["test"]} in ({"a0", "b0"}, {"a0", "b1"}, {"a1", "b0"}, {"a1", "b1"})
    assert len(prep.splits["test"]) == 4
    with pytest.raises(LayoutError, match=r"regex '\^x' does not match 8 file\(s\), e.g. a/0.wav"):
        prepare("folders", tmp_path / "c", speaker_regex="^x")


def test_folders_refuses_two_speaker_sources_and_contradictory_tables(tmp_path):
    make_folders(tmp_path / "c")
    table = tmp_path / "spk.csv"
    table.write_text("path,speaker\n" + "".join(f"{c}/{i}.wav,{c}{i // 2}\n" for c in "ab" for i in range(4)))
    with pytest.raises(ValueError, match="not both"):  # the table used to be ignored silently
        prepare("folders", tmp_path / "c", speaker_regex=r"(\d)", speakers=table, probe=False)
    table.write_text(table.read_text() + "a/0.wav,a0\n")  # the same speaker again: harmless
    assert prepare("folders", tmp_path / "c", speakers=table, probe=False).splits["train"]
    table.write_text(table.read_text() + "a/0.wav,b1\n")  # used to win silently over line 2
    with pytest.raises(ValueError, match=r"spk.csv line 11: a/0.wav is given speaker 'b1', but line 2 gave it 'a0'"):
        prepare("folders", tmp_path / "c", speakers=table, probe=False)


def test_folders_notes_audio_outside_the_class_folders(tmp_path):
    root = make_folders(tmp_path / "c")
    write_wav(root / "stray.wav", chirpy("low", 0.3, seed=0))
    prep = prepare("folders", root, probe=False)
    assert sum(len(u) for u in prep.splits.values()) == 8
    assert any("ignored 1 audio file(s) directly in c/" in n and "stray.wav" in n for n in prep.notes)
