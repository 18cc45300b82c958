"""The task presets gmmspeech knows (their settings are in :mod:`gmmspeech.app.settings`)."""

TASKS = ("language", "speaker", "genre")

__all__ = ["TASKS"]
