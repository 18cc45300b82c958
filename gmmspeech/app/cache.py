"""The feature cache a command asks for (kept apart from the pipeline so scoring imports no training code)."""

from __future__ import annotations

import os

from ..data.featstore import FeatureCache

__all__ = ["open_cache"]


def open_cache(folder: str | os.PathLike | None = None, *, enabled: bool = True) -> FeatureCache | None:
    """The feature cache at ``folder`` (default: ``$GMMSPEECH_CACHE`` or ``~/.cache/gmmspeech/features``), or
    None when caching is off."""
    return FeatureCache(folder) if enabled else None
