"""The compact form of a history: its plain sends and deliveries as columns beside the JSON lines.

A run of hours holds millions of sends and deliveries, and parsing a JSON line costs about a microsecond
whatever it holds: reading the lines was most of what checking a long run cost. So `History` writes every
plain send (invoke, ok) and plain delivery a second time into `<history>.compact/`, as columns: ids as lines
of text, times as float64, brokers and processes as indexes into `names.txt`; every other event goes whole
to `rest.jsonl`. The columns load with a few calls each instead of one parse per event.

The JSON lines stay the record: people read them, replay and the report use them. The compact form is only
a faster way to the same `Ledger`, and it is used only when it holds exactly the events the JSON lines hold
(same count, every column the same length): a run killed mid-write, or a history continued by hand, falls
back to the lines. Deleting the folder loses nothing.
"""

from __future__ import annotations

import array
import shutil
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

Event = dict[str, Any]

# the keys a send or a delivery has when nothing unusual happened; any other key sends the event to rest.jsonl
_PLAIN_INVOKE = frozenset({"i", "t", "p", "type", "f", "id"})
_PLAIN_OK = frozenset({"i", "t", "p", "type", "f", "id", "broker"})
_PLAIN_DELIVERY = frozenset({"i", "t", "p", "type", "f", "id", "broker", "redelivered"})
_DOUBLE = struct.Struct("<d")
_NAME = struct.Struct("<H")
_MAX_NAMES = 65_536


def compact_directory(history: Path) -> Path:
    return history.with_name(history.stem + ".compact")


class CompactWriter:
    """Appends each event to the columns (or to rest.jsonl). Not thread-safe: `History` holds its lock."""

    def __init__(self, directory: Path) -> None:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        self._files: dict[str, BinaryIO] = {}
        for name in (
            "names.txt",
            "attempted.ids",
            "acknowledged.ids",
            "acknowledged.t",
            "acknowledged.by",
            "delivered.ids",
            "delivered.t",
            "delivered.broker",
            "delivered.process",
            "delivered.redelivered",
            "rest.jsonl",
        ):
            self._files[name] = (directory / name).open("wb")
        self._names: dict[str, int] = {}
        self._packed: dict[str, bytes] = {}  # name -> its packed index
        self._attempted_ids = self._files["attempted.ids"]
        self._acknowledged_ids = self._files["acknowledged.ids"]
        self._acknowledged_t = self._files["acknowledged.t"]
        self._acknowledged_by = self._files["acknowledged.by"]

    def add(self, event: Event) -> None:
        # written for speed: two of these per send sit between a receipt and the producer's next send. Only
        # History calls this, and it gives every event i, t, p, type and f: a count and the other keys' presence
        # tell a plain send
        f, kind, size = event["f"], event["type"], len(event)
        message_id = event.get("id")
        plain = isinstance(message_id, str) and "\n" not in message_id
        if plain and f == "send":
            assert isinstance(message_id, str)
            if kind == "invoke" and size == len(_PLAIN_INVOKE):
                self._attempted_ids.write(message_id.encode() + b"\n")
                return
            if kind == "ok" and size == len(_PLAIN_OK) and "broker" in event:
                broker = self._name(event["broker"])
                if broker is not None:
                    self._acknowledged_ids.write(message_id.encode() + b"\n")
                    self._acknowledged_t.write(_DOUBLE.pack(event["t"]))
                    self._acknowledged_by.write(broker)
                    return
        elif plain and f == "deliver" and kind == "ok" and event.keys() == _PLAIN_DELIVERY:
            assert isinstance(message_id, str)
            broker, process = self._name(event["broker"]), self._name(event["p"])
            if broker is not None and process is not None and isinstance(event["redelivered"], bool):
                files = self._files
                files["delivered.ids"].write(message_id.encode() + b"\n")
                files["delivered.t"].write(_DOUBLE.pack(event["t"]))
                files["delivered.broker"].write(broker)
                files["delivered.process"].write(process)
                files["delivered.redelivered"].write(b"\x01" if event["redelivered"] else b"\x00")
                return
        self._files["rest.jsonl"].write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))

    def _name(self, name: object) -> bytes | None:
        """The packed index of a broker or process name; None sends the event to rest.jsonl."""
        packed = self._packed.get(name) if isinstance(name, str) else None
        if packed is not None:
            return packed
        if not isinstance(name, str) or not _plain(name):
            return None
        index = self._names.get(name)
        if index is None:
            if len(self._names) >= _MAX_NAMES:
                return None
            index = self._names[name] = len(self._names)
            self._files["names.txt"].write(name.encode() + b"\n")
        packed = self._packed[name] = _NAME.pack(index)
        return packed

    def close(self) -> None:
        for file in self._files.values():
            file.close()


def _plain(text: object) -> bool:
    return isinstance(text, str) and "\n" not in text


@dataclass
class CompactHistory:
    attempted: list[str]
    acknowledged: list[str]
    acknowledged_t: array.array[float]
    acknowledged_by: list[str]
    delivered: list[str]
    delivered_t: array.array[float]
    delivered_broker: list[str]
    delivered_process: list[str]
    delivered_redelivered: bytes
    rest_lines: list[bytes]

    @property
    def events(self) -> int:
        return len(self.attempted) + len(self.acknowledged) + len(self.delivered) + len(self.rest_lines)

    def delivery(self, position: int) -> tuple[float, str, bool, str]:
        """(t, broker, redelivered, process) of the plain delivery at `position` in the columns."""
        return (
            self.delivered_t[position],
            self.delivered_broker[position],
            bool(self.delivered_redelivered[position]),
            self.delivered_process[position],
        )

    def rest(self) -> Iterator[Event]:
        return map(orjson.loads, self.rest_lines)


def read_compact(history: Path) -> CompactHistory | None:
    """The compact form of `history` if it is there and holds exactly the history's events, else None."""
    directory = compact_directory(history)
    if not directory.is_dir():
        return None
    expected = _events_in(history)
    if expected is None:
        return None
    try:
        names = _lines(directory / "names.txt")
        compact = CompactHistory(
            attempted=_lines(directory / "attempted.ids"),
            acknowledged=_lines(directory / "acknowledged.ids"),
            acknowledged_t=_doubles(directory / "acknowledged.t"),
            acknowledged_by=list(map(names.__getitem__, _indexes(directory / "acknowledged.by"))),
            delivered=_lines(directory / "delivered.ids"),
            delivered_t=_doubles(directory / "delivered.t"),
            delivered_broker=list(map(names.__getitem__, _indexes(directory / "delivered.broker"))),
            delivered_process=list(map(names.__getitem__, _indexes(directory / "delivered.process"))),
            delivered_redelivered=(directory / "delivered.redelivered").read_bytes(),
            rest_lines=(directory / "rest.jsonl").read_bytes().splitlines(),
        )
    except (OSError, ValueError, IndexError):  # a torn or missing column: the JSON lines are the record
        return None
    columns_agree = len(compact.acknowledged) == len(compact.acknowledged_t) == len(
        compact.acknowledged_by
    ) and len(compact.delivered) == len(compact.delivered_t) == len(compact.delivered_broker) == len(
        compact.delivered_process
    ) == len(compact.delivered_redelivered)
    if not columns_agree or compact.events != expected:
        return None
    return compact


def _events_in(history: Path) -> int | None:
    """The number of events in a history file, from the index of its last line; None if that line is torn,
    or the history is kept compressed (read whole instead: a gzip stream has no cheap end to seek to)."""
    if history.suffix == ".gz" or not history.exists():
        return None
    try:
        with history.open("rb") as file:
            size = file.seek(0, 2)
            file.seek(max(0, size - 65_536))
            tail = file.read()
    except OSError:
        return None
    if not tail.endswith(b"\n"):
        return None
    last = tail[:-1].rpartition(b"\n")[2]
    try:
        event = orjson.loads(last)
    except orjson.JSONDecodeError:
        return None
    if event.get("type") == "header":
        return 0
    index = event.get("i")
    return index + 1 if isinstance(index, int) else None


def _lines(path: Path) -> list[str]:
    data = path.read_bytes()
    if not data:
        return []
    if not data.endswith(b"\n"):
        raise ValueError(f"{path} ends mid-line")
    return data[:-1].decode().split("\n")


def _doubles(path: Path) -> array.array[float]:
    return _column("d", path)


def _indexes(path: Path) -> array.array[int]:
    return _column("H", path)


def _column(code: str, path: Path) -> array.array[Any]:
    values = array.array(code)
    values.frombytes(path.read_bytes())  # ValueError if torn mid-value
    if sys.byteorder == "big":  # written little-endian
        values.byteswap()
    return values
