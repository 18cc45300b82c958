"""gmmspeech: tell which language, genre or speaker a recording is, with MFCCs and diagonal GMMs.

>>> import gmmspeech
>>> clf = gmmspeech.load_model("models/demo_lid.npz")      # doctest: +SKIP
>>> clf.classify("clip.wav").label                          # doctest: +SKIP

Heavy modules are imported on first use, so ``import gmmspeech`` (and the command line's ``--help``) stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["load_model", "FileClassifier", "GmmspeechError", "__version__"]

if TYPE_CHECKING:
    from .infra.errors import GmmspeechError
    from .model.fileclassifier import FileClassifier


def load_model(path) -> FileClassifier:
    """Load a model file as a :class:`FileClassifier`: ``load_model(path).classify("clip.wav")``."""
    from .model.fileclassifier import FileClassifier

    return FileClassifier.load(path)


def __getattr__(name: str) -> Any:
    if name == "FileClassifier":
        from .model.fileclassifier import FileClassifier

        return FileClassifier
    if name == "GmmspeechError":
        from .infra.errors import GmmspeechError

        return GmmspeechError
    raise AttributeError(f"module 'gmmspeech' has no attribute {name!r}")
