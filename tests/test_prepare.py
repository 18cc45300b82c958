"""Corpus layouts: miniature copies of every layout built on the fly, prepared, checked, and refused when broken."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from gmmspeech.data.manifest import Utterance, check_split, read_manifest
from gmmspeech.data.prepare import LayoutError, prepare, stratified_split, write_prepared

from .conftest import chirpy, invoke, write_wav

REPO = Path(__file__).resolve().parent.parent
KINDS = ("low", "high", "noise")


# ------------------------------------------------------------------------------------------ miniature corpora


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


def make_voxlingua(root: Path, langs=("en", "de", "sw"), videos=4, segs=2) -> Path:
    for lang, kind in zip(langs, KINDS, strict=True):
        for v in range(videos):
            for s in range(segs):
                name = f"{lang}Vid{v:03d}x__U__S{s}---{s * 5:04d}.000-{s * 5 + 4:04d}.000.wav"
                write_wav(root / lang / name, chirpy(kind, 0.5, seed=10 * v + s))
    return root


def sweep(direction: str, seconds: float, seed: int, sr: int = 16000) -> np.ndarray:
    """Repeated 300-3000 Hz log sweeps, rising ('up') or falling ('down'): classes that differ only in their
    dynamics, so they survive CMVN (which removes any difference of average spectrum) -- like languages."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    period = 0.2 * (1 + 0.1 * rng.standard_normal())
    frac = (t % period) / period
    f = 300 * 10 ** (frac if direction == "up" else 1 - frac)
    return (0.3 * np.sin(2 * np.pi * np.cumsum(f) / sr) + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


CV_COLS = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\tsegment\n"


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


def make_voxceleb1(root: Path, n_spk=3, videos=2, utts=2) -> Path:
    lines = []
    for s in range(n_spk):
        spk = f"id1{s:04d}"
        for v in range(videos):
            for u in range(utts + 1):
                rel = f"{spk}/vid{v}Yt_x/{u + 1:05d}.wav"
                write_wav(root / "wav" / rel, chirpy(KINDS[s % 3], 0.5, seed=100 * s + 10 * v + u))
                lines.append(f"{3 if (v == videos - 1 and u == utts) else 1 if u < utts else 2} {rel}")
    (root / "iden_split.txt").write_text("\n".join(lines) + "\n")
    return root


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


# ------------------------------------------------------------------------------------------ layouts that work


def _speakers(utts):
    return {u.speaker for u in utts}


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
        assert not _speakers(tr) & _speakers(te)
    assert a.seconds["train"]["yes"] == pytest.approx(6 * 0.3, abs=1e-3)
    tests = {frozenset(u.path for u in prepare("folders", tmp_path / "c", test_fraction=0.4, seed=s, probe=False,
                                               speaker_regex=r"_(spk\d)_").splits["test"]) for s in range(6)}
    assert len(tests) > 1  # the seed matters


def test_folders_speaker_table_and_unmatched_speakers(tmp_path):
    for c, kind in (("a", "low"), ("b", "noise")):
        for i in range(4):
            write_wav(tmp_path / "c" / c / f"{i}.wav", chirpy(kind, 0.3, seed=i))
    (tmp_path / "spk.csv").write_text("path,speaker\n" + "".join(
        f"{c}/{i}.wav,{c}{i // 2}\n" for c in "ab" for i in range(4)))
    prep = prepare("folders", tmp_path / "c", speakers=tmp_path / "spk.csv", test_fraction=0.5, probe=False)
    assert {u.speaker for u in prep.splits["test"]} in ({"a0", "b0"}, {"a0", "b1"}, {"a1", "b0"}, {"a1", "b1"})
    assert len(prep.splits["test"]) == 4
    with pytest.raises(LayoutError, match=r"regex '\^x' does not match 8 file\(s\), e.g. a/0.wav"):
        prepare("folders", tmp_path / "c", speaker_regex="^x")


def test_gtzan_random_split_reports_counts_and_hours(tmp_path):
    root = make_gtzan(tmp_path / "GTZAN", sub="genres_original")
    prep = prepare("gtzan", root, test_fraction=1 / 3)
    assert {lab: n for lab, n in prep.summary()["splits"]["test"]["classes"].items()} == \
        {"blues": 2, "classical": 2, "metal": 2}
    assert sum(prep.seconds["train"].values()) == pytest.approx(12.0, abs=1e-3)
    assert prep.summary()["splits"]["train"]["hours"] == pytest.approx(12 / 3600, abs=1e-4)
    text = prep.format_summary()
    assert "blues" in text and "hours" in text and "3 of the 10 genres present" in text


def test_gtzan_filtered_split_from_list_files(tmp_path):
    root = make_gtzan(tmp_path / "GTZAN")
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "train_filtered.txt").write_text("blues/blues.00000.au\nblues/blues.00001.au\nmetal/metal.00000.au\n"
                                              "metal/metal.00001.au\nclassical/classical.00000.au\n"
                                              "classical/classical.00001.au\n")
    (lists / "valid_filtered.txt").write_text("blues/blues.00002.au\n")
    (lists / "test_filtered.txt").write_text("blues/blues.00003.au\nmetal/metal.00003.au\nclassical/classical.00003"
                                             "\nrock/rock.00042.au\n")
    prep = prepare("gtzan", root, split="filtered", split_lists=lists)
    assert {s: len(u) for s, u in prep.splits.items()} == {"train": 6, "dev": 1, "test": 3}
    assert ("rock.00042", "listed in test_filtered.txt but not found") in prep.skipped
    assert any("8 track(s) in no list left out" in n for n in prep.notes)  # 18 tracks, 10 listed and found


def test_voxlingua_keeps_videos_together_and_caps_files(tmp_path):
    root = make_voxlingua(tmp_path / "vl")
    prep = prepare("voxlingua107", root, test_fraction=0.25, seed=1)
    tr, te = prep.splits["train"], prep.splits["test"]
    assert len(tr) + len(te) == 24 and {u.label for u in te} == {"en", "de", "sw"}
    assert not _speakers(tr) & _speakers(te)
    capped = prepare("voxlingua107", root, max_per_class=5, test_fraction=0.25, seed=1, probe=False)
    counts = {}
    for u in capped.splits["train"] + capped.splits["test"]:
        counts[u.label] = counts.get(u.label, 0) + 1
    assert counts == {"en": 5, "de": 5, "sw": 5}


def test_commonvoice_mp3_release_keeps_official_speaker_disjoint_splits(tmp_path):
    root = make_commonvoice(tmp_path / "cv-corpus-x")
    prep = prepare("commonvoice", root)
    assert {s: len(u) for s, u in prep.splits.items()} == {"train": 12, "dev": 4, "test": 8}
    assert not _speakers(prep.splits["train"]) & _speakers(prep.splits["test"])
    assert prep.seconds["train"]["en"] == pytest.approx(3.0, abs=0.2)  # six 0.5 s clips, MP3 padding aside
    one = prepare("commonvoice", root, languages=["de"], probe=False)
    assert {u.label for u in one.splits["train"]} == {"de"}


def test_voxceleb1_official_split_and_missing_files(tmp_path):
    root = make_voxceleb1(tmp_path / "vox1")
    (root / "wav" / "id10002" / "vid0Yt_x" / "00001.wav").unlink()
    prep = prepare("voxceleb1", root)
    assert {s: len(u) for s, u in prep.splits.items()} == {"train": 11, "dev": 3, "test": 3}
    assert {u.label for u in prep.splits["test"]} == {"id10000", "id10001", "id10002"}
    assert prep.skipped[0][0] == "id10002/vid0Yt_x/00001.wav" and "line 13" in prep.skipped[0][1]


def test_kaldi_segments_labels_and_speakers(tmp_path):
    d = make_kaldi(tmp_path)
    prep = prepare("kaldi", d, test_fraction=0.25, seed=0)
    utts = prep.splits["train"] + prep.splits["test"]
    assert len(utts) == 24 and {u.label for u in utts} == {"eng", "fra", "deu"}
    assert all(u.start is not None and u.end == pytest.approx(u.start + 0.8) for u in utts)
    assert not _speakers(prep.splits["train"]) & _speakers(prep.splits["test"])
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


def test_unreadable_and_out_of_range_files_are_skipped_and_reported(tmp_path):
    root = make_gtzan(tmp_path / "g")
    (root / "genres" / "metal" / "metal.00099.wav").write_bytes(b"RIFF nonsense")
    prep = prepare("gtzan", root, test_fraction=0.3)
    assert any(f.endswith("metal.00099.wav") and "cannot read audio" in r for f, r in prep.skipped)
    assert all(not str(u.path).endswith("metal.00099.wav") for s in prep.splits.values() for u in s)
    d = make_kaldi(tmp_path / "k")
    seg = (d / "segments").read_text().replace("eng_s0_rec-1 eng_s0_rec 1.00 1.80", "eng_s0_rec-1 eng_s0_rec 1.5 9.0")
    (d / "segments").write_text(seg)
    prep = prepare("kaldi", d)
    assert len(prep.skipped) == 1 and "outside the file (2.00 s long)" in prep.skipped[0][1]


# ------------------------------------------------------------------------------------------ layouts that refuse


@pytest.mark.parametrize("layout, build, needle", [
    ("gtzan", lambda r: write_wav(r / "x.wav", chirpy("low", 0.3, 0)), "expected genres/<genre>/<genre>.000NN.wav"),
    ("folders", lambda r: write_wav(r / "only" / "x.wav", chirpy("low", 0.3, 0)), "found 1"),
    ("voxlingua107", lambda r: write_wav(r / "English" / "a.wav", chirpy("low", 0.3, 0)), "ISO codes"),
    ("commonvoice", lambda r: (r / "en" / "clips").mkdir(parents=True), "Common Voice language folder"),
    ("voxceleb1", lambda r: write_wav(r / "wav" / "id10001" / "v" / "00001.wav", chirpy("low", 0.3, 0)),
     "needs the official iden_split.txt"),
    ("kaldi", lambda r: (r / "text").write_text("u1 hello\n"), "expected a Kaldi data dir"),
])
def test_wrong_layouts_are_refused_naming_the_folder(tmp_path, layout, build, needle):
    root = tmp_path / "corpus"
    root.mkdir()
    build(root)
    with pytest.raises(LayoutError) as ei:
        prepare(layout, root)
    msg = str(ei.value)
    assert needle in msg and str(root) in msg and f"'{layout}'" in msg


def test_broken_files_inside_a_layout_are_listed_with_line_numbers(tmp_path):
    root = make_voxceleb1(tmp_path / "vox1")
    text = (root / "iden_split.txt").read_text().splitlines()
    text[2] = "4 id10000/vid0Yt_x/00003.wav"
    text[5] = "garbage"
    (root / "iden_split.txt").write_text("\n".join(text))
    with pytest.raises(LayoutError, match=r"2 unreadable line\(s\): line 3: .*; line 6: .*'garbage'"):
        prepare("voxceleb1", root)

    d = make_kaldi(tmp_path / "k", with_segments=False)
    scp = (d / "wav.scp").read_text().splitlines()
    scp[0] = scp[0].split()[0] + " sox in.wav -t wav - |"
    (d / "wav.scp").write_text("\n".join(scp[:-1]))  # and the last recording loses its line
    with pytest.raises(LayoutError) as ei:
        prepare("kaldi", d)
    msg = str(ei.value)
    assert "2 problem(s)" in msg and "only plain file paths" in msg and "deu_s3_rec) has no line in wav.scp" in msg

    cv = make_commonvoice(tmp_path / "cv", fmt="WAV")
    (cv / "de" / "dev.tsv").write_text("client\tfile\nx\ty.mp3\n")
    with pytest.raises(LayoutError, match=r"de/dev.tsv: needs columns client_id and path"):
        prepare("commonvoice", cv)


def test_options_a_layout_does_not_take_are_refused(tmp_path):
    make_voxceleb1(tmp_path)
    with pytest.raises(ValueError, match="does not take option.*speaker_regex"):
        prepare("voxceleb1", tmp_path, speaker_regex="x")


def test_write_prepared_refuses_a_leaky_or_thin_split(tmp_path):
    root = make_gtzan(tmp_path / "g", n=3)
    prep = prepare("gtzan", root, test_fraction=0.34, probe=False)
    with pytest.raises(ValueError, match="fewer than the minimum 5"):
        write_prepared(prep, tmp_path / "out", min_files=5)
    prep.splits["test"].append(prep.splits["train"][0])
    with pytest.raises(ValueError, match="same audio as train line"):
        write_prepared(prep, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------ split properties


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=12), frac=st.floats(0.05, 0.6),
       dev=st.sampled_from([0.0, 0.2]), seed=st.integers(0, 1000), n_classes=st.integers(1, 3))
def test_stratified_split_properties(sizes, frac, dev, seed, n_classes):
    utts = [Utterance(Path(f"/x/g{g}_{i}.wav"), f"c{g % n_classes}", speaker=f"g{g}")
            for g, n in enumerate(sizes) for i in range(n)]
    if frac + dev >= 1:
        return
    out = stratified_split(utts, test_fraction=frac, dev_fraction=dev, seed=seed, group=lambda u: u.speaker)
    assert [u.path for u in out] == [u.path for u in utts]
    assert out == stratified_split(utts, test_fraction=frac, dev_fraction=dev, seed=seed, group=lambda u: u.speaker)
    side = {}
    for u in out:
        assert side.setdefault(u.speaker, u.split) == u.split  # a group never straddles
    for c in {u.label for u in utts}:
        mine = [u for u in out if u.label == c]
        assert any(u.split == "train" for u in mine)
        if len({u.speaker for u in mine}) > 1:
            assert any(u.split == "test" for u in mine)


# ------------------------------------------------------------------------------------------ end to end, CLI


def _shrunk_recipe(src: Path, dst: Path, manifests: Path) -> Path:
    """The shipped recipe with its own features, pointed at tmp manifests and cut to 2 components."""
    text = src.read_text()
    text = re.sub(r'(?m)^train = ".*"$', f'train = "{(manifests / "train.csv").as_posix()}"', text)
    text = re.sub(r'(?m)^test = ".*"$', f'test = "{(manifests / "test.csv").as_posix()}"', text)
    text = re.sub(r"(?m)^components = \d+$", "components = 2", text)
    if not re.search(r"(?m)^components = ", text):  # the task preset's size: shrink it the same way
        text = re.sub(r"(?m)^\[model\]$", "[model]\ncomponents = 2", text)
    text = re.sub(r"(?m)^iterations = \d+$", "iterations = 5", text)
    text = re.sub(r"(?m)^min_files = \d+$", "min_files = 2", text)
    text = re.sub(r'(?m)^report = ".*"$', 'report = "report"', text)
    text = re.sub(r'(?m)^model = ".*"$', 'model = "model.npz"', text)
    dst.write_text(text)
    return dst


@pytest.mark.parametrize("layout, build, recipe", [
    ("gtzan", make_gtzan, "gtzan_genre.toml"),
    ("commonvoice", make_commonvoice, "commonvoice_lid.toml"),
])
def test_prepare_then_shipped_recipe_end_to_end(tmp_path, monkeypatch, layout, build, recipe):
    monkeypatch.setenv("GMMSPEECH_CACHE", str(tmp_path / "cache"))  # never touch the user's feature cache
    root = build(tmp_path / "corpus")
    out = tmp_path / "data_manifests" / layout
    r = invoke("prepare", layout, root, "-o", out)
    assert r.exit_code == 0, r.output
    assert "files" in r.output and "hours" in r.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["layout"] == layout and summary["splits"]["train"]["files"] > 0
    train = read_manifest(out / "train.csv", min_files=2)
    assert check_split(train, read_manifest(out / "test.csv")) == []
    rec = _shrunk_recipe(REPO / "recipes" / recipe, tmp_path / "r.toml", out)
    r = invoke("run", rec, "-q", "--jobs", 1)
    assert r.exit_code == 0, r.output
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    n = len(metrics["labels"])
    assert metrics["accuracy"] > 1.5 / n  # three (two) acoustically distinct classes: well above chance
    assert (tmp_path / "model.npz").is_file()


def test_prepare_cli_refuses_clearly(tmp_path):
    (tmp_path / "empty").mkdir()
    r = invoke("prepare", "gtzan", tmp_path / "empty", "-o", tmp_path / "out")
    assert r.exit_code == 1 and "not a usable 'gtzan' layout" in r.output and "empty" in r.output
    r = invoke("prepare", "nonsense", tmp_path / "empty", "-o", tmp_path / "out")
    assert r.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_run_refuses_train_test_overlap(tmp_path):
    root = make_gtzan(tmp_path / "g", n=4)
    out = tmp_path / "m"
    assert invoke("prepare", "gtzan", root, "-o", out, "--no-probe", "--test-fraction", 0.25).exit_code == 0
    lines = (out / "train.csv").read_text().splitlines()
    (out / "test.csv").write_text("\n".join([lines[0], lines[1]]) + "\n")
    rec = _shrunk_recipe(REPO / "recipes" / "gtzan_genre.toml", tmp_path / "r.toml", out)
    r = invoke("run", rec, "-q", "--jobs", 1)
    assert r.exit_code == 1 and "test.csv line 2: same audio as train.csv line 2" in r.output
    assert not (tmp_path / "model.npz").exists()


def test_mp3_is_written_and_read_by_libsndfile(tmp_path):
    """Guard for the Common Voice miniature: the clips really are MP3 and decode to the right length."""
    p = tmp_path / "a.mp3"
    sf.write(str(p), chirpy("low", 0.5, 0), 16000, format="MP3")
    info = sf.info(str(p))
    assert info.format == "MP3" and abs(info.frames / info.samplerate - 0.5) < 0.1
    assert np.isfinite(sf.read(str(p))[0]).all()
