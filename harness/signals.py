"""SIGTERM (CI cancel, `timeout`, docker stop of a runner) unwinds like Ctrl-C, so teardown still runs."""

from __future__ import annotations

import signal


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def terminate_as_interrupt() -> None:
    signal.signal(signal.SIGTERM, _raise_interrupt)
