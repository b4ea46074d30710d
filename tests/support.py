"""Helpers the harness's tests share (kept out of conftest.py, which pytest owns, and out of test modules,
which are not libraries): settings for a test cluster, the command line as a user runs it, and a consumer
that loses what it acknowledged."""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from harness.chaos.run import ChaosRun
from harness.client.stomp_client import Delivery, StompSession
from harness.client.workload import Workload
from harness.cluster.control import free_port
from harness.errors import BAD_INPUT
from harness.settings import ROOT, Settings


def cluster_settings(**overrides: object) -> Settings:
    base = Settings.from_env()
    return dataclasses.replace(base, vip_port=free_port(), runs_dir=ROOT / "runs" / "tests", **overrides)


def harness(*args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m harness ARGS` with `env` added, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_error(
    done: subprocess.CompletedProcess[str], expected: str, code: int = BAD_INPUT
) -> None:
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]


def cut_the_vip(run: ChaosRun, seconds: float) -> float:
    """Drop every broker's packets at the VIP for `seconds`, then heal: no client send can be stored
    meanwhile. Returns when the cut began, on the history's clock."""
    brokers = frozenset(n.name for n in run.cluster.topology.nodes)
    run.nemesis.inject_grudge({"vip": brokers}, "the VIP from every broker")
    cut_at = run.history.now()
    time.sleep(seconds)
    run.nemesis.heal()
    return cut_at


def seq(delivery: Delivery) -> int:
    return int(delivery.headers.get("harness-id", "x-0").rsplit("-", 1)[1])


class DroppingConsumer(Workload):
    """Acks every 7th message without recording it: the consumer 'loses' what it acknowledged."""

    dropped: set[str]

    def handle_delivery(self, process: str, session: StompSession | None, delivery: Delivery) -> None:
        if seq(delivery) % 7 == 3:
            self.__dict__.setdefault("dropped", set()).add(delivery.headers["harness-id"])
            if session is not None:
                session.ack(delivery)
            return
        super().handle_delivery(process, session, delivery)


def rendered_colours(page: Path, window: str) -> Counter[tuple[int, int, int]]:
    """How many pixels of each colour headless Chromium paints for `page` at `window` ("1200,700"); the
    screenshot is kept beside the page. Chromium comes with `make tools`: missing, it fails in CI and skips
    elsewhere."""
    from PIL import Image

    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI"):
            raise AssertionError("chromium is installed by `make tools`")
        pytest.skip("no chromium here (make tools installs it)")
    screenshot = page.with_suffix(".png")
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={window}", f"--screenshot={screenshot}", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and screenshot.exists(), done.stderr[-2000:]
    with Image.open(screenshot) as image:
        return Counter(image.convert("RGB").getdata())


# Debian's 5.17.2 files laid out as Apache's binary tarball: bin/activemq.jar, lib/ and lib/optional/ with the
# jars under their versioned names (Debian links unversioned names to them), conf/. Optional jars Debian
# links but does not install are left out, as a tarball would not have them.
_ASSEMBLE = r"""
set -eu
top=apache-activemq-$VERSION
d=/tmp/dist/$top
mkdir -p "$d/bin" "$d/lib/optional" "$d/conf"
cp -L /usr/share/activemq/bin/activemq.jar "$d/bin/activemq.jar"
for jar in /usr/share/activemq/lib/*.jar /usr/share/activemq/lib/optional/*.jar; do
    [ -e "$jar" ] || continue
    dir=$(dirname "${jar#/usr/share/activemq/}")
    cp -L "$jar" "$d/$dir/$(basename "$(readlink -f "$jar")")"
done
cp /etc/activemq/instances-available/main/* "$d/conf/"
tar czf "/out/$top-bin.tar.gz" -C /tmp/dist "$top"
chown "$OWNER" "/out/$top-bin.tar.gz"
"""


def assemble_debian_distribution(out: Path, version: str = "5.17.2") -> Path:
    """An Apache-layout tarball of Debian's own ActiveMQ `version` (its image built if needed), in `out`: the
    stand-in for a user's apache-activemq-X.Y.Z-bin.tar.gz on a machine that cannot download one."""
    import docker

    from harness.cluster.images import broker_recipe, ensure_image

    client = docker.from_env()
    image = ensure_image(client, broker_recipe(version), version, log=lambda line: None)
    out.mkdir(parents=True, exist_ok=True)
    client.containers.run(
        image,
        entrypoint=["bash", "-c", _ASSEMBLE],
        environment={"VERSION": version, "OWNER": f"{os.getuid()}:{os.getgid()}"},
        volumes={str(out): {"bind": "/out", "mode": "rw"}},
        network_mode="none",
        remove=True,
    )
    return out / f"apache-activemq-{version}-bin.tar.gz"


# Stand-ins for a user's ActiveMQ tarball: the layout and names the harness reads, jars that are not jars.
def tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def jar_with_version(version: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as jar:
        jar.writestr(
            "META-INF/maven/org.apache.activemq/activemq-broker/pom.properties",
            f"groupId=org.apache.activemq\nartifactId=activemq-broker\nversion={version}\n",
        )
    return buffer.getvalue()


def apache_layout(tmp_path: Path, version: str = "5.17.2", start: str = "bin/activemq.jar") -> Path:
    top = f"apache-activemq-{version}"
    return tarball(
        tmp_path / f"{top}-bin.tar.gz",
        {
            f"{top}/{start}": b"jar",
            f"{top}/lib/activemq-broker-{version}.jar": b"jar",
            f"{top}/lib/activemq-client-{version}.jar": b"jar",
            f"{top}/conf/activemq.xml": b"<beans/>",
        },
    )
