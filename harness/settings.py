"""Everything a run can be configured with, read once from the environment and `.env`, validated.

Precedence: process environment > `.env` in the repository root > defaults. Each bad value is reported as
one line naming the variable.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.broker_image import BrokerImage, image_id, read_broker_image
from harness.design.catalog import DESIGNS, Design, design
from harness.design.topology import Topology
from harness.design.versions import Dropped, VersionLine, fit, stomp_protocol, version_line
from harness.distribution import Distribution, debian_tarball, debian_version, resolve_distribution
from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parent.parent

# Debian suite that carries each broker version (docs/designs.md); the image is built from that suite.
BROKER_SUITES: dict[str, str] = {"5.16.1": "bullseye", "5.17.2": "bookworm", "5.17.6": "trixie"}
DEFAULT_VERSION = "5.17.2"
DIST_SUITE = "bookworm"  # the JRE root file system a user's own distribution (ACTIVEMQ_DIST) runs on
JRE_SUITES = ("bullseye", "bookworm", "trixie")  # the ones JRE= may choose instead (11, 17, 21)
# where tarballs are kept: downloaded ones (ACTIVEMQ_DIST=<URL>) and Debian's packages as tarballs (debian:X)
DISTS_CACHE = ROOT / ".cache" / "dists"
# what can run the brokers: harness.cluster.backends opens each
BACKENDS = ("compose", "ssh", "k8s")
CREDENTIAL_VARS = ("AMQ_NETWORK_USER", "AMQ_NETWORK_PASSWORD", "AMQ_CLIENT_USER", "AMQ_CLIENT_PASSWORD")
_HEAP = re.compile(r"^[0-9]+[mg]$")
_SIZE = re.compile(r"^(?P<number>[0-9]+)(?P<unit>[mg])$")


# The harness's own settings are read under one prefix, so that generic words (SIZE, RATE, SEED) set for
# something else in a user's shell never reach a run; the make targets pass the short names users type.
PREFIX = "AMQ_CHAOS_"


@dataclass(frozen=True)
class Variable:
    """One setting: the name make takes (`SEED=7 make chaos`) and the environment variable the harness reads
    (`AMQ_CHAOS_SEED`); broker settings keep the names they have always had (`ACTIVEMQ_VERSION`)."""

    name: str
    help: str
    default: str = ""
    env_name: str = ""  # the environment variable, when it is not PREFIX + name
    harness: bool = True  # read under PREFIX (False: a broker or machine setting, read as it is named)

    @property
    def env(self) -> str:
        return self.env_name or (PREFIX + self.name if self.harness else self.name)


def _broker(name: str, help: str, default: str = "") -> Variable:
    return Variable(name, help, default, harness=False)


# Every variable anything in the harness reads, in one place: the reference page (docs/reference/settings.md)
# and the Makefile's list of passed-through names are checked against it.
VARIABLES: tuple[Variable, ...] = (
    Variable("SEED", "run seed: an integer, or `last` (the previous chaos session's or soak's)", "random"),
    Variable("SCENARIO", "run only this scenario (its name, e.g. kill-live-master)", "every one"),
    Variable("DESIGN", "seed or hardened", "each the version can run (chaos); seed (others)"),
    Variable(
        "PLACEMENT", "seeded (client sessions placed on pairs by the seed) or vip (round robin)", "seeded"
    ),
    Variable("CHAOS_MINUTES", "minutes random-chaos draws faults for", "1", env_name=PREFIX + "MINUTES"),
    Variable(
        "SHARD", "run only the K-th of N shares of the items, K/N (a CI matrix; chaos needs SEED)", "all"
    ),
    Variable("KNOWN_BUGS", "also run scenarios on the designs where they show a known bug (1/true)", "no"),
    Variable("PRODUCERS", "producers", "2"),
    Variable("CONSUMERS", "queue consumers", "2"),
    Variable("RATE", "acknowledged sends per second per producer, or max", "50"),
    Variable("SIZE", "message body in bytes: N, or LOW-HIGH drawn per message from the seed", "the id alone"),
    Variable("QUEUES", "queues the messages are spread over by the seed", "1"),
    Variable("PERSISTENT", "persistent sends, true or false", "true"),
    Variable("SUBSCRIBERS", "durable subscribers on the workload's topic, fed by one publisher", "0"),
    Variable("CHURN", "seconds a consumer stays subscribed before it moves (0: stays)", "0"),
    Variable("DURATION", "how long a soak runs, e.g. 8h, 30m", "8h"),
    Variable("CHECKPOINT", "a soak's window between checks, e.g. 5m", "5m"),
    Variable(
        "FAULTS",
        "the fault kinds a soak's and random-chaos's schedules draw from, e.g. kill,freeze,partition-pairs "
        "(docs/reference/faults.md lists them)",
        "every kind the plain menu draws",
    ),
    Variable(
        "INTERVAL", "seconds between two faults of a soak's or random-chaos's schedule, e.g. 30s", "20s"
    ),
    Variable("HOLD", "seconds each fault of such a schedule is held (±25 %), e.g. 10s", "8s"),
    Variable("TRIES", "runs per candidate (shrink) or per cell (bugs)", "2"),
    Variable("BUDGET", "candidate schedules a shrink tries at most", "30"),
    Variable("VERSIONS", "broker versions make bugs covers, comma-separated", "every one"),
    Variable("PATTERNS", "known-bug patterns make bugs covers, comma-separated", "every one"),
    Variable(
        "JRE",
        "the Debian suite whose JRE a tarball (ACTIVEMQ_DIST) runs on: bullseye (11), bookworm (17) or trixie "
        "(21); make bugs with JRE set runs every version as Debian's files on it (ACTIVEMQ_DIST=debian:X.Y.Z)",
        "bookworm; make bugs: each version on its own suite",
    ),
    Variable("RUNS_DIR", "where run folders go", "runs/"),
    Variable("READY_TIMEOUT", "seconds a cluster may take to come up", "240"),
    Variable("VIP_PORT", "host port of the STOMP VIP (bound to 127.0.0.1)", "61613"),
    Variable("STORE_SIZE", "each pair's store as a tmpfs volume of this size (32m to 4g)", "a disk volume"),
    Variable(
        "BACKEND",
        "what runs the brokers: compose (containers here) or ssh (the hosts INVENTORY lists)",
        "compose",
    ),
    Variable("INVENTORY", "the SSH backend's inventory of hosts, a TOML file (docs/backends.md)", "none"),
    Variable("K8S_NAMESPACE", "the Kubernetes backend's namespace, the harness's own", "none"),
    Variable("K8S_CONTEXT", "the kubeconfig context the Kubernetes backend uses", "the current one"),
    Variable(
        "K8S_BROKER_IMAGE", "the broker image the cluster pulls (make images' host image, pushed)", "none"
    ),
    Variable("K8S_VIP_IMAGE", "the VIP image the cluster pulls (make images' vip image, pushed)", "none"),
    Variable("K8S_STORAGE_CLASS", "a ReadWriteMany storage class for the pairs' stores", "the default"),
    Variable("K8S_STORE_SIZE", "each pair's store claim on Kubernetes", "1Gi"),
    Variable(
        "CHAOS_MESH_CRDS",
        "Chaos Mesh's CustomResourceDefinitions to check objects against (a YAML file)",
        "the copy in harness/cluster/crds/",
    ),
    _broker(
        "ACTIVEMQ_VERSION", "broker version: one of the Debian versions the harness builds", DEFAULT_VERSION
    ),
    _broker(
        "ACTIVEMQ_DIST",
        "your own Apache ActiveMQ tarball (path or URL) instead of Debian's package; debian:X.Y.Z is Debian's "
        "package of X.Y.Z as such a tarball, run on the one JRE every tarball runs on",
    ),
    _broker(
        "ACTIVEMQ_DIST_CHECKSUM",
        "its checksum, <algorithm>:<hex> with sha512, sha256, sha1 or md5; a URL needs one unless the harness "
        "pins that release's",
    ),
    _broker(
        "BROKER_IMAGE",
        "your own broker image (in this Docker engine) instead of Debian's; the harness layers its tools on it",
    ),
    _broker(
        "VIP_IMAGE", "your own HAProxy image (in this Docker engine) for the VIP", "one built from Debian"
    ),
    _broker("AMQ_HEAP", "each broker's JVM heap", "256m"),
    _broker("AMQ_GROUP", "the brokers' name prefix", "chaos"),
    _broker("AMQ_NETWORK_USER", "the bridges' user", "network"),
    _broker("AMQ_NETWORK_PASSWORD", "the bridges' password", "(in .env)"),
    _broker("AMQ_CLIENT_USER", "the workload's STOMP user", "client"),
    _broker("AMQ_CLIENT_PASSWORD", "the workload's STOMP password", "(in .env)"),
    _broker(
        "DEBIAN_MIRROR",
        "the Debian mirror the images are bootstrapped from",
        "the Debian mirror in this machine's apt sources",
    ),
)
BY_NAME = {v.name: v for v in VARIABLES}
# names that were read once and are not any more: said once, so that a setting nobody reads is not silent
RETIRED = {"TOPOLOGY": "DESIGN", PREFIX + "TOPOLOGY": PREFIX + "DESIGN"}
_warned: set[str] = set()  # the retired names already said in this process


def environment(environ: Mapping[str, str] | None = None, dotenv: Path | None = None) -> dict[str, str]:
    """The process environment over `.env` in the repository root."""
    return {**read_dotenv(dotenv or ROOT / ".env"), **(os.environ if environ is None else environ)}


def given(environ: Mapping[str, str] | None = None, dotenv: Path | None = None) -> dict[str, str]:
    """Every setting that is set (non-empty), by its short name: {"SEED": "7"} from AMQ_CHAOS_SEED=7."""
    return own_settings(environment(environ, dotenv))


def own_settings(env: Mapping[str, str]) -> dict[str, str]:
    """The harness's own settings in an environment already merged with `.env` (`environment`)."""
    for old, new in RETIRED.items():
        if env.get(old) and old not in _warned:
            _warned.add(old)
            print(f"warning: {old} is no longer read; set {new}", file=sys.stderr)
    return {v.name: env[v.env].strip() for v in VARIABLES if env.get(v.env, "").strip()}


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as python-dotenv reads them (quotes, `export`, comments after a quoted value), no
    interpolation; a line it cannot read, or a key with no value, is a one-line error naming the line."""
    if not path.exists():
        return {}
    from dotenv.parser import parse_stream

    values: dict[str, str] = {}
    with path.open() as stream:
        for binding in parse_stream(stream):
            where, text = f"{path}:{binding.original.line}", binding.original.string.strip()
            if binding.error:
                raise HarnessError(f"{where}: expected KEY=VALUE, got {text!r}")
            if binding.key is None:  # a blank line or a comment
                continue
            if binding.value is None:
                raise HarnessError(f"{where}: {binding.key} has no value (write {binding.key}=...)")
            values[binding.key] = binding.value
    return values


@dataclass(frozen=True)
class Credentials:
    network_user: str
    network_password: str
    client_user: str
    client_password: str

    def as_env(self) -> dict[str, str]:
        return dict(
            zip(
                CREDENTIAL_VARS,
                (self.network_user, self.network_password, self.client_user, self.client_password),
                strict=True,
            )
        )


@dataclass(frozen=True)
class KubeTarget:
    """Where and with what the Kubernetes backend runs the cluster (docs/backends.md, Kubernetes)."""

    namespace: str
    broker_image: str
    vip_image: str
    context: str | None = None
    storage_class: str | None = None
    store_size: str = "1Gi"
    crds: Path | None = None  # None: the vendored copy
    cluster_domain: str = "cluster.local"
    cpu_limit: str = "1"  # a broker container's CPU limit, which the starve kind's load shares

    @classmethod
    def from_settings(cls, own: Mapping[str, str]) -> KubeTarget:
        missing = [
            name for name in ("K8S_NAMESPACE", "K8S_BROKER_IMAGE", "K8S_VIP_IMAGE") if not own.get(name)
        ]
        if missing:
            raise HarnessError(f"BACKEND=k8s needs {', '.join(missing)} (docs/backends.md, Kubernetes)")
        namespace = own["K8S_NAMESPACE"]
        if not _DNS_LABEL.match(namespace):
            raise HarnessError(f"K8S_NAMESPACE={namespace!r} is not a namespace name (lowercase, digits, -)")
        size = own.get("K8S_STORE_SIZE") or "1Gi"
        if not _QUANTITY.match(size):
            raise HarnessError(f"K8S_STORE_SIZE={size!r} is not a storage quantity such as 1Gi")
        crds = Path(own["CHAOS_MESH_CRDS"]).expanduser().resolve() if own.get("CHAOS_MESH_CRDS") else None
        if crds is not None and not crds.is_file():
            raise HarnessError(f"CHAOS_MESH_CRDS={crds}: no such file")
        return cls(
            namespace=namespace,
            broker_image=own["K8S_BROKER_IMAGE"],
            vip_image=own["K8S_VIP_IMAGE"],
            context=own.get("K8S_CONTEXT") or None,
            storage_class=own.get("K8S_STORAGE_CLASS") or None,
            store_size=size,
            crds=crds,
        )


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_QUANTITY = re.compile(r"^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$")


@dataclass(frozen=True)
class Settings:
    version: str = DEFAULT_VERSION
    topology: Topology = field(default_factory=Topology)
    design: Design = field(default_factory=lambda: design("seed"))
    vip_port: int = 61613
    credentials: Credentials = field(
        default_factory=lambda: Credentials("network", "network-test-secret", "client", "client-test-secret")
    )
    heap: str = "256m"
    # each pair's store as a volume of this size (tmpfs), so that it can fill up (the fill-store fault); None:
    # an ordinary volume on the host's disk, which a fault must never fill
    store_size: str | None = None
    ready_timeout: float = 240.0
    runs_dir: Path = ROOT / "runs"
    # a user's own Apache ActiveMQ tarball (ACTIVEMQ_DIST); `version` is then the one read from it
    dist: Distribution | None = None
    jre_suite: str = DIST_SUITE  # the Debian suite whose JRE a user's tarball runs on (JRE)
    # a user's own broker image (BROKER_IMAGE); `version` is then the one read from it
    broker_image: BrokerImage | None = None
    vip_image: str | None = None  # a user's own HAProxy image (VIP_IMAGE)
    backend: str = "compose"  # one of BACKENDS (harness.cluster.backends)
    inventory: Path | None = None  # the SSH backend's hosts
    kube: KubeTarget | None = None  # the Kubernetes backend's namespace, images and store

    def __post_init__(self) -> None:
        # a design the version cannot run (pure master/slave on 5.8+), or a version the harness has no
        # configuration for, is refused when the settings are made, before anything starts
        fit(self.design, self.line)

    @property
    def line(self) -> VersionLine:
        return version_line(self.version)

    @property
    def dropped(self) -> list[Dropped]:
        """Settings of the chosen design this version's line does not have (rendering leaves them out)."""
        return fit(DESIGNS.get(self.design.name, self.design), self.line)[1]

    @property
    def stomp_protocol(self) -> str:
        """The STOMP the harness speaks to these brokers: 1.0 before 5.8 (5.5 knows nothing else), else 1.2."""
        return stomp_protocol(self.line)

    @property
    def suite(self) -> str:
        if self.dist:
            return self.jre_suite
        return DIST_SUITE if self.broker_image else BROKER_SUITES[self.version]

    @property
    def broker_label(self) -> str:
        """The broker as reports name it: its version, and the tarball or image it came from when not
        Debian's."""
        if self.dist:
            jre = "" if self.jre_suite == DIST_SUITE else f", on {self.jre_suite}'s JRE"
            return f"{self.version} ({self.dist.name}{jre})"
        if self.broker_image:
            return f"{self.version} ({self.broker_image.ref})"
        return self.version

    @property
    def broker_words(self) -> list[str]:
        """The settings that chose this broker, as a rerun command must repeat them (none for the default)."""
        words = []
        if self.dist:
            made = debian_tarball(DISTS_CACHE, self.version)
            words.append(
                f"ACTIVEMQ_DIST=debian:{self.version}"
                if self.dist.path == made
                else f"ACTIVEMQ_DIST={self.dist.path}"
            )
            if self.jre_suite != DIST_SUITE:
                words.append(f"JRE={self.jre_suite}")
        elif self.broker_image:
            words.append(f"BROKER_IMAGE={self.broker_image.ref}")
        elif self.version != DEFAULT_VERSION:
            words.append(f"ACTIVEMQ_VERSION={self.version}")
        return words

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, dotenv: Path | None = None) -> Settings:
        env = environment(environ, dotenv)
        own = own_settings(env)
        backend = own.get("BACKEND") or "compose"
        if backend not in BACKENDS:
            raise HarnessError(f"unknown BACKEND {backend!r}: one of {', '.join(BACKENDS)}")
        if backend != "compose" and (env.get("BROKER_IMAGE") or env.get("VIP_IMAGE")):
            raise HarnessError(
                f"BROKER_IMAGE and VIP_IMAGE are the compose backend's; BACKEND={backend} runs "
                + ("K8S_BROKER_IMAGE and K8S_VIP_IMAGE" if backend == "k8s" else "the brokers its hosts have")
            )
        dist = None
        broker_image = None
        if env.get("ACTIVEMQ_DIST") and env.get("BROKER_IMAGE"):
            raise HarnessError("ACTIVEMQ_DIST and BROKER_IMAGE both name the broker: unset one of them")
        # a broker of the user's own carries its version, which ACTIVEMQ_VERSION may only repeat
        holder = ""
        if env.get("BROKER_IMAGE"):
            broker_image = read_broker_image(env["BROKER_IMAGE"], ROOT / ".cache" / "broker-images")
            version, holder = broker_image.version, f"BROKER_IMAGE={broker_image.ref} holds"
        elif env.get("ACTIVEMQ_DIST"):
            dist = distribution(env["ACTIVEMQ_DIST"], env.get("ACTIVEMQ_DIST_CHECKSUM") or None)
            version, holder = dist.version, f"ACTIVEMQ_DIST={dist.name} is"
        if holder:
            asked = env.get("ACTIVEMQ_VERSION")
            if asked and asked != version:
                raise HarnessError(
                    f"ACTIVEMQ_VERSION={asked} but {holder} ActiveMQ {version}: unset one of them"
                )
        else:
            version = env.get("ACTIVEMQ_VERSION") or DEFAULT_VERSION
            if version not in BROKER_SUITES:
                raise HarnessError(
                    f"unknown ACTIVEMQ_VERSION {version!r}: choose one of {', '.join(sorted(BROKER_SUITES))}, "
                    "or give your own distribution as ACTIVEMQ_DIST=apache-activemq-X.Y.Z-bin.tar.gz"
                )
        missing = [name for name in CREDENTIAL_VARS if not env.get(name)]
        if missing:
            raise HarnessError(
                f"missing credentials {', '.join(missing)}: set them in .env or the environment"
            )
        jre_suite = own.get("JRE") or DIST_SUITE
        if jre_suite not in JRE_SUITES:
            raise HarnessError(
                f"JRE={jre_suite!r} is not a Debian suite the harness builds: {', '.join(JRE_SUITES)}"
            )
        heap = env.get("AMQ_HEAP") or "256m"
        if not _HEAP.match(heap):
            raise HarnessError(f"AMQ_HEAP={heap!r} is not a JVM heap size such as 256m")
        store_size = own.get("STORE_SIZE") or None
        inventory = Path(own["INVENTORY"]).expanduser().resolve() if own.get("INVENTORY") else None
        if backend == "ssh" and inventory is None:
            raise HarnessError("BACKEND=ssh needs INVENTORY=hosts.toml: the hosts the brokers run on")
        kube = KubeTarget.from_settings(own) if backend == "k8s" else None
        if store_size is not None:
            store_size = parse_store_size(store_size)
        vip_image = env.get("VIP_IMAGE") or None
        if vip_image is not None:
            image_id("VIP_IMAGE", vip_image)  # present in this engine, or a one-line error now
        return cls(
            version=version,
            topology=Topology(group=env.get("AMQ_GROUP") or "chaos"),
            design=design(own.get("DESIGN") or "seed"),
            vip_port=_port(own.get("VIP_PORT") or "61613"),
            credentials=Credentials(*(env[name] for name in CREDENTIAL_VARS)),
            heap=heap,
            store_size=store_size,
            ready_timeout=positive_number("READY_TIMEOUT", own.get("READY_TIMEOUT") or "240", "of seconds"),
            runs_dir=Path(own.get("RUNS_DIR") or ROOT / "runs").resolve(),
            backend=backend,
            inventory=inventory,
            kube=kube,
            dist=dist,
            jre_suite=jre_suite,
            broker_image=broker_image,
            vip_image=vip_image,
        )


_read_distributions: dict[tuple[str, str | None, float, int], Distribution] = {}


def distribution(source: str, checksum: str | None) -> Distribution:
    """ACTIVEMQ_DIST read once per process and file state: reading a tarball's members takes a second.
    `debian:X.Y.Z` is Debian's package of that version as a tarball (harness.debian_dist), made when missing."""
    debian = debian_version(source)
    if debian is not None:
        if debian not in BROKER_SUITES:
            raise HarnessError(
                f"ACTIVEMQ_DIST={source}: Debian carries ActiveMQ {', '.join(sorted(BROKER_SUITES))}, not {debian!r}"
            )
        made = debian_tarball(DISTS_CACHE, debian)
        if not made.is_file():  # harness.debian_dist.prepare makes it before the settings are read
            raise HarnessError(f"ACTIVEMQ_DIST={source}: its tarball is not made yet ({made})")
        source = str(made)
    path = Path(source).expanduser()
    stat = path.stat() if path.is_file() else None
    key = (source, checksum, stat.st_mtime if stat else 0.0, stat.st_size if stat else 0)
    if key not in _read_distributions or stat is None:
        _read_distributions[key] = resolve_distribution(source, checksum, DISTS_CACHE)
    return _read_distributions[key]


def parse_store_size(text: str) -> str:
    """A store volume's size, 32m to 4g: at least one KahaDB journal file (32 MB), and no more memory than a
    pair's store should take (the volume is a tmpfs)."""
    match = _SIZE.match(text)
    megabytes = int(match["number"]) * (1024 if match["unit"] == "g" else 1) if match else 0
    if not 32 <= megabytes <= 4096:
        raise HarnessError(f"STORE_SIZE={text!r} is not a store size from 32m to 4g, such as 128m")
    return text


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise HarnessError(f"VIP_PORT={text!r} is not a TCP port (1-65535)")
    return int(text)


def positive_number(name: str, text: str, unit: str = "") -> float:
    """`text` as a positive number, or a one-line error naming the setting."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise HarnessError(f"{name}={text!r} must be a positive number{' ' + unit if unit else ''}")
    return value


def parse_seed(text: str) -> int:
    """A run seed: a non-negative integer, or a fresh random one when empty (printed, so it can be replayed)."""
    text = text.strip()
    if not text:
        return secrets.randbelow(10**9)
    if not text.isdigit():
        raise HarnessError(f"SEED={text!r} is not a non-negative integer")
    return int(text)


def stamped_folder(runs_dir: Path, kind: str, name: str) -> Path:
    """runs/<kind>/<time>-<name>: one folder per chaos run, soak, replay or matrix, newest sorting last."""
    return runs_dir / kind / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"


_SEEDED_FOLDER = re.compile(r"-seed(?P<seed>[0-9]+)$")


def last_seed(kind_dir: Path) -> int:
    """SEED=last for a command whose run folders carry their seed (runs/soak/<time>-seed<N>): the newest one's."""
    folders = sorted(p.name for p in kind_dir.glob("*-seed*") if p.is_dir()) if kind_dir.is_dir() else []
    for name in reversed(folders):
        match = _SEEDED_FOLDER.search(name)
        if match:
            return int(match["seed"])
    raise HarnessError(f"SEED=last: no earlier run in {kind_dir} to take the seed from")


DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str, name: str = "DURATION") -> float:
    """8h, 30m, 90s, 1h30m, or plain seconds."""
    text = text.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        match = DURATION.match(text)
        if not text or match is None:
            raise ValueError(f"{name}={text!r} is not a duration like 8h, 30m, 90s or 1h30m")
        hours, minutes, secs = (int(g) if g else 0 for g in match.groups())
        seconds = float(hours * 3600 + minutes * 60 + secs)
    if seconds <= 0:
        raise ValueError(f"{name}={text!r} must be longer than zero")
    return seconds
