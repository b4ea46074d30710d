"""A Compose node is a container: commands run in it through the Docker API, and its life-cycle state is read
from its log through the API (3 ms of CPU) rather than by running `amq-node-state` inside it (60 ms: at every
quarter-second poll of four nodes, as much CPU as the brokers starting up had); the healthcheck runs the
script, and a Docker test keeps the two agreeing."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import docker.errors
from docker.models.containers import Container

from harness.cluster.introspect import NodeNotRunning, next_state


def exec_in(container: Container, command: list[str], timeout: float = 60) -> tuple[int, str]:
    """Run `command` in the container with a deadline (coreutils' timeout: docker exec has none); its
    standard output, then its standard error.

    Kept apart, not as Docker interleaves them: a tool that writes to stderr while its stdout is still
    buffered (stomp-browse's count) would otherwise land inside a line of the listing, cutting one id."""
    try:
        result = container.exec_run(["timeout", "--kill-after=2", str(int(timeout)), *command], demux=True)
    except docker.errors.APIError as exc:
        if exc.status_code == 409:  # the container is not running, or is paused: a fault's doing, not a bug
            raise NodeNotRunning(f"{container.name}: {exc.explanation or exc}") from exc
        raise
    stdout, stderr = result.output or (None, None)
    return result.exit_code, ((stdout or b"") + (stderr or b"")).decode(errors="replace")


FREEZE_RETRY_FOR = 10.0  # seconds of "unable to freeze" answers before a freeze is given up


def pause(container: Container, retry_for: float = FREEZE_RETRY_FOR) -> None:
    """`docker pause`, tried again while cgroup v1's freezer answers "unable to freeze". runc gives up when a
    task keeps escaping the freeze (a fork, or an exec joining the cgroup: the harness's own reads exec into
    the brokers), and its authors call freezing under such traffic a game of chances (runc #2791); a fresh-clone
    `make test` lost a test to one such answer. Any other refusal, or the same one past `retry_for`, is raised."""
    deadline = time.monotonic() + retry_for
    while True:
        try:
            container.pause()
            return
        except docker.errors.APIError as exc:
            if "unable to freeze" not in str(exc) or time.monotonic() >= deadline:
                raise
        container.reload()
        if container.status == "paused":  # frozen after all: the answer came late, the freeze held
            return
        time.sleep(0.2)


# (container id, its current life's start) -> (state so far, timestamp of the last log line read): each poll
# reads only what the broker logged since the one before
_log_cursors: dict[tuple[str, str], tuple[str, float]] = {}
_log_cursors_lock = threading.Lock()


def _epoch(stamp: str) -> float:
    """Docker's RFC 3339 time with nanoseconds ("2026-11-28T01:58:49.056610463Z") as epoch seconds."""
    return datetime.fromisoformat(stamp).timestamp()


def node_state(container: Container) -> str:
    """down | frozen | starting | waiting | live | stopping, from the container and its current life's log."""
    try:
        container.reload()
    except docker.errors.NotFound:
        return "down"
    status = container.status
    if status == "paused":
        return "frozen"
    if status != "running":
        return "down"
    started = container.attrs["State"]["StartedAt"]
    key = (container.id, started)
    with _log_cursors_lock:
        if key not in _log_cursors:  # a new life: the container's earlier lives are read no more
            for stale in [k for k in _log_cursors if k[0] == container.id]:
                del _log_cursors[stale]
        state, since = _log_cursors.get(key, ("starting", _epoch(started)))
    try:
        raw = container.logs(stdout=True, stderr=True, timestamps=True, since=since)
    except docker.errors.APIError:
        return "unknown"
    last = None
    for line in raw.decode(errors="replace").splitlines():
        stamp, _, text = line.partition(" ")
        state = next_state(state, text.rstrip())
        last = stamp
    with _log_cursors_lock:
        _log_cursors[key] = (state, _epoch(last) if last else since)
    return state
