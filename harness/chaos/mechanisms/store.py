"""The store family: a pair's shared store filled, its lock file deleted or held by a process that is no
broker."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from harness.chaos.faults import fault_kind
from harness.cluster.backend import NodeControl
from harness.cluster.leftovers import BALLAST, HOLDER_PATTERN, HOLDER_TAG
from harness.errors import HarnessError
from harness.history import History

MAX_FILLED = 4 * 1024**3  # the largest store fill-store fills: STORE_SIZE's upper bound
LOCK_HELD = "/tmp/amqchaos-lock-held"
# the holder's pid, written before it waits for the lock: its release needs no pkill (a user's broker image may
# have no procps)
HOLDER_PID = "/tmp/amqchaos-lock-holder.pid"
# a POSIX (fcntl) write lock on the whole file, the kind Java's FileChannel.tryLock takes on Linux: a flock(1)
# lock would not stop a broker. struct flock on x86-64: short type, short whence, pad, off_t start, off_t
# len, pid_t pid, pad.
HOLD_LOCK = f"""# {HOLDER_TAG}
use Fcntl qw(F_SETLKW F_WRLCK SEEK_SET O_RDWR O_CREAT);
open(my $pid, ">", "{HOLDER_PID}"); print $pid "$$\\n"; close($pid);
sysopen(my $fh, $ARGV[0], O_RDWR | O_CREAT) or die "open: $!";
my $lock = pack("s s x4 q q l x4", F_WRLCK, SEEK_SET, 0, 0, 0);
fcntl($fh, F_SETLKW, $lock) or die "lock: $!";
open(my $held, ">", "{LOCK_HELD}"); close($held);
sleep 3600 while 1;
"""


class StoreFaults:
    def __init__(self, cluster: NodeControl, history: History, resolve: Callable[[str], str]) -> None:
        self.cluster = cluster
        self.history = history
        self.resolve = resolve  # a role (live:01) to the node that has it now

    def fill_store(self, pair: str, free: int) -> None:
        """Fill the pair's store volume with a ballast file, leaving `free` bytes (from the `store` container,
        which holds the size-limited volumes whichever broker is up)."""
        if not self.cluster.settings.store_size:
            raise HarnessError(
                "fill-store needs a size-limited store: run with STORE_SIZE=128m (a scenario marks it with "
                "chaos_cluster(store_size=...)); an ordinary store is on the host's disk"
            )
        if self.cluster.settings.design.pure_master_slave:
            raise HarnessError(
                "fill-store fills a pair's shared store; pure-master-slave nodes have one each"
            )
        where, folder = self.cluster.store_folder(pair)
        # the broker writes meanwhile: a ballast sized from df can find less room than df said, so it is
        # retried smaller, and with nothing to be left free the last pages are taken by writing until ENOSPC
        top_up = f"dd if=/dev/zero of={folder}/{BALLAST}.rest bs=4096 2>/dev/null; " if free == 0 else ""
        # never a disk that holds more than the store (a server's own, an SSH host whose store is not a mount of
        # its own): only a filesystem no bigger than the largest STORE_SIZE is filled
        script = (
            f"total=$(df -B1 --output=size {folder} | tail -1); "
            f'[ "$total" -le {MAX_FILLED} ] || {{ echo "{folder} is $total bytes: fill-store fills only a store '
            f'of at most 4g (a size-limited mount of its own)"; exit 1; }}; '
            f"for try in 0 1 2 3 4 5 6 7; do "
            f"avail=$(df -B1 --output=avail {folder} | tail -1); size=$((avail - {free} - try * 262144)); "
            f'[ "$size" -gt 0 ] || {{ echo "only $avail bytes free"; exit 1; }}; '
            f"fallocate -l $size {folder}/{BALLAST} 2>/dev/null && break; done; "
            f"[ -e {folder}/{BALLAST} ] || {{ echo 'no ballast fitted'; exit 1; }}; "
            f"{top_up}df -B1 --output=avail {folder} | tail -1"
        )
        self._recorded(
            "fault", "fill-store", pair, where, ["sh", "-c", script], free=free, nodes=self._members(pair)
        )

    def free_store(self, pair: str, *, heals: str) -> None:
        where, folder = self.cluster.store_folder(pair)
        command = ["rm", "-f", f"{folder}/{BALLAST}", f"{folder}/{BALLAST}.rest"]
        self._recorded("heal", "free-store", pair, where, command, heals=heals)

    def delete_lock(self, pair: str, settle: float = 3.0) -> None:
        """Delete the pair's lock file, from its live node (any running one if none is live). The fault is
        over when its consequence is: the live broker stopped (a design that checks its lock) or it is still
        live `settle` seconds later (one that does not); recorded in the ok as `live_after`. Until then the
        checkers count it in force on the pair's nodes, as a kill is while its broker goes.

        "Stopped" is read from the broker's log, not its state: ActiveMQ restarts a broker that gave up its
        lock in the same JVM, and the restarted one took the new lock file 35 ms later, before its partner's
        next try (seen), too fast for a state polled every 0.1 s."""
        node = self._member(pair, "live")
        shutdowns_before = self._shutdowns(node)
        self.history.append(
            "nemesis", "invoke", "fault", action="lose-lock", target=pair, node=node,
            nodes=self._members(pair), heal=None,
        )  # fmt: skip
        code, out = self.cluster.exec(node, "rm", self.cluster.lock_file(pair))
        if code != 0:
            self.history.append("nemesis", "fail", "fault", action="lose-lock", target=pair, error=out[:200])
            raise HarnessError(f"lose-lock {pair} failed in {node}: {out.strip()[:200]}")
        deadline = time.monotonic() + settle
        while not (stopped := self._shutdowns(node) > shutdowns_before) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.history.append("nemesis", "ok", "fault", action="lose-lock", target=pair, live_after=not stopped)

    def _shutdowns(self, node: str) -> int:
        """How many times the node's broker began to shut down since its container started (its log)."""
        code, out = self.cluster.exec(
            node, "grep", "-c", r") is shutting down", self.cluster.broker_log(node)
        )
        return int(out.split()[0]) if code in (0, 1) and out.split() else 0

    def _members(self, pair: str) -> list[str]:
        return [n.name for n in self.cluster.topology.nodes if n.pair == pair]

    def hold_lock(self, pair: str) -> str:
        """Start a process in the pair's waiting node that takes the store's lock as soon as it is free and
        keeps it; returns that node. The process shows it holds the lock by a file (`LOCK_HELD`)."""
        node = self._member(pair, "waiting")
        self.history.append(
            "nemesis",
            "invoke",
            "fault",
            action="hold-lock",
            target=pair,
            node=node,
            nodes=self._members(pair),
            heal="release-lock",
        )
        try:
            self.cluster.exec_detached(node, "perl", "-e", HOLD_LOCK, self.cluster.lock_file(pair))
        except Exception as exc:
            self.history.append(
                "nemesis", "fail", "fault", action="hold-lock", target=pair, error=repr(exc)[:200]
            )
            raise HarnessError(f"hold-lock {pair}: {exc}") from exc
        self.history.append("nemesis", "ok", "fault", action="hold-lock", target=pair, node=node)
        return node

    def release_lock(self, pair: str, node: str, *, heals: str) -> None:
        # a holder whose container has died since released the lock with it
        # the pattern in brackets matches the holder, not this shell, whose own command line holds the pattern
        command = [
            "sh",
            "-c",
            f"[ -r {HOLDER_PID} ] && kill $(cat {HOLDER_PID}) 2>/dev/null; "
            f"pkill -f '{HOLDER_PATTERN}' 2>/dev/null; rm -f {HOLDER_PID} {LOCK_HELD}; true",
        ]
        self._recorded("heal", "release-lock", pair, node, command, heals=heals, node=node)

    def _member(self, pair: str, role: str) -> str:
        """The pair's node in `role` now, else any of its running nodes."""
        try:
            return self.resolve(f"{role}:{pair}")
        except HarnessError:
            running = [m for m in self._members(pair) if self.cluster.process_running(m)]
            if not running:
                raise HarnessError(f"pair {pair} has no running node") from None
            return running[0]

    def _recorded(
        self, phase: str, action: str, target: str, where: str, command: list[str], **record: Any
    ) -> str:
        """Run `command` in the container `where` as a recorded fault or heal (invoke, then ok with what it
        printed, or fail); returns its output."""
        heals = record.get("heals")
        if phase == "fault":
            record["heal"] = fault_kind(action).heal
        self.history.append("nemesis", "invoke", phase, action=action, target=target, **record)
        code, out = self.cluster.exec(where, *command)
        done = {"heals": heals} if heals else {}
        if code != 0:
            error = out.strip()[:200]
            self.history.append("nemesis", "fail", phase, action=action, target=target, error=error, **done)
            raise HarnessError(f"{action} {target} failed in {where}: {error}")
        self.history.append(
            "nemesis", "ok", phase, action=action, target=target, output=out.strip()[:200], **done
        )
        return out
