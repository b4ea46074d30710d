"""A freeze that cgroup v1's freezer refuses now and then is tried again; anything else is not."""

from __future__ import annotations

import docker.errors
import pytest

from harness.cluster import containers

UNABLE = "500 Server Error: Cannot pause container 4e10: OCI runtime pause failed: unable to freeze: unknown"


class Container:
    def __init__(self, answers: list[str | None]) -> None:
        self.answers = answers
        self.tries = 0
        self.status = "running"

    def pause(self) -> None:
        self.tries += 1
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise docker.errors.APIError(answer)
        self.status = "paused"

    def reload(self) -> None:
        pass


def test_a_freeze_the_freezer_refuses_twice_is_tried_until_it_holds() -> None:
    container = Container([UNABLE, UNABLE, None])
    containers.pause(container)  # type: ignore[arg-type]
    assert (container.tries, container.status) == (3, "paused")


def test_any_other_refusal_is_raised_at_once() -> None:
    container = Container(["409 Client Error: Container 4e10 is not running"])
    with pytest.raises(docker.errors.APIError, match="not running"):
        containers.pause(container)  # type: ignore[arg-type]
    assert container.tries == 1


def test_a_freeze_refused_past_the_deadline_is_raised() -> None:
    container = Container([UNABLE] * 1000)
    with pytest.raises(docker.errors.APIError, match="unable to freeze"):
        containers.pause(container, retry_for=0.5)  # type: ignore[arg-type]
    assert 2 <= container.tries <= 5 and container.status == "running"
