"""Stable public path (DESIGN §6): ``gmmspeech.modelio`` re-exports :mod:`gmmspeech.model.modelio`."""

from .model.modelio import (
    FORMAT_VERSION,
    ModelFileError,
    load_model,
    save_model,
)

__all__ = [
    "FORMAT_VERSION",
    "ModelFileError",
    "save_model",
    "load_model",
]
