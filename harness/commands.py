"""The commands that rerun something, built in one place: what a summary, a report, a JUnit file, a soak's
log or a failure prints for a person to paste."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

_SHELL_SPECIAL = set("'\"$`\\")


def chaos(
    seed: int,
    *,
    scenario: str = "",
    design: str = "",
    nodeid: str = "",
    version: str = "",
    placement: str = "",
    shape: Mapping[str, str] | None = None,
    pytest_args: tuple[str, ...] = (),
    known_bug: bool = False,
    faults: Sequence[str] = (),
    broker: Sequence[str] = (),
) -> str:
    """`make chaos` with this seed; narrowed to a scenario and design, or to exactly one test item (with the
    pytest options its id needs, such as pytest-repeat's --count). `known_bug`: the item is one `make chaos`
    skips unless told to run known bugs. `broker`: the settings that chose a broker other than the default
    (Settings.broker_words)."""
    words = [f"SEED={seed}", *broker]
    if scenario:
        words.append(f"SCENARIO={scenario}")
    if design:
        words.append(f"DESIGN={design}")
    if version:
        words.append(f"ACTIVEMQ_VERSION={version}")
    words += _placement(placement) + _shape(shape) + list(faults)
    if known_bug:
        words.append("KNOWN_BUGS=1")
    words.append("make chaos")
    if nodeid:
        # quoted twice: once for the shell that runs make, once for the one that runs the recipe
        rest = "".join(f" {shlex.quote(a)}" for a in pytest_args)
        if _SHELL_SPECIAL.isdisjoint(nodeid + rest):
            words.append(f"PYTEST_ARGS=\"'{nodeid}'{rest}\"")
        else:
            words.append(f"PYTEST_ARGS={shlex.quote(shlex.quote(nodeid) + rest)}")
    return " ".join(words)


def replay(history: Path | str) -> str:
    return f"make replay HISTORY={_as_typed_here(Path(history))}"


def _as_typed_here(path: Path) -> Path:
    """A path under the working folder (the checkout, where `make replay` runs) relative to it: a CI runner's
    absolute path (/home/runner/work/...) names nothing on the machine its artifact is downloaded to."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def soak(
    seed: int,
    duration: float,
    checkpoint: float,
    design: str,
    placement: str = "",
    shape: Mapping[str, str] | None = None,
    faults: Sequence[str] = (),
) -> str:
    words = [
        f"SEED={seed}",
        f"DURATION={int(duration)}s",
        f"CHECKPOINT={int(checkpoint)}s",
        f"DESIGN={design}",
    ]
    return " ".join([*words, *_placement(placement), *_shape(shape), *faults, "make soak"])


def _placement(placement: str) -> list[str]:
    # the default (harness.client.placement.SEEDED, not imported: reports use this module) needs no saying
    return [f"PLACEMENT={placement}"] if placement and placement != "seeded" else []


def _shape(shape: Mapping[str, str] | None) -> list[str]:
    """The workload settings a run was given (PRODUCERS=4 RATE=max ...), as it was given them."""
    return [f"{name}={shlex.quote(value)}" for name, value in (shape or {}).items()]
