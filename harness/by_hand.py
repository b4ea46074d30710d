"""The cluster by hand: `make up` starts a cluster that outlives the command (recorded as runs/current),
`make status` reads it, `amq-chaos fault ...` drives faults against it (healed by a later command from the
state the earlier one left), `make down` removes it."""

from __future__ import annotations

import random
from pathlib import Path

from harness.chaos.faults import FAULT_KINDS, TARGET_HELP
from harness.chaos.nemesis import Nemesis
from harness.cluster.control import RUN_LABEL, Cluster, sweep_label
from harness.cluster.docker_env import docker_client
from harness.cluster.introspect import NodeStatus
from harness.errors import HarnessError
from harness.history import BY_HAND, History
from harness.report import summary
from harness.settings import Settings


def current_link(settings: Settings) -> Path:
    """runs/current: the cluster `make up` started, until `make down`."""
    return settings.runs_dir / "current"


def up(settings: Settings) -> int:
    """Start a cluster that outlives the command and print its endpoints."""
    current = current_link(settings)
    if current.exists():
        raise HarnessError(f"a cluster is already recorded at {current.resolve()}: run `make down` first")
    cluster = Cluster(settings, owner="manual")  # outlives this command by design
    cluster.up()
    current.parent.mkdir(parents=True, exist_ok=True)
    current.unlink(missing_ok=True)
    current.symlink_to(cluster.directory.name)
    print(
        f"run        {cluster.run_id} (compose project {cluster.project}, ActiveMQ {settings.broker_label})"
    )
    print(f"STOMP VIP  127.0.0.1:{cluster.vip_port}  (user {settings.credentials.client_user})")
    for node in cluster.topology.nodes:
        state = cluster.node_state(node)
        print(f"{node.name:<14} {node.role:<7} {state:<8} STOMP 127.0.0.1:{cluster.stomp_port(node)}")
    print(f"configs    {cluster.directory / 'config'}")
    return 0


def attach(settings: Settings) -> Cluster:
    current = current_link(settings)
    if not current.exists():
        raise HarnessError("no cluster is up (runs/current is missing): start one with `make up`")
    return Cluster.attach(settings, current.resolve())


def status(settings: Settings) -> int:
    """Nodes, queues and bridges of the cluster `make up` started."""
    cluster = attach(settings)
    info = cluster.info
    assert info is not None  # an attached cluster always has its run's record
    print(
        f"{info.project}: ActiveMQ {info.broker_label}, design {info.design}, broker image {info.broker_image}"
    )
    dropped = cluster.settings.dropped
    if dropped:
        print(f"left out for the {cluster.settings.line.name} line: {', '.join(map(str, dropped))}")
    print(format_status(cluster.status()))
    return 0


def down(settings: Settings) -> int:
    """Remove the cluster `make up` started, keep its logs; sweep leftovers when none is recorded."""
    current = current_link(settings)
    if not current.exists():
        print("no cluster recorded; sweeping leftovers by label")
        sweep_label(docker_client(), RUN_LABEL)
        return 0
    cluster = Cluster.attach(settings, current.resolve())
    cluster.down()
    current.unlink()
    print(f"removed {cluster.project}; logs and configs kept in {cluster.directory}")
    return 0


def sweep(settings: Settings) -> int:
    """Remove everything any harness run left behind."""
    sweep_label(docker_client(), RUN_LABEL)
    current_link(settings).unlink(missing_ok=True)
    print("removed every container, network and volume labelled by the harness")
    return 0


def format_status(statuses: list[NodeStatus]) -> str:
    rows = [("node", "state", "stomp", "queue", "size", "enq", "deq", "cons", "bridges")]
    for status in statuses:
        bridges = (
            ", ".join(f"{'<->' if b.created_by_duplex else '->'} {b.remote}" for b in status.bridges) or "-"
        )
        stomp = "yes" if status.serves_stomp else "-"
        user_queues = [q for q in status.queues if not q.name.startswith("ActiveMQ.")]
        if not user_queues:
            rows.append((status.node, status.state, stomp, "-", "", "", "", "", bridges))
        for index, queue in enumerate(user_queues):
            first = index == 0
            rows.append(
                (
                    status.node if first else "",
                    status.state if first else "",
                    stomp if first else "",
                    queue.name,
                    str(queue.size),
                    str(queue.enqueued),
                    str(queue.dequeued),
                    str(queue.consumers),
                    bridges if first else "",
                )
            )
        if status.error:
            rows.append(("", "", "", f"error: {status.error}", "", "", "", "", ""))
    return "\n".join(summary.aligned(rows))


# from the fault registry: every kind's usage, then the two words that are not faults
FAULT_HELP = (
    " | ".join(
        [
            *(f"fault {k.usage}" for k in FAULT_KINDS.values() if k.name != "partition"),
            "fault heal",
            "fault status",
        ]
    )
    + f"   ({TARGET_HELP})"
)


def fault(settings: Settings, words: list[str]) -> int:
    """Drive the nemesis by hand against the cluster `make up` started; faults and heals go to its history."""
    if not words:
        raise HarnessError(f"usage: amq-chaos {FAULT_HELP}")
    cluster = attach(settings)
    state = cluster.directory / "manual-faults.json"
    with History(cluster.directory / "manual-history.jsonl", {"scenario": BY_HAND}, append=True) as history:
        nemesis = Nemesis(cluster, history, random.Random())
        nemesis.load_active(state)
        action, rest = words[0], words[1:]
        if action == "status":
            for active in nemesis.active:
                print(f"in force: {active.kind} on {active.target}")
            if not nemesis.active:
                print("no fault in force")
            print(format_status(cluster.status()))
            return 0
        if action == "heal":
            nemesis.heal()
            print("healed every fault in force")
        else:
            if action not in FAULT_KINDS or action == "partition":
                raise HarnessError(f"usage: amq-chaos {FAULT_HELP}")
            print(f"{action}: {nemesis.inject(action, *rest)}")
        nemesis.save_active(state)
    return 0
