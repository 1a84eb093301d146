"""A one-line progress bar on stderr, drawn only when stderr is a terminal (never into a pipe or a
log file, where it would be noise for scripts)."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

REDRAW_SECONDS = 0.1


class Progress:
    """``label [#####-----]  42%  note`` when the total is known, else ``label  note``.

    ``update`` may be called as often as wanted: the line is redrawn at most every
    :data:`REDRAW_SECONDS` (and always by ``close``, which leaves the final state on its own line).
    """

    def __init__(self, label: str, total: int | None, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total if total else None
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _is_terminal(self.stream)
        self._done = 0
        self._note = ""
        self._drawn_at = 0.0
        self._width = 0

    def update(self, done: int, note: str = "") -> None:
        self._done, self._note = done, note
        now = time.monotonic()
        if self.enabled and now - self._drawn_at >= REDRAW_SECONDS:
            self._drawn_at = now
            self._draw()

    def close(self) -> None:
        """Draw the final state and end the line (nothing when disabled)."""
        if self.enabled and (self._drawn_at or self._done):
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
        self.enabled = False

    def line(self) -> str:
        """The bar as it would be drawn now."""
        columns = shutil.get_terminal_size((80, 24)).columns
        if self.total is None:
            return f"{self.label}  {self._note}"[: columns - 1]
        fraction = min(self._done / self.total, 1.0)
        width = max(10, min(30, columns - len(self.label) - len(self._note) - 12))
        filled = int(fraction * width)
        text = f"{self.label} [{'#' * filled}{'-' * (width - filled)}] {fraction:>4.0%}  {self._note}"
        return text[: columns - 1]

    def _draw(self) -> None:
        text = self.line()
        self.stream.write("\r" + text + " " * max(self._width - len(text), 0))
        self.stream.flush()
        self._width = len(text)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
