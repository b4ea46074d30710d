"""sweep_label when another harness process sweeps the same dead run at the same moment (each bring-up sweeps
the runs whose harness died): what the other removed first is gone, not an error; anything else still is."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import docker.errors
import pytest

from harness.cluster import control
from harness.cluster.control import sweep_label
from harness.wait import WaitTimeout


def api_error(status: int, explanation: str) -> docker.errors.APIError:
    response = SimpleNamespace(status_code=status, url="http+docker://localhost/v1.41/x", reason="refused")
    return docker.errors.APIError("error", response=response, explanation=explanation)


@dataclass
class Thing:
    name: str
    failures: list[Exception] = field(default_factory=list)  # raised by the next removes, in turn
    removed: bool = False

    def remove(self, **_: object) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.removed = True


@dataclass
class Listing:
    things: list[Thing]

    def list(self, **_: object) -> list[Thing]:
        return self.things


def client(containers: list[Thing], networks: list[Thing], volumes: list[Thing]) -> SimpleNamespace:
    return SimpleNamespace(
        containers=Listing(containers), networks=Listing(networks), volumes=Listing(volumes)
    )


def test_what_the_other_sweep_removes_first_is_not_an_error() -> None:
    busy = Thing("c1", [api_error(409, "removal of container c1 is already in progress")])
    gone = Thing("c2", [docker.errors.NotFound("no such container")])
    mine = Thing("c3")
    # the network keeps an endpoint until the other sweep's container is out, then goes
    network = Thing("n1", [api_error(403, "error while removing network: network n1 has active endpoints")])
    volume = Thing("v1", [docker.errors.NotFound("no such volume")])
    sweep_label(client([busy, gone, mine], [network], [volume]), "io.amq-chaos.run=r1")  # type: ignore[arg-type]
    assert mine.removed and network.removed


def test_any_other_refusal_is_still_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    stuck = Thing("c1", [api_error(409, "container c1 is paused, unpause it first")])
    with pytest.raises(docker.errors.APIError, match="paused"):
        sweep_label(client([stuck], [], []), "io.amq-chaos.run=r1")  # type: ignore[arg-type]
    # a network that will not go is retried until the deadline, then named
    monkeypatch.setattr(control, "NETWORK_DRAIN", 0.6)
    odd = Thing("n1", [api_error(500, "the daemon fell over")] * 10)
    with pytest.raises(WaitTimeout, match="network n1 to lose its last container"):
        sweep_label(client([], [odd], []), "io.amq-chaos.run=r1")  # type: ignore[arg-type]
    assert not odd.removed
