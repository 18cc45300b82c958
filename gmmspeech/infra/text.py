"""Output hygiene: text shown in a terminal, and cells written to CSV files a spreadsheet may open.

Labels and paths come from users' manifests and file names, so they may hold anything. On a terminal, control
characters (C0 except newline and tab, DEL, C1) and Unicode bidirectional overrides are shown as escapes
(``\\x1b``, ``\\u202e``) instead of being obeyed, so a label cannot clear the screen, retitle the window or
reorder what is shown. In CSV files, a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return
is prefixed with a single quote, as OWASP recommends against formula injection; numbers are written as numbers.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["terminal_safe", "csv_safe", "CSV_TRIGGERS"]

#: First characters that make a spreadsheet read a cell as a formula.
CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match) -> str:
    c = ord(m.group(0))
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with control characters and bidi overrides replaced by visible escapes (newline and tab kept)."""
    return _CONTROL.sub(_escape, text)


def csv_safe(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula: text starting with a trigger character gets a leading
    ``'``; numbers and other values are returned unchanged."""
    if isinstance(value, str) and value.startswith(CSV_TRIGGERS):
        return "'" + value
    return value
