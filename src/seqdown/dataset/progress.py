"""Progress of a long run on a terminal: a bar redrawn in place, and failures as they happen.

The bar (files, rate, ETA) is drawn only when the stream is a terminal, so that
logs and pipes get no carriage returns; failures are always written, one line
each. No dependency: a few lines of ``\\r`` and padding.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from seqdown.dataset.manifest import Failure

__all__ = ["Progress", "format_duration"]

_WIDTH = 24
_REDRAW_SECONDS = 0.1


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` for a non-negative number of seconds."""
    minutes, second = divmod(round(seconds), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}"


class Progress:
    """Reports the files of a run on ``stream`` (standard error by default).

    Args:
        stream: where to write; the bar only appears if ``stream.isatty()``.
        prefix: put before every line, e.g. ``"seqdown preprocess"``.
    """

    def __init__(self, stream: TextIO | None = None, prefix: str = "seqdown") -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.prefix = prefix
        self.bar = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total = self.count = self.failed = 0
        self._start = self._drawn = 0.0

    def start(self, total: int) -> None:
        """Starts counting ``total`` files to process."""
        self.total, self.count, self.failed = total, 0, 0
        self._start = time.monotonic()
        self._draw(force=True)

    def advance(self, failure: Failure | None = None) -> None:
        """Counts one finished file; writes the failure, if any."""
        self.count += 1
        if failure is not None:
            self.failed += 1
            self.report(failure)
        self._draw(force=self.count == self.total or failure is not None)

    def report(self, failure: Failure) -> None:
        """Writes a failure found before processing (a bad manifest line, a missing text)."""
        self._clear()
        self.stream.write(f"{self.prefix}: failed {failure.where}: {failure.error}: "
                          f"{failure.message}\n")

    def finish(self) -> None:
        """Removes the bar."""
        self._clear()
        self.stream.flush()

    def _clear(self) -> None:
        if self.bar:
            self.stream.write("\r\033[K")

    def _draw(self, force: bool) -> None:
        now = time.monotonic()
        if not self.bar or (not force and now - self._drawn < _REDRAW_SECONDS):
            return
        self._drawn = now
        fraction = self.count / self.total if self.total else 1.0
        filled = round(fraction * _WIDTH)
        elapsed = now - self._start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        eta = format_duration((self.total - self.count) / rate) if rate > 0 else "?"
        failed = f", {self.failed} failed" if self.failed else ""
        self.stream.write(f"\r[{'#' * filled}{'.' * (_WIDTH - filled)}] {self.count}/"
                          f"{self.total} files{failed}  {rate:.1f} files/s  ETA {eta}\033[K")
        self.stream.flush()
