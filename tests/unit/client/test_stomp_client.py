"""The STOMP session's bookkeeping of answers, frame by frame (no broker)."""

from __future__ import annotations

import stomp.utils

from harness.client.stomp_client import _Listener, _State


def frame(command: str, **headers: str) -> stomp.utils.Frame:
    return stomp.utils.Frame(command, headers, "")


def test_an_error_answering_an_ack_refuses_that_ack_and_is_not_the_sessions_error() -> None:
    state, calls = _State(), []
    listener = _Listener(state)
    for receipt in ("ack-1", "ack-2"):
        state.receipt_callbacks[receipt] = lambda r=receipt: calls.append(f"confirmed {r}")
        state.refusal_callbacks[receipt] = lambda error, r=receipt: calls.append(f"refused {r}: {error}")
    listener.on_error(frame("ERROR", message="No space left on device", **{"receipt-id": "ack-1"}))
    listener.on_receipt(frame("RECEIPT", **{"receipt-id": "ack-2"}))
    assert calls == ["refused ack-1: No space left on device", "confirmed ack-2"]
    assert state.errors == [] and state.receipt_callbacks == {} and state.refusal_callbacks == {}
    # an ERROR that answers nothing the session asked is the session's own: waits see it and give up
    listener.on_error(frame("ERROR", message="User name or password is invalid"))
    listener.on_error(frame("ERROR", message="late", **{"receipt-id": "ack-1"}))
    assert state.errors == ["User name or password is invalid", "late"]
    assert calls == ["refused ack-1: No space left on device", "confirmed ack-2"]
