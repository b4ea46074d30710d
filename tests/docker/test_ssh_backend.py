"""The SSH backend on stand-in hosts (tests/docker/standin_hosts.py) that it reaches only by SSH: a scenario
runs and is judged as on Compose with no Docker call made while it runs, and the bridges cut for good from
outside the harness fail `bridges-resumed` as they do on Compose."""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Iterator
from pathlib import Path

import docker.api.client
import pytest

from harness.chaos.run import ChaosRun
from harness.chaos.spec import RunSpec
from harness.check.weaknesses import SINGLE_FAULT
from harness.cluster.backends import open_cluster
from harness.cluster.hosts import HostsCluster
from harness.design.catalog import design
from harness.errors import HarnessError
from tests.docker.standin_hosts import StandInHosts, start
from tests.support import cluster_settings

LOAD = 150


@pytest.fixture(scope="module")
def standin(docker_available: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandInHosts]:
    with start(tmp_path_factory.mktemp("ssh-hosts"), cluster_settings(), owner="tests") as hosts:
        yield hosts


def hosts_cluster(
    standin: StandInHosts, folder: Path, design_name: str = "seed", discovery: str = "multicast"
) -> HostsCluster:
    inventory = standin.inventory
    if discovery != "multicast":  # the same hosts, their bridges naming each other's address
        inventory = folder / f"hosts-{discovery}.toml"
        folder.mkdir(parents=True, exist_ok=True)
        inventory.write_text(
            standin.inventory.read_text().replace(
                'mode = "install"', f'mode = "install"\ndiscovery = "{discovery}"'
            )
        )
    settings = dataclasses.replace(
        cluster_settings(),
        backend="ssh",
        inventory=inventory,
        runs_dir=folder,
        design=design(design_name),
    )
    cluster = open_cluster(settings)
    assert isinstance(cluster, HostsCluster)
    return cluster


class DockerCalled(AssertionError):
    pass


@pytest.fixture
def no_docker(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every request the Docker SDK would send, refused and recorded (its client is a requests Session)."""
    calls: list[str] = []

    def refuse(self: object, request: object, **kwargs: object) -> None:
        calls.append(str(getattr(request, "url", request)))
        raise DockerCalled(f"the SSH backend called Docker: {calls[-1]}")

    monkeypatch.setattr(docker.api.client.APIClient, "send", refuse)
    return calls


@pytest.mark.parametrize(
    ("design_name", "discovery"), [("seed", "multicast"), ("hardened", "multicast"), ("seed", "static")]
)
def test_kill_live_master_on_ssh_hosts_is_judged_ok_with_no_docker_call(
    standin: StandInHosts, tmp_path: Path, no_docker: list[str], design_name: str, discovery: str
) -> None:
    cluster = hosts_cluster(standin, tmp_path, design_name, discovery)
    assert cluster.inventory.discovery == discovery
    with cluster:
        # declared as scenarios/test_faults.py declares kill-live-master
        spec = RunSpec(
            "ssh-kill-live-master",
            7,
            tmp_path / "run",
            design=design_name,
            expected=SINGLE_FAULT[design_name],
        )
        run = ChaosRun(cluster, spec)
        with run:
            run.load(LOAD)
            victim = run.nemesis.inject("kill", "live:random")
            run.await_takeover(victim)
            run.load(LOAD)
    assert no_docker == []
    assert run.result is not None
    assert run.result.ok, [v for v in run.result.verdicts if v.checker in run.result.unexpected]
    # the run went through: messages crossed the cluster and the kill was on a host, by SSH
    assert run.result.verdict("lost").counts.get("acknowledged", 0) > LOAD
    logs = tmp_path / cluster.run_id / "logs"
    assert (logs / f"{victim}.log").read_text().strip()
    if discovery == "static":  # the bridges named their peers: no discovery agent found them
        configs = tmp_path / cluster.run_id / "config"
        assert all(
            "static:(" in (configs / n / "activemq.xml").read_text() for n in ("chaos-mq01-a", "chaos-mq02-a")
        )


def test_bridges_cut_from_outside_the_harness_are_not_resumed_on_ssh_hosts(
    standin: StandInHosts, tmp_path: Path, no_docker: list[str]
) -> None:
    cluster = hosts_cluster(standin, tmp_path)
    group = cluster.topology.group
    a1, a2 = f"{group}-mq01-a", f"{group}-mq02-a"
    with cluster:
        run = ChaosRun(
            cluster,
            RunSpec(
                "ssh-control-bridge",
                1,
                tmp_path / "run",
                probe_timeout=15,
                recovery_timeout=20,
                drain_timeout=5,
            ),
        )
        with run:
            run.load(50)
            # by hand on the hosts, as an operator's firewall change would: no fault in the history, never
            # healed (tagged with the run, so the teardown's sweep takes it away)
            for holder, peer in ((a1, a2), (a2, a1)):
                rule = f"-s {cluster.address(peer)} -j DROP -m comment --comment amqchaos-{cluster.run_id}"
                code, out = cluster.hosts[holder].run(["iptables", "-A", "INPUT", *shlex.split(rule)])
                assert code == 0, out
    assert no_docker == []
    verdict = run.result.verdict("bridges-resumed")
    assert verdict.valid is False
    assert sorted(verdict.evidence["not_resumed"]) == [f"{a1}->{a2}", f"{a2}->{a1}"]


def test_observe_mode_leaves_the_brokers_as_it_found_them_and_writes_no_secret(
    standin: StandInHosts, tmp_path: Path, no_docker: list[str]
) -> None:
    """A cluster the user runs (here: brought up by an install-mode cluster over the same hosts) observed by a
    run that must neither reconfigure it nor stop it; no credential in anything the run wrote."""
    installed = hosts_cluster(standin, tmp_path / "installed")
    observed_inventory = tmp_path / "observe.toml"
    observed_inventory.write_text(
        standin.inventory.read_text().replace('mode = "install"', 'mode = "observe"')
    )
    with installed:
        settings = dataclasses.replace(
            cluster_settings(), backend="ssh", inventory=observed_inventory, runs_dir=tmp_path / "observed"
        )
        observed = open_cluster(settings)
        assert isinstance(observed, HostsCluster) and observed.inventory.mode == "observe"
        configs_before = {
            n.name: observed.exec(n, "cat", "/etc/amq/activemq.xml")[1] for n in observed.topology.nodes
        }
        with observed:
            run = ChaosRun(
                observed, RunSpec("ssh-observed", 3, tmp_path / "observed-run", expected=SINGLE_FAULT["seed"])
            )
            with run:
                run.load(LOAD)
                victim = run.nemesis.inject("kill", "live:random")
                run.await_takeover(victim)
                run.load(LOAD)
        # the brokers still run, on the configuration they had
        assert all(installed.process_running(n.name) for n in installed.topology.nodes)
        assert {
            n.name: installed.exec(n, "cat", "/etc/amq/activemq.xml")[1] for n in installed.topology.nodes
        } == configs_before
    assert no_docker == []
    assert run.result is not None and run.result.ok, run.result.unexpected
    credentials = cluster_settings().credentials
    secrets = {credentials.client_password, credentials.network_password}
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".toml"]
    assert written and not [p for p in written if any(s in p.read_text(errors="replace") for s in secrets)]


def test_fill_store_refuses_a_store_that_is_a_servers_own_disk(
    standin: StandInHosts, tmp_path: Path, no_docker: list[str]
) -> None:
    """A scenario that asks for a size-limited store (chaos_cluster(store_size=...)) on hosts whose store is a
    disk of its own size: the fault is refused in one line, and nothing is written there."""
    cluster = hosts_cluster(standin, tmp_path)
    cluster.settings = dataclasses.replace(cluster.settings, store_size="64m")
    with cluster:
        run = ChaosRun(cluster, RunSpec("ssh-fill-store", 1, tmp_path / "run", drain_timeout=5))
        with run:
            run.load(20)
            with pytest.raises(
                HarnessError, match=r"fill-store 01 failed .*fills only a store of at most 4g"
            ):
                run.nemesis.inject("fill-store", "01")
        where, folder = cluster.store_folder("01")
        assert "amqchaos-ballast" not in cluster.exec(where, "ls", folder)[1]
    assert no_docker == []
