"""Manifests from a corpus in its published layout (the ``prepare`` command): build, check and write them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..data.prepare import prepare, write_prepared
from ..infra.outputs import check_output_file

__all__ = ["prepare_corpus"]


def prepare_corpus(layout: str, root: str | os.PathLike, output: str | os.PathLike, *, min_files: int = 1,
                   **options: Any) -> tuple[Any, list[Path]]:
    """Build the manifests of corpus ``root`` read as ``layout`` and write them (atomically) into ``output``.

    ``options`` are the layout's options (see :func:`gmmspeech.data.prepare.prepare`). Returns the prepared
    corpus (with ``summary()`` and ``format_summary()``) and the files written.
    """
    check_output_file(Path(output) / "summary.json")   # the folder can be written: checked before the scan
    prep = prepare(layout, root, **options)
    return prep, write_prepared(prep, output, min_files=min_files)
