"""Stable public path (DESIGN §6): ``gmmspeech.features`` re-exports :mod:`gmmspeech.frontend.features`."""

from .frontend.features import (
    FEATURES_VERSION,
    FeatureConfig,
    cmvn,
    deltas,
    extract,
    frame_energy_db,
    mfcc,
    power_spectrogram,
    sdc,
    vad_mask,
)

__all__ = [
    "FeatureConfig",
    "extract",
    "mfcc",
    "power_spectrogram",
    "deltas",
    "sdc",
    "cmvn",
    "frame_energy_db",
    "vad_mask",
    "FEATURES_VERSION",
]
