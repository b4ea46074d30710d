"""`KubeApi` done with the official `kubernetes` client: typed calls for the core and apps objects,
CustomObjectsApi for Chaos Mesh's, exec and port-forward over the API server's streams.

Not run here (no API server can run on this machine); the calls are the ones `kube_api.role_rules` permits,
and the backend's behaviour above them is tested against a fake that records the same calls.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.stream import portforward, stream

from harness.cluster.kube_api import CHAOS_KINDS, KINDS, KubeApiError
from harness.errors import HarnessError

# the typed methods' names: <verb>_namespaced_<suffix>
_SUFFIX = {
    "ConfigMap": "config_map",
    "Secret": "secret",
    "Service": "service",
    "PersistentVolumeClaim": "persistent_volume_claim",
    "Pod": "pod",
    "StatefulSet": "stateful_set",
    "Deployment": "deployment",
}
EXEC_GRACE = 10.0  # seconds past a command's own timeout before the stream is given up


class ClientKubeApi:
    def __init__(self, namespace: str, context: str | None = None) -> None:
        try:
            config.load_kube_config(context=context)
        except Exception as kube_config_error:
            try:
                config.load_incluster_config()
            except Exception:
                raise HarnessError(
                    f"BACKEND=k8s: no kubeconfig ({kube_config_error}) and not inside a cluster"
                ) from None
        self.namespace = namespace
        self._client = client.ApiClient()
        self._core = client.CoreV1Api(self._client)
        self._apps = client.AppsV1Api(self._client)
        self._custom = client.CustomObjectsApi(self._client)
        self._forwards: list[_Relay] = []

    # ----------------------------------------------------------------------------------------- objects
    def _typed(self, verb: str, kind: str) -> Callable[..., Any]:
        api = self._apps if KINDS[kind].group == "apps" else self._core
        return getattr(api, f"{verb}_namespaced_{_SUFFIX[kind]}")

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except ApiException as exc:
            raise KubeApiError(f"{what}: {exc.status} {exc.reason}", exc.status) from None

    def _plain(self, obj: Any) -> dict[str, Any]:
        return obj if isinstance(obj, dict) else self._client.sanitize_for_serialization(obj)

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind in CHAOS_KINDS:
            k = KINDS[kind]
            created = self._call(
                f"create {kind} {name}",
                lambda: self._custom.create_namespaced_custom_object(
                    k.group, k.version, self.namespace, k.plural, dict(obj)
                ),
            )
        else:
            created = self._call(
                f"create {kind} {name}", lambda: self._typed("create", kind)(self.namespace, dict(obj))
            )
        return self._plain(created)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        try:
            if kind in CHAOS_KINDS:
                k = KINDS[kind]
                return self._plain(
                    self._call(
                        f"get {kind} {name}",
                        lambda: self._custom.get_namespaced_custom_object(
                            k.group, k.version, self.namespace, k.plural, name
                        ),
                    )
                )
            return self._plain(
                self._call(f"get {kind} {name}", lambda: self._typed("read", kind)(name, self.namespace))
            )
        except KubeApiError as exc:
            if exc.status == 404:
                return None
            raise

    def select(self, kind: str, selector: str) -> list[dict[str, Any]]:
        if kind in CHAOS_KINDS:
            k = KINDS[kind]
            found = self._call(
                f"list {kind}",
                lambda: self._custom.list_namespaced_custom_object(
                    k.group, k.version, self.namespace, k.plural, label_selector=selector
                ),
            )
            return list(found.get("items", []))
        found = self._call(
            f"list {kind}", lambda: self._typed("list", kind)(self.namespace, label_selector=selector)
        )
        return [self._plain(item) for item in found.items]

    def delete(self, kind: str, name: str) -> bool:
        options = client.V1DeleteOptions(propagation_policy="Foreground")
        try:
            if kind in CHAOS_KINDS:
                k = KINDS[kind]
                self._call(
                    f"delete {kind} {name}",
                    lambda: self._custom.delete_namespaced_custom_object(
                        k.group, k.version, self.namespace, k.plural, name, body=options
                    ),
                )
            else:
                self._call(
                    f"delete {kind} {name}",
                    lambda: self._typed("delete", kind)(name, self.namespace, body=options),
                )
        except KubeApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # ------------------------------------------------------------------------------------ in the pods
    def exec(
        self, pod: str, container: str, command: list[str], timeout: float, stdin: bytes | None = None
    ) -> tuple[int, str]:
        # the command carries its own deadline in the pod (coreutils timeout), so a stream given up here does
        # not leave it running there; stdin travels in the command line (the stream's stdin has no end of
        # file to send in every client version), which is enough for the small files the backend uploads
        if stdin is not None:
            feed = base64.b64encode(stdin).decode()
            command = ["sh", "-c", f'echo {feed} | base64 -d | "$@"', "sh", *command]
        wrapped = ["timeout", "--kill-after=2", str(max(1, int(timeout))), *command]
        resp = self._call(
            f"exec in {pod}",
            lambda: stream(
                self._core.connect_get_namespaced_pod_exec,
                pod,
                self.namespace,
                container=container,
                command=wrapped,
                stdin=False,
                stdout=True,
                stderr=True,
                tty=False,
                _preload_content=False,
            ),
        )
        output: list[str] = []
        try:
            deadline = time.monotonic() + timeout + EXEC_GRACE
            while resp.is_open() and time.monotonic() < deadline:
                resp.update(timeout=1)
                if resp.peek_stdout():
                    output.append(resp.read_stdout())
                if resp.peek_stderr():
                    output.append(resp.read_stderr())
            if resp.is_open():
                return 124, "".join(output) + f"\n(no answer from {pod} within {timeout:.0f}s)"
            code = resp.returncode
        finally:
            resp.close()
        return (code if code is not None else 1), "".join(output)

    def log(self, pod: str, container: str, since_seconds: int | None = None) -> str:
        kwargs: dict[str, Any] = {"container": container}
        if since_seconds is not None:
            kwargs["since_seconds"] = max(1, since_seconds)
        return str(
            self._call(
                f"log of {pod}", lambda: self._core.read_namespaced_pod_log(pod, self.namespace, **kwargs)
            )
        )

    def port_forward(self, pod: str, port: int) -> tuple[str, int]:
        relay = _Relay(lambda: self._open_forward(pod, port), f"{pod}:{port}")
        self._forwards.append(relay)
        return relay.address

    def _open_forward(self, pod: str, port: int) -> Any:
        forward = portforward(
            self._core.connect_get_namespaced_pod_portforward, pod, self.namespace, ports=str(port)
        )
        return forward.socket(port)

    def close(self) -> None:
        for relay in self._forwards:
            relay.close()
        self._forwards.clear()
        with contextlib.suppress(Exception):
            self._client.close()


class _Relay:
    """A listener on 127.0.0.1 whose every connection is relayed to a new port-forward stream: the harness's
    clients connect to a pod's STOMP port as they would to a container's published one."""

    def __init__(self, open_remote: Callable[[], Any], name: str) -> None:
        self._open_remote = open_remote
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = ("127.0.0.1", self._listener.getsockname()[1])
        self._closed = False
        threading.Thread(target=self._accept, name=f"forward {name}", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                local, _ = self._listener.accept()
            except OSError:
                return
            try:
                remote = self._open_remote()
            except Exception:
                local.close()
                continue
            for source, sink in ((local, remote), (remote, local)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()


def _pump(source: Any, sink: Any) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.close()
