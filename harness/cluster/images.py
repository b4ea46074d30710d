"""Registry-free images: bootstrap a root file system from Debian's mirror, `docker import` it, then layer
the project's files on top with a Dockerfile that has no network step.

Images are tagged with a hash of everything that goes into them, so an image built from the same inputs is
found and reused instead of rebuilt.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from harness.broker_image import BrokerImage, image_id
from harness.distribution import Distribution
from harness.errors import HarnessError, MachineError
from harness.settings import BROKER_SUITES, DEFAULT_VERSION, DIST_SUITE, ROOT, Settings, environment

IMAGES_DIR = ROOT / "images"
BROKER_PACKAGES = (
    "default-jre-headless",
    "activemq",
    "libxstream-java",
    "libjettison-java",
    "libxpp3-java",
    "iproute2",
    "iptables",
    "procps",
    # the stand-in server host (host.Dockerfile) is layered on the broker image, so it shares this root file
    # system: one bootstrap per suite, in CI too
    "openssh-server",
    "sudo",
    "tini",
)
# A user's own distribution (ACTIVEMQ_DIST) runs on bookworm's JRE, with the jars old lines lack that Debian
# packages: xstream/jettison/xpp3 (the statistics plugin's JSON), slf4j, and xbean-spring with Spring for the
# XML configuration. The Dockerfile links each into the distribution's lib/optional only when the tarball
# has no jar of that name of its own.
DIST_PACKAGES = (
    "default-jre-headless",
    "libxstream-java",
    "libjettison-java",
    "libxpp3-java",
    "libslf4j-java",
    "libcommons-logging-java",
    "libxbean-java",
    "libspring-beans-java",
    "libspring-context-java",
    "libspring-core-java",
    "libspring-expression-java",
    "libspring-aop-java",
    "iproute2",
    "iptables",
    "procps",
)
VIP_SUITE = "bookworm"
VIP_PACKAGES = ("haproxy", "iproute2", "iptables", "procps")
LABEL = "io.amq-chaos.inputs"


@dataclass(frozen=True)
class ImageRecipe:
    name: str  # "broker" or "vip"
    suite: str
    packages: tuple[str, ...]
    dockerfile: str
    files: tuple[str, ...]  # paths under images/ copied by the Dockerfile
    dist: Distribution | None = None  # a user's tarball, unpacked by the Dockerfile (ACTIVEMQ_DIST)
    # a user's own image the Dockerfile layers on (BROKER_IMAGE, VIP_IMAGE), by id, with what was read of it
    base: str | None = None
    buildargs: tuple[tuple[str, str], ...] = ()

    def rootfs_digest(self) -> str:
        return _digest([self.suite, *sorted(self.packages)])

    def digest(self) -> str:
        contents = [(IMAGES_DIR / f).read_bytes().decode() for f in (self.dockerfile, *self.files)]
        own = [*([self.dist.sha256] if self.dist else []), *([self.base] if self.base else [])]
        return _digest([self.rootfs_digest(), *contents, *own, *(f"{k}={v}" for k, v in self.buildargs)])

    @property
    def needs_rootfs(self) -> bool:
        """A Debian root file system: the image's own (Debian's broker, a tarball's JRE, the VIP) or the stage
        that compiles the tools for a user's broker image; a user's VIP image needs none."""
        return bool(self.packages)

    def rootfs_tag(self) -> str:
        return f"amq-chaos/rootfs:{self.suite}-{self.name}-{self.rootfs_digest()}"


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


_BROKER_FILES = (
    *(
        f"bin/{name}"
        for name in (
            "stomp-ping",
            "stomp-browse",
            "stomp-subscription-ids",
            "stomp-send",
            "amq-entrypoint",
            "amq-node-state",
            "amq-healthcheck",
            "amq-jmx",
            "amq-cds-train",
            "amq-durable-ids",
            "amq-class-count",
        )
    ),
    # compiled while the image is built
    "java/AmqDurableIds.java",
    "java/AmqClassCount.java",
    # the broker amq-cds-train starts while the image is built
    "cds/activemq.xml",
    "cds/log4j.properties",
)


def broker_recipe(version: str) -> ImageRecipe:
    if version not in BROKER_SUITES:
        raise HarnessError(
            f"unknown ACTIVEMQ_VERSION {version!r}: choose one of {', '.join(sorted(BROKER_SUITES))}"
        )
    return ImageRecipe("broker", BROKER_SUITES[version], BROKER_PACKAGES, "broker.Dockerfile", _BROKER_FILES)


def dist_recipe(dist: Distribution, suite: str = DIST_SUITE) -> ImageRecipe:
    """A user's tarball on the JRE of a Debian suite (JRE=), bookworm's unless told."""
    return ImageRecipe("broker", suite, DIST_PACKAGES, "broker-dist.Dockerfile", _BROKER_FILES, dist=dist)


def broker_image_recipe(image: BrokerImage) -> ImageRecipe:
    """A user's broker image with the harness's tools layered on (images/broker-image.Dockerfile); the tools'
    Java class is compiled in a stage on the default broker's Debian root file system, which `make images`
    bootstraps anyway."""
    default = broker_recipe(DEFAULT_VERSION)
    return ImageRecipe(
        "broker",
        default.suite,
        default.packages,
        "broker-image.Dockerfile",
        _BROKER_FILES,
        base=image.id,
        buildargs=(("AMQ_HOME", image.home), ("START_JAR", image.start_jar)),
    )


def vip_recipe(base: str | None = None) -> ImageRecipe:
    """The VIP: HAProxy on Debian, or a user's HAProxy image (by id) with the harness's check script on it."""
    if base is not None:
        return ImageRecipe("vip", "", (), "vip-image.Dockerfile", ("bin/stomp-ping",), base=base)
    return ImageRecipe("vip", VIP_SUITE, VIP_PACKAGES, "vip.Dockerfile", ("bin/stomp-ping",))


def image_tag(recipe: ImageRecipe, version: str | None = None) -> str:
    flavour = (
        (version or recipe.suite or "own")
        + ("-dist" if recipe.dist else "")
        + ("-image" if recipe.base else "")
    )
    return f"amq-chaos/{recipe.name}:{flavour}-{recipe.digest()}"


def debian_mirror() -> str:
    """The Debian mirror this machine's apt already uses (DEBIAN_MIRROR overrides)."""
    chosen = environment().get("DEBIAN_MIRROR", "").strip()
    if chosen:
        return chosen
    candidates: list[str] = []
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        if not path.is_file() or path.suffix not in ("", ".list", ".sources"):
            continue
        for line in path.read_text(errors="replace").splitlines():
            words = line.split()
            if path.suffix == ".sources" and words[:1] == ["URIs:"]:
                candidates.extend(words[1:])
            elif words[:1] == ["deb"]:
                candidates.extend(w for w in words[1:] if "://" in w)
    for uri in candidates:
        if uri.rstrip("/").endswith("/debian"):
            return uri
    raise HarnessError("no Debian mirror found in /etc/apt sources: set DEBIAN_MIRROR to one")


def ensure_rootfs(recipe: ImageRecipe, client: docker.DockerClient, log: Callable[[str], None]) -> str:
    tag = recipe.rootfs_tag()
    if _image_exists(client, tag):
        return tag
    if shutil.which("mmdebstrap") is None:
        raise HarnessError("mmdebstrap is not installed: run `make images` (it installs it) or apt-get it")
    with tempfile.TemporaryDirectory(prefix="amq-chaos-rootfs-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        log(f"bootstrapping {recipe.suite} root file system for {recipe.name} ({', '.join(recipe.packages)})")
        command = [
            "mmdebstrap",
            "--quiet",
            "--variant=apt",
            f"--include={','.join(recipe.packages)}",
            # no documentation (man pages stay: the JRE postinst links into /usr/share/man)
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            recipe.suite,
            str(tarball),
            debian_mirror(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise MachineError(f"mmdebstrap {recipe.suite} failed: {tail[0]}")
        log(f"importing {tag}")
        repository, _, version = tag.partition(":")
        client.api.import_image_from_file(str(tarball), repository=repository, tag=version)
    return tag


def _image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def ensure_image(
    client: docker.DockerClient,
    recipe: ImageRecipe,
    version: str | None = None,
    log: Callable[[str], None] = print,
) -> str:
    """Return the tag of the image for `recipe`, building it only if no image from the same inputs exists."""
    tag = image_tag(recipe, version)
    if _image_exists(client, tag):
        return tag
    started = time.monotonic()
    buildargs = dict(recipe.buildargs)
    if recipe.needs_rootfs:
        buildargs["ROOTFS"] = ensure_rootfs(recipe, client, log)
    if recipe.base is not None:
        buildargs["BASE"] = recipe.base
    origin = recipe.dist.name if recipe.dist else recipe.base
    log(f"building {tag}" + (f" from {origin}" if origin else ""))
    with tempfile.TemporaryDirectory(prefix="amq-chaos-context-") as context:
        if recipe.dist is not None:
            # the tarball joins a copy of images/ as the build context (ADD unpacks it), under a fixed name
            shutil.copytree(IMAGES_DIR, context, dirs_exist_ok=True)
            shutil.copyfile(recipe.dist.path, Path(context) / "dist.tar")
            buildargs |= {"DIST_TOP": recipe.dist.top, "START_JAR": recipe.dist.start_jar}
        path = context if recipe.dist is not None else str(IMAGES_DIR)
        _build(client, tag, path, recipe.dockerfile, buildargs, recipe.digest(), log)
    log(f"built {tag} in {time.monotonic() - started:.0f}s")
    return tag


def _build(
    client: docker.DockerClient,
    tag: str,
    path: str,
    dockerfile: str,
    buildargs: dict[str, str],
    digest: str,
    log: Callable[[str], None],
) -> None:
    try:
        client.images.build(
            path=path,
            dockerfile=dockerfile,
            tag=tag,
            buildargs=buildargs,
            labels={LABEL: digest},
            pull=False,
            rm=True,
            forcerm=True,
        )
    except docker.errors.BuildError as exc:
        # the step's own output says why; the error alone names only the command
        output = "".join(str(chunk.get("stream", "")) for chunk in exc.build_log).strip().splitlines()
        for line in output[-15:]:
            log(f"  | {line}")
        raise MachineError(f"building {tag} failed: {exc.msg}") from exc


@dataclass(frozen=True)
class Images:
    broker: str
    vip: str
    # the harness's own tools image (the Debian VIP image: iptables, tc, nsenter, fallocate), for the helpers
    # that enter a broker's network namespace or hold the stores, whatever the broker and VIP images hold
    tools: str


def ensure_images(
    client: docker.DockerClient, settings: Settings, log: Callable[[str], None] = print
) -> Images:
    """The run's images (from Debian's package, a user's tarball or a user's image), built if needed."""
    if settings.broker_image is not None:
        recipe = broker_image_recipe(settings.broker_image)
    elif settings.dist is not None:
        recipe = dist_recipe(settings.dist, settings.jre_suite)
    else:
        recipe = broker_recipe(settings.version)
    broker = ensure_image(client, recipe, settings.version, log)
    tools = ensure_image(client, vip_recipe(), None, log)
    vip = tools
    if settings.vip_image is not None:
        vip = ensure_image(client, vip_recipe(image_id("VIP_IMAGE", settings.vip_image)), None, log)
    return Images(broker=broker, vip=vip, tools=tools)


# The stand-in server host (host.Dockerfile): the broker image with sshd, sudo and the broker's service script,
# for the SSH backend, which reaches hosts by SSH only.
HOST_DOCKERFILE = "host.Dockerfile"
_HOST_FILES = ("host/sshd_config", "bin/amq-host-init", "bin/amq-host-broker")


def host_image_tag(version: str, broker_tag: str) -> str:
    """The host image's tag: a digest of the broker image it is layered on (whose tag is its own inputs'
    digest) and of its own files."""
    contents = [(IMAGES_DIR / f).read_bytes().decode() for f in (HOST_DOCKERFILE, *_HOST_FILES)]
    return f"amq-chaos/host:{version}-{_digest([broker_tag, *contents])}"


def ensure_host_image(client: docker.DockerClient, version: str, log: Callable[[str], None] = print) -> str:
    """The tag of the stand-in host image for Debian's broker `version`, built (with its broker image) if
    needed. A user's own distribution has none: the stand-in only has to look like a server."""
    broker = ensure_image(client, broker_recipe(version), version, log)
    tag = host_image_tag(version, broker)
    if _image_exists(client, tag):
        return tag
    started = time.monotonic()
    log(f"building {tag}")
    digest = tag.rpartition("-")[2]
    _build(client, tag, str(IMAGES_DIR), HOST_DOCKERFILE, {"BROKER_IMAGE": broker}, digest, log)
    log(f"built {tag} in {time.monotonic() - started:.0f}s")
    return tag
