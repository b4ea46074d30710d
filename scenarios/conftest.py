"""The chaos suite's pytest plugin: seed, selection, a fresh cluster per scenario, artifacts and summary.

Options (each also read from the environment, as `make chaos` passes them):
  --seed / SEED          integer; every random choice of every scenario derives from it (default: random)
  --scenario / SCENARIO  run only this scenario (its name, e.g. kill-live-master)
  --topology / TOPOLOGY  seed (the original design as written)
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.chaos.run import ChaosRun
from harness.check.result import ScenarioResult
from harness.cluster.control import Cluster
from harness.design.catalog import PUBLIC, design
from harness.errors import HarnessError
from harness.progress import Progress
from harness.report import summary
from harness.report.html import ReportInput, write_report
from harness.settings import ROOT, Settings, parse_seed, stamped_folder
from harness.signals import terminate_as_interrupt

RESULTS = pytest.StashKey[list[ScenarioResult]]()
RUN_DIR = pytest.StashKey[Path]()
PROGRESS = pytest.StashKey[Progress]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaos")
    group.addoption("--seed", default=os.environ.get("SEED", ""), help="run seed (integer); default random")
    group.addoption("--scenario", default=os.environ.get("SCENARIO", ""), help="run only this scenario")
    group.addoption(
        "--topology",
        default=os.environ.get("TOPOLOGY", ""),
        help=f"one of {', '.join(PUBLIC)}; default: each, so the summary compares them",
    )


def pytest_configure(config: pytest.Config) -> None:
    terminate_as_interrupt()
    topology = config.getoption("--topology")
    try:
        if topology and topology not in PUBLIC:
            raise HarnessError(f"unknown TOPOLOGY {topology!r}: choose one of {', '.join(PUBLIC)}")
        settings = Settings.from_env()
        seed = parse_seed(str(config.getoption("--seed")))
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.option.seed = str(seed)
    run_dir = stamped_folder(settings.runs_dir, "chaos", f"seed{seed}")
    run_dir.mkdir(parents=True, exist_ok=True)
    latest = run_dir.parent / "latest"
    latest.unlink(missing_ok=True)
    latest.symlink_to(run_dir.name)
    config.stash[RUN_DIR] = run_dir
    config.stash[RESULTS] = []
    # pytest has suspended its capture between initial conftests and the first test, so fd 1 is the real
    # stdout here; during tests it is captured, hence the progress line goes to the terminal device itself
    config.stash[PROGRESS] = Progress.for_terminal(os.isatty(1))
    if not config.option.xmlpath:
        config.option.xmlpath = str(run_dir / "junit.xml")


def topologies(config: pytest.Config) -> list[str]:
    chosen = config.getoption("--topology")
    return [chosen] if chosen else list(PUBLIC)


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = Settings.from_env()
    return [
        f"chaos seed: {config.option.seed}   (replay: SEED={config.option.seed} make chaos)",
        f"topologies: {', '.join(topologies(config))}   ActiveMQ {settings.version}   run folder: {config.stash[RUN_DIR]}",
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "chaos" in metafunc.fixturenames:
        metafunc.parametrize("topology", topologies(metafunc.config))


@pytest.fixture
def topology() -> str:
    return "seed"


def scenario_name(item: pytest.Item) -> str:
    return item.originalname.removeprefix("test_").replace("_", "-")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = config.getoption("--scenario")
    if not wanted:
        return
    names = sorted({scenario_name(item) for item in items})
    if wanted not in names:
        raise pytest.UsageError(f"unknown SCENARIO {wanted!r}; scenarios are: {', '.join(names)}")
    items[:] = [item for item in items if scenario_name(item) == wanted]


@pytest.fixture
def chaos(request: pytest.FixtureRequest, topology: str) -> Iterator[Callable[..., ChaosRun]]:
    """`chaos(expected={...})` -> a ChaosRun on a fresh cluster of this scenario's own."""
    config = request.config
    scenario = scenario_name(request.node)
    directory = config.stash[RUN_DIR] / f"{scenario}-{topology}"
    settings = dataclasses.replace(Settings.from_env(), runs_dir=directory, design=design(topology))
    seed = int(config.option.seed)
    runs: list[ChaosRun] = []
    with Cluster(settings) as cluster:

        def make(expected: dict[str, dict[str, str]] | None = None, **kwargs: object) -> ChaosRun:
            run = ChaosRun(
                cluster,
                scenario,
                seed,
                directory,
                topology=topology,
                expected=(expected or {}).get(topology, {}),
                progress=config.stash[PROGRESS],
                on_result=assert_as_declared,
                **kwargs,
            )
            runs.append(run)
            return run

        yield make
    for run in runs:
        if run.result is not None:
            config.stash[RESULTS].append(run.result)


def assert_as_declared(result: ScenarioResult) -> None:
    """The scenario passes when every violation it shows is one it declared for this topology."""
    if result.ok:
        return
    lines = [f"{result.scenario} on {result.topology} (seed {result.seed}): undeclared violations"]
    for verdict in result.verdicts:
        if verdict.checker in result.unexpected:
            declared = verdict.checker in result.expected and verdict.valid is False
            why = " (declared, but not every witness shows the declared mechanism)" if declared else ""
            lines.append(f"  {verdict.checker}{why}: {summary.describe(verdict)}")
    lines.append(f"  evidence: {result.directory}/verdicts.json, history.jsonl")
    pytest.fail("\n".join(lines), pytrace=False)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS, [])
    run_dir = config.stash.get(RUN_DIR, None)
    if run_dir is None:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"chaos summary (seed {config.option.seed})")
    ordered = sorted(results, key=lambda r: (r.scenario, r.topology != "seed"))
    for line in summary.aligned([summary.HEADER, *summary.rows(ordered)]):
        write(line)
    for title, pick in (
        ("expected and seen", lambda r: r.expected_and_seen),
        ("expected, not seen (this seed did not show it; not a failure)", lambda r: r.expected_not_seen),
    ):
        found = [f"{r.scenario} [{r.topology}] {', '.join(sorted(pick(r)))}" for r in results if pick(r)]
        if found:
            write(f"{title}:")
            for line in found:
                write(f"  {line}")
    reasons: dict[tuple[str, str], list[str]] = {}
    for r in results:
        for checker in sorted(r.expected_and_seen):
            topologies_seen = reasons.setdefault((checker, r.expected[checker]), [])
            if r.topology not in topologies_seen:
                topologies_seen.append(r.topology)
    if reasons:
        write("why these are expected:")
        for (checker, why), seen_on in reasons.items():
            write(f"  {checker} [{', '.join(seen_on)}]: {why}")
    unexpected = [r for r in results if r.unexpected]
    if unexpected:
        write("UNEXPECTED:")
        for r in unexpected:
            for checker in sorted(r.unexpected):
                write(f"  {r.scenario} [{r.topology}] {checker}: {summary.describe(r.verdict(checker))}")
            write(f"    replay: {summary.replay_command(r)}")
    (run_dir / "summary.json").write_text(json.dumps([r.to_json() for r in results], indent=2) + "\n")
    if results:
        settings = Settings.from_env()
        report = write_report(
            run_dir,
            ReportInput(
                f"chaos run {run_dir.name}",
                int(config.option.seed),
                ordered,
                replay=f"SEED={config.option.seed} make chaos",
                facts={"ActiveMQ": settings.version, "topologies": ", ".join(topologies(config))},
            ),
        )
        write(f"report: {report}")
    write(f"artifacts: {run_dir}")


def pytest_sessionstart(session: pytest.Session) -> None:
    os.chdir(ROOT)


@pytest.fixture
def chaos_minutes() -> float:
    text = os.environ.get("CHAOS_MINUTES", "1")
    try:
        minutes = float(text)
    except ValueError:
        minutes = -1
    if minutes <= 0:
        raise pytest.UsageError(f"CHAOS_MINUTES={text!r} must be a positive number")
    return minutes
