"""The Docker engine connection, with a one-line error when there is none."""

from __future__ import annotations

import os

import docker
import docker.errors


def docker_client() -> docker.DockerClient:
    from harness.errors import MachineError

    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:  # docker-py raises DockerException, requests errors or OSError here
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MachineError(f"Docker engine not reachable at {where}: {reason[:200]}") from None
    return client
