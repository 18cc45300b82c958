"""Stable public path (DESIGN §6): ``gmmspeech.classifier`` re-exports the classifiers of :mod:`gmmspeech.model`."""

from .model.classifier import GMMClassifier
from .model.decision import UNKNOWN, open_set_decision, posteriors
from .model.ubm_classifier import UBMClassifier

__all__ = [
    "GMMClassifier",
    "UBMClassifier",
    "UNKNOWN",
    "posteriors",
    "open_set_decision",
]
