"""The ``kaldi`` layout: wav.scp, utt2lang or utt2spk, optional segments; one data dir or train/ and test/."""

from pathlib import Path

import pytest

from gmmspeech.data.prepare import LayoutError, prepare

from .conftest import chirpy, write_wav


def make_kaldi(root: Path, with_segments=True) -> Path:
    """egs-style tree: s5/wav/*.wav recordings, s5/data/all/{wav.scp,utt2lang,utt2spk,segments}."""
    s5 = root / "s5"
    d = s5 / "data" / "all"
    d.mkdir(parents=True)
    scp, lang, spk, seg = [], [], [], []
    for li, (lab, kind) in enumerate((("eng", "low"), ("fra", "high"), ("deu", "noise"))):
        for r in range(4):
            rec = f"{lab}_s{r}_rec"
            write_wav(s5 / "wav" / f"{rec}.wav", chirpy(kind, 2.0, seed=10 * li + r))
            scp.append(f"{rec} wav/{rec}.wav")
            for k in range(2 if with_segments else 1):
                utt = f"{rec}-{k}" if with_segments else rec
                lang.append(f"{utt} {lab}")
                spk.append(f"{utt} {lab}_s{r}")
                seg.append(f"{utt} {rec} {k * 1.0:.2f} {k * 1.0 + 0.8:.2f}")
    (d / "wav.scp").write_text("\n".join(scp) + "\n")
    (d / "utt2lang").write_text("\n".join(lang) + "\n")
    (d / "utt2spk").write_text("\n".join(spk) + "\n")
    if with_segments:
        (d / "segments").write_text("\n".join(seg) + "\n")
    return d


def test_kaldi_segments_labels_and_speakers(tmp_path):
    d = make_kaldi(tmp_path)
    prep = prepare("kaldi", d, test_fraction=0.25, seed=0)
    utts = prep.splits["train"] + prep.splits["test"]
    assert len(utts) == 24 and {u.label for u in utts} == {"eng", "fra", "deu"}
    assert all(u.start is not None and u.end == pytest.approx(u.start + 0.8) for u in utts)
    assert not {u.speaker for u in prep.splits["train"]} & {u.speaker for u in prep.splits["test"]}
    assert prep.seconds["test"]["eng"] == pytest.approx(2 * 0.8, abs=1e-3)  # one speaker, two segments
    # a folder of train/ and test/ data dirs is used as it is
    split_root = tmp_path / "split"
    for s in ("train", "test"):
        (split_root / s).mkdir(parents=True)
        for f in ("wav.scp", "utt2lang", "utt2spk", "segments"):
            lines = (d / f).read_text().splitlines()
            keep = [ln for ln in lines if ("_s3_" in ln) == (s == "test")]
            (split_root / s / f).write_text("\n".join(ln.replace(" wav/", f" {d.parent.parent}/wav/") for ln in keep))
    prep2 = prepare("kaldi", split_root)
    assert {s: len(u) for s, u in prep2.splits.items()} == {"train": 18, "test": 6}


def test_kaldi_speaker_labels_from_utt2spk(tmp_path):
    d = make_kaldi(tmp_path, with_segments=False)
    (d / "utt2lang").unlink()
    prep = prepare("kaldi", d, test_fraction=0.25, probe=False)
    assert {u.label for u in prep.splits["train"]} == {f"{lab}_s{r}" for lab in ("eng", "fra", "deu") for r in range(4)}
    (d / "utt2spk").write_text((d / "utt2spk").read_text() + "broken\n")
    with pytest.raises(LayoutError, match=r"1 problem\(s\): all/utt2spk line 13"):  # was reported twice
        prepare("kaldi", d)


def test_kaldi_segments_outside_the_recording_are_skipped(tmp_path):
    d = make_kaldi(tmp_path / "k")
    seg = (d / "segments").read_text().replace("eng_s0_rec-1 eng_s0_rec 1.00 1.80", "eng_s0_rec-1 eng_s0_rec 1.5 9.0")
    (d / "segments").write_text(seg)
    prep = prepare("kaldi", d)
    assert len(prep.skipped) == 1 and "outside the file (2.00 s long)" in prep.skipped[0][1]


def test_kaldi_refuses_empty_or_reversed_segments(tmp_path):
    d = make_kaldi(tmp_path / "k")
    seg = (d / "segments").read_text()
    seg = seg.replace("eng_s0_rec-1 eng_s0_rec 1.00 1.80", "eng_s0_rec-1 eng_s0_rec 1.80 1.00")
    seg = seg.replace("fra_s0_rec-0 fra_s0_rec 0.00 0.80", "fra_s0_rec-0 fra_s0_rec -0.50 0.80")
    seg = seg.replace("deu_s0_rec-0 deu_s0_rec 0.00 0.80", "deu_s0_rec-0 deu_s0_rec 0.00 nan")
    (d / "segments").write_text(seg)
    with pytest.raises(LayoutError) as ei:  # reversed and negative segments used to be accepted
        prepare("kaldi", d)
    msg = str(ei.value)
    assert "3 problem(s)" in msg and "segments eng_s0_rec-1: needs 0 <= start < end" in msg
    assert "segments fra_s0_rec-0: needs 0 <= start < end" in msg and "deu_s0_rec-0: start/end must be seconds" in msg
    (d / "segments").write_text(seg.replace("1.80 1.00", "1.00 -1").replace("-0.50", "0.00")
                                .replace("0.00 nan", "0.00 0.80"))
    prep = prepare("kaldi", d, probe=False)  # end -1: to the end of the recording
    assert any(u.end is None and u.start == 1.0 for s in prep.splits.values() for u in s)


def test_kaldi_refuses_pipes_and_recordings_without_a_line(tmp_path):
    d = make_kaldi(tmp_path / "k", with_segments=False)
    scp = (d / "wav.scp").read_text().splitlines()
    scp[0] = scp[0].split()[0] + " sox in.wav -t wav - |"
    (d / "wav.scp").write_text("\n".join(scp[:-1]))  # and the last recording loses its line
    with pytest.raises(LayoutError) as ei:
        prepare("kaldi", d)
    msg = str(ei.value)
    assert "2 problem(s)" in msg and "only plain file paths" in msg and "deu_s3_rec) has no line in wav.scp" in msg
