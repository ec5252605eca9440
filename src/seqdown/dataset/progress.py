"""Progress of a long run: a bar on a terminal, plain lines in a log, and log records between.

On a terminal the bar (files done of all, failed, in flight, hours of audio,
rate, ETA) is redrawn in place. When the stream is not a terminal (a Slurm or
CI log) there are no carriage returns: a background thread writes the same
figures as one plain line every ``interval`` seconds, also while no file
finishes (a cluster waiting for workers, a file that hangs), so that a long
run shows it is alive. Writes to the stream hold a lock.
:class:`ProgressHandler` writes log records (each failure, warnings) through
the same stream, clearing the bar first, each record on one line: file names are
passed through :func:`escaped_name`, so that a name with a newline cannot forge a
line. No dependency: a few lines of ``\\r`` and padding.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TextIO

from seqdown.dataset.manifest import Failure
from seqdown.dataset.options import DEFAULT_PROGRESS_INTERVAL

__all__ = ["Progress", "ProgressHandler", "escaped_name", "format_duration"]

_WIDTH = 24
_REDRAW_SECONDS = 0.1


def escaped_name(name: str) -> str:
    """``name`` printable on one line: undecodable bytes as ``\\xff``, control
    characters (a newline that would forge a line of the summary) as ``\\n``.

    Idempotent (an escaped name is printable), and total: a lone surrogate that is
    not an undecodable byte becomes ``\\udXXX``.

    Example:
        >>> escaped_name("a\\nb.wav")
        'a\\\\nb.wav'
    """
    try:
        encoded = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that os.fsdecode did not make
        encoded = name.encode("utf-8", "backslashreplace")
    raw = encoded.decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in raw)


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` for a non-negative number of seconds."""
    minutes, second = divmod(round(seconds), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}"


class Progress:
    """Reports the files of a run on ``stream`` (standard error by default).

    Args:
        stream: where to write; the bar only appears if ``stream.isatty()``.
        prefix: put before every plain line, e.g. ``"seqdown preprocess"``.
        interval: seconds between plain lines when ``stream`` is not a terminal.
    """

    def __init__(self, stream: TextIO | None = None, prefix: str = "seqdown",
                 interval: float = DEFAULT_PROGRESS_INTERVAL) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be a positive number of seconds, got {interval}")
        self.stream = stream if stream is not None else sys.stderr
        self.prefix = prefix
        self.interval = interval
        self.bar = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total = self.count = self.failed = self.in_flight = 0
        self.seconds = 0.0
        self._start = self._drawn = 0.0
        self._started = False
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def start(self, total: int) -> None:
        """Starts counting ``total`` files to process (and, off a terminal, the plain lines)."""
        with self._lock:
            self.total, self.count, self.failed, self.in_flight = total, 0, 0, 0
            self.seconds = 0.0
            self._start = self._drawn = time.monotonic()
            self._started = True
            self._draw()
        if not self.bar and self._ticker is None:
            self._stop.clear()
            self._ticker = threading.Thread(target=self._tick, name="seqdown progress",
                                            daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                self.stream.write(f"{self.prefix}: {self.figures()}\n")
                self.stream.flush()

    def advance(self, failure: Failure | None = None, seconds: float = 0.0,
                in_flight: int = 0) -> None:
        """Counts one finished file (failed, or with ``seconds`` of audio done).

        Args:
            failure: the file's failure, if it failed.
            seconds: seconds of audio it held (0 for a failure).
            in_flight: files being processed now.
        """
        with self._lock:
            self.count += 1
            self.failed += failure is not None
            self.seconds += seconds
            self.in_flight = in_flight
            self._draw(force=self.count == self.total)

    def write(self, line: str) -> None:
        """Writes a line (no newline needed) between redraws of the bar."""
        with self._lock:
            self._clear()
            self.stream.write(line.rstrip("\n") + "\n")
            if self._started:
                self._draw(force=True)

    def finish(self) -> None:
        """Removes the bar; stops the plain lines."""
        if self._ticker is not None:
            self._stop.set()
            self._ticker.join()
            self._ticker = None
        with self._lock:
            self._started = False
            self._clear()
            self.stream.flush()

    def figures(self) -> str:
        """``12/100 files, 1 failed, 2 in flight, 0.53 h of audio, 4.0 files/s, ETA 0:00:22``."""
        elapsed = time.monotonic() - self._start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        eta = format_duration((self.total - self.count) / rate) if rate > 0 else "?"
        failed = f", {self.failed} failed" if self.failed else ""
        return (f"{self.count}/{self.total} files{failed}, {self.in_flight} in flight, "
                f"{self.seconds / 3600:.2f} h of audio, {rate:.1f} files/s, ETA {eta}")

    def _clear(self) -> None:
        if self.bar:
            self.stream.write("\r\033[K")

    def _draw(self, force: bool = True) -> None:
        """Redraws the bar (at most every 0.1 s unless ``force``); nothing off a terminal."""
        now = time.monotonic()
        if not self.bar or (not force and now - self._drawn < _REDRAW_SECONDS):
            return
        self._drawn = now
        fraction = self.count / self.total if self.total else 1.0
        filled = round(fraction * _WIDTH)
        self.stream.write(f"\r[{'#' * filled}{'.' * (_WIDTH - filled)}] {self.figures()}\033[K")
        self.stream.flush()


class ProgressHandler(logging.Handler):
    """A logging handler that writes each record as a line through a :class:`Progress`.

    Args:
        progress: where the lines go (the bar is cleared first and redrawn after).
    """

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        """Writes the formatted record, on one line (:func:`escaped_name`)."""
        try:
            self.progress.write(escaped_name(self.format(record)))
        except Exception:  # a broken stream must not stop the run
            self.handleError(record)
