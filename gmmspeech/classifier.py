"""Stable public path (DESIGN §6): ``gmmspeech.classifier`` re-exports :mod:`gmmspeech.model.classifier`."""

from .model.classifier import (
    UNKNOWN,
    GMMClassifier,
    UBMClassifier,
    open_set_decision,
    posteriors,
)

__all__ = [
    "GMMClassifier",
    "UBMClassifier",
    "UNKNOWN",
    "posteriors",
    "open_set_decision",
]
