"""Live progress: one status line rewritten in place every second while a run goes on.

    [kill-live-master seed] fault: kill chaos-mq01-a | sent 1204 ack 1190 deliv 1102 in flight 88 | 0:41 elapsed

It writes only to a terminal: with no terminal (CI, a log file, `| tee`) it is silent, so logs stay readable.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TextIO

Status = Callable[[], str]


class Progress:
    def __init__(self, stream: TextIO | None, interval: float = 1.0) -> None:
        self.stream = stream  # None: quiet
        self.interval = interval

    @classmethod
    def for_stdout(cls) -> Progress:
        return cls(sys.stdout if sys.stdout.isatty() else None)

    @classmethod
    def for_terminal(cls, attached: bool) -> Progress:
        """The controlling terminal itself, when the run's real stdout is one (pytest captures sys.stdout)."""
        if not attached:
            return cls(None)
        try:
            return cls(open("/dev/tty", "w", encoding="utf-8"))  # lives as long as the run
        except OSError:
            return cls(None)

    @property
    def quiet(self) -> bool:
        return self.stream is None

    @contextlib.contextmanager
    def showing(self, status: Status) -> Iterator[None]:
        """Redraw `status()` every interval until the block ends, then clear the line."""
        if self.stream is None:
            yield
            return
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(self.interval):
                self._draw(status())

        thread = threading.Thread(target=loop, name="progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=self.interval + 1)
            self._draw("")

    def _draw(self, text: str) -> None:
        assert self.stream is not None
        width = _columns(self.stream)
        with contextlib.suppress(OSError, ValueError):
            self.stream.write("\r\x1b[K" + text[: width - 1])
            self.stream.flush()


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        return 120


def clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
