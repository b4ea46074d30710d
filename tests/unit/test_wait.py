"""Every wait has a deadline, and its timeout says what was awaited and what was seen last."""

from __future__ import annotations

import pytest

from harness.wait import WaitTimeout, wait_until


def test_a_timeout_names_what_was_awaited_the_last_error_and_the_state() -> None:
    def never() -> bool:
        raise ConnectionRefusedError("broker restarting")

    with pytest.raises(WaitTimeout, match=r"waiting for the bridge.*broker restarting.*state: 0 bridges"):
        wait_until(never, timeout=0.05, what="the bridge", interval=0.01, describe=lambda: "0 bridges")


def test_a_caller_s_own_error_replaces_the_timeout_and_a_value_is_returned_once_true() -> None:
    class NotReady(Exception):
        pass

    with pytest.raises(NotReady, match="pods pending"):
        wait_until(
            lambda: False, timeout=0.05, what="pods", interval=0.01, fail=lambda: NotReady("pods pending")
        )
    answers = iter([0, None, "ready"])
    assert wait_until(lambda: next(answers), timeout=5, what="an answer", interval=0.001) == "ready"
