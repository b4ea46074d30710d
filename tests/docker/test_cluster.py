"""The cluster on Docker: messages cross the bridges exactly once, introspection tells the truth, and the
waiting node of a pair takes over with the stored messages."""

from __future__ import annotations

import collections
import time

import pytest

from harness.client.stomp_client import StompSession
from harness.cluster.control import Cluster
from harness.wait import wait_until

pytestmark = pytest.mark.docker

MESSAGES = 1000


def session(cluster: Cluster, node: str) -> StompSession:
    return cluster.stomp(node)


def send_numbered(producer: StompSession, queue: str, count: int) -> None:
    """Persistent sends with receipts, pipelined: every receipt must come back."""
    receipts = [producer.send(queue, f"{queue}:{i}", {"harness-id": f"{queue}:{i}"}) for i in range(count)]
    producer.wait_receipts(receipts, timeout=120)


def receive_all(consumer: StompSession, count: int, timeout: float) -> collections.Counter[str]:
    deliveries = consumer.wait_deliveries(count, timeout=timeout)
    for delivery in deliveries:
        consumer.ack(delivery)
    return collections.Counter(d.headers["harness-id"] for d in deliveries)


@pytest.mark.parametrize(("producer_node", "consumer_node"), [("mq01-a", "mq02-a"), ("mq02-a", "mq01-a")])
def test_every_message_crosses_the_bridge_exactly_once(
    cluster: Cluster, producer_node: str, consumer_node: str
) -> None:
    group = cluster.topology.group
    queue = f"cross.{producer_node}.to.{consumer_node}"
    with (
        session(cluster, f"{group}-{consumer_node}") as consumer,
        session(cluster, f"{group}-{producer_node}") as producer,
    ):
        consumer.subscribe(queue)
        # the consumer's demand must reach the producer's broker before the sends, or they stay local;
        # it arrives as one network consumer per bridge (both masters run a duplex bridge, so two)
        wait_until(
            lambda: producer.destination_statistics(queue)["consumerCount"] >= 1,
            timeout=30,
            what=f"network demand for {queue} on {producer_node}",
        )
        send_numbered(producer, queue, MESSAGES)
        received = receive_all(consumer, MESSAGES, timeout=120)
        time.sleep(0)  # deliveries beyond MESSAGES would show up in the count below
        assert sorted(received) == sorted(f"{queue}:{i}" for i in range(MESSAGES))
        assert set(received.values()) == {1}, "duplicates delivered"
        assert {d.headers["destination"] for d in consumer.deliveries()} == {f"/queue/{queue}"}

    def drained() -> bool:
        statuses = {s.node: s for s in cluster.status()}
        return all(
            (q := statuses[f"{group}-{n}"].queue(queue)) is None or q.size == 0
            for n in (producer_node, consumer_node)
        )

    wait_until(drained, timeout=30, what=f"{queue} to be empty on both masters")
    # exactly MESSAGES crossed, no more: the producer's broker forwarded them all over its bridge
    producer_status = next(s for s in cluster.status() if s.node == f"{group}-{producer_node}")
    assert producer_status.queue(queue).forwarded == MESSAGES


def test_introspection_shows_the_promised_bridges_and_roles(cluster: Cluster) -> None:
    statuses = {s.node: s for s in cluster.status()}
    group = cluster.topology.group
    a1, a2 = f"{group}-mq01-a", f"{group}-mq02-a"
    assert {n: s.state for n, s in statuses.items()} == {
        a1: "live",
        f"{group}-mq01-b": "waiting",
        a2: "live",
        f"{group}-mq02-b": "waiting",
    }
    assert statuses[a1].serves_stomp and statuses[a2].serves_stomp
    # each master runs its own duplex bridge to the other and holds the responder end of the other's
    for local, remote in ((a1, a2), (a2, a1)):
        bridges = {(b.remote, b.created_by_duplex) for b in statuses[local].bridges}
        assert bridges == {(remote, False), (remote, True)}
    assert statuses[f"{group}-mq01-b"].bridges == []
    assert cluster.readiness_problems() == []
    # the state read from the container's log through Docker is the one the healthcheck's script reads
    for node in statuses:
        code, out = cluster.exec(node, "amq-node-state")
        assert (code, out.strip()) == (0, statuses[node].state)


def test_statistics_plugin_answers_over_stomp(cluster: Cluster) -> None:
    with session(cluster, f"{cluster.topology.group}-mq01-a") as probe:
        receipts = [probe.send("stats.probe", str(i)) for i in range(3)]
        probe.wait_receipts(receipts, timeout=10)
        stats = probe.destination_statistics("stats.probe")
    assert stats["size"] == 3
    assert stats["brokerName"] == f"{cluster.topology.group}-mq01-a"


def test_a_stomp_1_0_session_sends_receives_and_acks_on_a_real_broker(cluster: Cluster) -> None:
    """What the harness speaks to brokers before 5.8 (CONNECT, no negotiation, acks by message-id), against
    a real broker: a 5.17 broker answers such a CONNECT as STOMP 1.0 (no 1.0-only broker runs here)."""
    master = f"{cluster.topology.group}-mq01-a"
    queue = "stomp10.roundtrip"
    with cluster.stomp(master, protocol="1.0") as old:
        assert old.protocol == "1.0" and old.broker_name == master
        old.wait_receipts([old.send(queue, f"m{i}", {"harness-id": f"m{i}"}) for i in range(3)], timeout=10)
        old.subscribe(queue)
        deliveries = old.wait_deliveries(3, timeout=10)
        confirmed: list[str] = []
        for delivery in deliveries:
            old.ack(delivery, on_confirmed=lambda d=delivery: confirmed.append(d.headers["harness-id"]))
        wait_until(lambda: len(confirmed) == 3, timeout=10, what="three confirmed 1.0 acks")
    assert sorted(confirmed) == ["m0", "m1", "m2"]
    assert cluster.browse_ids(master, queue) == []  # acked for good: nothing left on the queue


def test_vip_routes_only_to_masters(cluster: Cluster) -> None:
    seen = set()
    for _ in range(6):
        with cluster.stomp() as via_vip:
            seen.add(via_vip.broker_name)
    assert seen == {m.name for m in cluster.topology.masters}


def test_every_broker_and_the_jmx_console_start_from_the_images_class_data_sharing_archive(
    cluster: Cluster,
) -> None:
    """The archive only saves time if the JVMs map it, and a JVM that cannot map it starts without it, saying
    nothing (-Xshare:auto): the mapping is the evidence, in each broker's /proc/1/maps."""
    archive = "/usr/local/lib/amq-cds/broker.jsa"
    for node in cluster.topology.nodes:
        code, maps = cluster.exec(node.name, "cat", "/proc/1/maps")
        assert code == 0 and archive in maps, f"{node.name}'s broker has not mapped {archive}"
    # the console: the JVM's class-load log names where each class came from
    code, out = cluster.exec(
        cluster.topology.masters[0].name,
        "env",
        "JAVA_TOOL_OPTIONS=-Xlog:class+load=info",
        "amq-jmx",
        "query",
        "--objname",
        "type=Broker,brokerName=*",
        "--view",
        "BrokerName",
    )
    # ActiveMQ's own: the JDK's default archive serves the JDK's classes with or without this one
    from_archive = sum(
        1
        for line in out.splitlines()
        if " org.apache.activemq." in line and "source: shared objects file" in line
    )
    # about 50 (what the console shares with a broker), none from the jar
    assert code == 0 and from_archive > 10, f"{from_archive} ActiveMQ classes from the archive: {out[-300:]}"


def test_a_command_run_in_a_node_gives_its_stdout_whole_then_its_stderr(cluster: Cluster) -> None:
    """Docker hands stdout and stderr over as they come: a tool whose buffered stdout is flushed around a
    stderr line (stomp-browse's count) had that line land inside one of its ids."""
    code, out = cluster.exec(
        f"{cluster.topology.group}-mq01-a",
        "sh",
        "-c",
        'printf "%05000d" 0; sleep 0.3; echo 206 >&2; sleep 0.3; printf "tail\\n"',
    )
    assert code == 0 and out == "0" * 5000 + "tail\n206\n"


def test_browsing_a_queue_lists_every_id_exactly_as_sent(cluster: Cluster) -> None:
    """The final state's evidence: every message's id, read inside the node, whatever the listing's length.
    Listings of about 200 ids twice came back with one id cut (read as a lost message): the browser's count,
    written to stderr, landed inside a line of its stdout, at a 4 KiB boundary. Listings of many lengths move
    that spot around (it cut an id in 1 of the 2 lengths tried by hand)."""
    master = f"{cluster.topology.group}-mq01-a"
    queue = "browse.every-id"
    sent: list[str] = []
    with session(cluster, master) as producer:
        for batch in range(12):
            ids = [f"5a8e9f-p{n % 2}-{n}" for n in range(len(sent), len(sent) + 70 + batch)]
            producer.wait_receipts([producer.send(queue, i, {"harness-id": i}) for i in ids], timeout=120)
            sent += ids
            assert sorted(cluster.browse_ids(master, queue)) == sorted(sent), len(sent)


def test_waiting_node_takes_over_with_the_stored_messages(fresh_cluster: Cluster) -> None:
    cluster = fresh_cluster
    group = cluster.topology.group
    master, slave, other = f"{group}-mq01-a", f"{group}-mq01-b", f"{group}-mq02-a"
    queue = "failover.stored"
    stored = 200
    with session(cluster, master) as producer:
        send_numbered(producer, queue, stored)  # receipted: on disk on the shared store, no consumer anywhere

    killed = time.monotonic()
    cluster.container(master).kill(signal="SIGKILL")
    wait_until(lambda: cluster.node_state(slave) == "live", timeout=60, what=f"{slave} to take the lock")
    takeover = time.monotonic() - killed
    status = cluster.node_status(cluster.topology.node(slave))
    assert status.queue(queue) is not None and status.queue(queue).size == stored

    # the slave has no client connectors: its messages reach consumers only through its drain bridge
    wait_until(
        lambda: not cluster.missing_bridges(cluster.status()),
        timeout=60,
        what=f"{slave}'s bridge to {other}",
    )
    with session(cluster, other) as consumer:
        consumer.subscribe(queue)
        received = receive_all(consumer, stored, timeout=120)
    assert sorted(received) == sorted(f"{queue}:{i}" for i in range(stored))
    assert set(received.values()) == {1}
    print(f"takeover of {slave} after SIGKILL of {master}: {takeover:.1f}s")

    # restarted, the killed master waits on the lock: its previous life's last line (started, never shut
    # down) does not count, neither in the log read through Docker nor in the script's
    cluster.container(master).start()
    wait_until(lambda: cluster.node_state(master) == "waiting", timeout=60, what=f"{master} to wait")
    assert cluster.exec(master, "amq-node-state")[1].strip() == "waiting"


def tagged_rules(cluster: Cluster, node: str) -> list[str]:
    """The nemesis's rules in a node's INPUT chain (tagged with the run's id)."""
    code, out = cluster.net_exec(node, "iptables", "-S", "INPUT")
    assert code == 0, out
    return [line for line in out.splitlines() if f"amqchaos-{cluster.run_id}" in line]


def test_nemesis_rules_carry_the_run_id_and_heal_removes_them(cluster: Cluster, tmp_path) -> None:
    import random

    from harness.chaos.nemesis import Nemesis
    from harness.history import History, read_history

    group = cluster.topology.group
    a1, a2 = f"{group}-mq01-a", f"{group}-mq02-a"

    def qdisc(node: str) -> str:
        return cluster.net_exec(node, "tc", "qdisc", "show", "dev", "eth0")[1]

    with History(tmp_path / "history.jsonl", {"seed": 0}) as history:
        nemesis = Nemesis(cluster, history, random.Random(0))
        nemesis.inject_grudge({a1: frozenset({a2}), a2: frozenset({a1})}, "masters")
        nemesis.inject("lossy", "0.5")
        assert len(tagged_rules(cluster, a1)) == 2 and len(tagged_rules(cluster, a2)) == 2
        assert any("statistic" in rule for rule in tagged_rules(cluster, a1))
        slowed = nemesis.inject("slow", "live:01")
        assert "tbf" in qdisc(slowed)
        nemesis.heal()
        assert tagged_rules(cluster, a1) == [] and tagged_rules(cluster, a2) == []
        assert "tbf" not in qdisc(slowed)
    actions = [(e["type"], e["f"], e.get("action")) for e in read_history(tmp_path / "history.jsonl")]
    assert ("ok", "fault", "lossy") in actions and ("ok", "heal", "unpartition") in actions
    assert ("ok", "heal", "unslow") in actions
    cluster.wait_ready(120)


def test_a_restarted_node_loses_its_rules_and_the_nemesis_puts_them_back(
    fresh_cluster: Cluster, tmp_path
) -> None:
    import random

    from harness.chaos.nemesis import Nemesis
    from harness.history import History, read_history

    cluster = fresh_cluster
    group = cluster.topology.group
    b1, a2 = f"{group}-mq01-b", f"{group}-mq02-a"

    with History(tmp_path / "history.jsonl", {"seed": 0}) as history:
        nemesis = Nemesis(cluster, history, random.Random(0))
        nemesis.inject_grudge({b1: frozenset({a2}), a2: frozenset({b1})}, "slave-and-master")
        assert len(tagged_rules(cluster, b1)) == 1
        # what a restart does behind the nemesis's back: a new network namespace, none of the rules
        cluster.container(b1).restart(timeout=30)
        assert tagged_rules(cluster, b1) == []
        nemesis.inject("restart", b1)
        (rule,) = tagged_rules(cluster, b1)
        assert f"-s {cluster.address(a2)}/32" in rule
        (against,) = tagged_rules(cluster, a2)
        assert f"-s {cluster.address(b1)}/32" in against
        nemesis.heal()
        assert tagged_rules(cluster, b1) == [] and tagged_rules(cluster, a2) == []
    reapplied = [
        e for e in read_history(tmp_path / "history.jsonl") if e["f"] == "reapply" and e["type"] == "ok"
    ]
    assert [(e["node"], e["rules"], e["errors"]) for e in reapplied] == [(b1, 1, [])]


def test_one_way_reset_starve_and_delay_apply_and_heal_on_the_real_nodes(cluster: Cluster, tmp_path) -> None:
    """Each new fault kind with an effect seen from inside the nodes, and nothing left after its heal."""
    import random
    import time

    from harness.chaos.mechanisms import FaultUnsupported
    from harness.chaos.nemesis import Nemesis
    from harness.history import History, read_history

    group = cluster.topology.group
    a1, a2 = f"{group}-mq01-a", f"{group}-mq02-a"

    def connect_seconds(src: str, dst: str) -> tuple[int, float]:
        """A STOMP connect from inside `src` to `dst`'s client port: its exit code and how long it took."""
        started = time.monotonic()
        code, _ = cluster.exec(src, "stomp-ping", cluster.address(dst), "61613", timeout=20)
        return code, time.monotonic() - started

    def tagged(node: str) -> list[str]:
        out = cluster.net_exec(node, "iptables", "-S", "INPUT")[1]
        return [line for line in out.splitlines() if f"amqchaos-{cluster.run_id}" in line]

    assert connect_seconds(a2, a1)[0] == 0
    with History(tmp_path / "history.jsonl", {"seed": 0}) as history:
        nemesis = Nemesis(cluster, history, random.Random(0))
        # one direction: a1 stops hearing a2; the rule is on a1 alone
        nemesis.inject("one-way", f"{a2}->{a1}")
        assert len(tagged(a1)) == 1 and tagged(a2) == []
        nemesis.heal()
        # resets: a connect is refused at once instead of hanging until its timeout
        nemesis.inject("reset", a1, "peers")
        code, seconds = connect_seconds(a2, a1)
        assert code != 0 and seconds < 5, (code, seconds)
        assert all("tcp-reset" in rule for rule in tagged(a1))
        nemesis.heal()
        assert tagged(a1) == [] and tagged(a2) == [] and connect_seconds(a2, a1)[0] == 0
        # starvation: the quota is on the container while it keeps running, and gone after the heal
        nemesis.inject("starve", a2, "0.05")
        cluster.container(a2).reload()
        assert cluster.container(a2).attrs["HostConfig"]["CpuQuota"] == 5000
        assert cluster.container(a2).status == "running"
        nemesis.heal()
        cluster.container(a2).reload()
        assert cluster.container(a2).attrs["HostConfig"]["CpuQuota"] in (0, -1)
        # delay: applied where the kernel has netem, else recorded as unsupported and nothing in force
        try:
            nemesis.inject("delay", a1, "100", "10")
        except FaultUnsupported:
            assert nemesis.active == []
        else:
            assert "netem" in cluster.net_exec(a1, "tc", "qdisc", "show", "dev", "eth0")[1]
            nemesis.heal()
        assert "netem" not in cluster.net_exec(a1, "tc", "qdisc", "show", "dev", "eth0")[1]
    events = list(read_history(tmp_path / "history.jsonl"))
    healed = {e["heals"] for e in events if e["f"] == "heal" and e["type"] == "ok"}
    assert {"one-way", "reset", "starve"} <= healed
    delay = [e for e in events if e.get("action") == "delay" and e["type"] != "invoke"]
    assert delay and (delay[0]["type"] == "ok" or "unsupported" in delay[0])
    # the bridges reconnect on their own schedule after the heal: waited for, with a deadline
    cluster.wait_ready(120)
