"""The chaos suite's pytest plugin (installed through the `pytest11` entry point `amq_chaos`).

It owns the `--chaos-*` options, each defaulting to its setting in the environment (`AMQ_CHAOS_SEED`, ...;
`make chaos` passes `SEED=` and the others through; the full list is docs/reference/cli.md and
docs/reference/settings.md, generated from these parsers and harness.settings.VARIABLES). `--chaos-seed last`
is the seed of the previous chaos session, from pytest's cache.

and gives each test that asks for the `chaos` fixture a fresh cluster of its design and a folder of its own
(`<scenario>-<param id>`, so a repeated test never overwrites another), decides the verdict when the chaos
block ends, puts the seed and the command that reruns exactly that item into the JUnit file, scales the item's
timeout with its length, and writes the run's summary and report. A scenario declares the weaknesses it may
show per design with the `chaos_declares` marker.

Sessions that collect no chaos test (`make test`) see nothing of it but the options.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import commands
from harness.chaos.durations import DURATIONS_FILE, read_durations
from harness.chaos.faults import refused
from harness.chaos.run import ChaosRun
from harness.chaos.schedule import RANDOM_KINDS, FaultPlan, fault_plan_from
from harness.chaos.shard import (
    SHARD_RECORD,
    Shard,
    Share,
    heaviest_first,
    parse_shard,
    split_weighed,
    weigh,
)
from harness.chaos.spec import RunSpec
from harness.check.result import ScenarioResult
from harness.check.weaknesses import declared_for_shape
from harness.client.placement import MODES, SEEDED, parse_mode
from harness.client.shape import SHAPE_OPTIONS, given_settings, parse_shape
from harness.client.workload import WorkloadConfig
from harness.cluster.backends import open_cluster
from harness.debian_dist import prepare as prepare_debian_dist
from harness.design.catalog import PUBLIC, design
from harness.design.versions import VersionLine, designs_for, parse_version
from harness.errors import HarnessError
from harness.progress import Progress
from harness.report import summary
from harness.report.html import ReportInput, write_report
from harness.report.index import rewrite_index
from harness.settings import (
    BY_NAME,
    ROOT,
    Settings,
    given,
    parse_seed,
    parse_store_size,
    positive_number,
    stamped_folder,
)
from harness.signals import terminate_as_interrupt

SESSION = pytest.StashKey["ChaosSession"]()
GIVEN = pytest.StashKey[dict[str, str]]()  # the harness's own settings from the environment
SHARD = pytest.StashKey["Shard | None"]()
LAST_SEED = "amq-chaos/last-seed"
# pytest-timeout's limit for a scenario: bring-up, recovery, probes and drain, plus the scenario's own length
BASE_TIMEOUT = 900.0
SHARED_SCOPES = ("module", "package", "class")  # a fixture of one of these ties its tests to one share


@dataclasses.dataclass
class ChaosSession:
    seed: int
    settings: Settings
    designs: list[str]
    chaos_minutes: float
    placement: str
    progress: Progress
    shape: dict[str, str] = dataclasses.field(default_factory=dict)  # the shape settings given, as text
    fault_plan: FaultPlan = dataclasses.field(default_factory=FaultPlan)  # what random-chaos draws (FAULTS=)
    known_bugs: bool = False  # run items that `chaos_known_bug` would skip (make bugs)
    verdict_failures: set[str] = dataclasses.field(default_factory=set)  # items failed by their verdict
    other_failures: set[str] = dataclasses.field(default_factory=set)  # items failed by anything else
    shard: Shard | None = None  # this session runs one share of the items (a CI matrix's runner)
    run_dir: Path | None = None  # made when the first chaos test starts
    results: list[ScenarioResult] = dataclasses.field(default_factory=list)

    def replay_command(self) -> str:
        """The command that reruns this whole session with its seed and settings."""
        return commands.chaos(
            self.seed,
            placement=self.placement,
            shape=self.shape,
            faults=self.fault_plan.words(),
            broker=self.settings.broker_words,
        )

    def workload_line(self) -> str:
        return summary.workload_line(dataclasses.asdict(WorkloadConfig(**parse_shape(self.shape))))

    def folder(self) -> Path:
        if self.run_dir is None:
            label = f"seed{self.seed}" + (f"-{self.shard.label}" if self.shard else "")
            self.run_dir = stamped_folder(self.settings.runs_dir, "chaos", label)
            self.run_dir.mkdir(parents=True, exist_ok=True)
            latest = self.run_dir.parent / "latest"
            latest.unlink(missing_ok=True)
            latest.symlink_to(self.run_dir.name)
        return self.run_dir


def pytest_addoption(parser: pytest.Parser) -> None:
    # every option is --chaos-*: the plugin loads in every pytest session of its environment, and a bare
    # --seed or --size would collide with other plugins' (pytest-randomly's is --randomly-seed)
    group = parser.getgroup("chaos", "ActiveMQ chaos scenarios")
    group.addoption(
        "--chaos-seed",
        default=None,
        help="run seed: an integer, or `last`; default $AMQ_CHAOS_SEED (make: SEED), else random",
    )
    group.addoption(
        "--chaos-scenario",
        default=None,
        help="run only this scenario; default $AMQ_CHAOS_SCENARIO (make: SCENARIO)",
    )
    group.addoption(
        "--chaos-known-bugs",
        action="store_true",
        default=None,
        help="also run a scenario on the designs where it shows a known bug no declaration can excuse "
        "(the chaos_known_bug marker; make bugs does); default $AMQ_CHAOS_KNOWN_BUGS",
    )
    group.addoption(
        "--chaos-design",
        default=None,
        help=f"one of {', '.join(PUBLIC)}; default $AMQ_CHAOS_DESIGN (make: DESIGN), else each, so the "
        "summary compares them",
    )
    group.addoption(
        "--chaos-minutes",
        default=None,
        help="minutes random-chaos draws faults for; default $AMQ_CHAOS_MINUTES (make: CHAOS_MINUTES), else 1",
    )
    group.addoption(
        "--chaos-faults",
        default=None,
        help="the fault kinds random-chaos draws from, e.g. kill,freeze; default $AMQ_CHAOS_FAULTS (make: "
        "FAULTS), else the plain menu",
    )
    group.addoption(
        "--chaos-interval",
        default=None,
        help="seconds between random-chaos's faults, e.g. 30s; default $AMQ_CHAOS_INTERVAL (make: INTERVAL), else 20s",
    )
    group.addoption(
        "--chaos-hold",
        default=None,
        help="seconds each random-chaos fault is held, e.g. 10s; default $AMQ_CHAOS_HOLD (make: HOLD), else 8s",
    )
    group.addoption(
        "--chaos-placement",
        default=None,
        help=f"how clients are placed on the pairs: {' or '.join(MODES)}; default $AMQ_CHAOS_PLACEMENT, "
        "else seeded",
    )
    group.addoption(
        "--chaos-shard",
        default=None,
        help="K/N: run only the K-th of N deterministic shares of the items, for a CI matrix of N runners "
        "(a chaos session needs a SEED, the same on every runner; `amq-chaos merge` joins the shards' run "
        "folders); default $AMQ_CHAOS_SHARD (make: SHARD), else every item",
    )
    for shape in SHAPE_OPTIONS:
        group.addoption(shape.flag, default=None, help=f"{shape.help}; default ${BY_NAME[shape.name].env}")
    parser.addini("chaos_scenarios", "folders holding chaos scenarios (relative to the root)", type="paths")
    parser.addini(
        "chaos_junit",
        "write junit.xml into each chaos run folder unless --junitxml says otherwise",
        type="bool",
        default=True,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "chaos_declares(by_design): the weaknesses a scenario may show, per design"
    )
    config.addinivalue_line(
        "markers",
        "chaos_known_bug(by_design): design -> the known bug that fails the scenario there whatever is "
        "declared; skipped on those designs unless --chaos-known-bugs",
    )
    config.addinivalue_line(
        "markers",
        "chaos_upstream_bug(reference, fixed_in): an ActiveMQ bug the scenario reproduces on the versions before "
        "fixed_in; skipped there, with the bug named, unless --chaos-known-bugs",
    )
    config.addinivalue_line(
        "markers", "chaos_cluster(store_size=...): cluster settings the scenario needs (a size-limited store)"
    )
    config.addinivalue_line(
        "markers",
        "chaos_faults(*kinds): every fault kind the scenario may inject; a backend that cannot realise one "
        "refuses the scenario before its cluster comes up, and injecting an undeclared kind fails it",
    )
    try:
        shard = parse_shard(option(config, "--chaos-shard", "SHARD"))
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SHARD] = shard
    if not is_chaos_session(config):
        return
    terminate_as_interrupt()
    # a pytest-xdist worker runs some of the items of its controller's session: the same seed and run folder
    shared = getattr(config, "workerinput", {}).get(WORKER_INPUT)
    try:
        if shard and not option(config, "--chaos-seed", "SEED"):
            raise HarnessError(
                f"SHARD={shard} needs a SEED, the same on every runner: each shard of one run draws its "
                "faults from it (SEED=$(date +%s) once, in the matrix's definition)"
            )
        prepare_debian_dist()  # ACTIVEMQ_DIST=debian:X: the tarball the settings will find
        settings = Settings.from_env()
        if shared:  # clusters side by side: each worker's VIP on a port of its own, gw1 one above gw0's
            index = int(str(config.workerinput.get("workerid", "gw0")).removeprefix("gw") or 0)  # type: ignore[attr-defined]
            settings = dataclasses.replace(settings, vip_port=settings.vip_port + index)
        session = ChaosSession(
            seed=shared["seed"] if shared else chosen_seed(config),
            settings=settings,
            designs=chosen_designs(config, settings.line),
            chaos_minutes=chosen_minutes(config),
            placement=parse_mode(option(config, "--chaos-placement", "PLACEMENT") or SEEDED),
            progress=Progress.for_terminal(os.isatty(1)),
            shape=chosen_shape(config),
            fault_plan=chosen_fault_plan(config),
            known_bugs=option(config, "--chaos-known-bugs", "KNOWN_BUGS").lower() in ("1", "true", "yes"),
            shard=shard,
        )
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    if shared:
        session.run_dir = Path(shared["run_dir"])
    # settings are read once, here; the designs of the session replace the one from the environment
    config.stash[SESSION] = session
    cache = getattr(config, "cache", None)
    if cache is not None:
        cache.set(LAST_SEED, session.seed)
    if not config.option.xmlpath and config.getini("chaos_junit"):
        config.option.xmlpath = str(session.folder() / "junit.xml")


def is_chaos_session(config: pytest.Config) -> bool:
    """A session is a chaos session when what it was asked to run lies in a `chaos_scenarios` folder."""
    folders = [Path(p).resolve() for p in config.getini("chaos_scenarios")]
    args = config.args or [str(config.rootpath)]
    for arg in args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if any(path == folder or folder in path.parents for folder in folders):
            return True
    return False


def option(config: pytest.Config, name: str, setting: str) -> str:
    """The option, else the setting from the environment (harness.settings.VARIABLES, read once per
    session), else ""."""
    value = config.getoption(name)
    if value is not None:
        return str(value)
    if GIVEN not in config.stash:
        config.stash[GIVEN] = given()
    return config.stash[GIVEN].get(setting, "")


def chosen_seed(config: pytest.Config) -> int:
    text = option(config, "--chaos-seed", "SEED")
    if text.strip() == "last":
        cache = getattr(config, "cache", None)  # absent under -p no:cacheprovider
        last = cache.get(LAST_SEED, None) if cache is not None else None
        if last is None:
            raise HarnessError("SEED=last: no earlier chaos session recorded a seed here")
        return int(last)
    return parse_seed(text)


def chosen_designs(config: pytest.Config, line: VersionLine) -> list[str]:
    """--chaos-design / DESIGN, else each design the broker's version line can run."""
    chosen = option(config, "--chaos-design", "DESIGN")
    if chosen and chosen not in PUBLIC:
        raise HarnessError(f"unknown design {chosen!r}: choose one of {', '.join(PUBLIC)}")
    return [chosen] if chosen else designs_for(line)


def chosen_minutes(config: pytest.Config) -> float:
    return positive_number("CHAOS_MINUTES", option(config, "--chaos-minutes", "CHAOS_MINUTES") or "1")


def chosen_fault_plan(config: pytest.Config) -> FaultPlan:
    """FAULTS=, INTERVAL= and HOLD= (options, else environment), validated now: a bad one stops the session."""
    return fault_plan_from(
        {
            "FAULTS": option(config, "--chaos-faults", "FAULTS"),
            "INTERVAL": option(config, "--chaos-interval", "INTERVAL"),
            "HOLD": option(config, "--chaos-hold", "HOLD"),
        }
    )


def chosen_shape(config: pytest.Config) -> dict[str, str]:
    """The shape settings given (option, else environment), validated now: a bad one stops the session."""
    shape = given_settings({o.name: option(config, o.flag, o.name) for o in SHAPE_OPTIONS})
    parse_shape(shape)
    return shape


def pytest_report_header(config: pytest.Config) -> list[str]:
    session = config.stash.get(SESSION, None)
    if session is None:
        return []
    lines = [
        f"chaos seed: {session.seed}   placement: {session.placement}   (replay: {session.replay_command()})",
        f"workload: {session.workload_line()} (a scenario may shape its own)",
        f"designs: {', '.join(session.designs)}   ActiveMQ {session.settings.broker_label}   run folder: {session.folder()}",
    ]
    if session.shard:
        lines.append(f"shard {session.shard}: this runner's share of the items (amq-chaos merge joins them)")
    for name in session.designs:
        dropped = dataclasses.replace(session.settings, design=design(name)).dropped
        if dropped:
            lines.append(
                f"{name} on the {session.settings.line.name} line leaves out: {', '.join(map(str, dropped))}"
            )
    return lines


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    session = metafunc.config.stash.get(SESSION, None)
    if "chaos" in metafunc.fixturenames and session is not None:
        known = {} if session.known_bugs else known_bugs_here(metafunc.definition, session)
        metafunc.parametrize(
            "design_name",
            [
                pytest.param(name, marks=pytest.mark.skip(reason=f"known bug on {name}: {known[name]}"))
                if name in known
                else name
                for name in session.designs
            ],
        )


def known_bugs_here(item: pytest.Item, session: ChaosSession) -> dict[str, str]:
    """design -> the known bug that fails the scenario there on this session's broker: a design's own
    (chaos_known_bug), or an upstream bug of this version (chaos_upstream_bug), which every design shows."""
    marker = item.get_closest_marker("chaos_known_bug")
    known: dict[str, str] = dict(marker.args[0]) if marker and marker.args else {}
    upstream = item.get_closest_marker("chaos_upstream_bug")
    if upstream is not None:
        reference, fixed_in = upstream.args
        version = session.settings.version
        if parse_version(version) < parse_version(fixed_in):
            bug = f"{reference} on ActiveMQ {version} (fixed in {fixed_in})"
            known |= {name: bug for name in session.designs}
    return known


def scenario_name(item: pytest.Item) -> str:
    name = getattr(item, "originalname", item.name)
    return name.removeprefix("test_").replace("_", "-")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _select_scenario(config, items)
    try:
        durations = read_durations(config.rootpath / DURATIONS_FILE)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    groups = {item.nodeid: split_group(item) for item in items}
    # weighed over every item collected, before any is deselected: every runner splits alike
    members, weight = weigh(groups, durations, groups.__getitem__)
    files = {item.nodeid: order_group(item) for item in items}
    _, file_weight = weigh(files, durations, files.__getitem__)
    shard = config.stash.get(SHARD, None)
    if shard is not None:  # any session, `make test`'s too: after every other selection, so all agree
        shares = split_weighed(members, weight, shard.count)
        share = shares[shard.index - 1]
        kept = [item for item in items if item.nodeid in share.node_ids]
        config.hook.pytest_deselected(items=[item for item in items if item.nodeid not in share.node_ids])
        session = config.stash.get(SESSION, None)
        if session is not None:
            record_share(session.folder(), shard, sorted(groups), share, sum(weight.values()))
        items[:] = kept
    # the longest first, but each file's tests together and as written (a chaos scenario moves alone): a
    # test may count on the one before it leaving the session's cluster as it found it, and a file's tests
    # together set up its fixtures once
    by_id = {item.nodeid: item for item in items}
    items[:] = [by_id[node_id] for node_id in heaviest_first(list(by_id), file_weight, files.__getitem__)]


def split_group(item: pytest.Item) -> str:
    """What a share takes whole: the tests of a file that share a module's fixture (its stand-in hosts, say)
    go together, so that only one share pays for it; every other item goes alone, a chaos scenario (each
    brings up its own cluster) among them. Session fixtures are each worker's own whatever the split."""
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.values() if info is not None else ()
    if any(d.scope in SHARED_SCOPES for defs in definitions for d in defs):
        return item.nodeid.split("::")[0]
    return item.nodeid


def order_group(item: pytest.Item) -> str:
    """What keeps its order and runs in one block: a chaos scenario alone, any other test with its file."""
    return item.nodeid if "chaos" in getattr(item, "fixturenames", ()) else item.nodeid.split("::")[0]


def record_share(run_dir: Path, shard: Shard, every: list[str], share: Share, seconds: float) -> None:
    """shard.json in the run folder: which items this share ran of which, for the merge to check that the
    shards it is given are one split of one suite (a runner with another durations file splits otherwise)."""
    record = {
        "shard": str(shard),
        "items": every,
        "share": sorted(share.node_ids),
        "seconds": round(share.seconds, 1),
        "suite_seconds": round(seconds, 1),
    }
    # xdist's workers each collect, and each writes the same record: a whole file, whichever lands last
    temporary = run_dir / f".shard.json.{os.getpid()}"
    temporary.write_text(json.dumps(record, indent=1) + "\n")
    temporary.replace(run_dir / SHARD_RECORD)


def _select_scenario(config: pytest.Config, items: list[pytest.Item]) -> None:
    session = config.stash.get(SESSION, None)
    if session is None:
        return
    chaos_items = [item for item in items if "chaos" in getattr(item, "fixturenames", ())]
    wanted = option(config, "--chaos-scenario", "SCENARIO")
    if wanted:
        names = sorted({scenario_name(item) for item in chaos_items})
        if wanted not in names:
            raise pytest.UsageError(f"unknown SCENARIO {wanted!r}; scenarios are: {', '.join(names)}")
        items[:] = [item for item in items if scenario_name(item) == wanted]
    for item in items:
        if "chaos" not in getattr(item, "fixturenames", ()):
            continue
        # a long random-chaos must not be cut by a timeout made for one fault
        minutes = session.chaos_minutes if "chaos_minutes" in getattr(item, "fixturenames", ()) else 0
        item.add_marker(pytest.mark.timeout(BASE_TIMEOUT + 2 * minutes * 60))
        item.user_properties.append(("seed", session.seed))
        item.user_properties.append(("replay", rerun_command(session, item)))


def rerun_command(session: ChaosSession, item: pytest.Item) -> str:
    """The command that reruns exactly this test item with this seed (a repeat's id needs its --count)."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    count = item.config.getoption("count", None) if "__pytest_repeat_step_number" in params else None
    known = known_bugs_here(item, session)
    return commands.chaos(
        session.seed,
        nodeid=item.nodeid,
        placement=session.placement,
        shape=session.shape,
        faults=session.fault_plan.words() if "fault_plan" in getattr(item, "fixturenames", ()) else (),
        pytest_args=("--count", str(count)) if count else (),
        known_bug=params.get("design_name") in known,
        broker=session.settings.broker_words,
    )


@pytest.fixture
def chaos_minutes(request: pytest.FixtureRequest) -> float:
    return request.config.stash[SESSION].chaos_minutes


@pytest.fixture
def fault_plan(request: pytest.FixtureRequest) -> FaultPlan:
    """What a random schedule draws in this session (FAULTS=, INTERVAL=, HOLD=): `fault_plan.schedule(seed,
    seconds)`. A scenario using it is refused before bring-up where the backend cannot do those kinds."""
    return request.config.stash[SESSION].fault_plan


@pytest.fixture
def chaos(request: pytest.FixtureRequest, design_name: str) -> Iterator[Callable[..., ChaosRun]]:
    """`chaos(**kwargs)` -> a ChaosRun on a fresh cluster of this test's design, in a folder of its own."""
    config = request.config
    session = config.stash[SESSION]
    item = request.node
    scenario = scenario_name(item)
    directory = item_folder(session.folder(), item)
    settings = dataclasses.replace(session.settings, runs_dir=directory, design=design(design_name))
    needs = item.get_closest_marker("chaos_cluster")
    if needs and needs.kwargs.get("store_size") and not settings.store_size:
        settings = dataclasses.replace(settings, store_size=parse_store_size(needs.kwargs["store_size"]))
    marker = item.get_closest_marker("chaos_declares")
    declared: dict[str, dict[str, str]] = marker.args[0] if marker and marker.args else {}
    faults = item.get_closest_marker("chaos_faults")
    kinds = frozenset(faults.args) if faults else None
    drawing = "fault_plan" in item.fixturenames
    if drawing:  # the kinds its schedule draws in this session, not the plain menu its marker names
        kinds = frozenset(session.fault_plan.drawn_kinds()) | ((kinds or frozenset()) - set(RANDOM_KINDS))
    runs: list[ChaosRun] = []
    cluster = open_cluster(settings)
    line = refused(sorted(kinds), cluster.capabilities, cluster.backend) if kinds else None
    if line:  # before anything is started: the report says why, in one line
        pytest.skip(f"refused: {line}")
    with cluster:

        def make(*, shape: dict[str, object] | None = None, **kwargs: Any) -> ChaosRun:
            """A scenario's `chaos(...)`: its keywords are RunSpec's fields (harness.chaos.spec)."""
            shaped = {**parse_shape(session.shape), **(shape or {})}
            spec = RunSpec(
                scenario,
                session.seed,
                directory,
                design=design_name,
                shape=shaped,
                expected=declared_for_shape(declared.get(design_name, {}), shaped),
                **{
                    "placement": session.placement,
                    **({"fault_plan": session.fault_plan.to_json()} if drawing else {}),
                    **kwargs,
                },
            )
            run = ChaosRun(
                cluster,
                spec,
                progress=session.progress,
                on_result=lambda result: assert_as_declared(result, session, item),
            )
            run.nemesis.declared = kinds
            runs.append(run)
            return run

        yield make
    for run in runs:
        if run.result is not None:
            run.result.replay = rerun_command(session, item)
            session.results.append(run.result)


def item_folder(run_dir: Path, item: pytest.Item) -> Path:
    """`<scenario>-<param id>`, e.g. freeze-master-seed, freeze-master-seed-2-3 under pytest-repeat; a
    name already taken in this run gets a number."""
    callspec = getattr(item, "callspec", None)
    name = scenario_name(item) + (f"-{callspec.id}" if callspec is not None else "")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name)
    folder, n = run_dir / name, 2
    while folder.exists():
        folder, n = run_dir / f"{name}-{n}", n + 1
    return folder


def assert_as_declared(result: ScenarioResult, session: ChaosSession, item: pytest.Item) -> None:
    """The scenario passes when every violation it shows is one it declared for this design."""
    if result.ok:
        return
    lines = [f"{result.scenario} on {result.design} (seed {result.seed}): undeclared violations"]
    for verdict in result.verdicts:
        if verdict.checker in result.unexpected:
            declared = verdict.checker in result.expected and verdict.valid is False
            why = " (declared, but not every witness shows the declared mechanism)" if declared else ""
            lines.append(f"  {verdict.checker}{why}: {summary.describe(verdict)}")
    lines.append(f"  evidence: {result.directory}/verdicts.json, history.jsonl")
    lines.append(f"  rerun: {rerun_command(session, item)}")
    session.verdict_failures.add(item.nodeid)
    pytest.fail("\n".join(lines), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    chaos = item.config.stash.get(SESSION, None)
    if chaos is not None and report.failed and item.nodeid not in chaos.verdict_failures:
        chaos.other_failures.add(item.nodeid)
    return report


# ------------------------------------------------------------------ pytest-xdist: clusters side by side
# (`make chaos WORKERS=2`): the controller draws the seed and makes the run folder; each worker runs its items
# in it and hands back their results, which the controller's summary, report and exit code then read.
WORKER_INPUT = "amq_chaos"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    chaos = node.config.stash.get(SESSION, None)
    if chaos is not None:
        node.workerinput[WORKER_INPUT] = {"seed": chaos.seed, "run_dir": str(chaos.folder())}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    chaos = node.config.stash.get(SESSION, None)
    handed = getattr(node, "workeroutput", {}).get(WORKER_INPUT)
    if chaos is None or not handed:
        return
    chaos.results += [ScenarioResult.from_json(r) for r in handed["results"]]
    chaos.verdict_failures.update(handed["verdict_failures"])
    chaos.other_failures.update(handed["other_failures"])


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Tests failed only by the harness or the machine (a cluster that never came up, Docker gone) end the
    session with 3, pytest's internal error, so that CI tells them from a verdict on the brokers (1)."""
    chaos = session.config.stash.get(SESSION, None)
    output = getattr(session.config, "workeroutput", None)
    if chaos is not None and output is not None:  # a worker: what it ran, for its controller
        output[WORKER_INPUT] = {
            "results": [r.to_json() for r in chaos.results],
            "verdict_failures": sorted(chaos.verdict_failures),
            "other_failures": sorted(chaos.other_failures),
        }
        return
    if chaos is None or exitstatus != pytest.ExitCode.TESTS_FAILED:
        return
    if chaos.other_failures and not chaos.verdict_failures:
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    session = config.stash.get(SESSION, None)
    if session is None or session.run_dir is None or hasattr(config, "workerinput"):
        return  # a worker's results are its controller's to sum up
    results, run_dir = session.results, session.run_dir
    write = terminalreporter.write_line
    terminalreporter.section(f"chaos summary (seed {session.seed})")
    ordered = sorted(results, key=lambda r: (r.scenario, r.design != "seed", r.directory))
    for line in summary.aligned([summary.HEADER, *summary.rows(ordered)]):
        write(line)
    for title, pick in (
        ("expected and seen", lambda r: r.expected_and_seen),
        ("expected, not seen (this seed did not show it; not a failure)", lambda r: r.expected_not_seen),
    ):
        found = [f"{r.scenario} [{r.design}] {', '.join(sorted(pick(r)))}" for r in results if pick(r)]
        if found:
            write(f"{title}:")
            for line in found:
                write(f"  {line}")
    reasons: dict[tuple[str, str], list[str]] = {}
    for r in results:
        for checker in sorted(r.expected_and_seen):
            seen_on = reasons.setdefault((checker, r.expected[checker]), [])
            if r.design not in seen_on:
                seen_on.append(r.design)
    if reasons:
        write("why these are expected:")
        for (checker, why), seen_on in reasons.items():
            write(f"  {checker} [{', '.join(seen_on)}]: {why}")
    unexpected = [r for r in results if r.unexpected]
    if unexpected:
        write("UNEXPECTED:")
        for r in unexpected:
            for checker in sorted(r.unexpected):
                write(f"  {r.scenario} [{r.design}] {checker}: {summary.describe(r.verdict(checker))}")
            write(f"    rerun: {summary.replay_command(r)}")
    (run_dir / "summary.json").write_text(json.dumps([r.to_json() for r in results], indent=2) + "\n")
    if results:
        report = write_report(
            run_dir,
            ReportInput(
                f"chaos run {run_dir.name}",
                session.seed,
                ordered,
                replay=session.replay_command(),
                facts={
                    "ActiveMQ": session.settings.broker_label,
                    "designs": ", ".join(session.designs),
                    "placement": session.placement,
                    "workload": session.workload_line(),
                },
            ),
        )
        write(f"report: {report}")
        write(rewrite_index(session.settings.runs_dir))
    if session.shard and (run_dir / SHARD_RECORD).exists():
        record = json.loads((run_dir / SHARD_RECORD).read_text())
        write(
            f"shard {session.shard}: {len(record['share'])} of {len(record['items'])} items, "
            f"{record['seconds']:.0f} s of the suite's {record['suite_seconds']:.0f} s by {DURATIONS_FILE}"
        )
    write(f"artifacts: {run_dir}")


def pytest_sessionstart(session: pytest.Session) -> None:
    if session.config.stash.get(SESSION, None) is not None:
        os.chdir(ROOT)
