"""Manifests from corpora in their published layouts (``gmmspeech prepare LAYOUT ROOT -o DIR``).

DESIGN.md places the ``prepare_*`` builders in :mod:`gmmspeech.manifest`; they live here to keep that module
small (reading and validating manifests) -- this one only knows folder layouts. Nothing is ever downloaded:
every builder reads the folder the user already has.

Layouts (see each ``prepare_*`` function):

``folders``       ROOT/<class>/**/*.wav -- seeded stratified split, optionally speaker-disjoint
``gtzan``         ROOT/genres[_original]/<genre>/<genre>.000NN.wav -- random stratified split, or the
                  fault-filtered artist-disjoint split of Kereliuk, Sturm & Larsen (2015) from its list files
``voxlingua107``  ROOT/<lang>/*.wav -- split by YouTube video, capped files per language
``commonvoice``   ROOT/<lang>/{clips/,train.tsv,dev.tsv,test.tsv} (or one such language folder)
``voxceleb1``     ROOT/wav/idNNNNN/<video>/NNNNN.wav + iden_split.txt (official identification split)
``kaldi``         a Kaldi data dir (wav.scp, utt2lang or utt2spk, optional segments), or ROOT/{train,dev,test}/

Every builder returns a :class:`Prepared` (utterances per split, files it skipped and why, notes) and raises
:class:`LayoutError` -- naming the folder and what was expected -- when the layout does not match.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..frontend.audio import AUDIO_EXTENSIONS
from ..infra.atomic import atomic_write_text
from ..infra.errors import GmmspeechError
from .manifest import Utterance, check_split, class_counts, write_manifest

__all__ = ["LAYOUTS", "LayoutError", "Prepared", "prepare", "write_prepared", "stratified_split",
           "prepare_folders", "prepare_gtzan", "prepare_voxlingua107", "prepare_commonvoice",
           "prepare_voxceleb1", "prepare_kaldi"]

SPLITS = ("train", "dev", "test")
GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")


class LayoutError(GmmspeechError, ValueError):
    """The folder does not hold the expected corpus layout; the message names the folder and what was expected."""

    def __init__(self, root: str | Path, layout: str, reason: str):
        self.root, self.layout, self.reason = str(root), layout, reason
        super().__init__(f"{root}: not a usable '{layout}' layout: {reason}")


@dataclass
class Prepared:
    """What a ``prepare_*`` builder found.

    Attributes
    ----------
    layout : layout name.
    root : the corpus folder.
    splits : ``{"train"|"dev"|"test": [Utterance, ...]}`` (``dev`` only where the corpus defines one or asked for).
    skipped : ``(file, reason)`` for every file left out (missing, unreadable, misnamed).
    notes : remarks worth showing the user (e.g. a class with only one speaker).
    seconds : duration in seconds per split and class, filled by :func:`probe_durations` (empty if not probed).
    """

    layout: str
    root: Path
    splits: dict[str, list[Utterance]]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, dict[str, float]] = field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-able summary: files (and hours, when probed) per class and split, skipped files, notes."""
        out: dict = {"layout": self.layout, "root": str(self.root), "splits": {}}
        for name, utts in self.splits.items():
            entry = {"files": len(utts), "classes": class_counts(utts)}
            if name in self.seconds:
                entry["hours"] = round(sum(self.seconds[name].values()) / 3600, 4)
                entry["hours_per_class"] = {k: round(v / 3600, 4) for k, v in sorted(self.seconds[name].items())}
            out["splits"][name] = entry
        out["skipped"] = [{"file": f, "reason": r} for f, r in self.skipped]
        out["notes"] = list(self.notes)
        return out

    def format_summary(self) -> str:
        """A text table: files per class and split, total hours per split, then skipped files and notes."""
        names = list(self.splits)
        labels = sorted({u.label for utts in self.splits.values() for u in utts})
        width = max([5, *(len(lab) for lab in labels)])
        counts = {n: class_counts(self.splits[n]) for n in names}
        lines = [f"{self.layout} corpus at {self.root}: {len(labels)} classes",
                 f"{'class':<{width}}  " + "  ".join(f"{n:>8}" for n in names)]
        for lab in labels:
            lines.append(f"{lab:<{width}}  " + "  ".join(f"{counts[n].get(lab, 0):>8}" for n in names))
        lines.append(f"{'files':<{width}}  " + "  ".join(f"{len(self.splits[n]):>8}" for n in names))
        if self.seconds:
            lines.append(f"{'hours':<{width}}  " + "  ".join(
                f"{sum(self.seconds.get(n, {}).values()) / 3600:>8.3f}" for n in names))
        if self.skipped:
            lines.append(f"{len(self.skipped)} file(s) skipped:")
            lines.extend(f"  {f}: {r}" for f, r in self.skipped[:20])
            if len(self.skipped) > 20:
                lines.append(f"  ... and {len(self.skipped) - 20} more (see summary.json)")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------- helpers


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _listing(folder: Path, n: int = 8) -> str:
    try:
        items = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    except OSError:
        return "nothing readable"
    if not items:
        return "an empty folder"
    return ", ".join(items[:n]) + (f", ... ({len(items)} entries)" if len(items) > n else "")


def _check_root(root: str | Path, layout: str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(root, layout, "no such folder" if not root.exists() else "not a folder")
    return root.resolve()


def stratified_split(utts: list[Utterance], *, test_fraction: float = 0.2, dev_fraction: float = 0.0,
                     seed: int = 0, group: Callable[[Utterance], str] | None = None) -> list[Utterance]:
    """Assign every utterance to train/dev/test, per class in the given proportions, reproducibly.

    Parameters
    ----------
    utts : utterances (their ``split`` is overwritten).
    test_fraction, dev_fraction : share of each class's files that go to test and dev (0 <= sum < 1).
    seed : seed of the shuffle; the same inputs and seed give the same split.
    group : key of the unit that must stay on one side (e.g. the speaker); ``None`` splits file by file. A group
        that spans several classes is placed once, on the side chosen for its first class (in sorted order).

    Returns
    -------
    list of Utterance with ``split`` set, in the input order.
    """
    if not (0 <= test_fraction < 1 and 0 <= dev_fraction < 1 and test_fraction + dev_fraction < 1):
        raise ValueError(f"need 0 <= test_fraction, dev_fraction and their sum < 1, got "
                         f"{test_fraction} and {dev_fraction}")
    key = group or (lambda u: f"{u.path}|{u.start}|{u.end}")
    rng = np.random.default_rng(seed)
    side: dict[str, str] = {}
    by_class: dict[str, list[Utterance]] = {}
    for u in utts:
        by_class.setdefault(u.label, []).append(u)
    for label in sorted(by_class):
        items = by_class[label]
        sizes: dict[str, int] = {}
        for u in items:
            sizes[key(u)] = sizes.get(key(u), 0) + 1
        n = len(items)
        target = {"test": round(test_fraction * n), "dev": round(dev_fraction * n)}
        if test_fraction > 0 and len(sizes) > 1:
            target["test"] = max(1, target["test"])
        have = {"train": 0, "dev": 0, "test": 0}
        for g, k in sizes.items():
            if g in side:
                have[side[g]] += k
        free = sorted(g for g in sizes if g not in side)
        free = [free[i] for i in rng.permutation(len(free))]
        for i, g in enumerate(free):
            last_for_train = have["train"] == 0 and i == len(free) - 1
            if not last_for_train and have["test"] < target["test"]:
                side[g] = "test"
            elif not last_for_train and have["dev"] < target["dev"]:
                side[g] = "dev"
            else:
                side[g] = "train"
            have[side[g]] += sizes[g]
    return [dataclasses.replace(u, split=side[key(u)]) for u in utts]


def _by_split(utts: list[Utterance], names: tuple[str, ...] = SPLITS) -> dict[str, list[Utterance]]:
    out = {n: [u for u in utts if u.split == n] for n in names}
    return {n: v for n, v in out.items() if v or n == "train"}  # empty dev/test files are not written


def _cap(utts: list[Utterance], max_per_class: int | None, seed: int) -> list[Utterance]:
    """At most ``max_per_class`` utterances per label (a seeded random subset, input order kept)."""
    if max_per_class is None:
        return utts
    if max_per_class < 1:
        raise ValueError(f"max_per_class must be >= 1, got {max_per_class}")
    rng = np.random.default_rng(seed)
    keep: set[int] = set()
    by_class: dict[str, list[int]] = {}
    for i, u in enumerate(utts):
        by_class.setdefault(u.label, []).append(i)
    for label in sorted(by_class):
        idx = by_class[label]
        keep.update(idx if len(idx) <= max_per_class else rng.choice(idx, max_per_class, replace=False).tolist())
    return [u for i, u in enumerate(utts) if i in keep]


def _split_notes(splits: dict[str, list[Utterance]]) -> list[str]:
    notes = []
    train = class_counts(splits.get("train", []))
    for name in ("dev", "test"):
        if name not in splits:
            continue
        have = class_counts(splits[name])
        missing = sorted(lab for lab in train if lab not in have)
        if missing:
            notes.append(f"no {name} files for class(es) {', '.join(missing)} (too few files or speakers)")
    return notes


def probe_durations(prep: Prepared) -> Prepared:
    """Read every file's length (libsndfile header); unreadable files move to ``prep.skipped``.

    Fills ``prep.seconds`` with seconds per split and class; segments count their own length.
    """
    import soundfile as sf

    cache: dict[Path, float | str] = {}
    for name, utts in prep.splits.items():
        kept, secs = [], {}
        for u in utts:
            if u.path not in cache:
                try:
                    info = sf.info(str(u.path))
                    cache[u.path] = info.frames / info.samplerate if info.samplerate and info.frames > 0 else \
                        "contains no audio samples"
                except Exception as exc:  # noqa: BLE001 - any decoder failure is a skipped file, not a crash
                    cache[u.path] = f"cannot read audio ({str(exc).splitlines()[0] if str(exc) else 'unknown'})"
            length = cache[u.path]
            if isinstance(length, str):
                prep.skipped.append((str(u.path), length))
                continue
            if (u.start or 0.0) >= length or (u.end is not None and u.end > length + 1e-3):
                prep.skipped.append((u.name, f"segment lies outside the file ({length:.2f} s long)"))
                continue
            end = length if u.end is None else min(u.end, length)
            secs[u.label] = secs.get(u.label, 0.0) + end - (u.start or 0.0)
            kept.append(u)
        prep.splits[name] = kept
        prep.seconds[name] = secs
    return prep


# --------------------------------------------------------------------------------------------------- layouts


def _speaker_map(path: Path) -> dict[str, str]:
    """``{file name or relative path: speaker}`` from a CSV with a ``speaker`` column and ``path`` or ``file``."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            cols = reader.fieldnames or []
            col = "path" if "path" in cols else "file" if "file" in cols else None
            if col is None or "speaker" not in cols:
                raise ValueError(f"{path}: needs a 'speaker' column and a 'path' or 'file' column "
                                 f"(found: {', '.join(cols) or 'none'})")
            return {(r[col] or "").strip(): (r["speaker"] or "").strip() for r in reader}
    except OSError as exc:
        raise ValueError(f"{path}: cannot read speaker table ({exc.strerror})") from None


def prepare_folders(root: str | Path, *, test_fraction: float = 0.2, dev_fraction: float = 0.0, seed: int = 0,
                    speaker_regex: str | None = None, speakers: str | Path | None = None,
                    max_per_class: int | None = None) -> Prepared:
    """One sub-folder per class (``ROOT/<class>/**/<audio>``), split per class with a seeded shuffle.

    Parameters
    ----------
    root : the corpus folder.
    test_fraction, dev_fraction : share of each class's files for test and dev.
    seed : shuffle seed.
    speaker_regex : regular expression searched in each file name; its first group (or whole match) is the
        speaker, and all files of one speaker stay on one side of the split.
    speakers : alternatively, a CSV with columns ``speaker`` and ``path`` (relative to ``root``) or ``file``
        (the file name).
    max_per_class : keep at most this many files per class (seeded random subset).
    """
    layout = "folders"
    root = _check_root(root, layout)
    classes = [d for d in _subdirs(root) if _audio_files(d)]
    if len(classes) < 2:
        raise LayoutError(root, layout, f"expected one sub-folder per class holding audio files, at least two; "
                                        f"found {len(classes)} (folder holds: {_listing(root)})")
    rx = None
    if speaker_regex:
        try:
            rx = re.compile(speaker_regex)
        except re.error as exc:
            raise ValueError(f"invalid speaker regex {speaker_regex!r}: {exc}") from None
    table = _speaker_map(Path(speakers)) if speakers else None
    utts, unmatched = [], []
    for d in classes:
        for p in _audio_files(d):
            spk = ""
            rel = p.relative_to(root).as_posix()
            if rx is not None:
                m = rx.search(p.name)
                spk = (m.group(1) if m and m.groups() else m.group(0)) if m else ""
            elif table is not None:
                spk = table.get(rel, table.get(p.name, ""))
            if (rx is not None or table is not None) and not spk:
                unmatched.append(rel)
            utts.append(Utterance(p, d.name, speaker=spk))
    if unmatched:
        how = f"speaker regex {speaker_regex!r} does not match" if rx else f"{speakers} names no speaker for"
        raise LayoutError(root, layout, f"{how} {len(unmatched)} file(s), e.g. {', '.join(unmatched[:3])}")
    utts = _cap(utts, max_per_class, seed)
    grouped = rx is not None or table is not None
    utts = stratified_split(utts, test_fraction=test_fraction, dev_fraction=dev_fraction, seed=seed,
                            group=(lambda u: u.speaker) if grouped else None)
    splits = _by_split(utts)
    return Prepared(layout, root, splits, notes=_split_notes(splits))


_GTZAN_NAME = re.compile(r"^([a-z]+)\.(\d{5})\.(wav|au)$")


def _gtzan_dir(root: Path) -> Path | None:
    for cand in (root / "genres", root / "genres_original", root / "Data" / "genres_original", root):
        if cand.is_dir() and any((cand / g).is_dir() for g in GTZAN_GENRES):
            return cand
    return None


def _read_split_list(path: Path) -> set[str]:
    """Track ids (``blues.00012``) from a list file with lines like ``blues/blues.00012.au`` or ``blues.00012``."""
    ids = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            m = re.search(r"([a-z]+\.\d{5})", line.split()[0].rsplit("/", 1)[-1])
            if m:
                ids.add(m.group(1))
    return ids


def prepare_gtzan(root: str | Path, *, split: str = "random", split_lists: str | Path | None = None,
                  test_fraction: float = 0.2, dev_fraction: float = 0.0, seed: int = 0) -> Prepared:
    """The GTZAN genre collection: ``ROOT/genres/<genre>/<genre>.000NN.wav`` (or ``genres_original/``, ``.au``).

    Parameters
    ----------
    split : ``"random"`` -- a seeded split stratified by genre (``test_fraction``, ``dev_fraction``); or
        ``"filtered"`` -- the fault-filtered, artist-disjoint split of Kereliuk, Sturm & Larsen, "Deep learning
        and music adversaries" (IEEE Trans. Multimedia 2015; lists from github.com/coreyker/dnn-mgr, 443 train /
        197 valid / 290 test tracks), read from ``split_lists``: a folder with ``train_filtered.txt``,
        ``valid_filtered.txt`` and ``test_filtered.txt`` (one track per line, e.g. ``blues/blues.00012.au``).
        Tracks in no list (the faulty ones) are left out. The lists are not bundled: point at your copy.
    """
    layout = "gtzan"
    root = _check_root(root, layout)
    gdir = _gtzan_dir(root)
    if gdir is None:
        raise LayoutError(root, layout, f"expected genres/<genre>/<genre>.000NN.wav (or genres_original/) with "
                                        f"genre folders such as {', '.join(GTZAN_GENRES[:3])}; found {_listing(root)}")
    utts, skipped, notes = [], [], []
    for d in _subdirs(gdir):
        if d.name not in GTZAN_GENRES:
            notes.append(f"ignored folder {d.name}/ (not one of the 10 GTZAN genres)")
            continue
        for p in _audio_files(d):
            m = _GTZAN_NAME.match(p.name)
            if not m or m.group(1) != d.name:
                skipped.append((str(p), f"name does not follow {d.name}.000NN.wav"))
                continue
            utts.append(Utterance(p, d.name))
    if not utts:
        raise LayoutError(root, layout, f"no <genre>.000NN.wav files in the genre folders of {gdir}")
    found = sorted({u.label for u in utts})
    if len(found) < len(GTZAN_GENRES):
        notes.append(f"{len(found)} of the 10 genres present (missing: "
                     f"{', '.join(g for g in GTZAN_GENRES if g not in found)})")
    if split == "random":
        utts = stratified_split(utts, test_fraction=test_fraction, dev_fraction=dev_fraction, seed=seed)
    elif split == "filtered":
        if split_lists is None:
            raise ValueError("the filtered GTZAN split needs --split-lists DIR holding train_filtered.txt, "
                             "valid_filtered.txt and test_filtered.txt (Kereliuk et al. 2015)")
        lists = Path(split_lists)
        names = {"train": "train_filtered.txt", "dev": "valid_filtered.txt", "test": "test_filtered.txt"}
        absent = [n for n in names.values() if not (lists / n).is_file()]
        if absent:
            raise LayoutError(lists, layout, f"filtered split needs {', '.join(absent)} in this folder")
        side = {tid: s for s, n in names.items() for tid in _read_split_list(lists / n)}
        have = {Path(u.path.name).stem: u for u in utts}
        for tid in sorted(set(side) - set(have)):
            skipped.append((tid, f"listed in {names[side[tid]]} but not found"))
        utts = [dataclasses.replace(u, split=side[Path(u.path.name).stem]) for u in utts
                if Path(u.path.name).stem in side]
        notes.append(f"fault-filtered split: {len(have) - len(utts)} track(s) in no list left out")
    else:
        raise ValueError(f"GTZAN split must be 'random' or 'filtered', got {split!r}")
    splits = _by_split(utts)
    return Prepared(layout, root, splits, skipped, notes + _split_notes(splits))


_LANG_DIR = re.compile(r"^[a-z]{2,3}([-_][A-Za-z0-9]+)?$")


def prepare_voxlingua107(root: str | Path, *, max_per_class: int | None = None, test_fraction: float = 0.1,
                         dev_fraction: float = 0.0, seed: int = 0) -> Prepared:
    """VoxLingua107 (Valk & Alumae 2021): ``ROOT/<lang>/*.wav``, one folder per ISO language code.

    Files are named ``<YouTube id>__U__S<n>---<start>-<end>.wav``; all segments of one video stay on one side
    of the seeded, language-stratified split. ``max_per_class`` caps the files kept per language (seeded).
    The corpus's separate 33-language dev set is itself a folder of the same layout: prepare it on its own.
    """
    layout = "voxlingua107"
    root = _check_root(root, layout)
    langs = [d for d in _subdirs(root) if _LANG_DIR.match(d.name)]
    utts = [Utterance(p, d.name, speaker=p.name.split("__")[0]) for d in langs for p in sorted(d.glob("*.wav"))]
    labels = sorted({u.label for u in utts})
    if len(labels) < 2:
        raise LayoutError(root, layout, f"expected language folders <lang>/*.wav (ISO codes such as en/, de/), "
                                        f"at least two; found {len(labels)} (folder holds: {_listing(root)})")
    utts = _cap(utts, max_per_class, seed)
    utts = stratified_split(utts, test_fraction=test_fraction, dev_fraction=dev_fraction, seed=seed,
                            group=lambda u: u.speaker)
    splits = _by_split(utts)
    return Prepared(layout, root, splits, notes=_split_notes(splits))


def _read_tsv(path: Path) -> tuple[list[dict[str, str]], list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return list(reader), list(reader.fieldnames or [])


def prepare_commonvoice(root: str | Path, *, languages: list[str] | None = None,
                        max_per_class: int | None = None, seed: int = 0) -> Prepared:
    """Common Voice language releases combined into one language-ID task.

    ``root`` is one language folder (``clips/``, ``train.tsv``, ``dev.tsv``, ``test.tsv``) or a release folder
    (``cv-corpus-*/``) holding several; the label is the language folder's name (the locale code). Common
    Voice's own splits are kept, so train, dev and test are speaker-disjoint (``client_id`` is the speaker).
    ``languages`` selects folders; ``max_per_class`` caps each split's files per language (seeded).
    """
    layout = "commonvoice"
    root = _check_root(root, layout)
    if (root / "train.tsv").is_file() or (root / "test.tsv").is_file():
        dirs = [root]
    else:
        dirs = [d for d in _subdirs(root) if (d / "train.tsv").is_file() or (d / "test.tsv").is_file()]
    if languages:
        unknown = sorted(set(languages) - {d.name for d in dirs})
        if unknown:
            raise LayoutError(root, layout, f"no language folder(s) {', '.join(unknown)} with train.tsv/test.tsv "
                                            f"(found: {', '.join(d.name for d in dirs) or 'none'})")
        dirs = [d for d in dirs if d.name in languages]
    if not dirs:
        raise LayoutError(root, layout, "expected a Common Voice language folder (clips/ with train.tsv, dev.tsv, "
                                        f"test.tsv) or a folder of them; found {_listing(root)}")
    problems, skipped = [], []
    per_split: dict[str, list[Utterance]] = {s: [] for s in SPLITS}
    for d in dirs:
        if not (d / "clips").is_dir():
            problems.append(f"{d.name}/: no clips/ folder")
            continue
        for split in SPLITS:
            tsv = d / f"{split}.tsv"
            if not tsv.is_file():
                continue
            rows, cols = _read_tsv(tsv)
            if "path" not in cols or "client_id" not in cols:
                problems.append(f"{d.name}/{tsv.name}: needs columns client_id and path (found: {', '.join(cols)})")
                continue
            for ln, r in enumerate(rows, start=2):
                name = (r.get("path") or "").strip()
                if not name:
                    problems.append(f"{d.name}/{tsv.name} line {ln}: empty path")
                    continue
                p = d / "clips" / name
                if not p.is_file():
                    skipped.append((str(p), f"listed in {d.name}/{tsv.name} line {ln} but not found"))
                    continue
                per_split[split].append(Utterance(p, d.name, speaker=(r.get("client_id") or "").strip(),
                                                  split=split, line=ln))
    if problems:
        raise LayoutError(root, layout, "; ".join(problems))
    utts = [u for s in SPLITS for u in _cap(per_split[s], max_per_class, seed)]
    if not utts:
        raise LayoutError(root, layout, "none of the clips listed in the .tsv files exist under clips/")
    splits = _by_split(utts)
    notes = []
    if len(dirs) < 2:
        notes.append("only one language: a language-ID task needs several (point ROOT at the release folder)")
    return Prepared(layout, root, splits, skipped, notes + _split_notes(splits))


def prepare_voxceleb1(root: str | Path, *, split_file: str | Path | None = None) -> Prepared:
    """VoxCeleb1 speaker identification (Nagrani, Chung & Zisserman 2017) with the official split.

    ``root`` holds ``wav/idNNNNN/<video>/NNNNN.wav`` (or the two archives' ``vox1_dev_wav/wav`` and
    ``vox1_test_wav/wav``) and ``iden_split.txt`` (or pass ``split_file``), whose lines read
    ``1 id10001/1zcIwhmdeo4/00001.wav`` with 1 = train, 2 = dev (validation), 3 = test. The label is the
    speaker id (1,251 speakers in the full corpus).
    """
    layout = "voxceleb1"
    root = _check_root(root, layout)
    sf_path = Path(split_file) if split_file else next(
        (p for p in (root / "iden_split.txt", root / "meta" / "iden_split.txt") if p.is_file()), None)
    if sf_path is None or not sf_path.is_file():
        raise LayoutError(root, layout, "speaker identification needs the official iden_split.txt (in ROOT, "
                                        f"ROOT/meta/ or given with --split-file); found {_listing(root)}")
    wav_dirs = [d for d in (root / "wav", root / "vox1_dev_wav" / "wav", root / "vox1_test_wav" / "wav", root)
                if d.is_dir() and any(c.name.startswith("id") for c in d.iterdir() if c.is_dir())]
    if not wav_dirs:
        raise LayoutError(root, layout, f"expected wav/idNNNNN/<video>/NNNNN.wav speaker folders; "
                                        f"found {_listing(root)}")
    codes = {"1": "train", "2": "dev", "3": "test"}
    bad, utts, skipped = [], [], []
    for ln, line in enumerate(sf_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in codes or parts[1].count("/") != 2:
            bad.append(f"line {ln}: expected '<1|2|3> idNNNNN/<video>/NNNNN.wav', got {line.strip()[:60]!r}")
            continue
        p = next((d / parts[1] for d in wav_dirs if (d / parts[1]).is_file()), None)
        if p is None:
            skipped.append((parts[1], f"listed in {sf_path.name} line {ln} but not found"))
            continue
        spk = parts[1].split("/")[0]
        utts.append(Utterance(p, spk, speaker=spk, split=codes[parts[0]], line=ln))
    if bad:
        more = f"; ... {len(bad) - 10} more" if len(bad) > 10 else ""
        raise LayoutError(sf_path, layout, f"{len(bad)} unreadable line(s): {'; '.join(bad[:10])}{more}")
    if not utts:
        raise LayoutError(root, layout, f"none of the files listed in {sf_path.name} exist under "
                                        f"{', '.join(str(d) for d in wav_dirs)}")
    splits = _by_split(utts)
    return Prepared(layout, root, splits, skipped, _split_notes(splits))


def _kaldi_table(path: Path, n_fields: int | None, problems: list[str]) -> dict[str, list[str]]:
    """``{key: [fields...]}`` from a Kaldi text table; bad lines go to ``problems`` with their numbers."""
    out: dict[str, list[str]] = {}
    for ln, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        key, *rest = line.split(maxsplit=1 if n_fields is None else -1)
        if not rest or (n_fields is not None and len(rest) != n_fields):
            problems.append(f"{path.name} line {ln}: expected {n_fields or 1}+ field(s) after the key")
        elif key in out:
            problems.append(f"{path.name} line {ln}: duplicate key {key}")
        else:
            out[key] = rest
    return out


def _kaldi_dir(d: Path, split: str, problems: list[str], skipped: list[tuple[str, str]]) -> list[Utterance]:
    scp_problems: list[str] = []
    wav = _kaldi_table(d / "wav.scp", None, scp_problems)
    problems.extend(f"{d.name}/{p}" for p in scp_problems)
    label_file = d / "utt2lang" if (d / "utt2lang").is_file() else d / "utt2spk"
    if not label_file.is_file():
        problems.append(f"{d.name}/: needs utt2lang or utt2spk (the labels)")
        return []
    tab_problems: list[str] = []
    labels = _kaldi_table(label_file, 1, tab_problems)
    spk = _kaldi_table(d / "utt2spk", 1, tab_problems) if (d / "utt2spk").is_file() else {}
    segs = _kaldi_table(d / "segments", 3, tab_problems) if (d / "segments").is_file() else None
    problems.extend(f"{d.name}/{p}" for p in tab_problems)
    paths: dict[str, Path] = {}
    rejected: set[str] = set()
    for rec, (value,) in wav.items():
        value = value.strip()
        if value.endswith("|") or " " in value or re.search(r"\.ark:\d+$", value):
            rejected.add(rec)
            problems.append(f"{d.name}/wav.scp {rec}: only plain file paths are supported, not pipes or ark "
                            f"offsets ({value[:50]!r}); write the audio to files first (e.g. with wav-copy)")
            continue
        q = Path(value)
        cands = [q] if q.is_absolute() else [d / q, d.parent / q, d.parent.parent / q]
        paths[rec] = next((c for c in cands if c.is_file()), cands[0])
    utts = []
    for utt, (label,) in sorted(labels.items()):
        if segs is not None:
            if utt not in segs:
                problems.append(f"{d.name}/{label_file.name}: {utt} has no line in segments")
                continue
            rec, start, end = segs[utt]
            try:
                t0, t1 = float(start), float(end)
            except ValueError:
                problems.append(f"{d.name}/segments {utt}: start/end must be seconds, got {start!r}/{end!r}")
                continue
            seg = (t0, None if t1 < 0 else t1)
        else:
            rec, seg = utt, (None, None)
        if rec not in paths:
            if rec not in rejected:
                problems.append(f"{d.name}/{label_file.name}: {utt} (recording {rec}) has no line in wav.scp")
            continue
        if not paths[rec].is_file():
            skipped.append((str(paths[rec]), f"listed in {d.name}/wav.scp ({rec}) but not found"))
            continue
        utts.append(Utterance(paths[rec], label, seg[0], seg[1], spk.get(utt, [""])[0], split))
    return utts


def prepare_kaldi(root: str | Path, *, test_fraction: float = 0.2, dev_fraction: float = 0.0,
                  seed: int = 0) -> Prepared:
    """A Kaldi data directory: ``wav.scp`` (plain paths), ``utt2lang`` or ``utt2spk``, optional ``segments``.

    The label is ``utt2lang`` when present (language ID), else ``utt2spk`` (speaker ID). ``root`` is either one
    data dir -- split here per class, speaker-disjoint when ``utt2spk`` exists -- or a folder of ``train/``,
    ``test/`` (and ``dev/``) data dirs, used as they are. Relative paths in ``wav.scp`` are tried against the
    data dir, its parent and grandparent (Kaldi resolves them from the ``egs/*/s5`` folder).
    """
    layout = "kaldi"
    root = _check_root(root, layout)
    problems: list[str] = []
    skipped: list[tuple[str, str]] = []
    if (root / "wav.scp").is_file():
        utts = _kaldi_dir(root, "", problems, skipped)
        if not problems:
            has_spk = any(u.speaker for u in utts)
            utts = stratified_split(utts, test_fraction=test_fraction, dev_fraction=dev_fraction, seed=seed,
                                    group=(lambda u: u.speaker or str(u.path)) if has_spk else None)
    else:
        sub = {s: root / s for s in SPLITS if (root / s / "wav.scp").is_file()}
        if "train" not in sub:
            raise LayoutError(root, layout, "expected a Kaldi data dir (wav.scp, utt2lang or utt2spk, optional "
                                            f"segments) or train/ and test/ data dirs; found {_listing(root)}")
        utts = [u for s, d in sub.items() for u in _kaldi_dir(d, s, problems, skipped)]
    if problems:
        more = f"; ... {len(problems) - 10} more" if len(problems) > 10 else ""
        raise LayoutError(root, layout, f"{len(problems)} problem(s): {'; '.join(problems[:10])}{more}")
    if not utts:
        raise LayoutError(root, layout, "no usable utterance (every file in wav.scp is missing)")
    splits = _by_split(utts)
    return Prepared(layout, root, splits, skipped, _split_notes(splits))


LAYOUTS: dict[str, Callable[..., Prepared]] = {
    "folders": prepare_folders, "gtzan": prepare_gtzan, "voxlingua107": prepare_voxlingua107,
    "commonvoice": prepare_commonvoice, "voxceleb1": prepare_voxceleb1, "kaldi": prepare_kaldi,
}


def prepare(layout: str, root: str | Path, *, probe: bool = True, **options) -> Prepared:
    """Build split manifests for ``layout`` (a key of :data:`LAYOUTS`) from ``root``.

    ``options`` go to the layout's ``prepare_*`` function (options it does not take are a ``ValueError``
    naming them). With ``probe`` every file's header is read: unreadable files are skipped and reported, and
    hours per split and class are counted.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r} (known: {', '.join(LAYOUTS)})")
    func = LAYOUTS[layout]
    import inspect

    accepted = set(inspect.signature(func).parameters) - {"root"}
    given = {k: v for k, v in options.items() if v is not None}
    extra = sorted(set(given) - accepted)
    if extra:
        raise ValueError(f"layout '{layout}' does not take option(s) {', '.join(extra)} "
                         f"(it takes: {', '.join(sorted(accepted))})")
    prep = func(root, **given)
    return probe_durations(prep) if probe else prep


def write_prepared(prep: Prepared, out_dir: str | Path, *, min_files: int = 1) -> list[Path]:
    """Check the split and write ``train.csv``, ``test.csv`` (``dev.csv``) and ``summary.json`` to ``out_dir``.

    Raises ``ValueError`` listing every problem (:func:`gmmspeech.manifest.check_split`: the same audio in
    train and test, a class with fewer than ``min_files`` training files) before anything is written.
    """
    out_dir = Path(out_dir)
    # number the rows as they will appear in the written CSVs, so messages point at real lines
    prep.splits = {n: [dataclasses.replace(u, line=i + 2) for i, u in enumerate(utts)]
                   for n, utts in prep.splits.items()}
    train, test = prep.splits.get("train", []), prep.splits.get("test", [])
    problems = check_split(train, test, min_files=min_files)
    if "dev" in prep.splits:
        problems += [p for p in check_split(train, prep.splits["dev"], min_files=min_files, names=("train", "dev"))
                     if p not in problems]
    if problems:
        raise ValueError(f"{prep.root}: the {prep.layout} split has {len(problems)} problem(s):\n"
                         + "\n".join(f"  {p}" for p in problems))
    written = []
    for name, utts in prep.splits.items():
        write_manifest(out_dir / f"{name}.csv", utts)
        written.append(out_dir / f"{name}.csv")
    atomic_write_text(out_dir / "summary.json", json.dumps(prep.summary(), indent=2) + "\n")
    return written
