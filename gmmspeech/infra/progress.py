"""A minimal progress line on stderr (no extra dependency): ``features   120/240 files  [00:04]``."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    """Counts finished work items and redraws one status line on stderr.

    On a terminal the line is redrawn in place; elsewhere (logs, CI) a line is printed every 10 %.
    """

    def __init__(self, total: int, desc: str, unit: str = "files", *, enabled: bool = True):
        self.total, self.desc, self.unit = total, desc, unit
        self.enabled = enabled and total > 0
        self.done = 0
        self._t0 = time.perf_counter()
        self._tty = sys.stderr.isatty()
        self._last_decile = -1

    def update(self, n: int = 1) -> None:
        """Record ``n`` more finished items."""
        self.done += n
        if not self.enabled:
            return
        decile = (10 * self.done) // self.total
        if self._tty or decile != self._last_decile:
            self._last_decile = decile
            end = "\r" if self._tty and self.done < self.total else "\n"
            sys.stderr.write(self._line() + end)
            sys.stderr.flush()

    def note(self, text: str) -> None:
        """Print ``text`` as a line of its own now (e.g. what is about to happen), if the bar is enabled."""
        if self.enabled:
            sys.stderr.write(("\n" if self._open else "") + text + "\n")
            sys.stderr.flush()

    @property
    def _open(self) -> bool:
        """A redrawn terminal line is waiting for its end."""
        return self._tty and 0 < self.done < self.total

    def _line(self) -> str:
        secs = int(time.perf_counter() - self._t0)
        return f"{self.desc:<10} {self.done:>6}/{self.total} {self.unit}  [{secs // 60:02d}:{secs % 60:02d}]"

    def close(self) -> None:
        """Finish the line (on a terminal) if it was left open."""
        if self.enabled and self._tty and self.done < self.total:
            sys.stderr.write("\n")
