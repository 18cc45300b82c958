import pytest

from gmmspeech.manifest import ManifestError, read_manifest, write_manifest

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
