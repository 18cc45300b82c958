"""A trained model that classifies audio files directly: ``gmmspeech.load_model("m.npz").classify("clip.wav")``.

The features are rebuilt from the model's own metadata, so a file is always scored with the front end the model
was trained on.
"""

from __future__ import annotations

import os

import numpy as np

from ..frontend.features import FeatureConfig
from ..frontend.fileframes import file_features
from .classifier import GMMClassifier
from .decision import Decision, decide
from .meta import ModelMeta
from .modelio import load_backend, load_model, save_model
from .novelty import file_novelty, read_novelty

__all__ = ["FileClassifier"]


class FileClassifier:
    """A classifier together with its metadata; classifies files, segments or feature frames.

    Parameters
    ----------
    classifier : a fitted :class:`GMMClassifier` or :class:`UBMClassifier`.
    meta : its :class:`ModelMeta` (at least ``classes`` and ``features``).

    Examples
    --------
    >>> clf = load_model("models/demo_lid.npz")            # doctest: +SKIP
    >>> d = clf.classify("clip.wav")                         # doctest: +SKIP
    >>> d.label, d.posteriors["en"], d.scores["en"]          # doctest: +SKIP
    """

    def __init__(self, classifier: GMMClassifier, meta: ModelMeta):
        self.classifier = classifier
        self.meta = meta

    @classmethod
    def load(cls, path: str | os.PathLike) -> FileClassifier:
        """Load a model file (:func:`gmmspeech.model.modelio.load_model`, all its checks)."""
        return cls(*load_model(path))

    def save(self, path: str | os.PathLike) -> None:
        """Write the model file atomically (classifier arrays + metadata)."""
        self.meta = save_model(self.classifier, path, self.meta)

    @property
    def classes(self) -> tuple[str, ...]:
        """The class labels."""
        return tuple(self.classifier.classes_)

    @property
    def features(self) -> FeatureConfig:
        """The feature configuration files are scored with."""
        return self.meta.features

    def frames(self, path: str | os.PathLike, *, start: float = 0.0, end: float | None = None) -> np.ndarray:
        """Feature frames of an audio file (or of ``[start, end)`` seconds of it), shape (n_frames, n_dims)."""
        return file_features(path, self.meta.features, offset=start, duration=None if end is None else end - start)

    def classify_frames(self, X: np.ndarray, *, open_set: bool = False, reject_below: float | None = None,
                        novelty: bool = False, raw: bool = False) -> Decision:
        """Decide one item from its (N, D) feature frames (see :meth:`classify`)."""
        thresholds = (self.classifier.open_set_thresholds(reject_below)
                      if (open_set or reject_below is not None) else None)
        nov = file_novelty(self.classifier, X, read_novelty(self.meta)) if novelty else None
        return decide(self.classifier.score(X), self.classes, len(X), thresholds=thresholds, novelty=nov,
                      backend=None if raw else load_backend(self.meta))

    def classify(self, path: str | os.PathLike, *, start: float = 0.0, end: float | None = None,
                 open_set: bool = False, reject_below: float | None = None, novelty: bool = False,
                 raw: bool = False) -> Decision:
        """Classify an audio file (or ``[start, end)`` seconds of it).

        Parameters
        ----------
        path : audio file (WAV, FLAC, OGG, MP3, ...).
        start, end : segment bounds in seconds (default: the whole file).
        open_set : reject (label ``"unknown"``) when every class scores below its calibrated threshold.
        reject_below : one open-set threshold for all classes (mean log-likelihood per frame).
        novelty : label ``"unknown"`` when more frames than calibrated look like no class.
        raw : with a score back-end in the model, decide on the raw scores instead of calibrated log-posteriors.

        Returns
        -------
        :class:`Decision`: ``label``, ``scores`` and ``posteriors`` (class -> value), ``ranked``, ``margin``...
        Raises :class:`gmmspeech.frontend.audio.AudioError` naming the file when it cannot be used.
        """
        return self.classify_frames(self.frames(path, start=start, end=end), open_set=open_set,
                                    reject_below=reject_below, novelty=novelty, raw=raw)
