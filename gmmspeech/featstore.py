"""Features for many files: computed in parallel, with progress and a per-file error report.

A file that cannot be read or yields no frames is skipped and reported; the others go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .audio import AudioError, load_audio
from .features import FeatureConfig, extract
from .manifest import Utterance
from .parallel import parallel_map
from .progress import Progress

__all__ = ["FeatureSet", "features_for", "compute_features"]


@dataclass
class FeatureSet:
    """Result of :func:`compute_features`.

    Attributes
    ----------
    utterances : the input utterances, in order.
    features : per utterance a float32 (n_frames, n_dims) array, or ``None`` where it failed.
    errors : ``(utterance, message)`` for every file that failed.
    """

    utterances: list[Utterance]
    features: list[np.ndarray | None]
    errors: list[tuple[Utterance, str]] = field(default_factory=list)

    def ok(self) -> list[tuple[Utterance, np.ndarray]]:
        """The utterances that succeeded, with their features."""
        return [(u, f) for u, f in zip(self.utterances, self.features, strict=True) if f is not None]


def features_for(utt: Utterance, cfg: FeatureConfig) -> np.ndarray:
    """Load one utterance (or segment) and return its features, shape (n_frames, cfg.n_dims).

    Raises :class:`AudioError` naming the file for any problem, including a too-short signal.
    """
    y = load_audio(utt.path, cfg.sample_rate, offset=utt.start or 0.0, duration=utt.duration)
    try:
        return extract(y, cfg.sample_rate, cfg)
    except ValueError as exc:
        raise AudioError(utt.path, str(exc)) from None


def _worker(job: tuple[Utterance, FeatureConfig]) -> tuple[np.ndarray | None, str | None]:
    utt, cfg = job
    try:
        return features_for(utt, cfg), None
    except AudioError as exc:
        return None, exc.reason
    except Exception as exc:  # noqa: BLE001 - a batch run must survive any single bad file
        return None, f"{type(exc).__name__}: {exc}"


def compute_features(utts: list[Utterance], cfg: FeatureConfig, *, n_jobs: int | None = None,
                     progress: bool = True, desc: str = "features") -> FeatureSet:
    """Features of every utterance, in parallel over files.

    Parameters
    ----------
    utts : utterances to process.
    cfg : feature configuration.
    n_jobs : worker processes (``None``: all cores).
    progress : show a progress line on stderr.

    Returns
    -------
    FeatureSet with one entry per utterance and the list of failures.
    """
    bar = Progress(len(utts), desc, enabled=progress)
    feats: list[np.ndarray | None] = []
    errors: list[tuple[Utterance, str]] = []
    for utt, (x, err) in zip(utts, parallel_map(_worker, [(u, cfg) for u in utts], n_jobs=n_jobs),
                             strict=True):
        feats.append(x)
        if err is not None:
            errors.append((utt, err))
        bar.update()
    bar.close()
    return FeatureSet(list(utts), feats, errors)
