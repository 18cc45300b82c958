"""Manifests: CSV files listing audio files (or segments of them) and their labels.

Format: UTF-8 CSV with a header row. Required columns ``path,label``; optional ``start,end`` (seconds, a
segment of the file), ``speaker``, ``split``; a column named twice is an error. ``path`` is relative to the manifest's
folder unless absolute.
:func:`read_manifest` reports every problem at once, each with its line number; :func:`check_split` checks a
train/test pair (the same audio on both sides, classes with too few training files).
Builders for known corpus layouts live in :mod:`gmmspeech.data.prepare`.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from ..frontend.audio import AudioError, audio_duration, check_regular_file
from ..infra.atomic import atomic_write_text
from ..infra.errors import GmmspeechError

__all__ = ["Utterance", "ManifestError", "read_manifest", "write_manifest", "check_split", "class_counts"]

REQUIRED = ("path", "label")
OPTIONAL = ("start", "end", "speaker", "split")


@dataclass(frozen=True)
class Utterance:
    """One manifest row.

    Attributes
    ----------
    path : absolute path of the audio file.
    label : class label.
    start, end : segment bounds in seconds, or ``None`` for the whole file.
    speaker, split : optional annotations ("" when absent).
    line : line number in the manifest (1 = header).
    """

    path: Path
    label: str
    start: float | None = None
    end: float | None = None
    speaker: str = ""
    split: str = ""
    line: int = 0

    @property
    def duration(self) -> float | None:
        """Segment length in seconds, or ``None`` when reading to the end of the file."""
        if self.end is None:
            return None
        return self.end - (self.start or 0.0)

    @property
    def name(self) -> str:
        """Display name: the path, with the segment appended when there is one."""
        if self.start is None and self.end is None:
            return str(self.path)
        return f"{self.path}[{self.start or 0:.2f}-{'' if self.end is None else f'{self.end:.2f}'}]"


class ManifestError(GmmspeechError, ValueError):
    """A manifest has problems; ``problems`` lists ``(line, message)`` pairs."""

    def __init__(self, path: str | os.PathLike, problems: list[tuple[int, str]]):
        self.path = str(path)
        self.problems = problems
        lines = "\n".join(f"  line {ln}: {msg}" if ln else f"  {msg}" for ln, msg in problems)
        n = len(problems)
        super().__init__(f"{self.path}: {n} problem{'s' if n != 1 else ''}:\n{lines}")


def _parse_time(value: str) -> float | None:
    value = (value or "").strip()
    if not value:
        return None
    t = float(value)
    if t != t or t in (float("inf"), float("-inf")):
        raise ValueError(value)
    return t


def read_manifest(path: str | os.PathLike, *, check_files: bool = True, min_files: int = 1) -> list[Utterance]:
    """Read and validate a manifest.

    Parameters
    ----------
    path : the CSV file.
    check_files : check that every audio file exists and that segments lie inside it.
    min_files : every class must have at least this many rows (files or segments).

    Returns
    -------
    list of :class:`Utterance`, in file order.

    Raises
    ------
    ManifestError : listing every problem found, each with its line number.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, [(0, "no such manifest file")])
    base = path.resolve().parent
    problems: list[tuple[int, str]] = []
    utts: list[Utterance] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            twice = sorted({h for h in header if h and header.count(h) > 1}, key=header.index)
            if twice:  # csv.DictReader would silently keep the last of the columns
                raise ManifestError(path, [(1, f"column '{c}' appears {header.count(c)} times in the header "
                                               f"(found: {', '.join(header)})") for c in twice])
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise ManifestError(path, [(1, f"header must have columns {', '.join(REQUIRED)}; "
                                               f"missing {', '.join(missing)} (found: {', '.join(header) or 'none'})")])
            reader.fieldnames = header
            seen: dict[tuple, int] = {}
            for row in reader:
                ln = reader.line_num
                if None in row:
                    problems.append((ln, "more fields than header columns"))
                    continue
                rel = (row.get("path") or "").strip()
                label = (row.get("label") or "").strip()
                if not rel:
                    problems.append((ln, "empty path"))
                    continue
                if not label:
                    problems.append((ln, f"empty label for {rel}"))
                try:
                    start, end = _parse_time(row.get("start", "")), _parse_time(row.get("end", ""))
                except ValueError:
                    problems.append((ln, f"start/end must be numbers of seconds, got "
                                         f"{row.get('start')!r}/{row.get('end')!r}"))
                    continue
                if start is not None and start < 0:
                    problems.append((ln, f"start {start} is negative"))
                if start is not None and end is not None and end <= start:
                    problems.append((ln, f"end {end} is not after start {start}"))
                p = Path(rel)
                p = p if p.is_absolute() else base / p
                p = Path(os.path.normpath(p))
                key = (str(p), start, end)
                if key in seen:
                    problems.append((ln, f"duplicate of line {seen[key]} ({rel})"))
                    continue
                seen[key] = ln
                if check_files:
                    problems.extend((ln, m) for m in _check_file(p, rel, start, end))
                utts.append(Utterance(p, label, start, end, (row.get("speaker") or "").strip(),
                                      (row.get("split") or "").strip(), ln))
    except UnicodeDecodeError as exc:
        raise ManifestError(path, [(0, f"not UTF-8 text ({exc.reason})")]) from None
    except csv.Error as exc:
        raise ManifestError(path, [(0, f"not a readable CSV file ({exc})")]) from None
    if not utts and not problems:
        problems.append((0, "the manifest lists no files"))
    first_line: dict[str, int] = {}
    for u in utts:
        first_line.setdefault(u.label, u.line)
    for label, n in sorted(class_counts(utts).items()):
        if label and n < min_files:
            problems.append((first_line[label], f"class '{label}' has {n} file{'s' if n != 1 else ''}, "
                                                f"fewer than the minimum {min_files}"))
    problems.sort(key=lambda p: p[0])
    if problems:
        raise ManifestError(path, problems)
    return utts


def _check_file(p: Path, rel: str, start: float | None, end: float | None) -> list[str]:
    try:
        check_regular_file(p)  # never opens a FIFO or device, which could block
    except AudioError as exc:
        return [f"audio file not found: {rel}" if exc.reason == "no such file" else f"{rel} {exc.reason}"]
    if start is None and end is None:
        return []
    try:
        length = audio_duration(p)
    except AudioError as exc:
        return [f"cannot read {rel} ({exc.reason})"]
    bound = end if end is not None else start
    if bound is not None and bound > length + 1e-3:
        return [f"segment {start or 0}-{end} s lies outside {rel} ({length:.2f} s long)"]
    return []


def write_manifest(path: str | os.PathLike, utts: list[Utterance]) -> None:
    """Write utterances as a manifest, paths relative to the manifest's folder where possible (atomic)."""
    path = Path(path)
    base = path.resolve().parent
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "label", "start", "end", "speaker", "split"])
    for u in utts:
        try:
            rel = os.path.relpath(u.path, base)
        except ValueError:
            rel = str(u.path)
        w.writerow([rel, u.label, "" if u.start is None else u.start, "" if u.end is None else u.end,
                    u.speaker, u.split])
    atomic_write_text(path, buf.getvalue())


def class_counts(utts: list[Utterance]) -> dict[str, int]:
    """Number of rows per label, labels in sorted order."""
    counts: dict[str, int] = {}
    for u in utts:
        counts[u.label] = counts.get(u.label, 0) + 1
    return dict(sorted(counts.items()))


def _overlaps(a: Utterance, b: Utterance) -> bool:
    """Whether two utterances of the same file share any audio (``None`` bounds are the file's ends)."""
    a0, b0 = a.start or 0.0, b.start or 0.0
    a1 = float("inf") if a.end is None else a.end
    b1 = float("inf") if b.end is None else b.end
    return a0 < b1 and b0 < a1


def check_split(train: list[Utterance], test: list[Utterance] | None = None, *, min_files: int = 1,
                names: tuple[str, str] = ("train", "test")) -> list[str]:
    """Problems of a train/test pair of manifests, all at once (an empty list when there are none).

    Parameters
    ----------
    train, test : the two manifests' utterances (``test`` may be ``None``).
    min_files : every class of ``train`` -- and every class that appears only in ``test`` -- must have at least
        this many training rows.
    names : how the two manifests are named in the messages (e.g. their file names).

    Returns
    -------
    list of messages such as ``"test line 7: same audio as train line 3 (a/x.wav)"`` or
    ``"class 'fr' has 1 training file, fewer than the minimum 2"``. Segments of one file on both sides are a
    problem only when they overlap.
    """
    problems = []
    counts = class_counts(train)
    for label in sorted(set(counts) | {u.label for u in test or []}):
        n = counts.get(label, 0)
        if n < min_files:
            problems.append(f"class '{label}' has {n} training file{'s' if n != 1 else ''} in {names[0]}, "
                            f"fewer than the minimum {min_files}")
    by_path: dict[Path, list[Utterance]] = {}
    for u in train:
        by_path.setdefault(u.path, []).append(u)
    for u in test or []:
        for t in by_path.get(u.path, []):
            if _overlaps(u, t):
                problems.append(f"{names[1]} line {u.line}: same audio as {names[0]} line {t.line} ({u.name})")
                break
    return problems
