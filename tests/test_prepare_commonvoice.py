"""The ``commonvoice`` layout: <locale>/clips/ + train/dev/test.tsv, the official speaker-disjoint split kept."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gmmspeech.data.prepare import LayoutError, prepare

from .conftest import chirpy

CV_COLS = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\tsegment\n"


def sweep(direction: str, seconds: float, seed: int, sr: int = 16000) -> np.ndarray:
    """Repeated 300-3000 Hz log sweeps, rising ('up') or falling ('down'): classes that differ only in their
    dynamics, so they survive CMVN (which removes any difference of average spectrum) -- like languages."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    period = 0.2 * (1 + 0.1 * rng.standard_normal())
    frac = (t % period) / period
    f = 300 * 10 ** (frac if direction == "up" else 1 - frac)
    return (0.3 * np.sin(2 * np.pi * np.cumsum(f) / sr) + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


def make_commonvoice(root: Path, langs=("en", "de"), fmt="MP3") -> Path:
    """Release folder with one language folder each; clips are real MP3s (libsndfile >= 1.1 writes them)."""
    ext = ".mp3" if fmt == "MP3" else ".wav"
    for lang, kind in zip(langs, ("up", "down"), strict=True):
        d = root / lang
        (d / "clips").mkdir(parents=True)
        n = 0
        for split, speakers in (("train", ("a", "b", "c")), ("dev", ("d",)), ("test", ("e", "f"))):
            lines = [CV_COLS]
            for spk in speakers:
                for _ in range(2):
                    name = f"common_voice_{lang}_{n:08d}{ext}"
                    sf.write(str(d / "clips" / name), sweep(kind, 0.5, seed=n), 16000, format=fmt)
                    lines.append(f"{lang}{spk}{'0' * 20}\t{name}\tsome sentence\t2\t0\t\t\t\t{lang}\t\n")
                    n += 1
            (d / f"{split}.tsv").write_text("".join(lines))
        (d / "validated.tsv").write_text(CV_COLS)
    return root


def test_commonvoice_mp3_release_keeps_official_speaker_disjoint_splits(tmp_path):
    root = make_commonvoice(tmp_path / "cv-corpus-x")
    prep = prepare("commonvoice", root)
    assert {s: len(u) for s, u in prep.splits.items()} == {"train": 12, "dev": 4, "test": 8}
    assert not {u.speaker for u in prep.splits["train"]} & {u.speaker for u in prep.splits["test"]}
    assert prep.seconds["train"]["en"] == pytest.approx(3.0, abs=0.2)  # six 0.5 s clips, MP3 padding aside
    one = prepare("commonvoice", root, languages=["de"], probe=False)
    assert {u.label for u in one.splits["train"]} == {"de"}


def test_commonvoice_refuses_tables_without_the_columns(tmp_path):
    cv = make_commonvoice(tmp_path / "cv", fmt="WAV")
    (cv / "de" / "dev.tsv").write_text("client\tfile\nx\ty.mp3\n")
    with pytest.raises(LayoutError, match=r"de/dev.tsv: needs columns client_id and path"):
        prepare("commonvoice", cv)


def test_commonvoice_refuses_a_clip_listed_twice(tmp_path):
    cv = make_commonvoice(tmp_path / "cv", fmt="WAV")
    train = (cv / "en" / "train.tsv").read_text().splitlines()
    with open(cv / "en" / "test.tsv", "a") as f:  # used to be kept on both sides
        f.write(train[1] + "\n")
    with pytest.raises(LayoutError, match=r"en/test.tsv line 6: common_voice_en_00000000.wav is already listed in "
                                          r"train.tsv line 2"):
        prepare("commonvoice", cv, probe=False)


def test_mp3_is_written_and_read_by_libsndfile(tmp_path):
    """Guard for the Common Voice miniature: the clips really are MP3 and decode to the right length."""
    p = tmp_path / "a.mp3"
    sf.write(str(p), chirpy("low", 0.5, 0), 16000, format="MP3")
    info = sf.info(str(p))
    assert info.format == "MP3" and abs(info.frames / info.samplerate - 0.5) < 0.1
    assert np.isfinite(sf.read(str(p))[0]).all()
