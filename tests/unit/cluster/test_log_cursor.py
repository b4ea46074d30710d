"""The log cursor of the backends that poll a node by command (SSH hosts, Kubernetes pods): two polls of one
node at once (the sampler's thread and the harness's) must not count the same bytes twice, or the cursor
runs past lines nobody read and a node that logged its state is read `starting` for good."""

from __future__ import annotations

from harness.cluster.log_cursor import LogCursors

NODE = "chaos-mq02-a"
BOOT = "2026-12-07 08:20:01,000 INFO  [main] BrokerService - Using Persistence Adapter: KahaDB\n" * 3
WAITING = (
    "2026-12-07 08:20:03,000 INFO  [main] SharedFileLocker - Database /kahadb/lock is locked by another "
    "server. This broker is now in slave mode waiting a lock to be acquired\n"
)
JMX = "2026-12-07 08:20:03,100 INFO  [JMX connector] ManagementContext - JMX consoles can connect\n" * 4


def poll(cursors: LogCursors, log: str) -> tuple[int, str]:
    """What a poll reads: from where the cursor is when it begins."""
    start = cursors.offset(NODE)
    return start, log.encode()[start:].decode()


def test_two_polls_from_the_same_place_count_what_they_read_once() -> None:
    cursors = LogCursors()
    assert cursors.advance(NODE, "2063", 0, "", 0) is None  # a new life: poll again from the start
    log = BOOT
    first, second = poll(cursors, log), poll(cursors, log)  # begun together, before either advanced
    assert cursors.advance(NODE, "2063", len(log), second[1], second[0]) == "starting"
    assert cursors.advance(NODE, "2063", len(log), first[1], first[0]) == "starting"
    assert cursors.offset(NODE) == len(BOOT)
    # the slave's line comes, then more than the first poll's bytes: nothing may skip it
    log += WAITING + JMX
    start, text = poll(cursors, log)
    assert cursors.advance(NODE, "2063", len(log), text, start) == "waiting"
    assert cursors.offset(NODE) == len(log)


def test_a_poll_of_a_new_life_still_starts_over() -> None:
    cursors = LogCursors()
    cursors.advance(NODE, "2040", 0, "", 0)
    cursors.advance(NODE, "2040", len(BOOT), BOOT, 0)
    assert cursors.advance(NODE, "2063", 10, BOOT[:10], len(BOOT)) is None  # another pid
    assert cursors.offset(NODE) == 0
