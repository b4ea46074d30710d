"""Helpers the harness's tests share (kept out of conftest.py, which pytest owns, and out of test modules,
which are not libraries), unit tests and Docker tests alike: settings for a test cluster, the command line as
a user runs it, a consumer that loses what it acknowledged, and the colours of a page as Chromium paints it."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.chaos.run import ChaosRun
from harness.client.stomp_client import Delivery, StompSession
from harness.client.workload import Workload
from harness.cluster.control import free_port
from harness.debian_dist import debian_distribution
from harness.errors import BAD_INPUT
from harness.settings import BY_NAME, ROOT, Settings


def cluster_settings(**overrides: object) -> Settings:
    base = Settings.from_env()
    return dataclasses.replace(base, vip_port=free_port(), runs_dir=ROOT / "runs" / "tests", **overrides)


def as_env(settings: dict[str, str]) -> dict[str, str]:
    """Settings by their short names (SEED, VIP_PORT) as the environment variables the harness reads
    (AMQ_CHAOS_SEED, AMQ_CHAOS_VIP_PORT); other names (ACTIVEMQ_VERSION, DOCKER_HOST) as they are."""
    return {BY_NAME[k].env if k in BY_NAME else k: v for k, v in settings.items()}


# settings that choose which items one pytest session runs: `SHARD=1/2 make test` exports them for its own
# session, and a harness run that a test starts must not inherit them (it would run a share of its items):
# neither the harness's name, nor the plain one a `make` the test runs would read, nor make's own record of
# the outer command line (MAKEFLAGS carries `make test SHARD=1/2`'s assignment to every make below it)
SESSION_ONLY = ("SHARD", "SCENARIO")
MAKE_STATE = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")


def child_environ() -> dict[str, str]:
    """This process's environment for a harness run a test starts, less the outer session's selection."""
    dropped = {*SESSION_ONLY, *(BY_NAME[name].env for name in SESSION_ONLY), *MAKE_STATE}
    return {name: value for name, value in os.environ.items() if name not in dropped}


def harness(*args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    """`amq-chaos ARGS` with `env` added, as `make` runs it: a setting by its short name (SEED=7) reaches
    the harness as its environment variable (AMQ_CHAOS_SEED=7)."""
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=ROOT,
        env={**child_environ(), **as_env(env)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def make_chaos_passes(env: dict[str, str], timeout: float) -> str:
    """`make chaos` as a user runs it, with `env` added (one cluster at a time: the test runs beside others
    on the test workers already); its output, once it passed."""
    done = subprocess.run(
        ["make", "--no-print-directory", "chaos"],
        cwd=ROOT, env={**child_environ(), "WORKERS": "1", **env}, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return output


def assert_one_line_error(
    done: subprocess.CompletedProcess[str], expected: str, code: int = BAD_INPUT
) -> None:
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]


def recorded_run(path: Path, *, killed: bool) -> Path:
    """A kill-live-master history written line by line as a run writes it: a header and 23 events (the load, the
    clients' sessions, sends and deliveries up to t=4.2 s); then, `killed`, half of the 24th line (the nemesis's
    kill) with no newline, as a harness killed mid-write leaves it; else the kill, its heal, the drain and the
    final-state phase a whole run ends with."""
    header = {"type": "header", "seed": 7, "scenario": "kill-live-master", "design": "seed"}
    events: list[dict[str, object]] = [
        {"t": 0.0, "p": "harness", "type": "ok", "f": "phase", "phase": "load"}
    ]
    for n, process in enumerate(("producer-0", "producer-1", "consumer-0", "consumer-1")):
        route = "01" if n % 2 == 0 else "02"
        events.append({"t": 0.1 + n / 100, "p": process, "type": "ok", "f": "connect", "route": route,
                       "session": 0, "broker": f"chaos-mq{route}-a"})  # fmt: skip
    for n in range(6):  # a send's invoke, its receipt and its delivery: 18 events, so 23 in all
        at, sent, broker = 0.6 * (n + 1), f"p{n % 2}-{n}", f"chaos-mq0{n % 2 + 1}-a"
        send = {"p": f"producer-{n % 2}", "f": "send", "id": sent}
        events += [
            {"t": round(at, 3), "type": "invoke", **send},
            {"t": round(at + 0.01, 3), "type": "ok", **send, "broker": broker},
            {"t": round(at + 0.6, 3), "p": f"consumer-{n % 2}", "type": "ok", "f": "deliver", "id": sent,
             "broker": broker},
        ]  # fmt: skip
    assert len(events) == 23 and events[-1]["t"] == 4.2
    kill = {"p": "nemesis", "f": "fault", "action": "kill", "target": "chaos-mq01-a", "heal": "start"}
    rest: list[dict[str, object]] = [{"t": 4.5, "type": "invoke", **kill}]
    if not killed:
        heal = {"p": "nemesis", "f": "heal", "action": "start", "target": "chaos-mq01-a", "heals": "kill"}
        rest += [
            {"t": 4.6, "type": "ok", **kill},
            {"t": 9.0, "type": "invoke", **heal},
            {"t": 9.5, "type": "ok", **heal},
            {"t": 12.0, "p": "harness", "type": "ok", "f": "phase", "phase": "final-state", "queues": {}},
        ]
    lines = [
        json.dumps(line) + "\n" for line in [header, *({"i": i, **e} for i, e in enumerate(events + rest))]
    ]
    if killed:
        lines[-1] = lines[-1][: len(lines[-1]) // 2]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return path


def cut_the_vip(run: ChaosRun, seconds: float) -> float:
    """Drop every broker's packets at the VIP for `seconds`, then heal: no client send can be stored
    meanwhile. Returns when the cut began, on the history's clock."""
    brokers = frozenset(n.name for n in run.cluster.topology.nodes)
    run.nemesis.inject_grudge({"vip": brokers}, "the VIP from every broker")
    cut_at = run.history.now()
    time.sleep(seconds)
    run.nemesis.heal()
    return cut_at


# the durable subscribers' process names in a topic workload's history
S0, S1 = "subscriber-0", "subscriber-1"


def seq(delivery: Delivery) -> int:
    return int(delivery.headers.get("harness-id", "x-0").rsplit("-", 1)[1])


class DroppingConsumer(Workload):
    """Acks every 7th message without recording it: the consumer 'loses' what it acknowledged. Only among each
    producer's first DROP_BELOW sends, which the controls' first loads cover: after the heal `prompt` needs 100
    deliveries of messages sent after the recovery, and a fresh-clone run's drops there left it 98 (unknown,
    which failed the lost control for the wrong property)."""

    DROP_BELOW = 100
    dropped: set[str]

    def handle_delivery(self, process: str, session: StompSession | None, delivery: Delivery) -> None:
        if seq(delivery) < self.DROP_BELOW and seq(delivery) % 7 == 3:
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


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def blend(hex_colour: str, opacity: float) -> tuple[int, int, int]:
    return tuple(round(255 * (1 - opacity) + c * opacity) for c in rgb(hex_colour))  # type: ignore[return-value]


def near(a: tuple[int, int, int], b: tuple[int, int, int], tolerance: int = 6) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def assemble_debian_distribution(out: Path, version: str = "5.17.2") -> Path:
    """An Apache-layout tarball of Debian's own ActiveMQ `version` (harness.debian_dist), under `out`: the
    stand-in for a user's apache-activemq-X.Y.Z-bin.tar.gz on a machine that cannot download one."""
    return debian_distribution(version, out)


# Stand-ins for images a user would pull from a registry, tagged as such (nothing here is pushed or pulled)
BARE_BROKER_IMAGE = "example.org/activemq-classic:5.17.2-bare"
PLAIN_HAPROXY_IMAGE = "example.org/haproxy:bookworm"


def build_registry_standins(work: Path) -> tuple[str, str]:
    """(broker, vip): a broker image in apache/activemq-classic's layout on a JRE root file system without
    iptables, tc, ip or procps (tests/images/bare-broker.Dockerfile, from an Apache-layout tarball of Debian's
    5.17.2), and Debian's HAProxy on a bare root file system, with no entrypoint and no harness script."""
    import docker

    from harness.cluster.images import (
        DIST_PACKAGES,
        DIST_SUITE,
        ImageRecipe,
        ensure_rootfs,
        vip_recipe,
    )

    client = docker.from_env()
    quiet = lambda line: None  # noqa: E731
    client.images.get(ensure_rootfs(vip_recipe(), client, quiet)).tag(PLAIN_HAPROXY_IMAGE)
    try:
        client.images.get(BARE_BROKER_IMAGE)
        return BARE_BROKER_IMAGE, PLAIN_HAPROXY_IMAGE
    except docker.errors.ImageNotFound:
        pass
    jre = ensure_rootfs(ImageRecipe("broker", DIST_SUITE, DIST_PACKAGES, "", ()), client, quiet)
    tarball = assemble_debian_distribution(work / "dist")
    context = work / "context"
    context.mkdir(parents=True)
    shutil.copyfile(ROOT / "tests" / "images" / "bare-broker.Dockerfile", context / "Dockerfile")
    shutil.copyfile(tarball, context / "dist.tar")
    client.images.build(
        path=str(context),
        tag=BARE_BROKER_IMAGE,
        buildargs={"ROOTFS": jre, "DIST_TOP": "apache-activemq-5.17.2"},
        pull=False,
        rm=True,
        forcerm=True,
    )
    return BARE_BROKER_IMAGE, PLAIN_HAPROXY_IMAGE


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


def stomp_frames(conn: socket.socket, stop: threading.Event | None = None) -> Iterator[str]:
    """Each frame a fake broker's client sends, as text (the line breaks before it, heart-beats, left out),
    until the client closes or goes; with `stop`, also once it is set (the socket is polled for it)."""
    buffer = b""
    if stop is not None:
        conn.settimeout(0.05)
    while stop is None or not stop.is_set():
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            continue
        except OSError:  # the client is gone
            return
        if not chunk:
            return
        buffer += chunk
        while b"\0" in buffer:
            raw, buffer = buffer.split(b"\0", 1)
            text = raw.decode().lstrip("\r\n")  # a bare line break is a heart-beat
            if text:
                yield text
