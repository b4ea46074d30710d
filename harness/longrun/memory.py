"""The harness's own memory over a long run: RSS sampled from /proc every few seconds into a JSON-lines file,
so a soak shows whether memory stays flat for hours (and the file survives a killed run)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import json
import threading
import time
from pathlib import Path


def rss_mib(field: str = "VmRSS") -> float:
    """This process's resident set (VmRSS) or its peak so far (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


M_ARENA_MAX = -8  # glibc's mallopt parameter


@functools.cache  # find_library runs ldconfig: once per process, not at every checkpoint
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Let all threads share `arenas` malloc arenas (MALLOC_ARENA_MAX). Every soak window starts new client
    threads; with glibc's default (8 per core) each grabs an arena of its own and leaves it fragmented, and
    RSS climbed window after window (50 -> 80 MiB over a 30-minute soak) while live objects stayed flat."""
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None)
    return bool(mallopt and mallopt(M_ARENA_MAX, arenas) == 1)


def release_free_memory() -> int:
    """Collect cycles and hand freed heap pages back to the OS (glibc's malloc_trim), so that RSS measures
    what is live rather than the high-water mark of the biggest window; returns the live Python objects."""
    gc.collect()
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)
    return len(gc.get_objects())


class MemoryRecorder:
    def __init__(self, path: Path, interval: float = 10.0) -> None:
        self.path = path
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (seconds since start, RSS MiB): 2,880 for 8 h
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory", daemon=True)

    def __enter__(self) -> MemoryRecorder:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 1)
        self.sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> float:
        value = rss_mib()
        t = round(time.monotonic() - self._started, 1)
        self.samples.append((t, round(value, 2)))
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"t": t, "rss_mib": round(value, 2)}) + "\n")
        return value

    @property
    def peak(self) -> float:
        return max([rss_mib("VmHWM"), *(rss for _, rss in self.samples)])
