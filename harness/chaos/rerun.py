"""A recorded history, run again: `make replay` redoes its faults on a fresh cluster of the same version and
design, `make shrink` searches them for the smallest schedule that still fails (harness.chaos.shrink, on
clusters started here)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from harness import commands
from harness.chaos.replay import incomplete_warning, recorded_faults, replay_history
from harness.chaos.shrink import Shrinker
from harness.check.result import ScenarioResult
from harness.cluster.backends import open_cluster
from harness.design.catalog import design
from harness.errors import HarnessError
from harness.history import history_gaps, read_header
from harness.progress import Progress
from harness.report.html import ReportInput, write_report
from harness.report.summary import HEADER, aligned, describe, row
from harness.settings import Settings, stamped_folder


def settings_of_history(settings: Settings, header: dict[str, Any]) -> Settings:
    """The settings a recorded run had that its faults depend on: version, design, a size-limited store."""
    version = str(header.get("activemq_version", settings.version))
    recorded_dist = header.get("activemq_dist")
    if recorded_dist and (settings.dist is None or settings.dist.name != recorded_dist):
        raise HarnessError(
            f"this history ran on ActiveMQ {version} from ACTIVEMQ_DIST={recorded_dist}: "
            "give that tarball as ACTIVEMQ_DIST to run it again"
        )
    recorded_image = header.get("broker_image")
    if recorded_image and (settings.broker_image is None or settings.broker_image.ref != recorded_image):
        raise HarnessError(
            f"this history ran on ActiveMQ {version} from BROKER_IMAGE={recorded_image}: "
            "give that image as BROKER_IMAGE to run it again"
        )
    if settings.broker_image is not None and settings.broker_image.version != version:
        raise HarnessError(
            f"this history ran on ActiveMQ {version}, BROKER_IMAGE={settings.broker_image.ref} holds "
            f"{settings.broker_image.version}: unset BROKER_IMAGE or give the image it ran on"
        )
    if settings.dist is not None and settings.dist.version != version:
        raise HarnessError(
            f"this history ran on ActiveMQ {version}, ACTIVEMQ_DIST={settings.dist.name} is "
            f"{settings.dist.version}: unset ACTIVEMQ_DIST or give the tarball it ran on"
        )
    return dataclasses.replace(
        settings,
        version=version,
        design=design(str(header.get("design") or header.get("topology") or settings.design.name)),
        store_size=header.get("store_size") or settings.store_size,
    )


def replay_command(settings: Settings, source: Path) -> int:
    """Redo a recorded history's faults on a fresh cluster of the same version and design."""
    try:
        header = read_header(source)
        steps = recorded_faults(source)
        gaps = history_gaps(source)
    except (OSError, ValueError, KeyError) as exc:
        raise HarnessError(f"{source} is not a readable history: {exc}") from None
    if gaps:
        # first, and before a cluster takes a minute to come up: a killed run's history replays only its start,
        # which a user would otherwise take for the recorded run (the replay still runs, and is judged)
        print(incomplete_warning(source, gaps, len(steps)), flush=True)
    settings = settings_of_history(settings, header)
    directory = stamped_folder(settings.runs_dir, "replay", str(header.get("scenario", "run")))
    directory.mkdir(parents=True)
    print(
        f"replaying {len(steps)} faults and heals from {source} (seed {header.get('seed')}, "
        f"{settings.design.name}, ActiveMQ {settings.version}) into {directory}"
    )
    for step in steps:
        print(f"  {step.t:8.2f}s  {step.kind:<5} {step.action} {step.target}")
    with open_cluster(dataclasses.replace(settings, runs_dir=directory)) as cluster:
        result = replay_history(cluster, source, directory, progress=Progress.for_stdout())
    report = write_report(
        directory,
        ReportInput(f"replay of {source}", result.seed, [result], replay=result.replay),
    )
    for line in aligned([HEADER, row(result)]):
        print(line)
    for checker in sorted(result.unexpected):
        print(f"UNEXPECTED {checker}: {describe(result.verdict(checker))}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"report: {report}")
    return 0 if result.ok else 1


def shrink_command(settings: Settings, source: Path, tries: int, budget: int) -> int:
    """Search a failing history's faults for the smallest schedule that fails the same way."""
    try:
        header = read_header(source)
    except (OSError, ValueError, KeyError) as exc:
        raise HarnessError(f"{source} is not a readable history: {exc}") from None
    settings = settings_of_history(settings, header)
    directory = stamped_folder(settings.runs_dir, "shrink", str(header.get("scenario", "run")))

    def run(history: Path, folder: Path) -> ScenarioResult:
        folder.mkdir(parents=True)
        with open_cluster(dataclasses.replace(settings, runs_dir=folder), log=lambda *_: None) as cluster:
            result = replay_history(cluster, history, folder)
        write_report(
            folder, ReportInput(f"shrink candidate {folder}", result.seed, [result], replay=result.replay)
        )
        return result

    try:
        outcome = Shrinker(source, directory, run, tries=tries, budget=budget).shrink()
    except ValueError as exc:
        raise HarnessError(str(exc)) from None
    print(
        f"minimal: {len(outcome.minimal)} of {len(outcome.original)} faults"
        f"{' (budget exhausted: smaller may exist)' if outcome.exhausted else ', none can be removed'}, "
        f"rate {outcome.rate:g}/s, {outcome.attempts} candidates, {outcome.runs} runs, "
        f"{outcome.seconds / 60:.1f} min"
    )
    for step in outcome.minimal:
        print(f"  {step.label()}")
    print(f"scenario to paste into scenarios/: {outcome.scenario}")
    print(f"rerun: {commands.replay(outcome.history)}")
    print(f"attempts: {directory / 'attempts.jsonl'}")
    return 0
