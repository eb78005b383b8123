"""A progress bar for long management commands, written to a terminal (or plain lines otherwise)."""

import sys
import time
from typing import TextIO


class ProgressBar:
    """`bar.update(done)` redraws at most ten times a second; `bar.finish()` ends the line."""

    def __init__(self, total: int | None, *, label: str = "", stream: TextIO | None = None, width: int = 30):
        self.total, self.label, self.width = total, label, width
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._interactive = getattr(self.stream, "isatty", lambda: False)()
        self.done = 0

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if self._interactive and now - self._last_draw >= 0.1:
            self._last_draw = now
            self.stream.write("\r" + self.render())
            self.stream.flush()

    def finish(self) -> None:
        self.stream.write(("\r" if self._interactive else "") + self.render() + "\n")
        self.stream.flush()

    def render(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = f"{self.done / elapsed:,.0f}/s"
        if not self.total:
            return f"{self.label} {self.done:,} rows  {rate}"
        share = min(self.done / self.total, 1.0)
        filled = int(share * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        return f"{self.label} [{bar}] {share:4.0%} {self.done:,}/{self.total:,} rows  {rate}"
