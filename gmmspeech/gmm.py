"""Stable public path (DESIGN §6): ``gmmspeech.gmm`` re-exports :mod:`gmmspeech.core.gmm`."""

from .core.gmm import (
    BATCH_FRAMES,
    DiagGMM,
    SuffStats,
    accumulate_chunks,
    accumulate_stats,
    batch_plan,
    estimate_log_prob,
    maximize,
)

__all__ = [
    "SuffStats",
    "DiagGMM",
    "estimate_log_prob",
    "accumulate_stats",
    "accumulate_chunks",
    "batch_plan",
    "maximize",
    "BATCH_FRAMES",
]
