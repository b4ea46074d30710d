"""Waiting on observable state, always with a deadline and a message naming what was awaited."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    pass


def wait_until(
    condition: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 0.5,
    max_interval: float | None = None,
    describe: Callable[[], str] | None = None,
    fail: Callable[[], BaseException] | None = None,
) -> T:
    """Poll `condition` until it returns a truthy value and return that value.

    Every `interval` seconds by default: a wait is part of what a run measures (a takeover, a recovery), and a
    poll that backed off to seconds made both the figure and the run longer. A costly condition (a JMX query
    per poll) passes `max_interval` to back off towards it.

    Exceptions from `condition` count as "not yet" (a broker mid-restart refuses connections); the last one
    is quoted in the timeout message together with `describe()`, so a failure says what state it saw. With
    `fail`, a timeout raises what it returns instead (an error of the caller's, in the caller's words).
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    delay = interval
    ceiling = interval if max_interval is None else max_interval
    while True:
        try:
            value = condition()
            if value:
                return value
            last_error = None
        except Exception as exc:  # the condition probes a system that is allowed to be down
            last_error = exc
        if time.monotonic() >= deadline:
            if fail is not None:
                raise fail()
            detail = f"; last error: {last_error!r}" if last_error else ""
            if describe is not None:
                try:
                    detail += f"; state: {describe()}"
                except Exception as exc:
                    detail += f"; state unavailable: {exc!r}"
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, ceiling)
