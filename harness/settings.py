"""Everything a run can be configured with, read once from the environment and `.env`, validated.

Precedence: process environment > `.env` in the repository root > defaults. Each bad value is reported as
one line naming the variable.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.design.catalog import DESIGNS, Design, design
from harness.design.topology import Topology
from harness.design.versions import Dropped, VersionLine, fit, stomp_protocol, version_line
from harness.distribution import Distribution, resolve_distribution
from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parent.parent

# Debian suite that carries each broker version (TOPOLOGY.md); the image is built from that suite.
BROKER_SUITES: dict[str, str] = {"5.16.1": "bullseye", "5.17.2": "bookworm", "5.17.6": "trixie"}
DEFAULT_VERSION = "5.17.2"
DIST_SUITE = "bookworm"  # the JRE root file system a user's own distribution (ACTIVEMQ_DIST) runs on
CREDENTIAL_VARS = ("AMQ_NETWORK_USER", "AMQ_NETWORK_PASSWORD", "AMQ_CLIENT_USER", "AMQ_CLIENT_PASSWORD")
_HEAP = re.compile(r"^[0-9]+[mg]$")
_SIZE = re.compile(r"^(?P<number>[0-9]+)(?P<unit>[mg])$")


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
        return DIST_SUITE if self.dist else BROKER_SUITES[self.version]

    @property
    def broker_label(self) -> str:
        """The broker as reports name it: its version, and the tarball it came from when not Debian's."""
        return f"{self.version} ({self.dist.name})" if self.dist else self.version

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, dotenv: Path | None = None) -> Settings:
        env = {**read_dotenv(dotenv or ROOT / ".env"), **(os.environ if environ is None else environ)}
        dist = None
        if env.get("ACTIVEMQ_DIST"):
            dist = distribution(env["ACTIVEMQ_DIST"], env.get("ACTIVEMQ_DIST_CHECKSUM") or None)
            asked = env.get("ACTIVEMQ_VERSION")
            if asked and asked != dist.version:
                raise HarnessError(
                    f"ACTIVEMQ_VERSION={asked} but ACTIVEMQ_DIST={dist.name} is ActiveMQ {dist.version}: "
                    "unset one of them"
                )
            version = dist.version
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
        heap = env.get("AMQ_HEAP") or "256m"
        if not _HEAP.match(heap):
            raise HarnessError(f"AMQ_HEAP={heap!r} is not a JVM heap size such as 256m")
        store_size = env.get("STORE_SIZE") or None
        if store_size is not None:
            store_size = parse_store_size(store_size)
        return cls(
            version=version,
            topology=Topology(group=env.get("AMQ_GROUP") or "chaos"),
            design=design(env.get("DESIGN") or env.get("TOPOLOGY") or "seed"),
            vip_port=_port(env.get("VIP_PORT") or "61613"),
            credentials=Credentials(*(env[name] for name in CREDENTIAL_VARS)),
            heap=heap,
            store_size=store_size,
            ready_timeout=positive_number("READY_TIMEOUT", env.get("READY_TIMEOUT") or "240", "of seconds"),
            runs_dir=Path(env.get("RUNS_DIR") or ROOT / "runs").resolve(),
            dist=dist,
        )


_read_distributions: dict[tuple[str, str | None, float, int], Distribution] = {}


def distribution(source: str, checksum: str | None) -> Distribution:
    """ACTIVEMQ_DIST read once per process and file state: reading a tarball's members takes a second."""
    path = Path(source).expanduser()
    stat = path.stat() if path.is_file() else None
    key = (source, checksum, stat.st_mtime if stat else 0.0, stat.st_size if stat else 0)
    if key not in _read_distributions or stat is None:
        _read_distributions[key] = resolve_distribution(source, checksum, ROOT / ".cache" / "dists")
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
