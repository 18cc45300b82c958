"""Stable public path (DESIGN §6): ``gmmspeech.audio`` re-exports :mod:`gmmspeech.frontend.audio`."""

from .frontend.audio import (
    AUDIO_EXTENSIONS,
    AudioError,
    audio_duration,
    audio_info,
    load_audio,
)

__all__ = [
    "AudioError",
    "load_audio",
    "audio_info",
    "audio_duration",
    "AUDIO_EXTENSIONS",
]
