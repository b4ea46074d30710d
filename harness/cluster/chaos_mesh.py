"""Faults as Chaos Mesh objects: what each one looks like, whether it is in force, and its life (apply, wait
until every target is injected, heal by deleting it, put it back when a pod lost it).

The objects are plain dicts (`chaos-mesh.org/v1alpha1`), checked against the CustomResourceDefinitions'
schemas before they are sent (the vendored copy in harness/cluster/crds/, or the user's own cluster's, named
by CHAOS_MESH_CRDS), so a field that Chaos Mesh would refuse is refused here, in one line, before the run.
What Chaos Mesh has no action for (a freeze, a TCP reset, the store and lock faults) the Kubernetes backend
does by exec in the pod instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from harness.cluster.kube_api import CHAOS_KINDS, KINDS, RUN_LABEL, KubeApi
from harness.errors import HarnessError
from harness.wait import wait_until

VENDORED_CRDS = Path(__file__).with_name("crds") / "chaos-mesh.yaml"
IN_FORCE_TIMEOUT = 60.0  # seconds for chaos-daemon to inject every target (it answers in about a second)
HEAL_TIMEOUT = 60.0  # seconds for the finalizer to restore every target and let the object go
BROKER_CONTAINER = "broker"


class ChaosRefused(HarnessError):
    """A Chaos Mesh object that its schema refuses, or that never came in force."""


# ------------------------------------------------------------------------------------------ the objects
def _meta(name: str, run_id: str, kind: str) -> dict[str, Any]:
    return {
        "apiVersion": KINDS[kind].api_version,
        "kind": kind,
        "metadata": {"name": name, "labels": {RUN_LABEL: run_id}},
    }


def _pods(namespace: str, pods: Iterable[str]) -> dict[str, Any]:
    return {"pods": {namespace: sorted(pods)}}


def partition(
    name: str, run_id: str, namespace: str, deaf: str, peers: Iterable[str], loss: float | None = None
) -> dict[str, Any]:
    """One row of a grudge: `deaf` stops hearing `peers` (all of their packets, or the fraction `loss`).

    `direction: from` with the deaf pod as the selector and the peers as the target is that row: Chaos Mesh
    drops on the deaf pod what comes from the peers, and on the peers what goes to it (so it also drops at the
    sender; the link is cut either way, which is what a row means to TCP)."""
    obj = _meta(name, run_id, "NetworkChaos")
    spec: dict[str, Any] = {
        "mode": "all",
        "selector": _pods(namespace, [deaf]),
        "direction": "from",
        "target": {"mode": "all", "selector": _pods(namespace, peers)},
    }
    if loss is None:
        spec["action"] = "partition"
    else:
        spec["action"] = "loss"
        spec["loss"] = {"loss": f"{loss * 100:g}", "correlation": "0"}
    obj["spec"] = spec
    return obj


MAX_STRESS_WORKERS = 32


def stress_cpu(name: str, run_id: str, namespace: str, pod: str, cpus: float) -> dict[str, Any]:
    """CPU load beside the broker, in its container, so that it gets about `cpus` of the container's CPU
    limit: n busy workers and the broker share it about evenly, so n = 1/cpus - 1. Chaos Mesh has load, not a
    quota: on a node with CPU to spare and no limit on the container, the broker is not held back."""
    if not 0 < cpus < 1:
        raise ChaosRefused(f"starve to {cpus!r} of a CPU: a fraction between 0 and 1")
    workers = min(MAX_STRESS_WORKERS, max(1, round(1 / cpus) - 1))
    obj = _meta(name, run_id, "StressChaos")
    obj["spec"] = {
        "mode": "all",
        "selector": _pods(namespace, [pod]),
        "containerNames": [BROKER_CONTAINER],
        "stressors": {"cpu": {"workers": workers, "load": 100}},
    }
    return obj


# ------------------------------------------------------------------------------------ checked offline
@cache
def _schemas(path: Path) -> dict[str, dict[str, Any]]:
    try:
        # libyaml's loader where PyYAML has it: a cluster's whole CRD file is megabytes
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        documents = [d for d in yaml.load_all(path.read_text(), Loader=loader) if d]
    except (OSError, yaml.YAMLError) as exc:
        raise HarnessError(f"CHAOS_MESH_CRDS {path}: cannot read it ({exc})") from None
    schemas = {}
    for document in documents:
        if document.get("kind") != "CustomResourceDefinition":
            continue
        for version in document["spec"]["versions"]:
            if version["name"] == "v1alpha1":
                schemas[document["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return schemas


def validate(obj: Mapping[str, Any], crds: Path = VENDORED_CRDS) -> None:
    """Refuse (one line) an object whose spec the CRD's schema refuses, as the API server would."""
    import jsonschema

    kind = obj["kind"]
    schema = _schemas(crds).get(kind)
    if schema is None:
        raise ChaosRefused(f"{crds} has no v1alpha1 CustomResourceDefinition for {kind}")
    errors = sorted(
        jsonschema.Draft7Validator(schema["properties"]["spec"]).iter_errors(obj.get("spec", {})),
        key=lambda e: list(e.path),
    )
    if errors:
        where = ".".join(str(p) for p in errors[0].path) or "spec"
        raise ChaosRefused(f"{kind} {obj['metadata']['name']}: {where}: {errors[0].message}"[:300])


# ---------------------------------------------------------------------------------------- in force
def injected_pods(status: Mapping[str, Any] | None, namespace: str) -> set[str] | None:
    """The pods the records say are injected (of the selector and, where Chaos Mesh records them, the
    target), when the object as a whole is (its AllInjected condition true and no record in another phase);
    None while it is not in force."""
    if not status:
        return None
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    if conditions.get("AllInjected") != "True":
        return None
    records = (status.get("experiment") or {}).get("containerRecords") or []
    if not records or any(r.get("phase") != "Injected" for r in records):
        return None
    pods = set()
    for record in records:
        # ids are namespace/pod, or namespace/pod/container for the container-level kinds
        parts = str(record.get("id", "")).split("/")
        if len(parts) >= 2 and parts[0] == namespace:
            pods.add(parts[1])
    return pods


def describe(status: Mapping[str, Any] | None) -> str:
    """What the status says, short: the conditions and each record's phase, for an error that lasts."""
    if not status:
        return "no status yet"
    conditions = (
        ", ".join(f"{c.get('type')}={c.get('status')}" for c in status.get("conditions") or [])
        or "no conditions"
    )
    records = (status.get("experiment") or {}).get("containerRecords") or []
    phases = ", ".join(f"{r.get('id')} {r.get('phase')}" for r in records) or "no records"
    return f"{conditions}; {phases}"


# -------------------------------------------------------------------------------------- their lives
@dataclass
class ChaosMesh:
    """Applies, confirms, heals and puts back Chaos Mesh objects in one namespace, each a fault's part."""

    api: KubeApi
    run_id: str
    crds: Path = VENDORED_CRDS
    in_force_timeout: float = IN_FORCE_TIMEOUT
    heal_timeout: float = HEAL_TIMEOUT
    interval: float = 0.25
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> the object as sent
    injected: dict[str, set[str]] = field(default_factory=dict)  # name -> the pods it was in force on
    _serial: int = 0

    def name(self, what: str) -> str:
        self._serial += 1
        return f"amqchaos-{self.run_id}-{what}-{self._serial}"

    def apply(self, obj: dict[str, Any], targets: Iterable[str]) -> None:
        """Create the object and return once every pod of `targets` is injected; on a refusal or a timeout
        the object is deleted again (nothing half-applied stays in force) and ChaosRefused says why."""
        validate(obj, self.crds)
        obj = {**obj, "metadata": {**obj["metadata"], "namespace": self.api.namespace}}
        name, kind = obj["metadata"]["name"], obj["kind"]
        self.api.create(obj)
        self.applied[name] = obj
        try:
            self._wait_in_force(kind, name, set(targets))
        except ChaosRefused:
            self.heal(name)
            raise

    def _wait_in_force(self, kind: str, name: str, targets: set[str]) -> None:
        seen: list[Mapping[str, Any] | None] = [None]

        def in_force() -> bool:
            found = self.api.get(kind, name)
            seen[0] = found.get("status") if found else {"conditions": [{"type": "Gone", "status": "True"}]}
            pods = injected_pods(seen[0], self.api.namespace)
            if pods is None or not targets <= pods:
                return False
            self.injected[name] = pods
            return True

        wait_until(
            in_force,
            timeout=self.in_force_timeout,
            what=f"{kind} {name} to be in force",
            interval=self.interval,
            fail=lambda: ChaosRefused(
                f"{kind} {name} not in force after {self.in_force_timeout:.0f}s: {describe(seen[0])}"
            ),
        )

    def in_force(self, name: str) -> set[str] | None:
        obj = self.applied[name]
        found = self.api.get(obj["kind"], name)
        return injected_pods(found.get("status") if found else None, self.api.namespace)

    def heal(self, name: str) -> None:
        """Delete the object and wait until it is gone: its finalizer has then restored every target."""
        obj = self.applied.pop(name, None)
        self.injected.pop(name, None)
        kind = obj["kind"] if obj else _kind_of(self.api, name)
        if kind is None or not self.api.delete(kind, name):
            return
        wait_until(
            lambda: self.api.get(kind, name) is None,
            timeout=self.heal_timeout,
            what=f"{kind} {name} to be recovered and gone",
            interval=self.interval,
            fail=lambda: HarnessError(
                f"{kind} {name} still there {self.heal_timeout:.0f}s after its delete (its finalizer has "
                "not restored every target; see docs/backends.md, Kubernetes)"
            ),
        )

    def reapply(self, name: str, pod: str) -> bool:
        """Put the object back when `pod` (started again) is no longer among its injected targets: Chaos Mesh
        does not always carry a partition across a pod's restart. True when it was put back."""
        obj = self.applied.get(name)
        if obj is None or pod not in self.injected.get(name, set()):
            return False  # not one this object was in force on
        pods = self.in_force(name)
        if pods is not None and pod in pods:
            return False
        targets = set(obj["spec"]["selector"]["pods"][self.api.namespace])
        self.heal(name)
        self.apply(obj, targets)
        return True

    def sweep(self, label: str | None = None) -> list[str]:
        """Delete every Chaos Mesh object of this run (by its label; another `label` selector: those it
        matches), each restored by its finalizer, as teardown and the sweep at bring-up do."""
        label = label or f"{RUN_LABEL}={self.run_id}"
        removed = []
        for kind in CHAOS_KINDS:
            for found in self.api.select(kind, label):
                name = found["metadata"]["name"]
                self.applied.setdefault(name, {"kind": kind, **found})
                self.heal(name)
                removed.append(f"{kind}/{name}")
        return removed


def _kind_of(api: KubeApi, name: str) -> str | None:
    for kind in CHAOS_KINDS:
        if api.get(kind, name) is not None:
            return kind
    return None
