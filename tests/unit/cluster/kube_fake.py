"""A fake Kubernetes API for the Kubernetes backend's contract tests: it keeps the objects it is sent, plays
the StatefulSet and Deployment controllers (pods appear, running), plays Chaos Mesh (an object is injected
after a few reads, restored and gone a few reads after its delete, with the statuses Chaos Mesh writes), runs
a small model of each pod's broker for exec, and records the RBAC permission of every call."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from harness.cluster.kube_api import CHAOS_KINDS, KubeApiError, permission

LIVE_LINE = "INFO | Apache ActiveMQ 5.17.6 (chaos-mq01-a, ID:x) started\n"
WAITING_LINE = (
    "INFO | Database /kahadb/lock is locked... waiting 10 seconds for the database to be unlocked.\n"
)


@dataclass
class FakePod:
    name: str
    labels: dict[str, str]
    ip: str
    process: str = "down"  # running, frozen, down
    pid: int = 0
    log: str = ""
    rules: list[str] = field(default_factory=list)  # iptables -S INPUT lines


class FakeKubeApi:
    def __init__(self, namespace: str = "amq-test", inject_after: int = 2, restore_after: int = 1) -> None:
        self.namespace = namespace
        self.inject_after = inject_after  # reads of a Chaos Mesh object before it is in force
        self.restore_after = restore_after  # reads after its delete before it is gone
        self.never_injected: set[str] = set()  # names chaos-daemon fails to inject
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[str, FakePod] = {}
        self.permissions: set[tuple[str, str, str]] = set()
        self.calls: list[str] = []
        self.execs: list[tuple[str, list[str]]] = []
        self._reads: dict[str, int] = {}
        self._deleting: dict[str, int] = {}
        self._pids = 100
        self.closed = False

    # --------------------------------------------------------------------------------------- objects
    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        kind, name = obj["kind"], obj["metadata"]["name"]
        self.permissions.add(permission("create", kind))
        self.calls.append(f"create {kind} {name}")
        if (kind, name) in self.objects:
            raise KubeApiError(f"create {kind} {name}: 409 AlreadyExists", 409)
        stored = copy.deepcopy(obj)
        stored["metadata"].setdefault("namespace", self.namespace)
        self.objects[(kind, name)] = stored
        if kind == "StatefulSet":
            for ordinal in range(stored["spec"]["replicas"]):
                self._add_pod(f"{name}-{ordinal}", stored)
        elif kind == "Deployment":
            self._add_pod(f"{name}-5d8f7c", stored)
        elif kind in CHAOS_KINDS:
            self._reads[name] = 0
        return copy.deepcopy(stored)

    def _add_pod(self, pod: str, controller: dict[str, Any]) -> None:
        labels = dict(controller["spec"]["template"]["metadata"]["labels"])
        labels["statefulset.kubernetes.io/pod-name"] = pod
        self.pods[pod] = FakePod(pod, labels, f"10.0.0.{len(self.pods) + 2}")
        if labels.get("app.kubernetes.io/component") == "broker":
            self._start(self.pods[pod])

    def _start(self, pod: FakePod) -> None:
        self._pids += 1
        pod.process, pod.pid = "running", self._pids
        pod.log = LIVE_LINE if pod.name.endswith("-0") else WAITING_LINE

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        self.permissions.add(permission("get", kind))
        if kind == "Pod":
            pod = self.pods.get(name)
            if pod is None:
                return None
            return {
                "metadata": {"name": pod.name, "labels": pod.labels},
                "status": {"phase": "Running", "podIP": pod.ip},
            }
        found = self.objects.get((kind, name))
        if found is None:
            return None
        if kind in CHAOS_KINDS:
            if name in self._deleting:
                self._deleting[name] -= 1
                if self._deleting[name] < 0:
                    del self.objects[(kind, name)]
                    del self._deleting[name]
                    return None
            else:
                self._reads[name] += 1
                if self._reads[name] >= self.inject_after and name not in self.never_injected:
                    found["status"] = self.chaos_status(found, "Injected")
                else:
                    found["status"] = self.chaos_status(found, "Not Injected")
        return copy.deepcopy(found)

    def chaos_status(self, obj: dict[str, Any], phase: str) -> dict[str, Any]:
        """What Chaos Mesh writes: a record per selected pod (and target pod), the conditions over them."""
        spec = obj["spec"]
        records = [
            {
                "id": f"{self.namespace}/{pod}",
                "selectorKey": key,
                "phase": phase,
                "injectedCount": 1,
                "recoveredCount": 0,
            }
            for key, selector in (
                (".", spec["selector"]),
                ("target", (spec.get("target") or {}).get("selector")),
            )
            if selector
            for pod in selector["pods"][self.namespace]
        ]
        injected = all(r["phase"] == "Injected" for r in records)
        return {
            "conditions": [
                {"type": "Selected", "status": "True"},
                {"type": "AllInjected", "status": "True" if injected else "False"},
                {"type": "AllRecovered", "status": "False"},
                {"type": "Paused", "status": "False"},
            ],
            "experiment": {"desiredPhase": "Run", "containerRecords": records},
        }

    def lose_injection(self, name: str, pod: str) -> None:
        """What Chaos Mesh issues report after a pod restart: the record of `pod` no longer injected."""
        self.never_injected.add(name)
        found = self.objects[next(k for k in self.objects if k[1] == name)]
        for record in found["status"]["experiment"]["containerRecords"]:
            if record["id"].endswith(f"/{pod}"):
                record["phase"] = "Not Injected"

    def select(self, kind: str, selector: str) -> list[dict[str, Any]]:
        self.permissions.add(permission("list", kind))
        wanted = [term.partition("=") for term in selector.split(",")]

        def matches(labels: dict[str, str]) -> bool:
            return all(k in labels and (not eq or labels[k] == v) for k, eq, v in wanted)

        if kind == "Pod":
            return [self.get("Pod", p.name) for p in self.pods.values() if matches(p.labels)]  # type: ignore[misc]
        return [
            copy.deepcopy(obj)
            for (k, _), obj in self.objects.items()
            if k == kind and matches(obj["metadata"].get("labels", {}))
        ]

    def delete(self, kind: str, name: str) -> bool:
        self.permissions.add(permission("delete", kind))
        self.calls.append(f"delete {kind} {name}")
        if (kind, name) not in self.objects:
            return False
        if kind in CHAOS_KINDS:
            self._deleting.setdefault(name, self.restore_after)
            self.never_injected.discard(name)
            return True
        obj = self.objects.pop((kind, name))
        if kind in ("StatefulSet", "Deployment"):
            for pod in [
                p
                for p in self.pods.values()
                if all(p.labels.get(k) == v for k, v in obj["spec"]["selector"]["matchLabels"].items())
            ]:
                del self.pods[pod.name]
        return True

    # ------------------------------------------------------------------------------------ in the pods
    def exec(
        self, pod: str, container: str, command: list[str], timeout: float, stdin: bytes | None = None
    ) -> tuple[int, str]:
        self.permissions.add(permission("create", "Pod", "exec"))
        self.execs.append((pod, list(command)))
        p = self.pods[pod]
        if command[0] == "amq-host-broker":
            return self._service(p, command[1])
        if command[:2] == ["sh", "-c"] and "amq-host-broker status" in command[2]:
            line = f"{p.process} {p.pid if p.process != 'down' else 0}\n"
            offset = re.search(r"tail -c \+([0-9]+)", command[2])
            if offset:
                start = int(offset[1]) - 1
                line += f"{len(p.log.encode())}\n{p.log.encode()[start:].decode()}"
            return 0, line
        if command[0] == "cat":
            return 0, p.log
        if command[:3] == ["iptables", "-S", "INPUT"]:
            return 0, "-P INPUT ACCEPT\n" + "".join(f"{rule}\n" for rule in p.rules)
        if command[:2] == ["iptables", "-A"]:
            p.rules.append("-A " + " ".join(command[2:]))
            return 0, ""
        if command[:2] == ["iptables", "-D"]:
            rule = "-A " + " ".join(command[2:])
            if rule in p.rules:
                p.rules.remove(rule)
                return 0, ""
            return 1, "iptables: Bad rule (does a matching rule exist in that chain?)."
        return 0, ""

    def _service(self, pod: FakePod, action: str) -> tuple[int, str]:
        if action == "status":
            return 0, f"{pod.process}\n"
        if action in ("kill", "stop"):
            pod.process, pod.pid = "down", 0
        elif action == "start":
            if pod.process == "down":
                self._start(pod)
        elif action == "freeze":
            pod.process = "frozen"
        elif action == "thaw":
            pod.process = "running"
        return 0, ""

    def log(self, pod: str, container: str, since_seconds: int | None = None) -> str:
        self.permissions.add(permission("get", "Pod", "log"))
        return f"haproxy log of {pod}\n"

    def port_forward(self, pod: str, port: int) -> tuple[str, int]:
        self.permissions.add(permission("create", "Pod", "portforward"))
        self.calls.append(f"port-forward {pod}:{port}")
        return "127.0.0.1", 40000 + len(self.calls)

    def close(self) -> None:
        self.closed = True


def granted(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """A Role's rules as the (group, resource, verb) lines the fake records."""
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
