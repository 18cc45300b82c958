import pytest

from gmmspeech.data.manifest import ManifestError, read_manifest, write_manifest

from .conftest import tone, write_wav


def test_reads_relative_paths_and_segments(tmp_path):
    write_wav(tmp_path / "a" / "x.wav", tone(200, 2.0))
    (tmp_path / "m.csv").write_text("path,label,start,end,speaker\na/x.wav,en,0.5,1.5,s1\na/x.wav,en,,,s1\n")
    utts = read_manifest(tmp_path / "m.csv")
    assert utts[0].path == tmp_path / "a" / "x.wav" and utts[0].duration == pytest.approx(1.0)
    assert utts[1].start is None and utts[1].speaker == "s1" and utts[1].line == 3


def test_all_problems_are_reported_with_line_numbers(tmp_path):
    write_wav(tmp_path / "ok.wav", tone(200, 1.0))
    (tmp_path / "m.csv").write_text(
        "path,label,start,end\n"
        "ok.wav,en,,\n"
        "missing.wav,en,,\n"
        "ok.wav,,0,0.5\n"
        "ok.wav,en,,\n"
        "ok.wav,fr,0.2,5.0\n"
        "ok.wav,fr,abc,\n")
    with pytest.raises(ManifestError) as ei:
        read_manifest(tmp_path / "m.csv")
    lines = {ln for ln, _ in ei.value.problems}
    assert lines == {3, 4, 5, 6, 7}
    text = str(ei.value)
    for needle in ("line 3: audio file not found", "line 4: empty label", "line 5: duplicate of line 2",
                   "line 6: segment", "line 7: start/end must be numbers"):
        assert needle in text


def test_missing_columns_and_round_trip(tmp_path):
    (tmp_path / "bad.csv").write_text("file,lang\nx.wav,en\n")
    with pytest.raises(ManifestError, match="missing path, label"):
        read_manifest(tmp_path / "bad.csv")
    write_wav(tmp_path / "w" / "y.wav", tone(300, 0.5))
    (tmp_path / "m.csv").write_text("path,label\nw/y.wav,de\n")
    utts = read_manifest(tmp_path / "m.csv")
    write_manifest(tmp_path / "sub" / "copy.csv", utts)
    assert read_manifest(tmp_path / "sub" / "copy.csv")[0].path == utts[0].path


def _utt(path, label, start=None, end=None, line=2):
    from pathlib import Path

    from gmmspeech.data.manifest import Utterance

    return Utterance(Path(path), label, start, end, line=line)


def test_min_files_per_class_is_checked_on_load(tmp_path):
    for i in range(3):
        write_wav(tmp_path / f"{i}.wav", tone(200 + 100 * i, 0.3))
    (tmp_path / "m.csv").write_text("path,label\n0.wav,en\n1.wav,en\n2.wav,fr\n")
    assert len(read_manifest(tmp_path / "m.csv", min_files=1)) == 3
    with pytest.raises(ManifestError) as ei:
        read_manifest(tmp_path / "m.csv", min_files=2)
    assert ei.value.problems == [(4, "class 'fr' has 1 file, fewer than the minimum 2")]


def test_check_split_finds_leaks_and_thin_classes():
    from gmmspeech.data.manifest import check_split

    train = [_utt("/a.wav", "en", line=2), _utt("/b.wav", "en", 0.0, 5.0, line=3), _utt("/c.wav", "fr", line=4)]
    assert check_split(train, [_utt("/d.wav", "en"), _utt("/b.wav", "en", 5.0, 9.0)]) == []  # segments abut
    problems = check_split(train, [_utt("/x.wav", "de", line=2), _utt("/b.wav", "en", 4.0, 6.0, line=3),
                                   _utt("/a.wav", "en", 1.0, 2.0, line=4)], min_files=2,
                           names=("tr.csv", "te.csv"))
    assert problems == [
        "class 'de' has 0 training files in tr.csv, fewer than the minimum 2",
        "class 'fr' has 1 training file in tr.csv, fewer than the minimum 2",
        "te.csv line 3: same audio as tr.csv line 3 (/b.wav[4.00-6.00])",
        "te.csv line 4: same audio as tr.csv line 2 (/a.wav[1.00-2.00])",
    ]


def test_a_column_named_twice_is_refused(tmp_path):
    write_wav(tmp_path / "x.wav", tone(200, 0.3))
    (tmp_path / "m.csv").write_text("path,label,label\nx.wav,en,fr\n")  # csv.DictReader would keep 'fr'
    with pytest.raises(ManifestError) as ei:
        read_manifest(tmp_path / "m.csv")
    assert ei.value.problems == [(1, "column 'label' appears 2 times in the header (found: path, label, label)")]
    (tmp_path / "m.csv").write_text("path,label,speaker,path,speaker\nx.wav,en,a,x.wav,b\n")
    with pytest.raises(ManifestError) as ei:
        read_manifest(tmp_path / "m.csv")
    assert [msg.split(" appears")[0] for _, msg in ei.value.problems] == ["column 'path'", "column 'speaker'"]


def test_a_fifo_in_a_manifest_is_reported_not_opened(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.wav")
    write_wav(tmp_path / "ok.wav", tone(200, 0.5))
    (tmp_path / "m.csv").write_text("path,label,start,end\npipe.wav,en,,\npipe.wav,en,0,0.2\nok.wav,en,,\n")
    with pytest.raises(ManifestError) as ei:
        read_manifest(tmp_path / "m.csv")
    assert ei.value.problems == [(2, "pipe.wav is a named pipe (FIFO), not a regular file"),
                                 (3, "pipe.wav is a named pipe (FIFO), not a regular file")]
