"""The cluster as Kubernetes objects, in one namespace: pure functions from the run's settings to plain dicts.

Each pair is a StatefulSet of two pods (ordinal 0 is the pair's "a" node, 1 its "b") sharing one
ReadWriteMany claim, the pair's store; each node also has a headless Service of its own name, so the names the
configs use (chaos-mq01-a) resolve to that pod, ready or not, as they do on Compose; HAProxy is a Deployment
behind a Service. The bridges name their peers (`static:(...)`): multicast is not dependable on a pod network.

In a pod the broker runs under tini and `amq-host-broker` (the service script of the host image), so the
harness kills, stops, starts and freezes the broker by exec while the pod, its network namespace and the
Chaos Mesh rules in it stay. There is no liveness probe: a frozen or stopped broker is a fault the harness put
there, and the kubelet must not "heal" it by a restart.
"""

from __future__ import annotations

from typing import Any

from harness.cluster.kube_api import RUN_LABEL
from harness.cluster.render import TEMPLATES, render_broker, render_haproxy
from harness.design.topology import Node
from harness.settings import CREDENTIAL_VARS, KubeTarget, Settings

APP_LABEL = "app.kubernetes.io/name"
APP = "amq-chaos"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"  # set by the StatefulSet controller on each pod
PAIR_LABEL = "io.amq-chaos/pair"
COMPONENT_LABEL = "app.kubernetes.io/component"
BROKER_PORTS = {"openwire": 61616, "stomp": 61613, "replication": 61618}
LOG_FOLDER = "/var/lib/amq/log"
STORE_MOUNT = "/kahadb"  # where each broker's pod mounts its pair's store claim

# the broker container's start: its node's configuration by the pod's ordinal, the environment the service
# script gives the broker, the broker started, then tini's child stays (the broker comes and goes under it)
NODE_START = r"""set -euo pipefail
case "${HOSTNAME##*-}" in 0) role=a ;; 1) role=b ;; *) echo "pod $HOSTNAME: no ordinal 0 or 1" >&2; exit 1 ;; esac
mkdir -p /etc/amq /run/amq /var/lib/amq/log
cp /etc/amq-pair/$role/* /etc/amq/
env | grep -E '^(AMQ_[A-Z_]+)=' > /etc/amq/broker.env
amq-host-broker start
exec sleep infinity
"""


def pod_name(node: Node) -> str:
    """The pod of a node: its pair's StatefulSet, ordinal 0 for "a" and 1 for "b"."""
    return f"{node.pair_name}-{0 if node.is_master else 1}"


def node_of(pod: str, nodes: list[Node]) -> Node:
    return next(node for node in nodes if pod_name(node) == pod)


def labels(run_id: str, **more: str) -> dict[str, str]:
    return {APP_LABEL: APP, RUN_LABEL: run_id, **more}


def _meta(kind: str, api_version: str, name: str, run_id: str, **more: str) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "labels": labels(run_id, **more)},
    }


def credentials_secret(settings: Settings, run_id: str, values: dict[str, str]) -> dict[str, Any]:
    secret = _meta("Secret", "v1", f"{settings.topology.group}-credentials", run_id)
    secret["type"] = "Opaque"
    secret["stringData"] = {var: values[var] for var in CREDENTIAL_VARS}
    return secret


def pair_config(settings: Settings, run_id: str, pair: str) -> dict[str, Any]:
    """The pair's two activemq.xml (a/, b/) and the logging configs, for the ordinal to pick from."""
    topology = settings.topology
    nodes = [n for n in topology.nodes if n.pair == pair]
    peers = {
        node.name: [n.name for n in topology.nodes if n.pair != node.pair and settings.design.advertises(n)]
        for node in nodes
    }
    data = {
        f"{node.letter}.activemq.xml": render_broker(
            node, settings.design, topology.pairs[0], settings.line, static_peers=peers[node.name]
        )
        for node in nodes
    }
    for logging_config in ("log4j.properties", "log4j2.properties"):
        data[logging_config] = (TEMPLATES / logging_config).read_text()
    config = _meta(
        "ConfigMap", "v1", f"{nodes[0].pair_name}-config", run_id, **{PAIR_LABEL: nodes[0].pair_name}
    )
    config["data"] = data
    return config


def store_claim(settings: Settings, kube: KubeTarget, run_id: str, pair_name: str) -> dict[str, Any]:
    claim = _meta("PersistentVolumeClaim", "v1", f"{pair_name}-store", run_id, **{PAIR_LABEL: pair_name})
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": kube.store_size}},
    }
    if kube.storage_class:
        spec["storageClassName"] = kube.storage_class
    claim["spec"] = spec
    return claim


def _ports() -> list[dict[str, Any]]:
    return [{"name": name, "port": port, "targetPort": port} for name, port in BROKER_PORTS.items()]


def node_service(node: Node, run_id: str) -> dict[str, Any]:
    """Headless, with the pod's address published before it is ready: a waiting slave is a peer the bridges
    and the VIP must resolve, as a container's name is on Compose."""
    service = _meta("Service", "v1", node.name, run_id, **{PAIR_LABEL: node.pair_name})
    service["spec"] = {
        "clusterIP": "None",
        "publishNotReadyAddresses": True,
        "selector": {POD_NAME_LABEL: pod_name(node)},
        "ports": _ports(),
    }
    return service


def pair_service(pair_name: str, run_id: str) -> dict[str, Any]:
    """The StatefulSet's governing Service (the pods' own DNS names)."""
    service = _meta("Service", "v1", pair_name, run_id, **{PAIR_LABEL: pair_name})
    service["spec"] = {
        "clusterIP": "None",
        "publishNotReadyAddresses": True,
        "selector": {APP_LABEL: APP, RUN_LABEL: run_id, PAIR_LABEL: pair_name},
        "ports": _ports(),
    }
    return service


def _credentials_env(secret: str) -> list[dict[str, Any]]:
    return [{"secretRef": {"name": secret}}]


def pair_statefulset(settings: Settings, kube: KubeTarget, run_id: str, pair: str) -> dict[str, Any]:
    nodes = [n for n in settings.topology.nodes if n.pair == pair]
    pair_name = nodes[0].pair_name
    pod_labels = labels(run_id, **{PAIR_LABEL: pair_name, COMPONENT_LABEL: "broker"})
    statefulset = _meta("StatefulSet", "apps/v1", pair_name, run_id, **{PAIR_LABEL: pair_name})
    statefulset["spec"] = {
        "serviceName": pair_name,
        "replicas": 2,
        # both at once, as on Compose: the slave's broker waits for the master's lock file itself
        "podManagementPolicy": "Parallel",
        "selector": {"matchLabels": {APP_LABEL: APP, RUN_LABEL: run_id, PAIR_LABEL: pair_name}},
        "template": {
            "metadata": {"labels": pod_labels},
            "spec": {
                "terminationGracePeriodSeconds": 30,
                "containers": [
                    {
                        "name": "broker",
                        "image": kube.broker_image,
                        "command": ["/usr/bin/tini", "--", "/bin/bash", "-c", NODE_START],
                        "env": [
                            {"name": "AMQ_HEAP", "value": settings.heap},
                            {"name": "AMQ_STOMP", "value": settings.stomp_protocol},
                        ],
                        "envFrom": _credentials_env(f"{settings.topology.group}-credentials"),
                        "ports": [
                            {"name": name, "containerPort": port} for name, port in BROKER_PORTS.items()
                        ],
                        # iptables (the reset kind) runs in the pod's network namespace
                        "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
                        "resources": {
                            "requests": {"cpu": "250m", "memory": "512Mi"},
                            "limits": {"cpu": kube.cpu_limit, "memory": "640Mi"},
                        },
                        "readinessProbe": {
                            "exec": {"command": ["amq-healthcheck"]},
                            "periodSeconds": 2,
                            "timeoutSeconds": 5,
                            "failureThreshold": 3,
                        },
                        "volumeMounts": [
                            {"name": "config", "mountPath": "/etc/amq-pair", "readOnly": True},
                            {"name": "store", "mountPath": STORE_MOUNT},
                        ],
                    }
                ],
                "volumes": [
                    {
                        "name": "config",
                        "configMap": {
                            "name": f"{pair_name}-config",
                            "items": [
                                {"key": f"{n.letter}.activemq.xml", "path": f"{n.letter}/activemq.xml"}
                                for n in nodes
                            ]
                            + [
                                {"key": logging, "path": f"{n.letter}/{logging}"}
                                for n in nodes
                                for logging in ("log4j.properties", "log4j2.properties")
                            ],
                        },
                    },
                    {"name": "store", "persistentVolumeClaim": {"claimName": f"{pair_name}-store"}},
                ],
            },
        },
    }
    return statefulset


def vip_name(settings: Settings) -> str:
    return f"{settings.topology.group}-vip"


def vip_config(settings: Settings, kube: KubeTarget, run_id: str) -> dict[str, Any]:
    topology = settings.topology
    backends = topology.nodes if settings.design.vip_over_all_nodes else topology.masters
    domain = f"{kube.namespace}.svc.{kube.cluster_domain}"
    config = _meta("ConfigMap", "v1", f"{vip_name(settings)}-config", run_id)
    config["data"] = {
        "haproxy.cfg": render_haproxy(
            backends, {node.name: f"{node.name}.{domain}" for node in backends}, resolv_conf=True
        )
    }
    return config


def vip_deployment(settings: Settings, kube: KubeTarget, run_id: str) -> dict[str, Any]:
    name = vip_name(settings)
    pod_labels = labels(run_id, **{COMPONENT_LABEL: "vip"})
    deployment = _meta("Deployment", "apps/v1", name, run_id)
    deployment["spec"] = {
        "replicas": 1,
        "selector": {"matchLabels": pod_labels},
        "template": {
            "metadata": {"labels": pod_labels},
            "spec": {
                "containers": [
                    {
                        "name": "vip",
                        "image": kube.vip_image,
                        "envFrom": _credentials_env(f"{settings.topology.group}-credentials"),
                        "ports": [{"name": "stomp", "containerPort": 61613}],
                        "readinessProbe": {
                            "exec": {"command": ["stomp-ping", "127.0.0.1", "61613"]},
                            "periodSeconds": 2,
                            "timeoutSeconds": 5,
                        },
                        "volumeMounts": [
                            {
                                "name": "config",
                                "mountPath": "/etc/haproxy/haproxy.cfg",
                                "subPath": "haproxy.cfg",
                                "readOnly": True,
                            }
                        ],
                    }
                ],
                "volumes": [{"name": "config", "configMap": {"name": f"{name}-config"}}],
            },
        },
    }
    return deployment


def vip_service(settings: Settings, run_id: str) -> dict[str, Any]:
    service = _meta("Service", "v1", vip_name(settings), run_id)
    service["spec"] = {
        "selector": labels(run_id, **{COMPONENT_LABEL: "vip"}),
        "ports": [{"name": "stomp", "port": 61613, "targetPort": 61613}],
    }
    return service


def cluster_objects(
    settings: Settings, kube: KubeTarget, run_id: str, credentials: dict[str, str]
) -> list[dict[str, Any]]:
    """Every object of a run, in the order they are created (what a pod mounts before the pod)."""
    topology = settings.topology
    objects: list[dict[str, Any]] = [credentials_secret(settings, run_id, credentials)]
    pair_names = {pair: topology.pair_name(pair) for pair in topology.pairs}
    for pair, pair_name in pair_names.items():
        objects.append(pair_config(settings, run_id, pair))
        objects.append(store_claim(settings, kube, run_id, pair_name))
        objects.append(pair_service(pair_name, run_id))
    objects.extend(node_service(node, run_id) for node in topology.nodes)
    objects.extend(pair_statefulset(settings, kube, run_id, pair) for pair in topology.pairs)
    objects += [vip_config(settings, kube, run_id), vip_deployment(settings, kube, run_id)]
    objects.append(vip_service(settings, run_id))
    return objects
