"""Fixtures for the harness's own tests, under tests/unit/ and tests/docker/ alike (a unit test that asks for a
cluster is marked docker, and tests/unit/test_layout.py then names it). Docker-backed fixtures skip only where
no engine is reachable."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster.control import Cluster
from harness.errors import HarnessError
from harness.signals import terminate_as_interrupt
from tests.support import cluster_settings


def pytest_configure(config: pytest.Config) -> None:
    terminate_as_interrupt()


DOCKER_TESTS = Path(__file__).resolve().parent / "docker"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # a test that reaches Docker through any fixture is a docker test, marked or not: `make unit` must not
    # start a cluster; so is every test under tests/docker/ (tests/unit/test_layout.py checks both sides)
    for item in items:
        under_docker = item.path.resolve().is_relative_to(DOCKER_TESTS)
        if under_docker or "docker_available" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def docker_available() -> None:
    from harness.cluster.docker_env import docker_client

    try:
        docker_client()
    except HarnessError as exc:
        if os.environ.get("CI"):
            raise  # in CI Docker is part of the machine: a missing engine is a failure, not a skip
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def cluster(docker_available: None) -> Iterator[Cluster]:
    """One healthy cluster shared by the tests that leave it healthy."""
    with Cluster(cluster_settings()) as running:
        yield running


@pytest.fixture
def fresh_cluster(docker_available: None) -> Iterator[Cluster]:
    """A cluster of the test's own, for tests that break it."""
    with Cluster(cluster_settings()) as running:
        yield running
