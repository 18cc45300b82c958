"""Reading every prepared file's length from its header: hours per split and class, unreadable files skipped."""

from __future__ import annotations

from pathlib import Path

from .common import Prepared

__all__ = ["probe_durations"]


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
