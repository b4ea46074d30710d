"""The Kubernetes backend without a cluster (none can run on this machine): its objects checked offline against
Kubernetes' own schemas (kubernetes-validate) and Chaos Mesh's CRDs (jsonschema), and its behaviour against a
fake API that plays the controllers and Chaos Mesh: a fault in force only once every target is injected,
healed by a delete that waits for the restore, put back when a pod lost it, and a Role that grants exactly the
calls the backend made."""

from __future__ import annotations

import functools
import random
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from harness.chaos.nemesis import Nemesis
from harness.cluster import chaos_mesh, kube_objects
from harness.cluster.backends import open_cluster
from harness.cluster.chaos_mesh import ChaosMesh, ChaosRefused
from harness.cluster.kube import KubeCluster
from harness.cluster.kube_api import role, role_rules
from harness.design.catalog import design
from harness.errors import HarnessError
from harness.history import History, read_history
from harness.settings import KubeTarget, Settings
from tests.unit.cluster.kube_fake import LIVE_LINE, FakeKubeApi, granted

NAMESPACE = "amq-test"
TARGET = KubeTarget(NAMESPACE, "registry.example/amq-chaos/host:5.17.6", "registry.example/amq-chaos/vip:1")
# the oldest Kubernetes the objects must suit (exec over WebSocket as a create, the Role's premise) and the newest
K8S_VERSIONS = ("1.30.0", kubernetes_validate.utils.latest_version())


def settings(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(kube=TARGET, runs_dir=tmp_path, backend="k8s", **changes)


def objects(tmp_path: Path, **changes: Any) -> list[dict[str, Any]]:
    s = settings(tmp_path, **changes)
    return kube_objects.cluster_objects(s, TARGET, "20261207-010203-abc123", s.credentials.as_env())


def by(objs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


# ------------------------------------------------------------------------------------ objects, offline
@pytest.mark.parametrize("design_name", ["seed", "hardened"])
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_rendered_object_and_the_role_validate_against_kubernetes_schemas(
    tmp_path: Path, design_name: str, version: str
) -> None:
    for obj in [*objects(tmp_path, design=design(design_name)), role(NAMESPACE)]:
        kubernetes_validate.validate(obj, version, strict=True)


def test_a_field_kubernetes_refuses_is_caught_by_the_offline_check(tmp_path: Path) -> None:
    statefulset = by(objects(tmp_path), "StatefulSet")[0]
    statefulset["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, K8S_VERSIONS[-1], strict=True)


def test_each_pair_is_two_pods_on_one_shared_claim_with_no_liveness_probe(tmp_path: Path) -> None:
    objs = objects(tmp_path)
    for pair in ("chaos-mq01", "chaos-mq02"):
        (statefulset,) = by(objs, "StatefulSet", pair)
        (claim,) = by(objs, "PersistentVolumeClaim", f"{pair}-store")
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
        spec = statefulset["spec"]
        assert spec["replicas"] == 2 and spec["serviceName"] == pair
        pod = spec["template"]["spec"]
        (container,) = pod["containers"]
        assert {"name": "store", "persistentVolumeClaim": {"claimName": f"{pair}-store"}} in pod["volumes"]
        # a frozen or stopped broker is the harness's fault: the kubelet must not restart it
        assert "livenessProbe" not in container
        # the broker is not PID 1 (which ignores the signals the harness sends from inside)
        assert container["command"][:2] == ["/usr/bin/tini", "--"]
        assert "NET_ADMIN" in container["securityContext"]["capabilities"]["add"]


def test_every_node_resolves_by_its_own_name_ready_or_not(tmp_path: Path) -> None:
    objs = objects(tmp_path)
    for node, pod in (("chaos-mq01-a", "chaos-mq01-0"), ("chaos-mq01-b", "chaos-mq01-1")):
        (service,) = by(objs, "Service", node)
        assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"]
        assert service["spec"]["selector"] == {kube_objects.POD_NAME_LABEL: pod}


def test_the_bridges_name_their_peers_since_multicast_does_not_cross_a_pod_network(tmp_path: Path) -> None:
    (config,) = by(objects(tmp_path), "ConfigMap", "chaos-mq01-config")
    master = config["data"]["a.activemq.xml"]
    bridges = re.findall(r"<networkConnector\b[^>]*>", master)
    assert bridges and all("static:(tcp://chaos-mq02-a:61616" in line for line in bridges)
    assert not [line for line in bridges if "multicast://" in line]
    assert set(config["data"]) == {
        "a.activemq.xml",
        "b.activemq.xml",
        "log4j.properties",
        "log4j2.properties",
    }


def test_the_vip_resolves_the_nodes_full_names_with_the_pod_s_resolver(tmp_path: Path) -> None:
    (config,) = by(objects(tmp_path), "ConfigMap", "chaos-vip-config")
    haproxy = config["data"]["haproxy.cfg"]
    assert "parse-resolv-conf" in haproxy and "127.0.0.11" not in haproxy
    assert f"server chaos-mq01-a chaos-mq01-a.{NAMESPACE}.svc.cluster.local:61613" in haproxy


def test_credentials_are_a_secret_the_pods_read_not_text_in_their_specs(tmp_path: Path) -> None:
    s = settings(tmp_path)
    objs = objects(tmp_path)
    (secret,) = by(objs, "Secret")
    assert secret["stringData"]["AMQ_CLIENT_PASSWORD"] == s.credentials.client_password
    others = yaml.safe_dump([o for o in objs if o["kind"] != "Secret"])
    assert s.credentials.client_password not in others and s.credentials.network_password not in others


# ------------------------------------------------------------------------------ Chaos Mesh, offline
def chaos_objects() -> list[dict[str, Any]]:
    return [
        chaos_mesh.partition("p", "r", NAMESPACE, "chaos-mq01-0", ["chaos-mq02-0", "chaos-mq02-1"]),
        chaos_mesh.partition("l", "r", NAMESPACE, "chaos-mq01-0", ["chaos-mq02-0"], loss=0.5),
        chaos_mesh.stress_cpu("s", "r", NAMESPACE, "chaos-mq01-0", 0.05),
    ]


def test_every_chaos_mesh_object_validates_against_the_crds() -> None:
    for obj in chaos_objects():
        chaos_mesh.validate(obj)


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [("direction", "one-way", "direction"), ("action", "pod-pause", "action"), ("mode", "every", "mode")],
)
def test_a_field_chaos_mesh_refuses_is_refused_in_one_line(field: str, value: str, said: str) -> None:
    obj = chaos_objects()[0]
    obj["spec"][field] = value
    with pytest.raises(ChaosRefused, match=said) as refused:
        chaos_mesh.validate(obj)
    assert "\n" not in str(refused.value)


def test_a_starve_is_as_many_workers_as_leave_the_broker_its_share() -> None:
    stressors = chaos_mesh.stress_cpu("s", "r", NAMESPACE, "p-0", 0.25)["spec"]["stressors"]
    assert stressors == {"cpu": {"workers": 3, "load": 100}}
    with pytest.raises(ChaosRefused):
        chaos_mesh.stress_cpu("s", "r", NAMESPACE, "p-0", 1.5)


# ------------------------------------------------------------------------------ Chaos Mesh, its life
def driver(api: FakeKubeApi) -> ChaosMesh:
    return ChaosMesh(api, "run1", in_force_timeout=2.0, heal_timeout=2.0, interval=0.01)


def test_a_fault_is_in_force_only_once_chaos_mesh_says_every_target_is_injected() -> None:
    api = FakeKubeApi(inject_after=3)
    chaos = driver(api)
    obj = chaos_mesh.partition(chaos.name("grudge"), "run1", NAMESPACE, "chaos-mq01-0", ["chaos-mq02-0"])
    chaos.apply(obj, ["chaos-mq01-0"])
    name = obj["metadata"]["name"]
    # two reads said "Not Injected"; apply returned on the third, which said every record is injected
    assert api._reads[name] == 3
    assert chaos.in_force(name) == {"chaos-mq01-0", "chaos-mq02-0"}


def test_a_fault_never_injected_is_refused_naming_the_records_and_left_nowhere() -> None:
    api = FakeKubeApi()
    chaos = driver(api)
    chaos.in_force_timeout = 0.3
    obj = chaos_mesh.partition(chaos.name("grudge"), "run1", NAMESPACE, "chaos-mq01-0", ["chaos-mq02-0"])
    api.never_injected.add(obj["metadata"]["name"])
    with pytest.raises(ChaosRefused, match=r"AllInjected=False.*chaos-mq01-0 Not Injected"):
        chaos.apply(obj, ["chaos-mq01-0"])
    assert not [key for key in api.objects if key[0] == "NetworkChaos"]  # deleted, restored, gone


def test_a_heal_deletes_the_object_and_returns_once_it_is_restored_and_gone() -> None:
    api = FakeKubeApi(restore_after=3)
    chaos = driver(api)
    obj = chaos_mesh.stress_cpu(chaos.name("starve"), "run1", NAMESPACE, "chaos-mq01-0", 0.1)
    chaos.apply(obj, ["chaos-mq01-0"])
    chaos.heal(obj["metadata"]["name"])
    assert ("StressChaos", obj["metadata"]["name"]) not in api.objects
    assert api.calls.count(f"delete StressChaos {obj['metadata']['name']}") == 1


def test_a_pod_that_lost_its_partition_gets_it_back_and_one_that_kept_it_is_left() -> None:
    api = FakeKubeApi()
    chaos = driver(api)
    obj = chaos_mesh.partition(chaos.name("grudge"), "run1", NAMESPACE, "chaos-mq01-0", ["chaos-mq02-0"])
    chaos.apply(obj, ["chaos-mq01-0"])
    name = obj["metadata"]["name"]
    assert chaos.reapply(name, "chaos-mq01-0") is False
    assert chaos.reapply(name, "chaos-mq01-1") is False  # not a pod of this object
    api.lose_injection(name, "chaos-mq01-0")
    assert chaos.in_force(name) is None
    assert chaos.reapply(name, "chaos-mq01-0") is True
    assert api.calls.count(f"create NetworkChaos {name}") == 2 and chaos.in_force(name)


# -------------------------------------------------------------------------------- the backend's life
@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KubeCluster:
    # readiness (JMX and STOMP through the forwards) is BrokerCluster's, run for real on Compose and SSH
    monkeypatch.setattr(KubeCluster, "wait_ready", lambda self, timeout: None)
    api = FakeKubeApi()
    made = KubeCluster(settings(tmp_path), api=api, run_id="run1", log=lambda *a: None)
    made._chaos = driver(api)
    return made


def test_bring_up_creates_the_objects_and_teardown_leaves_nothing_of_the_run(cluster: KubeCluster) -> None:
    api: FakeKubeApi = cluster.api  # type: ignore[assignment]
    api.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "left-by-a-killed-run",
                "labels": {kube_objects.APP_LABEL: kube_objects.APP},
            },
        }
    )
    with cluster:
        assert ("ConfigMap", "left-by-a-killed-run") not in api.objects  # swept at bring-up
        assert len(api.pods) == 5 and {("StatefulSet", "chaos-mq01"), ("Deployment", "chaos-vip")} <= set(
            api.objects
        )
        created = [call.split()[1] for call in api.calls if call.startswith("create")]
        # what a pod mounts exists before the pod's controller
        assert created.index("Secret") < created.index("PersistentVolumeClaim") < created.index("StatefulSet")
    assert api.objects == {} and api.pods == {} and api.closed
    # the logs were read before the pods went
    assert (cluster.directory / "logs" / "chaos-mq01-a.log").read_text() == LIVE_LINE
    assert (cluster.directory / "logs" / "vip.log").read_text().startswith("haproxy log of chaos-vip-")


def test_process_faults_change_the_broker_and_leave_the_pod(cluster: KubeCluster) -> None:
    api: FakeKubeApi = cluster.api  # type: ignore[assignment]
    with cluster:
        assert cluster.node_state("chaos-mq01-a") == "live"
        assert cluster.node_state("chaos-mq01-b") == "waiting"
        ip = cluster.address("chaos-mq01-a")
        cluster.node_process("chaos-mq01-a", "kill")
        assert cluster.node_state("chaos-mq01-a") == "down" and "chaos-mq01-0" in api.pods
        cluster.node_process("chaos-mq01-a", "start")
        assert cluster.address("chaos-mq01-a") == ip  # the same pod, the same address
        cluster.node_process("chaos-mq01-a", "freeze")
        assert cluster.node_state("chaos-mq01-a") == "frozen"
        cluster.node_process("chaos-mq01-a", "thaw")
        assert cluster.node_state("chaos-mq01-a") == "live"
    assert ("chaos-mq01-0", ["amq-host-broker", "kill"]) in api.execs


def test_a_starve_is_a_stress_chaos_in_force_until_fed(cluster: KubeCluster) -> None:
    api: FakeKubeApi = cluster.api  # type: ignore[assignment]
    with cluster:
        cluster.cpu_limit("chaos-mq02-a", 0.05)
        (stress,) = [obj for (kind, _), obj in api.objects.items() if kind == "StressChaos"]
        assert stress["spec"]["selector"] == {"pods": {NAMESPACE: ["chaos-mq02-0"]}}
        cluster.cpu_limit("chaos-mq02-a", None)
        assert not [kind for kind, _ in api.objects if kind == "StressChaos"]


def run_nemesis(cluster: KubeCluster, tmp_path: Path, *faults: tuple[str, ...]) -> list[dict[str, Any]]:
    with History(tmp_path / "history.jsonl", {"seed": 0}) as history:
        nemesis = Nemesis(cluster, history, random.Random(0))
        for fault in faults:
            nemesis.inject(*fault)
        nemesis.heal()
    return list(read_history(tmp_path / "history.jsonl"))


def test_partitions_are_network_chaos_rows_and_resets_iptables_rules(
    cluster: KubeCluster, tmp_path: Path
) -> None:
    api: FakeKubeApi = cluster.api  # type: ignore[assignment]
    seen: list[dict[str, Any]] = []
    real_create = api.create

    def create(obj: dict[str, Any]) -> dict[str, Any]:
        seen.append(obj)
        return real_create(obj)

    api.create = create  # type: ignore[method-assign]
    with cluster:
        events = run_nemesis(
            cluster,
            tmp_path,
            ("partition-pairs",),
            ("one-way", "chaos-mq02-a->chaos-mq01-a"),
            ("reset", "chaos-mq01-a", "peers"),
        )
        rows = [o for o in seen if o["kind"] == "NetworkChaos"]
        # partition-pairs: each of the four nodes deaf to the other pair; one-way: one row
        assert len(rows) == 5 and all(o["spec"]["direction"] == "from" for o in rows)
        deaf = {
            (
                o["spec"]["selector"]["pods"][NAMESPACE][0],
                tuple(o["spec"]["target"]["selector"]["pods"][NAMESPACE]),
            )
            for o in rows
        }
        assert ("chaos-mq01-0", ("chaos-mq02-0",)) in deaf
        assert ("chaos-mq01-0", ("chaos-mq02-0", "chaos-mq02-1")) in deaf
        # a TCP reset, which Chaos Mesh cannot do, went in as a tagged iptables rule, and came out
        assert any(cmd[:2] == ["iptables", "-A"] and "tcp-reset" in cmd for _, cmd in api.execs)
        assert api.pods["chaos-mq01-0"].rules == []
        assert not [kind for kind, _ in api.objects if kind == "NetworkChaos"]
    healed = {e["heals"] for e in events if e["f"] == "heal" and e["type"] == "ok"}
    assert {"partition-pairs", "one-way", "reset"} <= healed


def test_a_partition_lost_by_a_restart_is_put_back_and_recorded(cluster: KubeCluster, tmp_path: Path) -> None:
    api: FakeKubeApi = cluster.api  # type: ignore[assignment]
    with cluster, History(tmp_path / "history.jsonl", {"seed": 0}) as history:
        nemesis = Nemesis(cluster, history, random.Random(0))
        nemesis.inject("one-way", "chaos-mq02-a->chaos-mq01-a")
        (name,) = [name for kind, name in api.objects if kind == "NetworkChaos"]
        nemesis.inject("restart", "chaos-mq01-a")  # the broker's restart keeps the pod and its injection
        api.lose_injection(name, "chaos-mq01-0")  # as if the pod had lost it
        nemesis.inject("restart", "chaos-mq01-a")
        assert cluster.chaos.in_force(name)
        nemesis.heal()
    reapplied = [
        e for e in read_history(tmp_path / "history.jsonl") if e["f"] == "reapply" and e["type"] == "ok"
    ]
    assert [e["rules"] for e in reapplied] == [0, 1]


# each kind, the words it is injected with, and what the fake API must have seen: a Chaos Mesh object of that
# kind, or a command exec'd in a pod that starts with these words
EVERY_KIND = {
    "kill": (["chaos-mq01-a"], "exec", ["amq-host-broker", "kill"]),
    "stop": (["chaos-mq01-a"], "exec", ["amq-host-broker", "stop"]),
    "restart": (["chaos-mq01-b"], "exec", ["amq-host-broker", "start"]),
    "freeze": (["chaos-mq01-a"], "exec", ["amq-host-broker", "freeze"]),
    "isolate": (["live:01", "both"], "NetworkChaos", "partition"),
    "partition-pairs": ([], "NetworkChaos", "partition"),
    "lossy": (["0.3"], "NetworkChaos", "loss"),
    "slow": (["live:01"], "exec", ["tc", "qdisc", "add"]),
    "mute": (["live:01", "peers"], "NetworkChaos", "partition"),
    "one-way": (["chaos-mq02-a->chaos-mq01-a"], "NetworkChaos", "partition"),
    "reset": (["live:01"], "exec", ["iptables", "-A"]),
    "starve": (["live:01", "0.1"], "StressChaos", None),
    "delay": (["live:01", "100", "10"], "exec", ["tc", "qdisc", "add"]),
    "fill-store": (["01"], "exec", ["sh", "-c"]),
    "lose-lock": (["01"], "exec", ["rm", "/kahadb/lock"]),
    "hold-lock": (["01"], "exec", ["sh", "-c"]),
}


def test_every_fault_kind_but_a_test_s_own_grudge_is_in_the_table_here() -> None:
    from harness.chaos.faults import FAULT_KINDS

    assert set(EVERY_KIND) == set(FAULT_KINDS) - {"partition"}  # `partition` is inject_grudge's, tested above


@pytest.mark.parametrize("kind", sorted(EVERY_KIND))
def test_each_kind_is_realised_as_the_backends_table_says_and_healed(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Kubernetes column of docs/reference/backends.md, cell by cell, against the fake API server."""
    monkeypatch.setattr(KubeCluster, "wait_ready", lambda self, timeout: None)
    api = FakeKubeApi()
    cluster = KubeCluster(settings(tmp_path, store_size="64m"), api=api, run_id="run1", log=lambda *a: None)
    cluster._chaos = driver(api)
    seen: list[dict[str, Any]] = []
    real_create = api.create
    api.create = lambda obj: (seen.append(obj), real_create(obj))[1]  # type: ignore[method-assign]
    args, where, what = EVERY_KIND[kind]
    with cluster, History(tmp_path / "history.jsonl", {"seed": 0}) as history:
        nemesis = Nemesis(cluster, history, random.Random(0))
        # lose-lock waits to see whether the broker stops; the fake's never does
        monkeypatch.setattr(
            nemesis.store, "delete_lock", functools.partial(nemesis.store.delete_lock, settle=0.0)
        )
        before = len(api.execs)
        nemesis.inject(kind, *args)
        if where == "exec":
            assert any(command[: len(what)] == what for _, command in api.execs[before:]), api.execs[before:]
        else:
            made = [o for o in seen if o["kind"] == where]
            assert made and (what is None or all(o["spec"]["action"] == what for o in made))
        nemesis.heal()
        assert not [k for k, _ in api.objects if k in ("NetworkChaos", "StressChaos")]
    events = [e for e in read_history(tmp_path / "history.jsonl") if e["p"] == "nemesis"]
    assert not [e for e in events if e["type"] == "fail"]
    assert any(e["f"] == "fault" and e["type"] == "ok" and e["action"] == kind for e in events)


def test_the_role_in_the_guide_is_the_one_the_backend_needs() -> None:
    guide = (Path(__file__).resolve().parents[3] / "docs" / "backends.md").read_text()
    block = guide.split("### Who gets in", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    assert yaml.safe_load(block)["rules"] == role_rules()


def test_the_role_grants_exactly_what_the_backend_calls(cluster: KubeCluster, tmp_path: Path) -> None:
    """The Role in the docs is role_rules(): a call the backend makes that it lacks fails on a real cluster,
    a rule it has that no call needs is more than the backend may do. Every call of a run, recorded."""
    api: FakeKubeApi = cluster.api  # type: ignore[assignment]
    with cluster:
        cluster.stomp_endpoint("chaos-mq01-a")
        assert cluster.vip_endpoint[0] == "127.0.0.1"
        run_nemesis(
            cluster,
            tmp_path,
            ("isolate", "live:01"),
            ("starve", "chaos-mq01-a", "0.1"),
            ("kill", "chaos-mq02-a"),
        )
    assert api.permissions == granted(role_rules())
    assert not any("clusterroles" in rule["resources"] for rule in role_rules())


# ------------------------------------------------------------------------------------------ settings
def test_the_backend_is_chosen_by_its_setting_and_refuses_what_it_cannot_run(tmp_path: Path) -> None:
    assert isinstance(open_cluster(settings(tmp_path), log=lambda *a: None), KubeCluster)
    with pytest.raises(HarnessError, match="pure-master-slave is not available on BACKEND=k8s"):
        KubeCluster(settings(tmp_path, design=design("pure-master-slave"), version="5.5.1"))


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({}, "BACKEND=k8s needs K8S_NAMESPACE, K8S_BROKER_IMAGE, K8S_VIP_IMAGE"),
        ({"K8S_NAMESPACE": "Bad_Name"}, "is not a namespace name"),
        ({"K8S_STORE_SIZE": "lots"}, "is not a storage quantity"),
        ({"CHAOS_MESH_CRDS": "/nowhere/crds.yaml"}, "no such file"),
    ],
)
def test_bad_kubernetes_settings_get_one_line(given: dict[str, str], said: str) -> None:
    base = {"K8S_NAMESPACE": "amq", "K8S_BROKER_IMAGE": "b", "K8S_VIP_IMAGE": "v"} if given else {}
    with pytest.raises(HarnessError, match=said) as refused:
        KubeTarget.from_settings({**base, **given})
    assert "\n" not in str(refused.value)
