"""The Kubernetes backend: the cluster as objects in one namespace (harness.cluster.kube_objects), reached
through the API server only (harness.cluster.kube_api), faults Chaos Mesh has an action for done as Chaos Mesh
objects (harness.cluster.chaos_mesh), the rest by exec in the pods.

A broker runs under tini and its service script in its pod, so a kill, a stop or a freeze changes the broker
and not the pod: the pod's address, its network namespace and whatever rules are in it stay, as on a server.
The harness reaches each broker's STOMP port and the VIP's through port-forwards of its own, bound to
127.0.0.1. Teardown deletes every object labelled with the run; the sweep at bring-up deletes what an earlier
run of the harness left in the namespace (the namespace is the harness's: say so in docs/backends.md).
"""

from __future__ import annotations

import contextlib
import shlex
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, Self

from harness.cluster import kube_objects
from harness.cluster.backend import MECHANISMS, PROCESS_ACTIONS, STOP_TIMEOUT, Grudges
from harness.cluster.brokers import BrokerCluster, new_run_id
from harness.cluster.chaos_mesh import VENDORED_CRDS, ChaosMesh, partition, stress_cpu
from harness.cluster.kube_api import CHAOS_KINDS, OWNED_KINDS, RUN_LABEL, KubeApi
from harness.cluster.kube_objects import APP, APP_LABEL, COMPONENT_LABEL, STORE_MOUNT, pod_name
from harness.cluster.leftovers import remove_leftovers
from harness.cluster.log_cursor import LogCursors, parse_probe, probe_line
from harness.design.topology import Node
from harness.errors import ClusterNotReady, HarnessError
from harness.settings import KubeTarget, Settings
from harness.wait import wait_until

BROKER = "broker"  # the broker's container in its pod
VIP = "vip"
SERVICE = "amq-host-broker"  # the service script in the broker image (images/bin/amq-host-broker)
STARTED_TIMEOUT = 300.0  # seconds for every pod to be scheduled, pulled and running


class KubeCluster(BrokerCluster):
    backend = "k8s"
    primitives: ClassVar[dict[str, str]] = {
        "kill": "`kubectl exec` of `amq-host-broker kill` (SIGKILL) in the pod: the pod stays, the broker is down",
        "stop": "`kubectl exec` of `amq-host-broker stop` (SIGTERM, SIGKILL after 30 s)",
        "restart": "stop, then start, as above",
        "freeze": "`kubectl exec` of `amq-host-broker freeze` (SIGSTOP; Chaos Mesh has no pause action)",
        "isolate": "a NetworkChaos `partition` per grudge row (`direction: from`, the peers as its target), "
        "the VIP's pod among them",
        "partition-pairs": "a NetworkChaos `partition` per grudge row (`direction: from`)",
        "partition": "a NetworkChaos `partition` per grudge row (`direction: from`)",
        "mute": "a NetworkChaos `partition` on each other pod, the muted one as its target",
        "one-way": "one NetworkChaos `partition` on the deaf pod (`direction: from`)",
        "lossy": "a NetworkChaos `loss` per grudge row (`direction: from`)",
        "reset": "iptables `REJECT --reject-with tcp-reset` rules in the pods (exec; Chaos Mesh drops only)",
        "slow": "`tc qdisc add dev eth0 root tbf` in the pod (exec)",
        "delay": "`tc qdisc add dev eth0 root netem delay` in the pod (exec, where the node's kernel has sch_netem)",
        "starve": "a StressChaos of CPU workers in the broker's container, sharing its CPU limit (load, not a quota)",
        "fill-store": "`fallocate` of a ballast file on the pair's ReadWriteMany claim, from a running member",
        "lose-lock": "`rm` of the pair's KahaDB lock file from its live pod",
        "hold-lock": "a process holding an fcntl lock on the pair's lock file in its waiting pod",
    }

    def __init__(
        self,
        settings: Settings,
        api: KubeApi | None = None,
        run_id: str | None = None,
        log: Callable[..., None] = print,
    ) -> None:
        if settings.kube is None:
            raise HarnessError("BACKEND=k8s needs K8S_NAMESPACE, K8S_BROKER_IMAGE and K8S_VIP_IMAGE")
        if settings.design.pure_master_slave:
            raise HarnessError(
                "DESIGN=pure-master-slave is not available on BACKEND=k8s: its nodes each need a store of "
                "their own (a claim per pod), which the pairs' StatefulSets do not render yet"
            )
        self.settings = settings
        self.kube: KubeTarget = settings.kube
        self.topology = settings.topology
        self.run_id = run_id or new_run_id()
        self.directory = settings.runs_dir / self.run_id
        self.log = log
        self._api = api
        self._chaos: ChaosMesh | None = None
        self._cursors = LogCursors()
        self._endpoints: dict[tuple[str, int], tuple[str, int]] = {}
        self._endpoint_lock = threading.Lock()
        self._stressed: dict[str, str] = {}  # node -> its StressChaos
        self._created = False

    # ------------------------------------------------------------------------------ what it can do
    @property
    def api(self) -> KubeApi:
        if self._api is None:
            # the official client, loaded only when a run uses this backend (the tests give a fake)
            from harness.cluster.kube_client import ClientKubeApi

            self._api = ClientKubeApi(self.kube.namespace, self.kube.context)
        return self._api

    @property
    def chaos(self) -> ChaosMesh:
        if self._chaos is None:
            self._chaos = ChaosMesh(self.api, self.run_id, self.kube.crds or VENDORED_CRDS)
        return self._chaos

    @property
    def name(self) -> str:
        return f"k8s:{self.kube.namespace}"

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset(MECHANISMS)

    def software(self) -> dict[str, str]:
        return {"brokers": self.kube.broker_image, "vip": self.kube.vip_image}

    def objects(self) -> list[dict[str, Any]]:
        return kube_objects.cluster_objects(
            self.settings, self.kube, self.run_id, self.settings.credentials.as_env()
        )

    # -------------------------------------------------------------------------------------- lifecycle
    def up(self) -> Self:
        started = time.monotonic()
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self.sweep_left_behind()
            self._created = True
            for obj in self.objects():
                self.api.create(obj)
            self._wait_pods_running()
            self.wait_ready(self.settings.ready_timeout)
        except BaseException:
            self.down()
            raise
        self.log(f"cluster {self.name} ready in {time.monotonic() - started:.1f}s ({self.directory})")
        return self

    def _pods(self) -> list[dict[str, Any]]:
        return self.api.select("Pod", f"{RUN_LABEL}={self.run_id}")

    def _wait_pods_running(self) -> None:
        want = {pod_name(node) for node in self.topology.nodes}
        problems: list[str] = []

        def running() -> bool:
            pods = self._pods()
            phases = {p["metadata"]["name"]: (p.get("status") or {}).get("phase") for p in pods}
            vip = [name for name, phase in phases.items() if name not in want and phase == "Running"]
            problems[:] = [
                f"{name} {phases.get(name) or 'not created'}"
                for name in sorted(want)
                if phases.get(name) != "Running"
            ]
            if not vip:
                problems.append("the VIP's pod not running")
            return not problems

        wait_until(
            running,
            timeout=STARTED_TIMEOUT,
            what="every pod to run",
            interval=1.0,
            fail=lambda: ClusterNotReady(
                f"pods not running after {STARTED_TIMEOUT:.0f}s: {'; '.join(problems)} "
                f"(kubectl -n {self.kube.namespace} describe pods -l {RUN_LABEL}={self.run_id})"
            ),
        )

    def down(self) -> None:
        errors: list[str] = []
        steps: list[Callable[[], None]] = [self.collect_logs, self.sweep, self._delete_objects]
        for step in steps if self._created else []:
            try:
                step()
            except Exception as exc:
                errors.append(f"{getattr(step, '__name__', step)}: {exc}")
        if self._api is not None:
            self._api.close()
        if errors:
            raise HarnessError("teardown incomplete: " + "; ".join(errors))

    def _delete_objects(self, selector: str | None = None) -> None:
        """Every object the run created, the pods' controllers first, found by the run's label."""
        selector = selector or f"{RUN_LABEL}={self.run_id}"
        for kind in reversed(OWNED_KINDS):
            if kind in CHAOS_KINDS:
                continue  # healed by the sweep, through their finalizers
            for found in self.api.select(kind, selector):
                self.api.delete(kind, found["metadata"]["name"])

    def sweep(self) -> None:
        """Undo what the run may have left in force: its Chaos Mesh objects, and in each running pod its
        filter rules, shaping, lock holder, ballast and a frozen broker."""
        self.chaos.sweep()
        self._stressed.clear()
        tag = f"amqchaos-{self.run_id}"
        for node in self.topology.nodes:
            if not self._pod_running(pod_name(node)):
                continue
            remove_leftovers(self.node_exec(node), node.name, tag, self.interface(node.name), STORE_MOUNT)
            if self._process(node)[0] == "frozen":
                self.node_process(node.name, "thaw")

    def sweep_left_behind(self) -> None:
        """What an earlier run of the harness left in the namespace (one killed before its teardown)."""
        selector = f"{APP_LABEL}={APP}"
        self.chaos.sweep(RUN_LABEL)  # any run's: the label's key alone
        self._delete_objects(selector)

    def collect_logs(self) -> None:
        logs = self.directory / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for node in self.topology.nodes:
            try:
                code, out = self.exec(node, "cat", self.broker_log(node.name), timeout=60)
                text = out if code == 0 else f"(not read: {out.strip()[:200]})\n"
            except Exception as exc:  # a pod that never ran has no log to read
                text = f"(not read: {exc})\n"
            (logs / f"{node.name}.log").write_text(text)
        vip = self._vip_pod()
        if vip:
            with contextlib.suppress(Exception):
                (logs / "vip.log").write_text(self.api.log(vip, VIP))

    @property
    def grudges(self) -> Grudges:
        return _ChaosGrudges(self)

    # ---------------------------------------------------------------------------------- reaching nodes
    def _vip_pod(self) -> str:
        pods = self.api.select("Pod", f"{RUN_LABEL}={self.run_id},{COMPONENT_LABEL}=vip")
        running = [p["metadata"]["name"] for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        return running[0] if running else ""

    def pod_of(self, node: Node | str) -> str:
        """The pod that runs `node`'s broker."""
        return self._target(node)[0]

    def _target(self, node: Node | str) -> tuple[str, str]:
        name = node if isinstance(node, str) else node.name
        if name == VIP:
            pod = self._vip_pod()
            if not pod:
                raise HarnessError("the VIP has no running pod")
            return pod, VIP
        return pod_name(self.topology.node(name)), BROKER

    def _pod_running(self, pod: str) -> bool:
        found = self.api.get("Pod", pod) or {}
        return (found.get("status") or {}).get("phase") == "Running"

    def exec(self, node: Node | str, *command: str, timeout: float = 60) -> tuple[int, str]:
        pod, container = self._target(node)
        return self.api.exec(pod, container, list(command), timeout)

    def exec_detached(self, node: str, *command: str) -> None:
        pod, container = self._target(node)
        line = f"setsid -f {shlex.join(command)} </dev/null >/dev/null 2>&1"
        code, out = self.api.exec(pod, container, ["sh", "-c", line], 30)
        if code != 0:
            raise HarnessError(f"{node}: could not start {command[0]}: {out.strip()[:200]}")

    def upload(self, node: str, data: bytes, path: str, mode: int = 0o644) -> None:
        pod, container = self._target(node)
        quoted = shlex.quote(path)
        line = f"cat > {quoted}.amqchaos && chmod {mode:o} {quoted}.amqchaos && mv {quoted}.amqchaos {quoted}"
        code, out = self.api.exec(pod, container, ["sh", "-c", line], 60, stdin=data)
        if code != 0:
            raise HarnessError(f"{node}: could not write {path}: {out.strip()[:200]}")

    def node_process(self, node: str, action: str) -> None:
        if action == "restart":
            self.node_process(node, "stop")
            self.node_process(node, "start")
            return
        if action not in PROCESS_ACTIONS:
            raise HarnessError(f"no process action {action!r}: one of {', '.join(PROCESS_ACTIONS)}")
        code, out = self.exec(node, SERVICE, action, timeout=STOP_TIMEOUT + 15)
        if code != 0:
            raise HarnessError(f"{action} of {node}'s broker failed ({code}): {out.strip()[-200:]}")

    def _process(self, node: Node | str, log_from: int | None = None) -> tuple[str, str, int, str]:
        name = node if isinstance(node, str) else node.name
        process = f"s=$({SERVICE} status); pid=$({SERVICE} pid); "
        code, out = self.exec(
            node, "sh", "-c", probe_line(process, self.broker_log(name), log_from), timeout=20
        )
        return parse_probe(name, code, out, log_from is not None)

    def process_running(self, node: str) -> bool:
        return self._process(node)[0] == "running"

    def cpu_limit(self, node: str, cpus: float | None) -> None:
        if cpus is None:
            name = self._stressed.pop(node, None)
            if name:
                self.chaos.heal(name)
            return
        pod = pod_name(self.topology.node(node))
        obj = stress_cpu(self.chaos.name("starve"), self.run_id, self.kube.namespace, pod, cpus)
        self.chaos.apply(obj, [pod])
        self._stressed[node] = obj["metadata"]["name"]

    def node_state(self, node: Node | str) -> str:
        name = node if isinstance(node, str) else node.name
        if name == VIP:
            return "live" if self._vip_pod() else "down"
        if not self._pod_running(pod_name(self.topology.node(name))):
            return "down"
        start = self._cursors.offset(name)
        process, pid, size, text = self._process(name, log_from=start)
        if process != "running":
            return "down" if process == "down" else process
        state = self._cursors.advance(name, pid, size, text, start)
        return self.node_state(name) if state is None else state

    def address(self, node: str) -> str:
        pod, _ = self._target(node)
        found = self.api.get("Pod", pod)
        address = ((found or {}).get("status") or {}).get("podIP")
        if not address:
            raise HarnessError(f"{node} has no address (is its pod running?)")
        return str(address)

    def store_folder(self, pair: str) -> tuple[str, str]:
        """The claim is mounted in both pods of the pair: written from whichever runs its broker."""
        members = [node for node in self.topology.nodes if node.pair == pair]
        for node in members:
            if self._pod_running(pod_name(node)) and self.process_running(node.name):
                return node.name, STORE_MOUNT
        return members[0].name, STORE_MOUNT

    def _forward(self, pod: str, port: int) -> tuple[str, int]:
        with self._endpoint_lock:
            if (pod, port) not in self._endpoints:
                self._endpoints[(pod, port)] = self.api.port_forward(pod, port)
            return self._endpoints[(pod, port)]

    def stomp_endpoint(self, node: Node | str) -> tuple[str, int]:
        name = node if isinstance(node, str) else node.name
        if not self.settings.design.serves_clients(self.topology.node(name)):
            raise HarnessError(f"{name} has no client STOMP connector in design {self.settings.design.name}")
        return self._forward(pod_name(self.topology.node(name)), 61613)

    @property
    def vip_endpoint(self) -> tuple[str, int]:
        pod = self._vip_pod()
        if not pod:
            raise HarnessError("the VIP has no running pod")
        return self._forward(pod, 61613)


class _ChaosGrudges:
    """A grudge's rows as NetworkChaos objects, one per row, named by pod."""

    def __init__(self, cluster: KubeCluster) -> None:
        self.cluster = cluster

    def hold(self, holder: str, peers: list[str], loss: float | None) -> str:
        pods = [self.cluster.pod_of(node) for node in (holder, *peers)]
        kube = self.cluster.kube
        obj = partition(
            self.cluster.chaos.name("grudge"), self.cluster.run_id, kube.namespace, pods[0], pods[1:], loss
        )
        self.cluster.chaos.apply(obj, pods[:1])
        return str(obj["metadata"]["name"])

    def release(self, handle: str) -> None:
        self.cluster.chaos.heal(handle)

    def restarted(self, handle: str, node: str) -> bool:
        return self.cluster.chaos.reapply(handle, self.cluster.pod_of(node))
