"""The root of every error a user can cause (bad file, bad setting, bad model file, unreachable cluster).

The command line prints a :class:`GmmspeechError` (or an ``OSError`` on a path the user gave) as one
``error: ...`` line with exit status 1; anything else is a bug in gmmspeech and is reported as one.
Each subclass lives next to the code that raises it (``AudioError`` in :mod:`gmmspeech.frontend.audio`,
``ManifestError`` in :mod:`gmmspeech.data.manifest`, ...); subclasses that replaced a ``ValueError`` or
``RuntimeError`` keep that base too, so existing ``except ValueError`` code still catches them.
"""

from __future__ import annotations

__all__ = ["GmmspeechError", "DataError", "UsageError"]


class GmmspeechError(Exception):
    """Something the user can fix: the message names the file, line, key or value and what is wrong with it."""


class DataError(GmmspeechError, ValueError):
    """Arrays that a numerical routine cannot use (NaN or infinite frames, too few frames, a constant dimension)."""


class UsageError(GmmspeechError, ValueError):
    """Options that contradict each other or are out of range (the command line exits with status 2)."""
