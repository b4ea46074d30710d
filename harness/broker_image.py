"""A user's own broker image (BROKER_IMAGE) and VIP image (VIP_IMAGE): found in the local engine and read.

The harness layers its tools on such an image (images/broker-image.Dockerfile) instead of building the broker
from Debian's package or a tarball. What is read here is what the rest of the harness needs before anything
starts: the image's id, where ActiveMQ is inside it, its start jar and its version (from the jar names, as
for a tarball). The image is read with the `docker` command, not Docker's Python client: settings are read
by every backend, and the SSH and Kubernetes ones never load that client.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from harness.distribution import START_JARS, version_in_jar
from harness.errors import HarnessError, MachineError

DOCKER_TIMEOUT = 120.0  # seconds for one docker command here (an inspect, a probe container's whole life)

# A POSIX sh script run once in the image (its entrypoint replaced): where ActiveMQ's versioned jars and start
# jars are, whether the image has what the harness's tools need, and the home it declares (if any).
_PROBE = r"""
find / -xdev \( -path /proc -o -path /sys -o -path /dev \) -prune -o -type f \
    \( -name 'activemq-broker*.jar' -o -name 'activemq-core*.jar' -o -name 'activemq-all*.jar' \) \
    -print 2>/dev/null | while read -r jar; do echo "jar $jar"; done
find / -xdev \( -path /proc -o -path /sys -o -path /dev \) -prune -o -type f \
    \( -path '*/bin/activemq.jar' -o -path '*/bin/run.jar' \) -print 2>/dev/null \
    | while read -r jar; do echo "start $jar"; done
for tool in bash java timeout; do command -v "$tool" >/dev/null 2>&1 && echo "has $tool"; done
echo "home ${ACTIVEMQ_HOME:-}"
"""
# versioned as Apache names them, or not (as Debian's package does: the version is then read inside the jar)
_JAR = re.compile(r"^activemq-(?:broker|core|all)(?:-(?P<version>\d+\.\d+\.\d+))?\.jar$")
# the harness's in-image tools are bash; exec's deadline is coreutils' timeout
NEEDED_TOOLS = ("bash", "java", "timeout")


@dataclass(frozen=True)
class BrokerImage:
    """A user's broker image, as found in this engine."""

    ref: str  # as the user named it, e.g. apache/activemq-classic:5.18.3
    id: str  # the engine's image id (sha256:...): what the layered image is built from
    version: str
    home: str  # where ActiveMQ is inside the image
    start_jar: str  # relative to `home`


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["docker", *args], capture_output=True, text=True, timeout=DOCKER_TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise MachineError(
            "BROKER_IMAGE and VIP_IMAGE need the docker command, which is not installed"
        ) from None
    except subprocess.TimeoutExpired:
        raise MachineError(f"docker {args[0]} did not answer within {DOCKER_TIMEOUT:.0f}s") from None


def image_id(setting: str, ref: str) -> str:
    """The id of image `ref` in this engine; an image the engine does not have is a one-line error (the harness
    pulls nothing: which registry and credentials is the user's business)."""
    if not ref.strip() or any(c.isspace() for c in ref):
        raise HarnessError(f"{setting}={ref!r} is not an image name such as apache/activemq-classic:5.18.3")
    done = _docker("image", "inspect", "--format", "{{.Id}}", ref)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no such image"])[-1]
        if "no such image" in reason.lower():
            raise HarnessError(
                f"{setting}={ref}: not in this Docker engine; `docker pull {ref}` (or `docker load`) it first"
            )
        raise MachineError(f"{setting}={ref}: docker image inspect failed: {reason[:200]}")
    return done.stdout.strip()


@dataclass(frozen=True)
class Probed:
    """What the probe found: ActiveMQ's home, its start jar, and its version from a jar's name or, where the
    jars carry none, the jar to read it from."""

    home: str
    start_jar: str
    version: str | None
    broker_jar: str


def parse_probe(ref: str, output: str) -> Probed:
    """The probe's output, read; what is missing is a one-line error naming it."""
    jars: list[Path] = []
    starts: set[str] = set()
    tools: set[str] = set()
    declared = ""
    for line in output.splitlines():
        word, _, rest = line.partition(" ")
        if word == "jar":
            jars.append(Path(rest.strip()))
        elif word == "start":
            starts.add(rest.strip())
        elif word == "has":
            tools.add(rest.strip())
        elif word == "home":
            declared = rest.strip().rstrip("/")
    missing = [tool for tool in NEEDED_TOOLS if tool not in tools]
    if missing:
        raise HarnessError(
            f"BROKER_IMAGE={ref} has no {', '.join(missing)} on its PATH: the harness's tools in the broker "
            "need bash, java and coreutils' timeout (every apache/activemq-classic image has them)"
        )
    homes: dict[str, tuple[str | None, str]] = {}  # ActiveMQ's home -> (its version, a jar that has it)
    for jar in jars:
        match = _JAR.match(jar.name)
        if match is None:
            continue
        top = str(jar.parent.parent if jar.parent.name == "lib" else jar.parent)
        if homes.get(top, (None, ""))[0] is None:
            homes[top] = (match["version"], str(jar))
    if not homes:
        raise HarnessError(
            f"BROKER_IMAGE={ref}: no ActiveMQ found in it (no activemq-broker-X.Y.Z.jar, activemq-core-X.Y.Z.jar "
            "or activemq-all-X.Y.Z.jar anywhere on its file system)"
        )
    if declared in homes:
        home = declared
    elif len(homes) == 1:
        home = next(iter(homes))
    else:
        raise HarnessError(
            f"BROKER_IMAGE={ref} holds more than one ActiveMQ ({', '.join(sorted(homes))}): set ACTIVEMQ_HOME "
            "in the image to the one it runs"
        )
    start = next((s for s in START_JARS if f"{home}/{s}" in starts), None)
    if start is None:
        raise HarnessError(f"BROKER_IMAGE={ref}: ActiveMQ at {home} has no bin/activemq.jar or bin/run.jar")
    version, versioned_by = homes[home]
    return Probed(home=home, start_jar=start, version=version, broker_jar=versioned_by)


def _version_inside(ref: str, identity: str, jar: str) -> str:
    """The version recorded inside `jar` of the image (its pom.properties), copied out of a created, never
    started container."""
    created = _docker("create", "--network", "none", identity)
    if created.returncode != 0:
        raise HarnessError(
            f"BROKER_IMAGE={ref}: could not create a container of it: {created.stderr.strip()[:200]}"
        )
    container = created.stdout.strip()
    try:
        copied = subprocess.run(
            ["docker", "cp", f"{container}:{jar}", "-"],
            capture_output=True,
            timeout=DOCKER_TIMEOUT,
            check=False,
        )
    finally:
        _docker("rm", "-f", container)
    version = None
    if copied.returncode == 0:
        with tarfile.open(fileobj=io.BytesIO(copied.stdout)) as archive:
            member = next((m for m in archive.getmembers() if m.isfile()), None)
            stream = archive.extractfile(member) if member else None
            version = version_in_jar(stream.read()) if stream else None
    if not version:
        raise HarnessError(f"BROKER_IMAGE={ref}: {jar} carries no version (no Maven pom.properties in it)")
    return version


_read: dict[str, BrokerImage] = {}  # image id -> what was read, once per process


def read_broker_image(ref: str, cache: Path) -> BrokerImage:
    """BROKER_IMAGE read: its id, then (once per image id, kept in `cache`) ActiveMQ's home, start jar and
    version, by a throwaway container of the image with no network."""
    identity = image_id("BROKER_IMAGE", ref)
    if identity in _read:
        return _read[identity]
    stored = cache / f"{identity.removeprefix('sha256:')}.json"
    if stored.is_file():
        try:
            fields = json.loads(stored.read_text())
            found = BrokerImage(ref=ref, id=identity, **fields)
        except (ValueError, TypeError):
            stored.unlink(missing_ok=True)
        else:
            _read[identity] = found
            return found
    done = _docker(
        "run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "sh", identity, "-c",
        _PROBE,
    )  # fmt: skip
    if done.returncode != 0 and not done.stdout:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise HarnessError(f"BROKER_IMAGE={ref}: could not look inside it with sh: {reason[:200]}")
    probed = parse_probe(ref, done.stdout)
    version = probed.version or _version_inside(ref, identity, probed.broker_jar)
    home, start = probed.home, probed.start_jar
    found = BrokerImage(ref=ref, id=identity, version=version, home=home, start_jar=start)
    cache.mkdir(parents=True, exist_ok=True)
    stored.write_text(json.dumps({"version": version, "home": home, "start_jar": start}))
    _read[identity] = found
    return found
