"""The SSH backend: the brokers run on servers the inventory lists, reached only by SSH.

Install mode renders the design's configuration, installs it on each host, empties the pairs' stores and
starts the brokers (masters first); teardown stops them. Observe mode leaves the brokers and their
configuration as the user runs them: it waits for the cluster to be ready and refuses what would change it.

A node's broker is controlled by a service script (`<service> start|stop|kill|freeze|thaw|status|pid`) or a
systemd unit; its state is its process's (running, frozen, gone) and then its log's since the last poll, read
in one SSH round trip. Everything a run leaves on a host (filter rules, traffic shaping, a lock holder, a
ballast file, a frozen or CPU-limited broker) carries the run's tag or is undone by `sweep`, which also runs
first at bring-up to clear what a killed run left.
"""

from __future__ import annotations

import dataclasses
import shlex
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar, Self

from harness.cluster.backend import MECHANISMS, PROCESS_ACTIONS, STOP_TIMEOUT
from harness.cluster.brokers import BrokerCluster, new_run_id
from harness.cluster.inventory import HostNode, Inventory
from harness.cluster.leftovers import remove_leftovers
from harness.cluster.log_cursor import LogCursors, parse_probe, probe_line
from harness.cluster.render import render_configs
from harness.cluster.ssh import ROOT_COMMANDS, SshHost
from harness.design.topology import Node
from harness.errors import HarnessError, MachineError
from harness.settings import Settings

TOOLS_ENV = ".amq-chaos/env-{run_id}"  # under the SSH user's home: what the project's tools need to log in
RULE_TAG_PREFIX = "amqchaos-"  # every filter rule the nemesis adds carries amqchaos-<run id>
SERVICE_ACTIONS = {"kill": "kill", "stop": "stop", "start": "start", "freeze": "freeze", "thaw": "thaw"}
SYSTEMD_ACTIONS = {
    "kill": ["systemctl", "kill", "--signal=SIGKILL"],
    "stop": ["systemctl", "stop"],
    "start": ["systemctl", "start"],
    "freeze": ["systemctl", "freeze"],
    "thaw": ["systemctl", "thaw"],
}


class HostsCluster(BrokerCluster):
    backend = "ssh"
    primitives: ClassVar[dict[str, str]] = {
        "kill": "`<service> kill` (SIGKILL) or `systemctl kill --signal=SIGKILL <unit>`",
        "stop": "`<service> stop` (SIGTERM, SIGKILL after 30 s) or `systemctl stop <unit>`",
        "restart": "stop, then start, as above",
        "freeze": "`<service> freeze` (SIGSTOP) or `systemctl freeze <unit>`",
        "isolate": "iptables DROP rules on the hosts, tagged with the run; from the clients, the node's rule alone "
        "(the VIP is out of reach, and the node dropping its packets cuts the link)",
        "partition-pairs": "iptables DROP rules on the hosts, tagged with the run, removed by tag",
        "partition": "iptables DROP rules on the hosts, tagged with the run, removed by tag",
        "mute": "iptables DROP rules on the other hosts, tagged with the run; unheard by the clients: refused (only "
        "the VIP could hold that rule)",
        "one-way": "an iptables DROP rule on the deaf host, tagged with the run",
        "lossy": "iptables DROP rules with `-m statistic --probability`",
        "reset": "iptables `REJECT --reject-with tcp-reset` rules",
        "slow": "`tc qdisc add dev <interface> root tbf` on the host",
        "delay": "`tc qdisc add dev <interface> root netem delay` (where the kernel has sch_netem)",
        "starve": "`systemctl set-property --runtime <unit> CPUQuota=` (systemd control only)",
        "fill-store": "`fallocate` of a ballast file on the pair's shared mount, from a running member",
        "lose-lock": "`rm` of the pair's lock file (the inventory's `lock`) from its live node",
        "hold-lock": "a process holding an fcntl lock on the pair's lock file on its waiting host",
    }

    def __init__(
        self,
        settings: Settings,
        inventory: Inventory,
        run_id: str | None = None,
        log: Callable[..., None] = print,
        hosts: dict[str, SshHost] | None = None,
    ) -> None:
        self.inventory = inventory
        self.settings = dataclasses.replace(settings, topology=inventory.topology)
        self.topology = self.settings.topology
        self.run_id = run_id or new_run_id()
        self.directory = settings.runs_dir / self.run_id
        self.log = log
        self.hosts = hosts or {
            node.name: SshHost(node.ssh, inventory.known_hosts, inventory.trust_unknown_hosts, log)
            for node in inventory.nodes
        }
        self._cursors = LogCursors()
        # what teardown must undo: nothing before every host was reached, no broker stopped unless installed
        self._reached = False
        self._installed = False

    @property
    def tools_env(self) -> str:
        return TOOLS_ENV.format(run_id=self.run_id)

    # ------------------------------------------------------------------------------ what it can do
    @property
    def name(self) -> str:
        return f"{self.inventory.path.name}:{self.inventory.group}"

    @property
    def capabilities(self) -> frozenset[str]:
        able = set(MECHANISMS)
        if any(n.broker.control != "systemd" for n in self.inventory.nodes):
            able.discard("cpu")  # a CPU quota is a systemd property here; a service script has none
        if self.inventory.mechanisms is not None:
            able &= self.inventory.mechanisms
        return frozenset(able)

    def software(self) -> dict[str, str]:
        return {"hosts": ", ".join(f"{n.name}={n.ssh.host}" for n in self.inventory.nodes)}

    # -------------------------------------------------------------------------------------- lifecycle
    def up(self) -> Self:
        started = time.monotonic()
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._reach_every_host()
            self._reached = True
            self.sweep_left_behind()
            self._each(self._write_tools_env)
            if self.inventory.mode == "install":
                self._install()
            self.wait_ready(self.settings.ready_timeout)
        except BaseException:
            self.down()
            raise
        self.log(f"cluster {self.name} ready in {time.monotonic() - started:.1f}s ({self.directory})")
        return self

    def down(self) -> None:
        errors: list[str] = []
        steps: list[Callable[[], None]] = [self.collect_logs, self.sweep] if self._reached else []
        if self._installed:
            steps.append(self._stop_brokers)
        if self._reached:
            steps.append(self._remove_tools_env)
        for step in steps:
            try:
                step()
            except Exception as exc:
                errors.append(f"{getattr(step, '__name__', step)}: {exc}")
        for host in self.hosts.values():
            host.close()
        if errors:
            raise HarnessError("teardown incomplete: " + "; ".join(errors))

    def sweep(self) -> None:
        """Undo what this run may have left: its filter rules, shaping, lock holder, ballast, a frozen or
        CPU-limited broker."""
        self._sweep(f"{RULE_TAG_PREFIX}{self.run_id}")

    def sweep_left_behind(self) -> None:
        """What any earlier run left on these hosts (a harness killed before its teardown), its tools'
        credentials file included."""
        self._sweep(RULE_TAG_PREFIX)
        left = TOOLS_ENV.format(run_id="*")

        def remove(node: HostNode) -> None:
            self.hosts[node.name].run_line(f'rm -f "$HOME"/{left}', timeout=30)

        self._each(remove)

    def _sweep(self, tag: str) -> None:
        def clean(node: HostNode) -> None:
            # every command there is one the host runs as root (ssh.ROOT_COMMANDS), as exec does
            remove_leftovers(
                self.node_exec(node.name), node.name, tag, node.broker.interface, node.broker.store
            )
            if self._process_state(node) == "frozen":
                self.node_process(node.name, "thaw")
            if node.broker.control == "systemd" and "cpu" in self.capabilities:
                self.cpu_limit(node.name, None)

        self._each(clean)

    def _each(self, action: Callable[[HostNode], None]) -> None:
        with ThreadPoolExecutor(max_workers=len(self.inventory.nodes)) as pool:
            for future in [pool.submit(action, node) for node in self.inventory.nodes]:
                future.result()

    def _reach_every_host(self) -> None:
        """One line naming each host that cannot be reached, before anything is touched."""
        problems: list[str] = []

        def reach(node: HostNode) -> None:
            try:
                self.hosts[node.name].connect()
            except MachineError as exc:
                problems.append(str(exc))

        self._each(reach)
        if problems:
            raise MachineError("cannot reach every host of the inventory: " + "; ".join(sorted(problems)))

    def _write_tools_env(self, node: HostNode) -> None:
        credentials = self.settings.credentials
        environment = {
            "AMQ_CLIENT_USER": credentials.client_user,
            "AMQ_CLIENT_PASSWORD": credentials.client_password,
            "AMQ_STOMP": self.settings.stomp_protocol,
        }
        if any("\n" in value for value in environment.values()):
            raise HarnessError("a credential holds a line break: the tools' environment file cannot")
        text = "".join(f"{key}={shlex.quote(value)}\n" for key, value in environment.items())  # sourced by sh
        self.hosts[node.name].upload(text.encode(), self.tools_env, mode=0o600, root=False)

    def _install(self) -> None:
        """The design's configuration on each host, the stores emptied, the brokers started masters first."""
        self._installed = True
        self._stop_brokers()
        static = (
            {n.name: n.address for n in self.inventory.nodes}
            if self.inventory.discovery == "static"
            else None
        )
        config = render_configs(self.settings, self.directory, static)
        environment = self.settings.credentials.as_env() | {
            "AMQ_HEAP": self.settings.heap,
            "AMQ_STOMP": self.settings.stomp_protocol,
        }
        if any("\n" in value for value in environment.values()):
            raise HarnessError(
                "a credential or setting holds a line break: the broker's environment file cannot"
            )
        # KEY=VALUE lines taken as they are (the service script reads them without a shell): no quoting
        env_file = "".join(f"{k}={v}\n" for k, v in environment.items()).encode()

        def install(node: HostNode) -> None:
            host = self.hosts[node.name]
            folder = str(Path(node.broker.config).parent)
            for path in sorted((config / node.name).iterdir()):
                host.upload(path.read_bytes(), f"{folder}/{path.name}")
            host.upload(env_file, f"{folder}/broker.env", mode=0o600)
            if node.role == "master":  # one of a pair empties the store they share, before either starts
                code, out = host.run(["sh", "-c", f"rm -rf {shlex.quote(node.broker.store)}/*"], timeout=60)
                if code != 0:
                    raise HarnessError(f"{node.name}: could not empty the store: {out.strip()[:200]}")

        self._each(install)
        for role in ("master", "slave"):
            for node in self.inventory.nodes:
                if node.role == role:
                    self.node_process(node.name, "start")

    def _remove_tools_env(self) -> None:
        def remove(node: HostNode) -> None:
            self.hosts[node.name].run_line(f'rm -f "$HOME/{self.tools_env}"', timeout=30)

        self._each(remove)

    def _stop_brokers(self) -> None:
        self._each(lambda node: self.node_process(node.name, "stop"))

    def collect_logs(self) -> None:
        logs = self.directory / "logs"
        logs.mkdir(parents=True, exist_ok=True)

        def collect(node: HostNode) -> None:
            code, out = self.hosts[node.name].run(["cat", node.broker.log], timeout=60)
            (logs / f"{node.name}.log").write_text(out if code == 0 else f"(not read: {out.strip()[:200]})\n")

        self._each(collect)

    # ---------------------------------------------------------------------------------- reaching nodes
    def _node(self, node: Node | str) -> HostNode:
        return self.inventory.node(node if isinstance(node, str) else node.name)

    def exec(self, node: Node | str, *command: str, timeout: float = 60) -> tuple[int, str]:
        host = self.hosts[self._node(node).name]
        if command[0] in ROOT_COMMANDS:
            return host.run(list(command), timeout=timeout)
        # the project's tools log in to the broker: the client credentials come from the SSH user's own
        # environment file (written at bring-up, mode 600), never a command line the host's `ps` shows
        env = f'"$HOME/{self.tools_env}"'
        line = f"set -a; if [ -r {env} ]; then . {env}; fi; set +a; exec {shlex.join(command)}"
        return host.run_line(line, timeout=timeout)

    def exec_detached(self, node: str, *command: str) -> None:
        self.hosts[node].start_detached(list(command))

    def upload(self, node: str, data: bytes, path: str, mode: int = 0o644) -> None:
        self.hosts[node].upload(data, path, mode)

    def node_process(self, node: str, action: str) -> None:
        host_node = self._node(node)
        if action == "restart":
            self.node_process(node, "stop")
            self.node_process(node, "start")
            return
        if action not in PROCESS_ACTIONS:
            raise HarnessError(f"no process action {action!r}: one of {', '.join(PROCESS_ACTIONS)}")
        broker = host_node.broker
        if broker.control == "systemd":
            command = [*SYSTEMD_ACTIONS[action], broker.unit]
        else:
            command = [broker.service, SERVICE_ACTIONS[action]]
        code, out = self.hosts[node].run(command, timeout=STOP_TIMEOUT + 15, root=True)
        if code != 0:
            raise HarnessError(f"{action} of {node}'s broker failed ({code}): {out.strip()[-200:]}")

    def _process_state(self, node: HostNode) -> str:
        return self._probe(node, log_from=None)[0]

    def process_running(self, node: str) -> bool:
        return self._process_state(self._node(node)) == "running"

    def cpu_limit(self, node: str, cpus: float | None) -> None:
        host_node = self._node(node)
        if host_node.broker.control != "systemd":
            raise HarnessError(f'{node}: a CPU quota needs a systemd unit (control = "systemd")')
        quota = "" if cpus is None else f"{cpus * 100:.0f}%"
        command = ["systemctl", "set-property", "--runtime", host_node.broker.unit, f"CPUQuota={quota}"]
        code, out = self.hosts[node].run(command, timeout=30)
        if code != 0:
            raise HarnessError(f"{node}: {shlex.join(command)} failed: {out.strip()[:200]}")

    def node_state(self, node: Node | str) -> str:
        host_node = self._node(node)
        start = self._cursors.offset(host_node.name)
        process, pid, size, text = self._probe(host_node, log_from=start)
        if process != "running":
            return "down" if process == "down" else process
        state = self._cursors.advance(host_node.name, pid, size, text, start)
        # a new life: what was read came from the old life's offset, so read this life's from its start
        return self.node_state(node) if state is None else state

    def _probe(self, node: HostNode, *, log_from: int | None) -> tuple[str, str, int, str]:
        """(running | frozen | down, pid, log size, log from offset `log_from` on) in one round trip; no log
        when `log_from` is None."""
        broker = node.broker
        if broker.control == "systemd":
            unit = shlex.quote(broker.unit)
            process = (
                f"pid=$(systemctl show -p MainPID --value {unit}); "
                f"freezer=$(systemctl show -p FreezerState --value {unit}); "
                'if [ "${pid:-0}" = 0 ]; then s=down; elif [ "$freezer" = frozen ]; then s=frozen; '
                "else s=running; fi; "
            )
        else:
            service = shlex.quote(broker.service)
            sudo = "sudo -n " if node.ssh.sudo else ""
            process = f"s=$({sudo}{service} status); pid=$({sudo}{service} pid); "
        code, out = self.hosts[node.name].run_line(probe_line(process, broker.log, log_from), timeout=20)
        return parse_probe(node.name, code, out, log_from is not None)

    def address(self, node: str) -> str:
        if node == "vip":
            return self.inventory.vip_address
        return self._node(node).address

    def controls(self, node: str) -> bool:
        """The brokers' hosts; the VIP is the user's load balancer, out of reach."""
        return any(n.name == node for n in self.inventory.nodes)

    def store_folder(self, pair: str) -> tuple[str, str]:
        """The store is mounted on both hosts of the pair: written from whichever runs."""
        members = [n for n in self.inventory.nodes if n.pair == pair]
        for node in members:
            if self._process_state(node) == "running":
                return node.name, node.broker.store
        return members[0].name, members[0].broker.store

    def lock_file(self, pair: str) -> str:
        return next(n.broker.lock_file for n in self.inventory.nodes if n.pair == pair)

    def broker_log(self, node: str) -> str:
        return self._node(node).broker.log

    def interface(self, node: str) -> str:
        return self._node(node).broker.interface

    def stomp_endpoint(self, node: Node | str) -> tuple[str, int]:
        return self._node(node).stomp

    @property
    def vip_endpoint(self) -> tuple[str, int]:
        return self.inventory.vip_stomp
