"""The Docker Compose command line, whichever this machine has.

Debian ships the v1 `docker-compose`; the v2 `docker compose` plugin is used when present. Both read the
rendered 2.4-format file. testcontainers' DockerCompose is not used because it drives the v2 CLI only.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.errors import HarnessError, MachineError


@functools.cache
def compose_command() -> tuple[str, ...]:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ("docker", "compose")
    if shutil.which("docker-compose"):
        return ("docker-compose",)
    raise HarnessError("no Docker Compose found: install the docker-compose package (or the compose plugin)")


class Compose:
    def __init__(self, project: str, compose_file: Path, env: Mapping[str, str]) -> None:
        self.project = project
        self.compose_file = compose_file
        self.env = {**os.environ, **env}

    def run(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        command: Sequence[str] = [
            *compose_command(),
            "--project-name",
            self.project,
            "--file",
            str(self.compose_file),
            *args,
        ]
        try:
            done = subprocess.run(
                command,
                cwd=self.compose_file.parent,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise MachineError(
                f"`{' '.join(command[-len(args) :])}` took longer than {timeout:.0f}s"
            ) from exc
        if check and done.returncode != 0:
            raise MachineError(f"compose {args[0]} failed: {_last_error_line(done.stderr or done.stdout)}")
        return done

    def up(self, timeout: float) -> None:
        self.run("up", "--detach", "--no-build", timeout=timeout)

    def down(self, timeout: float = 180) -> None:
        self.run("down", "--volumes", "--remove-orphans", "--timeout", "10", timeout=timeout)


def _last_error_line(text: str) -> str:
    """The line that says what went wrong, not compose's closing "Encountered errors" summary."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    telling = [
        line
        for line in lines
        if ("error" in line.lower() or "failed" in line.lower() or "unhealthy" in line.lower())
        and "Encountered errors while bringing up" not in line
    ]
    if telling:
        return telling[-1][:300]
    return lines[-1][:300] if lines else "(no output)"
