"""What every layout builder shares: the :class:`Prepared` result, :class:`LayoutError`, and folder helpers.

The helpers here are used by several layout modules (:mod:`.folders`, :mod:`.gtzan`, ...); each layout keeps the
helpers only it needs to itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...frontend.audio import AUDIO_EXTENSIONS
from ...infra.errors import GmmspeechError
from ..manifest import Utterance, class_counts

__all__ = ["SPLITS", "LayoutError", "Prepared", "check_root", "audio_files", "subdirs", "listing", "by_split",
           "split_notes"]

SPLITS = ("train", "dev", "test")


class PrepareError(GmmspeechError, ValueError):
    """Manifests cannot be built: a list or table of the corpus is malformed, or the split has problems."""


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


def check_root(root: str | Path, layout: str) -> Path:
    """``root`` resolved, or :class:`LayoutError` if it is not an existing folder."""
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(root, layout, "no such folder" if not root.exists() else "not a folder")
    return root.resolve()


def audio_files(folder: Path) -> list[Path]:
    """Audio files (by extension, any case) anywhere under ``folder``, sorted; hidden files and folders left out."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def subdirs(folder: Path) -> list[Path]:
    """The sub-folders of ``folder`` that are not hidden, sorted."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def listing(folder: Path, n: int = 8) -> str:
    """The first ``n`` entries of ``folder`` (folders with a trailing ``/``), for a message on what was found."""
    try:
        items = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    except OSError:
        return "nothing readable"
    if not items:
        return "an empty folder"
    return ", ".join(items[:n]) + (f", ... ({len(items)} entries)" if len(items) > n else "")


def by_split(utts: list[Utterance], names: tuple[str, ...] = SPLITS) -> dict[str, list[Utterance]]:
    """``{split: utterances}`` in ``names`` order; empty dev and test splits are left out (never written)."""
    out = {n: [u for u in utts if u.split == n] for n in names}
    return {n: v for n, v in out.items() if v or n == "train"}


def split_notes(splits: dict[str, list[Utterance]]) -> list[str]:
    """Notes naming the training classes that have no dev or no test file."""
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
