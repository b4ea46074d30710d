"""The run's history: an append-only JSON-lines file of every operation and fault, in Jepsen's manner.

Line 1 is a header (`"type": "header"`) with the run's seed and configuration. Every other line is an event:

    {"i": 17, "t": 3.204118, "p": "producer-0", "type": "ok", "f": "send", "id": "p0-12", "broker": "chaos-mq01-a"}

- `i` is the position in the file, `t` seconds since the run started (monotonic clock), `p` the process
  (producer-N, consumer-N, nemesis, harness);
- `type`: invoke (an operation begins), ok (it happened), fail (it certainly did not happen), info (it may or
  may not have happened: a send whose receipt never came);
- `f`: send, deliver, connect, fault, heal, phase; further keys are the operation's value.

Events go to disk as they happen, at most `FLUSH_INTERVAL` later, so a killed run still leaves its evidence
(all but its last fifth of a second) and memory stays flat however long the run is. Plain sends and
deliveries also go, as columns, to the compact form beside the file (`harness.compact`), which the checkers
read instead when it is complete; everything else reads the lines with `read_history`. A run's history ends
with its final-state phase; `history_gaps` says what one cut short lacks.
"""

from __future__ import annotations

import gzip
import json
import shutil
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from harness import phases
from harness.compact import CompactWriter, Event, compact_directory

TYPES = frozenset({"invoke", "ok", "fail", "info"})
# a producer appends two events per send between one receipt and its next send: a write(2) for each was a
# fifth of the harness's own work per send (benchmarks/workload_throughput.py), so lines are buffered and
# flushed this often, and at close
FLUSH_INTERVAL = 0.2
# the scenario name of the history faults driven by hand go to (`amq-chaos fault`): no run, so no phases
BY_HAND = "manual"
# a header key of a history the harness wrote whole, not recorded (a shrink candidate, `minimal.jsonl`): it holds
# only what a replay redoes, so it has no phases, and it cannot have been cut short
BUILT = "built"
_FINAL_STATE = orjson.dumps(phases.FINAL_STATE)  # as the phase's name appears in a line, quotes and all
# the histories this process has open, by resolved path: a read of one in the process that writes it sees
# every event appended so far (read_history flushes the writer first)
_WRITERS: weakref.WeakValueDictionary[Path, History] = weakref.WeakValueDictionary()


class History:
    def __init__(self, path: Path, header: dict[str, Any], *, append: bool = False) -> None:
        """A new history at `path`; with `append`, continue the one there (faults driven by hand, one
        command at a time). Times stay on one clock: CLOCK_MONOTONIC is shared by every process here."""
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._closed = False
        self._compact: CompactWriter | None = None
        _WRITERS[path.resolve()] = self
        if append and path.exists():
            # the compact form would miss what came before: the checkers will read the lines
            shutil.rmtree(compact_directory(path), ignore_errors=True)
            self._started = float(read_header(path).get("monotonic_origin", time.monotonic()))
            with path.open("rb") as existing:
                self._index = sum(1 for _ in existing) - 1
            self._file: BinaryIO = path.open("ab", buffering=0)
            return
        self._index = 0
        self._started = time.monotonic()
        # bytes, with no text layer to encode them again; flushed every FLUSH_INTERVAL by a thread of its own
        self._file = path.open("wb")
        self._compact = CompactWriter(compact_directory(path))
        # the wall-clock time of t=0, to place broker log lines (which carry wall-clock stamps) on the run's axis
        header = {"type": "header", **header, "monotonic_origin": self._started, "wall_origin": time.time()}
        self._file.write((json.dumps(header, sort_keys=True) + "\n").encode())
        self._file.flush()
        threading.Thread(target=self._flush_every_interval, name="history-flush", daemon=True).start()

    def _flush_every_interval(self) -> None:
        while not self._closed:
            time.sleep(FLUSH_INTERVAL)
            self.flush()

    def now(self) -> float:
        return time.monotonic() - self._started

    def append(self, process: str, type_: str, f: str, **value: Any) -> Event:
        if type_ not in TYPES:
            raise ValueError(f"event type {type_!r} is not one of {sorted(TYPES)}")
        with self._lock:
            if self._closed:
                raise RuntimeError("history is closed")
            event = {
                "i": self._index,
                "t": round(time.monotonic() - self._started, 6),
                "p": process,
                "type": type_,
                "f": f,
                **value,
            }
            self._index += 1
            self._file.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
            if self._compact is not None:
                self._compact.add(event)
        return event

    def flush(self) -> None:
        """Write out what the buffer holds now, for a reader of the file while the run goes on."""
        with self._lock:
            if not self._closed:
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._file.close()
                if self._compact is not None:
                    self._compact.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_history(path: Path) -> BinaryIO:
    """A history's bytes: read through gzip where it was compressed (`history.jsonl.gz`, as CI artifacts keep
    it), and from `path.gz` where only the compressed copy is left beside an absent `path`."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    packed = path.with_name(path.name + ".gz")
    if not path.exists() and packed.exists():
        return gzip.open(packed, "rb")  # type: ignore[return-value]
    return path.open("rb")


def read_header(path: Path) -> dict[str, Any]:
    with open_history(path) as lines:
        header = json.loads(lines.readline())
    if header.get("type") != "header":
        raise ValueError(f"{path} does not start with a history header")
    return header


def read_history(path: Path) -> Iterator[Event]:
    """Events in order, header skipped. A torn last line (the run was killed mid-write) is ignored. A history
    this process is still writing is read up to its last event."""
    writer = _WRITERS.get(path.resolve())
    if writer is not None:
        writer.flush()
    with open_history(path) as lines:
        lines.readline()
        try:
            for line in lines:
                try:
                    yield orjson.loads(line)  # the checkers read millions of lines: orjson is ~4x json
                except orjson.JSONDecodeError:
                    if line.endswith(b"\n"):
                        raise
                    return
        except EOFError:  # a compressed copy cut short (an upload that stopped): read up to the cut
            return


@dataclass(frozen=True)
class HistoryGaps:
    """What a history lacks of a whole run's record (`history_gaps`); false when it lacks nothing."""

    header: bool = True  # its first line is a history header
    torn: bool = False  # its last line was cut mid-line (no newline, not JSON): the writer was killed
    events: int = 0  # whole events, the header not counted (what `read_history` yields)
    last_t: float | None = None  # the last whole event's time
    final_state: bool = True  # it holds its final-state phase, or is not a run's record and needs none

    @property
    def lacks(self) -> list[str]:
        """Each gap as a clause whose subject is the history."""
        found = []
        if not self.header:
            found.append("has no header")
        if self.torn:
            last = f" (the last at t={self.last_t:.1f} s)" if self.last_t is not None else ""
            found.append(f"ends mid-line after {self.events} whole events{last}")
        if not self.final_state:
            found.append(f"has no {phases.FINAL_STATE} phase")
        return found

    def describe(self) -> str:
        """The gaps in one phrase ("ends mid-line after 23 whole events (...) and has no final-state phase");
        empty when there are none."""
        found = self.lacks
        return ", ".join(found[:-1]) + (" and " if len(found) > 1 else "") + (found[-1] if found else "")

    def __bool__(self) -> bool:
        return bool(self.lacks)


def history_gaps(path: Path) -> HistoryGaps:
    """What the history at `path` lacks: a header, a whole last line, the final-state phase a run records once
    its drain ended. A history driven by hand or built by the harness needs no phases. Only the last line and
    the lines naming the final state are parsed: a long run's history has millions."""
    header: dict[str, Any] | None = None
    torn = False
    events = 0
    last = b""
    final_state = False
    with open_history(path) as lines:
        first = lines.readline()
        try:
            parsed = orjson.loads(first)
            header = parsed if isinstance(parsed, dict) and parsed.get("type") == "header" else None
        except orjson.JSONDecodeError:
            torn = not first.endswith(b"\n") and bool(first)
        try:
            for line in lines:
                if not line.endswith(b"\n"):
                    try:
                        orjson.loads(line)
                    except orjson.JSONDecodeError:
                        torn = True  # what read_history skips
                        break
                events += 1
                last = line
                if _FINAL_STATE in line and not final_state:
                    event = orjson.loads(line)
                    final_state = event.get("f") == "phase" and event.get("phase") == phases.FINAL_STATE
        except EOFError:  # a compressed copy cut short
            torn = True
    needs_phases = header is None or not (header.get("scenario") == BY_HAND or header.get(BUILT))
    last_t = orjson.loads(last).get("t") if events else None
    return HistoryGaps(
        header=header is not None,
        torn=torn,
        events=events,
        last_t=float(last_t) if isinstance(last_t, int | float) else None,
        final_state=final_state or not needs_phases,
    )
