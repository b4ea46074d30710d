"""Fault kinds as units, through the nemesis's one entry point, against a fake cluster that records what it
is asked to do (no Docker): what each kind records, what its heal names, what replay redoes, and that what
cannot be replayed is an error."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.chaos.faults import FAULT_KINDS, kind_healed_by, schedule_menu
from harness.chaos.mechanisms import FaultRefused, FaultUnsupported
from harness.chaos.nemesis import Nemesis
from harness.chaos.player import Player
from harness.chaos.replay import RecordedFault, _redo, recorded_faults
from harness.chaos.schedule import Step, combined_schedule, most_in_force, random_schedule
from harness.cluster.backend import MECHANISMS
from harness.design.topology import Topology
from harness.errors import HarnessError
from harness.history import History, read_history
from harness.settings import Settings

A1, B1, A2, B2 = "chaos-mq01-a", "chaos-mq01-b", "chaos-mq02-a", "chaos-mq02-b"


@dataclass
class FakeCluster:
    """A NodeControl (harness.cluster.backend) that records what it is asked to do."""

    topology: Topology = field(default_factory=Topology)
    run_id: str = "test"
    calls: list[str] = field(default_factory=list)
    settings: Any = field(default_factory=lambda: Settings(store_size="64m"))
    backend: str = "fake"
    capabilities: frozenset[str] = frozenset(MECHANISMS)
    out_of_reach: frozenset[str] = frozenset()
    grudges: Any = None  # iptables rules by exec, as on Compose and SSH hosts

    def node_state(self, name: str) -> str:
        return "live" if name.endswith("-a") else "waiting"

    def node_process(self, name: str, action: str) -> None:
        self.calls.append(f"{action} {name}")

    def process_running(self, name: str) -> bool:
        return True

    def cpu_limit(self, name: str, cpus: float | None) -> None:
        self.calls.append(f"cpu {name} {cpus}")

    def exec_detached(self, name: str, *command: str) -> None:
        self.calls.append(f"exec_detached {name} {' '.join(command)}")

    def exec(self, name: str, *command: str, timeout: float = 60) -> tuple[int, str]:
        self.calls.append(f"exec {name} {' '.join(command)}")
        if command[:2] == ("grep", "-c"):  # the broker's shutdowns in its log: one more after each rm
            return 0, str(sum(call.endswith("rm /kahadb/lock") for call in self.calls))
        return 0, ""

    def net_exec(self, name: str, *command: str, timeout: float = 60) -> tuple[int, str]:
        self.calls.append(f"net_exec {name} {' '.join(command)}")
        return 0, ""

    def address(self, name: str) -> str:
        return f"ip-of-{name}"

    def store_folder(self, pair: str) -> tuple[str, str]:
        return "store", f"/stores/{pair}"

    def controls(self, name: str) -> bool:
        return name not in self.out_of_reach

    def lock_file(self, pair: str) -> str:
        return "/kahadb/lock"

    def broker_log(self, name: str) -> str:
        return "/var/lib/amq/log/activemq.log"

    def interface(self, name: str) -> str:
        return "eth0"


@pytest.fixture
def nemesis(tmp_path: Path) -> Any:
    with History(tmp_path / "history.jsonl", {"seed": 1}) as history:
        yield Nemesis(FakeCluster(), history, random.Random(1))  # type: ignore[arg-type]


def nemesis_events(nemesis: Nemesis) -> list[dict[str, Any]]:
    nemesis.history.close()
    return [e for e in read_history(nemesis.history.path) if e["p"] == "nemesis"]


def test_the_schedule_menu_is_what_seeds_drew_before_the_registry() -> None:
    # a seed's schedule must not change because faults became units
    assert schedule_menu() == [
        ("kill", "live:random"),
        ("stop", "live:random"),
        ("restart", "live:random"),
        ("restart", "waiting:random"),
        ("freeze", "live:random"),
        ("isolate", "live:random"),
        ("partition-pairs", "pairs"),
    ]
    assert [s.fault for s in random_schedule(7, 200)] == [s.fault for s in random_schedule(7, 200)]


def test_every_kind_is_one_unit_with_usage_help_and_heal() -> None:
    for name, kind in FAULT_KINDS.items():
        assert kind.name == name and kind.usage and kind.help
        assert kind.usage.split()[0] == name or name == "partition"
    assert {n for n, k in FAULT_KINDS.items() if k.ends_by_itself} == {"restart", "lose-lock"}
    assert kind_healed_by("start") == ["kill", "stop"]  # a heal recorded before heals were named
    assert kind_healed_by("unpartition", "mute") == ["mute"]


def test_a_node_fault_and_its_heal_name_each_other(nemesis: Nemesis) -> None:
    assert nemesis.inject("kill", "live:01") == A1
    assert [a.kind for a in nemesis.active] == ["kill"]
    nemesis.heal()
    assert nemesis.active == []
    assert nemesis.cluster.calls == [f"kill {A1}", f"start {A1}"]  # type: ignore[attr-defined]
    fault, _, heal, _ = nemesis_events(nemesis)
    assert (fault["action"], fault["role"], fault["heal"]) == ("kill", "live:01", "start")
    assert (heal["f"], heal["action"], heal["heals"]) == ("heal", "start", "kill")


def test_a_restart_is_never_in_force(nemesis: Nemesis) -> None:
    assert nemesis.inject("restart", "waiting:02") == B2
    assert nemesis.active == []


def test_bad_arguments_are_one_line_errors(nemesis: Nemesis) -> None:
    with pytest.raises(HarnessError, match="unknown fault 'melt'"):
        nemesis.inject("melt", "live:01")
    with pytest.raises(HarnessError, match="usage: kill TARGET"):
        nemesis.inject("kill")
    with pytest.raises(HarnessError, match="choose peers, clients or both"):
        nemesis.inject("isolate", "live:01", "everyone")
    with pytest.raises(HarnessError, match="fraction"):
        nemesis.inject("lossy", "lots")
    assert nemesis.active == []


def test_mute_is_a_one_way_partition(nemesis: Nemesis) -> None:
    """The kind added as proof that a fault is one unit: the node hears everyone, nobody hears it."""
    assert nemesis.inject("mute", "live:02", "peers") == f"{A2} unheard by peers"
    fault, done = nemesis_events(nemesis)
    assert fault["action"] == "mute" and fault["heal"] == "unpartition" and done["type"] == "ok"
    assert fault["grudge"] == {A1: [A2], B1: [A2], B2: [A2]}  # the others drop its packets; it drops none
    rules = [c for c in nemesis.cluster.calls if "iptables -A INPUT" in c]  # type: ignore[attr-defined]
    assert sorted(c.split()[1] for c in rules) == [A1, B1, B2]
    assert all(f"-s ip-of-{A2}" in c for c in rules)


def test_replay_redoes_each_kind_from_its_recorded_invoke(nemesis: Nemesis, tmp_path: Path) -> None:
    nemesis.inject("isolate", "live:01", "clients")
    nemesis.inject("slow", "live:02", "1mbit")
    nemesis.inject("mute", "waiting:01")
    nemesis.heal()
    recorded = recorded_faults(nemesis.history.path)
    assert [r.key[:2] for r in recorded] == [
        ("fault", "isolate"),
        ("fault", "slow"),
        ("fault", "mute"),
        ("heal", "unpartition"),
        ("heal", "unslow"),
        ("heal", "unpartition"),
    ]
    with History(tmp_path / "replay.jsonl", {"seed": 1}) as history:
        again = Nemesis(FakeCluster(), history, random.Random(99))  # type: ignore[arg-type]
        run = type("Run", (), {"nemesis": again})()
        for step in recorded:
            _redo(run, step)  # type: ignore[arg-type]
        assert again.active == []
    replayed = recorded_faults(tmp_path / "replay.jsonl")
    assert [r.key for r in replayed] == [r.key for r in recorded]
    assert [r.value("grudge") for r in replayed] == [r.value("grudge") for r in recorded]
    assert replayed[1].value("rate") == "1mbit"


def test_what_cannot_be_replayed_stops_the_replay(nemesis: Nemesis) -> None:
    run = type("Run", (), {"nemesis": nemesis})()
    unknown = RecordedFault(1.0, "fault", "melt", A1, (("action", "melt"), ("target", A1)))
    with pytest.raises(HarnessError, match="cannot replay fault 'melt'"):
        _redo(run, unknown)  # type: ignore[arg-type]
    orphan_heal = RecordedFault(2.0, "heal", "thaw", A1, (("action", "thaw"), ("target", A1)))
    with pytest.raises(HarnessError, match="cannot replay the heal thaw of chaos-mq01-a"):
        _redo(run, orphan_heal)  # type: ignore[arg-type]


def test_a_partition_recorded_before_the_registry_is_replayed_from_its_grudge(nemesis: Nemesis) -> None:
    run = type("Run", (), {"nemesis": nemesis})()
    grudge = {A1: [A2], A2: [A1]}
    old = (("action", "partition"), ("grudge", grudge), ("target", "between the pairs"))
    _redo(run, RecordedFault(1.0, "fault", "partition", "between the pairs", old))  # type: ignore[arg-type]
    _redo(run, RecordedFault(2.0, "heal", "unpartition", "between the pairs", ()))  # type: ignore[arg-type]
    events = nemesis_events(nemesis)
    assert events[0]["grudge"] == grudge and events[-1]["heals"] == "partition"


def test_faults_in_force_survive_to_another_process(nemesis: Nemesis, tmp_path: Path) -> None:
    nemesis.inject("freeze", "live:02")
    nemesis.inject("isolate", "live:01", "peers")
    nemesis.save_active(tmp_path / "faults.json")
    later = Nemesis(nemesis.cluster, nemesis.history, random.Random(2))
    later.load_active(tmp_path / "faults.json")
    assert [(a.kind, a.target) for a in later.active] == [("freeze", A2), ("isolate", f"{A1} from peers")]
    assert later.active[1].grudge()[A1] == frozenset({A2, B1, B2})
    (tmp_path / "bad.json").write_text('[{"kind": "freeze"}]')
    with pytest.raises(HarnessError, match="malformed"):
        later.load_active(tmp_path / "bad.json")


def test_a_combined_schedule_holds_faults_together_from_the_seed() -> None:
    steps = combined_schedule(7, 60)
    assert steps == combined_schedule(7, 60) and steps != combined_schedule(8, 60)
    assert most_in_force(steps) >= 2  # Jepsen's combined nemesis: overlapping windows
    assert most_in_force(random_schedule(7, 200)) == 1  # the plain schedule stays one at a time
    assert all(s.offset < 60 for s in steps)
    assert {(s.fault, s.target) for s in steps} <= set(schedule_menu(combined=True))
    # the new kinds are drawn only by the combined schedule: earlier seeds of random-chaos draw as before
    assert {f for f, _ in schedule_menu()}.isdisjoint({"one-way", "reset", "starve", "delay", "mute"})


def player_of(nemesis: Nemesis, waits: list[int]) -> Player:
    """A player on the stand-in nemesis, noting how many faults were in force at each wait for the pairs."""

    def phase(name: str, **value: object) -> None:
        nemesis.history.append("harness", "ok", "phase", phase=name, **value)

    return Player(nemesis, lambda: waits.append(len(nemesis.active)), phase)


def faults_and_heals(nemesis: Nemesis) -> list[tuple[str, str, str]]:
    nemesis.history.close()
    return [
        (e["f"], e["action"], e["target"])
        for e in read_history(nemesis.history.path)
        if e["f"] in ("fault", "heal") and e["type"] in ("ok", "info")
    ]


def test_overlapping_play_heals_each_fault_after_its_own_hold(nemesis: Nemesis) -> None:
    """Two faults in force together, each healed on its own, the pairs waited for only once none is left."""
    waits: list[int] = []
    steps = [Step(0.0, "freeze", A1, 0.3), Step(0.1, "freeze", A2, 0.1), Step(0.15, "freeze", B1, 0.2)]
    player_of(nemesis, waits).play(steps, overlapping=True)
    # three frozen together, each thawed after its own hold, the shortest first
    assert faults_and_heals(nemesis) == [
        ("fault", "freeze", A1),
        ("fault", "freeze", A2),
        ("fault", "freeze", B1),
        ("heal", "thaw", A2),
        ("heal", "thaw", A1),
        ("heal", "thaw", B1),
    ]
    assert waits == [0]  # once, with nothing in force


def test_play_in_turn_heals_each_fault_and_waits_for_the_pairs_before_the_next(nemesis: Nemesis) -> None:
    """The same offsets played in turn: one fault at a time, the pairs waited for after each heal; a step that
    cannot be applied is recorded and the schedule goes on."""
    waits: list[int] = []
    steps = [
        Step(0.0, "freeze", A1, 0.1),
        Step(0.05, "freeze", "nobody", 0.1),
        Step(0.1, "freeze", A2, 0.1),
    ]
    started = time.monotonic()
    player_of(nemesis, waits).play(steps)
    assert faults_and_heals(nemesis) == [
        ("fault", "freeze", A1),
        ("heal", "thaw", A1),
        ("fault", "freeze", "nobody"),
        ("fault", "freeze", A2),
        ("heal", "thaw", A2),
    ]
    assert waits == [0, 0]  # after each heal, none after the step that was not applied
    assert time.monotonic() - started >= 0.2  # the holds were kept


def test_one_way_cuts_one_direction_and_reset_refuses_with_resets(nemesis: Nemesis) -> None:
    assert nemesis.inject("one-way", "live:01->live:02") == f"{A1}->{A2}"
    assert nemesis.inject("reset", "live:01", "peers") == f"{A1} resets peers"
    one_way, _, reset, _ = nemesis_events(nemesis)
    assert one_way["grudge"] == {A2: [A1]}  # A2 stops hearing A1; A1 still hears A2
    assert reset["reject"] is True  # on A1 alone: the others must not drop the resets it sends
    assert reset["grudge"] == {A1: sorted([A2, B1, B2])}
    rules = [c for c in nemesis.cluster.calls if "iptables -A INPUT" in c]  # type: ignore[attr-defined]
    assert rules[0].startswith(f"net_exec {A2} ") and f"-s ip-of-{A1} -j DROP" in rules[0]
    assert all("-p tcp -j REJECT --reject-with tcp-reset" in c for c in rules[1:]) and len(rules) == 4
    with pytest.raises(HarnessError, match="name two different nodes"):
        nemesis.inject("one-way", A1, A1)
    with pytest.raises(HarnessError, match="usage: one-way"):
        nemesis.inject("one-way", "live:01")


def iptables_calls(nemesis: Nemesis, flag: str) -> list[str]:
    return [c for c in nemesis.cluster.calls if f"iptables {flag} INPUT" in c]  # type: ignore[attr-defined]


def test_a_partition_over_a_node_that_is_down_or_frozen_is_not_applied_at_all(nemesis: Nemesis) -> None:
    # combined chaos drew partition-pairs while a kill was in force: the dead node has no network namespace,
    # and the exec into it crashed the run (seed 419029076)
    states = {A1: "down", B1: "waiting", A2: "live", B2: "frozen"}
    nemesis.cluster.node_state = states.__getitem__  # type: ignore[method-assign]
    with pytest.raises(HarnessError, match=f"cannot partition now: {A1} down, {B2} frozen"):
        nemesis.inject("partition-pairs")
    assert iptables_calls(nemesis, "-A") == [] and nemesis.active == []
    invoke, fail = nemesis_events(nemesis)
    assert (invoke["type"], fail["type"], fail["action"]) == ("invoke", "fail", "partition-pairs")


def test_a_partition_half_applied_is_taken_back(nemesis: Nemesis) -> None:
    cluster = nemesis.cluster
    calls: list[str] = cluster.calls  # type: ignore[attr-defined]

    def exec_failing_the_third_rule(name: str, *command: str) -> tuple[int, str]:
        calls.append(f"net_exec {name} {' '.join(command)}")
        return (1, "iptables: no chain") if len(iptables_calls(nemesis, "-A")) == 3 else (0, "")

    cluster.net_exec = exec_failing_the_third_rule  # type: ignore[method-assign]
    with pytest.raises(HarnessError, match="iptables on"):
        nemesis.inject("partition-pairs")
    added, deleted = iptables_calls(nemesis, "-A"), iptables_calls(nemesis, "-D")
    # the two that went in come out again, the same rules
    assert [c.replace(" -A ", " -D ") for c in added[:2]] == deleted
    assert nemesis.active == []


def test_healing_one_partition_leaves_another_on_the_same_nodes_in_force(nemesis: Nemesis) -> None:
    nemesis.inject("partition-pairs")
    nemesis.inject("isolate", "live:01", "peers")
    first, second = nemesis.active
    added = iptables_calls(nemesis, "-A")
    nemesis.heal_one(first)
    # exactly the first one's rules are deleted, one by one: no flush of the node's chain
    deleted = iptables_calls(nemesis, "-D")
    assert deleted == [c.replace(" -A ", " -D ") for c in added[: len(first.detail["rules"])]]
    assert not [c for c in nemesis.cluster.calls if "iptables -S" in c]  # type: ignore[attr-defined]
    assert nemesis.active == [second]


def test_starve_holds_the_cpu_and_feeds_it_back(nemesis: Nemesis) -> None:
    assert nemesis.inject("starve", "live:02", "0.1") == A2
    nemesis.heal()
    assert nemesis.cluster.calls == [f"cpu {A2} 0.1", f"cpu {A2} None"]  # type: ignore[attr-defined]
    fault, _, heal, _ = nemesis_events(nemesis)
    assert (fault["cpus"], heal["action"], heal["heals"]) == (0.1, "feed", "starve")
    with pytest.raises(HarnessError, match=r"from 0\.01 to under 2"):
        nemesis.inject("starve", "live:01", "none")


def test_a_delay_the_kernel_refuses_is_recorded_as_unsupported(nemesis: Nemesis) -> None:
    nemesis.cluster.net_exec = lambda node, *cmd, **_: (2, "Error: Specified qdisc kind is unknown.")  # type: ignore[method-assign]
    with pytest.raises(FaultUnsupported, match="delay on chaos-mq01-a not applied"):
        nemesis.inject("delay", "live:01", "100", "20")
    invoke, info = nemesis_events(nemesis)
    assert (invoke["delay_ms"], invoke["jitter_ms"]) == (100, 20)
    assert info["type"] == "info" and "unknown" in info["unsupported"]
    assert nemesis.active == []


def test_store_faults_name_a_pair_and_work_where_its_store_is(nemesis: Nemesis) -> None:
    calls = nemesis.cluster.calls  # type: ignore[attr-defined]
    assert nemesis.inject("fill-store", "live:02", "64k") == "02"  # a role names its pair
    assert calls[-1].startswith("exec store sh -c") and "/stores/02/amqchaos-ballast" in calls[-1]
    assert "size=$((avail - 65536 - try * 262144))" in calls[-1] and "dd " not in calls[-1]
    assert nemesis.inject("lose-lock", "01") == "01"
    # under the live broker; over once its log shows it shut down (it may be live again at once: restarted)
    assert calls[-2:] == [
        f"exec {A1} rm /kahadb/lock",
        f"exec {A1} grep -c ) is shutting down /var/lib/amq/log/activemq.log",
    ]
    assert nemesis.inject("hold-lock", "01") == "01"
    assert calls[-1].startswith(f"exec_detached {B1} perl -e")  # the stand-in runs beside the waiting broker
    assert [a.kind for a in nemesis.active] == ["fill-store", "hold-lock"]  # a lost lock file is not healed
    nemesis.heal()
    assert "pkill -f 'amqchaos-hold-loc[k]'" in calls[-2] and calls[-2].startswith(f"exec {B1}")
    assert calls[-1] == "exec store rm -f /stores/02/amqchaos-ballast /stores/02/amqchaos-ballast.rest"
    heals = [
        (e["action"], e["heals"]) for e in nemesis_events(nemesis) if e["f"] == "heal" and e["type"] == "ok"
    ]
    assert heals == [("release-lock", "hold-lock"), ("free-store", "fill-store")]
    (lost,) = [e for e in nemesis_events(nemesis) if e["action"] == "lose-lock" and e["type"] == "ok"]
    assert lost["live_after"] is False  # its log showed it shut down


def test_filling_an_ordinary_store_is_refused_before_anything_is_done(nemesis: Nemesis) -> None:
    nemesis.cluster.settings = Settings()  # type: ignore[attr-defined]
    with pytest.raises(HarnessError, match="fill-store needs a size-limited store: run with STORE_SIZE="):
        nemesis.inject("fill-store", "01")
    with pytest.raises(HarnessError, match="not a size in bytes"):
        nemesis.inject("fill-store", "01", "lots")
    assert nemesis.cluster.calls == [] and nemesis_events(nemesis) == []  # type: ignore[attr-defined]


def test_a_node_that_starts_again_gets_back_the_partitions_in_force_over_it(nemesis: Nemesis) -> None:
    # a container that starts again has a new network namespace: the rules it held are gone
    nemesis.inject("partition-pairs")
    (partition,) = nemesis.active
    held_by_a1 = [c for c in iptables_calls(nemesis, "-A") if c.startswith(f"net_exec {A1} ")]
    nemesis.inject("restart", A1)
    again = iptables_calls(nemesis, "-A")[-len(held_by_a1) :]
    assert again == held_by_a1  # the same rules, on A1 only: the others still hold theirs, same address
    assert len(iptables_calls(nemesis, "-A")) == len(partition.detail["rules"]) + len(held_by_a1)
    nemesis.inject("kill", A2)
    nemesis.heal_one(nemesis.active[-1])  # start: the heal of the kill
    first = iptables_calls(nemesis, "-A")[: len(partition.detail["rules"])]
    assert iptables_calls(nemesis, "-A")[-2:] == [c for c in first if c.startswith(f"net_exec {A2} ")]
    reapplied = [e for e in nemesis_events(nemesis) if e["f"] == "reapply"]
    assert [(e["type"], e["node"], e.get("rules"), e.get("errors")) for e in reapplied] == [
        ("invoke", A1, None, None),
        ("ok", A1, 2, []),
        ("invoke", A2, None, None),
        ("ok", A2, 2, []),
    ]


def test_a_node_that_came_back_at_another_address_is_cut_off_there(nemesis: Nemesis) -> None:
    cluster = nemesis.cluster
    nemesis.inject("partition-pairs")
    cluster.address = lambda name: f"new-ip-of-{name}" if name == A1 else f"ip-of-{name}"  # type: ignore[method-assign]
    nemesis.inject("restart", A1)
    (partition,) = nemesis.active
    # the rules against A1 on the other pair's nodes moved to its new address; A1's own rules went back
    deleted = iptables_calls(nemesis, "-D")
    assert sorted(c.split()[1] for c in deleted) == [A2, B2]
    assert all(f"-s ip-of-{A1} " in c for c in deleted)
    assert sum(f"-s new-ip-of-{A1} " in c for c in iptables_calls(nemesis, "-A")) == 2
    nemesis.heal_one(partition)
    # the heal takes out what is in force now: the new address's rules, not the old ones again
    healed = iptables_calls(nemesis, "-D")[len(deleted) :]
    assert sum(f"-s new-ip-of-{A1} " in c for c in healed) == 2
    assert not any(f"-s ip-of-{A1} " in c for c in healed)


def test_a_rule_that_could_not_go_back_is_retried_when_its_other_node_starts(nemesis: Nemesis) -> None:
    cluster = nemesis.cluster
    nemesis.inject("partition-pairs")
    nemesis.inject("kill", A2)
    (partition, kill_a2) = nemesis.active
    down = {A2}
    real_address = cluster.address

    def address(name: str) -> str:
        if name in down:
            raise HarnessError(f"{name} has no address (is it running?)")
        return real_address(name)

    cluster.address = address  # type: ignore[method-assign]
    nemesis.inject("restart", A1)  # A1's rule against A2 cannot go back while A2 is down
    assert [rule[1] for rule in partition.detail["rules"] if rule[0] == A1 and rule[2] == A2] == [""]
    down.clear()
    nemesis.heal_one(kill_a2)  # A2 starts: its own rules, and A1's against it
    assert (
        f"net_exec {A1} iptables -A INPUT -s ip-of-{A2} "
        in " ".join(iptables_calls(nemesis, "-A")[-3:]) + " "
    )
    assert all(rule[1] for rule in partition.detail["rules"])
    errors = [e["errors"] for e in nemesis_events(nemesis) if e["f"] == "reapply" and e["type"] == "ok"]
    assert len(errors[0]) == 1 and A1 in errors[0][0] and errors[1] == []


def test_every_kind_needs_a_mechanism_a_backend_can_name() -> None:
    assert {kind.needs for kind in FAULT_KINDS.values()} == set(MECHANISMS)


@pytest.mark.parametrize(("kind", "args"), [("slow", ["live:01"]), ("delay", ["live:01", "100"])])
def test_a_kind_the_backend_cannot_realise_is_refused_in_one_line_before_anything_is_touched(
    tmp_path: Path, kind: str, args: list[str]
) -> None:
    cluster = FakeCluster(capabilities=frozenset({"process", "filter"}))
    with History(tmp_path / "history.jsonl", {"seed": 1}) as history:
        nemesis = Nemesis(cluster, history, random.Random(1))  # type: ignore[arg-type]
        with pytest.raises(FaultRefused) as refused:
            nemesis.inject(kind, *args)
        assert str(refused.value) == (
            f"the fake backend cannot realise {kind} (needs tc); it has filter, process"
        )
        assert nemesis.inject("kill", "live:01") == A1  # what it has, it does
    assert cluster.calls == [f"kill {A1}"]
    assert [e["action"] for e in read_history(tmp_path / "history.jsonl") if e["p"] == "nemesis"] == [
        "kill",
        "kill",
    ]


def test_a_kind_the_scenario_did_not_declare_is_refused(nemesis: Nemesis) -> None:
    nemesis.declared = frozenset({"kill"})
    with pytest.raises(HarnessError, match="injects freeze, which its chaos_faults marker does not declare"):
        nemesis.inject("freeze", "live:01")
    assert nemesis.inject("kill", "live:02") == A2
    assert nemesis.cluster.calls == [f"kill {A2}"]


def test_a_partition_leaves_out_the_rules_of_a_node_out_of_reach_where_the_other_side_cuts_the_link(
    tmp_path: Path,
) -> None:
    """An SSH backend cannot reach the VIP: isolating a node from its clients holds the rule on the node only
    (it drops the VIP's packets, which cuts the link), and the history says so; a one-way partition whose
    only rule would be the VIP's is refused before anything is touched."""
    cluster = FakeCluster(out_of_reach=frozenset({"vip"}))
    with History(tmp_path / "history.jsonl", {"seed": 1}) as history:
        nemesis = Nemesis(cluster, history, random.Random(1))  # type: ignore[arg-type]
        assert nemesis.inject("isolate", "live:01", "clients") == f"{A1} from clients"
        assert [c for c in cluster.calls if "iptables" in c] == [
            f"net_exec {A1} iptables -A INPUT -s ip-of-vip -j DROP -m comment --comment amqchaos-test"
        ]
        nemesis.heal()
        cluster.calls.clear()
        with pytest.raises(
            FaultRefused, match="mute needs vip to drop packets from chaos-mq01-a, and the fake"
        ):
            nemesis.inject("mute", "live:01", "clients")
        assert not [c for c in cluster.calls if "iptables" in c]
    invokes = [
        e for e in read_history(tmp_path / "history.jsonl") if e["f"] == "fault" and e["type"] == "invoke"
    ]
    assert invokes[0]["grudge"] == {A1: ["vip"]}  # what was in force: the node's rule
    assert len(invokes) == 1  # the refused mute was never begun


def test_a_waiting_role_names_the_pairs_standby_a_replicating_pure_slave_too(nemesis: Nemesis) -> None:
    """`waiting:01` is the pair's standby: on a pure master/slave pair the slave replicates its master
    rather than waiting on a lock, and a scenario's `kill waiting:01` must still find it."""
    assert nemesis.resolve("waiting:01") == B1 and nemesis.resolve("live:02") == A2
    nemesis.cluster.node_state = lambda name: "live" if name.endswith("-a") else "replicating"  # type: ignore[method-assign]
    assert nemesis.resolve("waiting:01") == B1 and nemesis.resolve("replicating:02") == B2
    nemesis.cluster.node_state = lambda name: "live"  # type: ignore[method-assign]
    with pytest.raises(HarnessError, match="no single waiting node in pair 01"):
        nemesis.resolve("waiting:01")
