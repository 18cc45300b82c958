"""gmmspeech: tell which language, genre or speaker a recording is, with MFCCs and diagonal GMMs."""

__version__ = "0.1.0"
