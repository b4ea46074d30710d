"""The Kubernetes backend's one seam to the API server: the few calls it makes, each with the RBAC permission
it needs, so the Role the docs give is derived from the calls and a test holds the two together.

`KubeApi` is what the backend and the Chaos Mesh driver call; `ClientKubeApi` does it with the official
`kubernetes` client (loaded only when the backend is chosen), and the tests' fake records the same calls.
Everything happens in one namespace: no call here reaches a cluster-wide resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from harness.errors import HarnessError

# every object the harness creates carries the run's id under this label: teardown and the sweep find them by it
RUN_LABEL = "io.amq-chaos/run"


@dataclass(frozen=True)
class Kind:
    """A resource the backend manages: where it lives in the API and what RBAC calls it."""

    kind: str
    group: str  # "" for the core group
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


KINDS = {
    k.kind: k
    for k in (
        Kind("ConfigMap", "", "v1", "configmaps"),
        Kind("Secret", "", "v1", "secrets"),
        Kind("Service", "", "v1", "services"),
        Kind("PersistentVolumeClaim", "", "v1", "persistentvolumeclaims"),
        Kind("Pod", "", "v1", "pods"),
        Kind("StatefulSet", "apps", "v1", "statefulsets"),
        Kind("Deployment", "apps", "v1", "deployments"),
        Kind("NetworkChaos", "chaos-mesh.org", "v1alpha1", "networkchaos"),
        Kind("StressChaos", "chaos-mesh.org", "v1alpha1", "stresschaos"),
    )
}
CHAOS_KINDS = ("NetworkChaos", "StressChaos")
# what the backend creates and removes (pods are the controllers', only read and exec'd into)
OWNED_KINDS = (
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Service",
    "StatefulSet",
    "Deployment",
    *CHAOS_KINDS,
)


def permission(verb: str, kind: str, subresource: str = "") -> tuple[str, str, str]:
    """(API group, resource[/subresource], verb): one RBAC rule line, as a call needs it."""
    k = KINDS[kind]
    return (k.group, f"{k.plural}/{subresource}" if subresource else k.plural, verb)


def role_rules() -> list[dict[str, Any]]:
    """The rules of the namespaced Role the backend needs, exactly the calls it makes (a test runs the backend
    against a fake API and compares): create, list and delete what it owns, read pods and Chaos Mesh's
    statuses, exec in pods, read their logs, forward their ports."""
    wanted = {permission(verb, kind) for kind in OWNED_KINDS for verb in ("create", "list", "delete")}
    wanted |= {permission("get", kind) for kind in ("Pod", *CHAOS_KINDS)}
    wanted.add(permission("list", "Pod"))
    wanted.add(permission("create", "Pod", "exec"))  # exec over a WebSocket is a create (Kubernetes 1.30 on)
    wanted.add(permission("get", "Pod", "log"))
    wanted.add(permission("create", "Pod", "portforward"))
    by_resource: dict[tuple[str, str], set[str]] = {}
    for group, resource, verb in wanted:
        by_resource.setdefault((group, resource), set()).add(verb)
    return [
        {"apiGroups": [group], "resources": [resource], "verbs": sorted(verbs)}
        for (group, resource), verbs in sorted(by_resource.items())
    ]


def role(namespace: str, name: str = "amq-chaos") -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": namespace},
        "rules": role_rules(),
    }


class KubeApiError(HarnessError):
    """An API call refused or failed; `status` is the HTTP status (404: not there)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class KubeApi(Protocol):
    """The calls the backend makes, in its one namespace. Objects are plain dicts, as rendered."""

    namespace: str

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]: ...

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """The object as the server has it now (its status included), None when it is not there."""
        ...

    def select(self, kind: str, selector: str) -> list[dict[str, Any]]:
        """The objects whose labels match `selector` (`key=value`)."""
        ...

    def delete(self, kind: str, name: str) -> bool:
        """Delete it (foreground: a Chaos Mesh object's finalizer restores first); False when not there."""
        ...

    def exec(
        self, pod: str, container: str, command: list[str], timeout: float, stdin: bytes | None = None
    ) -> tuple[int, str]:
        """Run `command` in the container: (exit code, output), within `timeout` seconds."""
        ...

    def log(self, pod: str, container: str, since_seconds: int | None = None) -> str: ...

    def port_forward(self, pod: str, port: int) -> tuple[str, int]:
        """A local (host, port) that reaches `port` of the pod until the API is closed."""
        ...

    def close(self) -> None: ...
