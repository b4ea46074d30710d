"""A broker's state read from its process and its log, a poll at a time, for backends that reach a node by
running commands on it (SSH hosts, Kubernetes pods): one command prints the process's state, its pid, the log's
size and the log since the last poll; the cursor keeps where that poll stopped, in which life of the broker."""

from __future__ import annotations

import dataclasses
import shlex
import threading

from harness.cluster.introspect import next_state
from harness.errors import HarnessError

PROCESS_STATES = ("running", "frozen", "down")


@dataclasses.dataclass
class _Cursor:
    pid: str = ""
    offset: int = 0
    state: str = "starting"


def probe_line(process: str, log: str, offset: int | None) -> str:
    """The one shell line of a poll: `process` sets $s (running, frozen or down) and $pid; then, unless
    `offset` is None, the log's size and what follows `offset`."""
    line = process + 'echo "$s ${pid:-0}"; '
    if offset is not None:
        quoted = shlex.quote(log)
        line += f"stat -c %s {quoted} 2>/dev/null || echo 0; tail -c +{offset + 1} {quoted} 2>/dev/null"
    return line


def parse_probe(node: str, code: int, out: str, with_log: bool) -> tuple[str, str, int, str]:
    """(running | frozen | down, pid, log size, log since the cursor) from a poll's output."""
    head, _, rest = out.partition("\n")
    words = head.split()
    if code != 0 or len(words) != 2 or words[0] not in PROCESS_STATES:
        raise HarnessError(f"{node}: cannot read its broker's state: {out.strip()[:200]}")
    if not with_log:
        return words[0], words[1], 0, ""
    size_line, _, text = rest.partition("\n")
    return words[0], words[1], int(size_line.strip() or 0), text


class LogCursors:
    def __init__(self) -> None:
        self._cursors: dict[str, _Cursor] = {}
        self._lock = threading.Lock()

    def offset(self, node: str) -> int:
        with self._lock:
            return self._cursors.get(node, _Cursor()).offset

    def advance(self, node: str, pid: str, size: int, text: str, start: int) -> str | None:
        """The node's state after reading `text` (its log from offset `start` on, where the cursor was when
        the poll began), or None when the broker began a new life (another pid, or a log that started over):
        then poll again, from the start."""
        with self._lock:
            cursor = self._cursors.setdefault(node, _Cursor())
            if cursor.pid != pid or size < cursor.offset:
                cursor.pid, cursor.offset, cursor.state = pid, 0, "starting"
                return None
            if start != cursor.offset:
                # another poll of the node (the sampler's, the harness's) read from the same place and moved
                # the cursor first: this text is counted already, or begins before what is left to read, and
                # counting it again would carry the cursor past lines nobody read (a takeover's line skipped,
                # the node read `starting` for good; seen on the SSH backend with two test workers)
                return cursor.state
            # whole lines only: the broker may be half-way through writing the last one, which the next poll
            # reads whole (a line read in two pieces would match no state, and a takeover would go unseen)
            complete = text[: text.rfind("\n") + 1]
            for line in complete.splitlines():
                cursor.state = next_state(cursor.state, line.rstrip())
            cursor.offset += len(complete.encode())
            return cursor.state
