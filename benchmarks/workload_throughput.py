"""Prints acknowledged sends per second through the VIP: the harness's workload against a bare stomp.py loop
on the same cluster (target: the harness reaches at least 95 % of the bare rate).

    .venv/bin/python benchmarks/workload_throughput.py [MESSAGES] [--json]

Both send the same frames (persistent, the harness's id as body and as a header) one at a time and wait for
each receipt (a receipt is the broker's word that the message is on disk); the harness also writes every
invoke/ok to its history and tracks ids.
"""

from __future__ import annotations

import dataclasses
import json
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import stomp

from harness.client.workload import Workload, WorkloadConfig
from harness.cluster.control import Cluster, free_port
from harness.history import History, read_history
from harness.settings import ROOT, Settings

# more rounds than the 5 of before: a median of 5 paired ratios moved by a few percent from run to run
ROUNDS = 9
# both clients go through the VIP to the same master: the VIP's round robin alternates between the masters,
# and with the two clients taking turns each one always landed on the same master, whose speed differs
PAIR = "01"


def bare_rate(port: int, user: str, password: str, messages: int, vhost: str | None = None) -> float:
    received = threading.Event()
    pending: set[str] = set()

    class Receipts(stomp.ConnectionListener):
        def on_receipt(self, frame: stomp.utils.Frame) -> None:
            pending.discard(frame.headers["receipt-id"])
            received.set()

    conn = stomp.Connection12([("127.0.0.1", port)], heartbeats=(0, 0), vhost=vhost)
    conn.set_listener("r", Receipts())
    conn.connect(user, password, wait=True)
    started = time.perf_counter()
    for n in range(messages):
        receipt = f"r{n}"
        pending.add(receipt)
        received.clear()
        # the frame the workload sends, header for header: a broker stores the harness's id as a message
        # property, work the bare loop must do too for the ratio to be the harness's own cost
        message_id = f"b0-{n}"
        headers = {"harness-id": message_id, "persistent": "true", "receipt": receipt}
        conn.send("/queue/bench.bare", message_id, headers=headers)
        while receipt in pending:
            received.wait(5)
    elapsed = time.perf_counter() - started
    conn.disconnect()
    return messages / elapsed


def empty_queue(port: int, user: str, password: str, queue: str, vhost: str, quiet: float = 0.5) -> int:
    """Consume `queue` until nothing has come for `quiet` seconds (at most a minute); how many came."""
    came = threading.Event()
    count = 0

    class Counter(stomp.ConnectionListener):
        def on_message(self, frame: stomp.utils.Frame) -> None:
            nonlocal count
            count += 1
            came.set()

    conn = stomp.Connection12([("127.0.0.1", port)], heartbeats=(0, 0), vhost=vhost)
    conn.set_listener("c", Counter())
    conn.connect(user, password, wait=True)
    conn.subscribe(f"/queue/{queue}", id="drain", ack="auto")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and came.wait(quiet):
        came.clear()
    conn.disconnect()
    return count


def harness_rate(cluster: Cluster, messages: int) -> float:
    config = WorkloadConfig(producers=1, consumers=0, rate=0, queue="bench.harness")
    with tempfile.TemporaryDirectory() as tmp, History(Path(tmp) / "h.jsonl", {"seed": 0}) as history:
        workload = Workload(
            history,
            lambda node=None, **kw: cluster.stomp(node, **{**kw, "route": PAIR}),
            config,
        )
        workload.start_producers()
        # a coarse poll, only to know when enough receipts have come: the rate itself is read from the
        # history's receipt times, not from this loop's clock, which must not cost the producer its CPU
        while workload.snapshot().acknowledged < messages + 1:
            time.sleep(0.05)
        workload.stop()
        receipts = [e["t"] for e in read_history(history.path) if e["f"] == "send" and e["type"] == "ok"]
    # timed from the first receipt, as the bare loop is timed from its first send once connected: the
    # session's connect (through the VIP, learning the broker's name) is not a per-message cost
    return messages / (receipts[messages] - receipts[0])


class InstantSession:
    """A session whose broker answers at once: what is left of a send is the harness's own work."""

    broker_name = "instant"

    def send(self, *_args: object, **_kwargs: object) -> str:
        return "receipt"

    def wait_receipts(self, *_args: object, **_kwargs: object) -> None:
        return None

    def close(self) -> None:
        return None


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def own_work_us(seconds: float = 2.0) -> float:
    """Microseconds of harness work per send (history, ids, counters, pacing) with no broker in the way."""
    config = WorkloadConfig(producers=1, consumers=0, rate=0, queue="bench.instant")
    with tempfile.TemporaryDirectory() as tmp, History(Path(tmp) / "h.jsonl", {"seed": 0}) as history:
        workload = Workload(history, lambda **_kw: InstantSession(), config)
        workload.start_producers()
        time.sleep(seconds)
        workload.stop()
        return seconds / max(1, workload.snapshot().acknowledged) * 1e6


def main() -> None:
    as_json = "--json" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--json"]
    messages = int(args[0]) if args else 3000
    settings = dataclasses.replace(
        Settings.from_env(), vip_port=free_port(), runs_dir=ROOT / "runs" / "bench"
    )
    with Cluster(settings, log=lambda *_: None) as cluster:
        creds = settings.credentials
        rates: dict[str, list[float]] = {"bare": [], "harness": []}
        cpu: dict[str, list[float]] = {"bare": [], "harness": []}  # this process's CPU-us per send
        measure = {
            "bare": lambda: bare_rate(
                cluster.vip_port,
                creds.client_user,
                creds.client_password,
                messages,
                vhost=cluster.topology.pair_name(PAIR),
            ),
            "harness": lambda: harness_rate(cluster, messages),
        }

        def purge() -> None:
            """Take both queues' messages off the broker: with every round's messages left there, the last
            rounds ran up to a third slower than the first (a growing store), whichever client they were."""
            for queue in ("bench.bare", "bench.harness"):
                empty_queue(
                    cluster.vip_port,
                    creds.client_user,
                    creds.client_password,
                    queue,
                    cluster.topology.pair_name(PAIR),
                )

        measure["bare"]()  # a warm-up for the broker's JIT and the store, not counted
        purge()
        # interleaved, and each going first in turn: this machine's rate drifts by a fifth from one round to
        # the next, so each round's two rates are compared with each other (the paired ratios below)
        for round_ in range(ROUNDS):
            for who in ("bare", "harness") if round_ % 2 == 0 else ("harness", "bare"):
                before = cpu_seconds()
                rates[who].append(measure[who]())
                cpu[who].append((cpu_seconds() - before) / messages * 1e6)
                purge()
    bare, harness = max(rates["bare"]), max(rates["harness"])
    # each round's harness against the bare loop beside it: the figure, since the best rounds of each client
    # fall where the machine's drift lets them (best of 5 gave 90 % to 98 % for the same code)
    paired = statistics.median(h / b for h, b in zip(rates["harness"], rates["bare"], strict=True))
    work = own_work_us()
    # in place, beside the brokers on the same cores, every thread of the client: what the sends cost the
    # machine, where own_work_us is the harness's share in a hot loop with nothing else running
    cpu_bare, cpu_harness = statistics.median(cpu["bare"]), statistics.median(cpu["harness"])
    if as_json:  # for benchmarks/bench.py
        figures = {
            "messages": messages,
            "rounds": ROUNDS,
            "bare": bare,
            "harness": harness,
            "ratio": paired,
            "best_ratio": harness / bare,
        }
        print(
            json.dumps(
                figures
                | {"own_work_us": work, "bare_runs": rates["bare"], "harness_runs": rates["harness"]}
                | {"cpu_bare_us": cpu_bare, "cpu_harness_us": cpu_harness}
            )
        )
        return
    print(f"{messages} persistent sends with receipts through the VIP, {ROUNDS} rounds each, interleaved")
    print(
        f"bare stomp.py loop: {bare:7.0f} acknowledged/s   (runs: {', '.join(f'{r:.0f}' for r in rates['bare'])})"
    )
    print(
        f"harness workload:   {harness:7.0f} acknowledged/s   (runs: {', '.join(f'{r:.0f}' for r in rates['harness'])})"
    )
    print(
        f"harness / bare:     {paired:7.0%}   median of the {ROUNDS} rounds' ratios (target: at least 95 %);"
        f" best against best {harness / bare:.0%}"
    )
    print(f"harness's own work: {work:7.1f} us per send against a broker that answers at once")
    print(
        f"CPU per send here:  bare {cpu_bare:.0f} us, harness {cpu_harness:.0f} us (this process, every thread;"
        " median of the rounds)"
    )


if __name__ == "__main__":
    main()
