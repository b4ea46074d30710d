"""`python -m harness <command>`: the cluster by hand (what `make up` calls), faults driven by hand against
it, soaks, replays of recorded histories, reports and the version matrix."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import traceback
from pathlib import Path

from harness import commands
from harness.chaos.faults import FAULT_KINDS, TARGET_HELP
from harness.cluster.control import RUN_LABEL, Cluster, sweep_label
from harness.cluster.docker_env import docker_client
from harness.cluster.images import ensure_images
from harness.cluster.introspect import NodeStatus
from harness.errors import (
    BAD_INPUT,
    INTERRUPTED,
    MACHINE_FAILED,
    OK,
    VIOLATION,
    HarnessError,
    MachineError,
)
from harness.report import summary
from harness.settings import Settings, parse_seed, positive_number, stamped_folder
from harness.signals import terminate_as_interrupt


def _current(settings: Settings) -> Path:
    return settings.runs_dir / "current"


def cmd_images(settings: Settings, args: argparse.Namespace) -> int:
    broker, vip = ensure_images(docker_client(), settings.version, dist=settings.dist)
    print(f"broker image: {broker}\nvip image:    {vip}")
    return 0


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    current = _current(settings)
    if current.exists():
        raise HarnessError(f"a cluster is already recorded at {current.resolve()}: run `make down` first")
    cluster = Cluster(settings, owner="manual")  # outlives this command by design
    cluster.up()
    current.parent.mkdir(parents=True, exist_ok=True)
    current.unlink(missing_ok=True)
    current.symlink_to(cluster.directory.name)
    print(
        f"run        {cluster.run_id} (compose project {cluster.project}, ActiveMQ {settings.broker_label})"
    )
    print(f"STOMP VIP  127.0.0.1:{cluster.vip_port}  (user {settings.credentials.client_user})")
    for node in cluster.topology.nodes:
        state = cluster.node_state(node)
        print(f"{node.name:<14} {node.role:<7} {state:<8} STOMP 127.0.0.1:{cluster.stomp_port(node)}")
    print(f"configs    {cluster.directory / 'config'}")
    return 0


def _attach(settings: Settings) -> Cluster:
    current = _current(settings)
    if not current.exists():
        raise HarnessError("no cluster is up (runs/current is missing): start one with `make up`")
    return Cluster.attach(settings, current.resolve())


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    cluster = _attach(settings)
    info = cluster.info
    print(
        f"{info.project}: ActiveMQ {info.broker_label}, design {info.design}, broker image {info.broker_image}"
    )
    dropped = cluster.settings.dropped
    if dropped:
        print(f"left out for the {cluster.settings.line.name} line: {', '.join(map(str, dropped))}")
    print(format_status(cluster.status()))
    return 0


def cmd_down(settings: Settings, args: argparse.Namespace) -> int:
    current = _current(settings)
    if not current.exists():
        print("no cluster recorded; sweeping leftovers by label")
        sweep_label(docker_client(), RUN_LABEL)
        return 0
    cluster = Cluster.attach(settings, current.resolve())
    cluster.down()
    current.unlink()
    print(f"removed {cluster.project}; logs and configs kept in {cluster.directory}")
    return 0


def cmd_sweep(settings: Settings, args: argparse.Namespace) -> int:
    sweep_label(docker_client(), RUN_LABEL)
    _current(settings).unlink(missing_ok=True)
    print("removed every container, network and volume labelled by the harness")
    return 0


def format_status(statuses: list[NodeStatus]) -> str:
    rows = [("node", "state", "stomp", "queue", "size", "enq", "deq", "cons", "bridges")]
    for status in statuses:
        bridges = (
            ", ".join(f"{'<->' if b.created_by_duplex else '->'} {b.remote}" for b in status.bridges) or "-"
        )
        stomp = "yes" if status.serves_stomp else "-"
        user_queues = [q for q in status.queues if not q.name.startswith("ActiveMQ.")]
        if not user_queues:
            rows.append((status.node, status.state, stomp, "-", "", "", "", "", bridges))
        for index, queue in enumerate(user_queues):
            first = index == 0
            rows.append(
                (
                    status.node if first else "",
                    status.state if first else "",
                    stomp if first else "",
                    queue.name,
                    str(queue.size),
                    str(queue.enqueued),
                    str(queue.dequeued),
                    str(queue.consumers),
                    bridges if first else "",
                )
            )
        if status.error:
            rows.append(("", "", "", f"error: {status.error}", "", "", "", "", ""))
    return "\n".join(summary.aligned(rows))


# from the fault registry: every kind's usage, then the two words that are not faults
FAULT_HELP = (
    " | ".join(
        [
            *(f"fault {k.usage}" for k in FAULT_KINDS.values() if k.name != "partition"),
            "fault heal",
            "fault status",
        ]
    )
    + f"   ({TARGET_HELP})"
)


def cmd_fault(settings: Settings, args: argparse.Namespace) -> int:
    """Drive the nemesis by hand against the cluster `make up` started; faults and heals go to its history."""
    import random

    from harness.chaos.nemesis import Nemesis
    from harness.history import History

    words = list(args.args)
    if not words:
        raise HarnessError(f"usage: python -m harness {FAULT_HELP}")
    cluster = _attach(settings)
    state = cluster.directory / "manual-faults.json"
    with History(cluster.directory / "manual-history.jsonl", {"scenario": "manual"}, append=True) as history:
        nemesis = Nemesis(cluster, history, random.Random())
        nemesis.load_active(state)
        action, rest = words[0], words[1:]
        if action == "status":
            for active in nemesis.active:
                print(f"in force: {active.kind} on {active.target}")
            if not nemesis.active:
                print("no fault in force")
            print(format_status(cluster.status()))
            return 0
        if action == "heal":
            nemesis.heal()
            print("healed every fault in force")
        else:
            if action not in FAULT_KINDS or action == "partition":
                raise HarnessError(f"usage: python -m harness {FAULT_HELP}")
            print(f"{action}: {nemesis.inject(action, *rest)}")
        nemesis.save_active(state)
    return 0


def _seed(args: argparse.Namespace) -> int:
    """--seed, else $SEED, else a fresh one (printed by the command, so the run can be replayed)."""
    return parse_seed(args.seed if args.seed is not None else os.environ.get("SEED", ""))


def cmd_soak(settings: Settings, args: argparse.Namespace) -> int:
    """Random faults from the seed for DURATION, checked at every CHECKPOINT; exit 1 if any window failed."""

    from harness.client.placement import SEEDED, parse_mode
    from harness.client.shape import given_settings, parse_shape
    from harness.longrun.soak import SoakPlan, parse_duration, run_soak
    from harness.progress import Progress

    # imported now, not after hours: a soak of 2026-11-28 ended in an ImportError at its last line because the
    # checkout had changed under it and this module, imported late, no longer matched what was loaded
    from harness.report.index import rewrite_index

    try:
        duration = parse_duration(args.duration or os.environ.get("DURATION", "") or "8h")
        checkpoint = parse_duration(args.checkpoint or os.environ.get("CHECKPOINT", "") or "5m", "CHECKPOINT")
    except ValueError as exc:
        raise HarnessError(str(exc)) from None
    placement = parse_mode(os.environ.get("PLACEMENT") or SEEDED)
    shape = given_settings(os.environ)
    parse_shape(shape)  # a bad value stops here, before any cluster
    seed = _seed(args)
    directory = stamped_folder(settings.runs_dir, "soak", f"seed{seed}")
    directory.mkdir(parents=True)
    settings = dataclasses.replace(settings, runs_dir=directory)
    plan = SoakPlan(seed, duration, checkpoint, placement=placement, shape=shape)
    outcome = run_soak(settings, plan, directory, Progress.for_stdout())
    windows = len(outcome.checkpoints)
    failed = sum(1 for c in outcome.checkpoints if c.get("verdict") != "ok")
    print(
        f"soak {'ok' if outcome.ok else 'FAILED'}: {windows} windows, {failed} failing; "
        f"harness peak RSS {outcome.peak_rss_mib:.1f} MiB; report {directory / 'report.html'}"
    )
    print(rewrite_index(directory.parent.parent))  # runs/soak/<this soak> -> runs/
    if any(c.get("verdict") == "FAIL" for c in outcome.checkpoints):
        return VIOLATION
    return OK if outcome.ok else MACHINE_FAILED  # a window that did not finish: no verdict on the brokers


def settings_of_history(settings: Settings, header: dict) -> Settings:
    """The settings a recorded run had that its faults depend on: version, design, a size-limited store."""
    from harness.design.catalog import design

    version = str(header.get("activemq_version", settings.version))
    recorded_dist = header.get("activemq_dist")
    if recorded_dist and (settings.dist is None or settings.dist.name != recorded_dist):
        raise HarnessError(
            f"this history ran on ActiveMQ {version} from ACTIVEMQ_DIST={recorded_dist}: "
            "give that tarball as ACTIVEMQ_DIST to run it again"
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


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    """Redo a recorded history's faults on a fresh cluster of the same version and design."""

    from harness.chaos.replay import recorded_faults, replay_history
    from harness.history import read_header
    from harness.progress import Progress
    from harness.report.html import ReportInput, write_report
    from harness.report.summary import HEADER, aligned, describe, row

    source = Path(args.history)
    try:
        header = read_header(source)
        steps = recorded_faults(source)
    except (OSError, ValueError, KeyError) as exc:
        raise HarnessError(f"{source} is not a readable history: {exc}") from None
    settings = settings_of_history(settings, header)
    directory = stamped_folder(settings.runs_dir, "replay", str(header.get("scenario", "run")))
    directory.mkdir(parents=True)
    print(
        f"replaying {len(steps)} faults and heals from {source} (seed {header.get('seed')}, "
        f"{settings.design.name}, ActiveMQ {settings.version}) into {directory}"
    )
    for step in steps:
        print(f"  {step.t:8.2f}s  {step.kind:<5} {step.action} {step.target}")
    with Cluster(dataclasses.replace(settings, runs_dir=directory)) as cluster:
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


def cmd_shrink(settings: Settings, args: argparse.Namespace) -> int:
    """Search a failing history's faults for the smallest schedule that fails the same way."""

    from harness.chaos.replay import replay_history
    from harness.chaos.shrink import Shrinker
    from harness.check.result import ScenarioResult
    from harness.history import read_header
    from harness.report.html import ReportInput, write_report

    source = Path(args.history)
    try:
        header = read_header(source)
    except (OSError, ValueError, KeyError) as exc:
        raise HarnessError(f"{source} is not a readable history: {exc}") from None
    tries = int(positive_number("TRIES", args.tries or os.environ.get("TRIES", "") or "2"))
    budget = int(positive_number("BUDGET", args.budget or os.environ.get("BUDGET", "") or "30"))
    settings = settings_of_history(settings, header)
    directory = stamped_folder(settings.runs_dir, "shrink", str(header.get("scenario", "run")))

    def run(history: Path, folder: Path) -> ScenarioResult:
        folder.mkdir(parents=True)
        with Cluster(dataclasses.replace(settings, runs_dir=folder), log=lambda *_: None) as cluster:
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


def cmd_matrix(settings: Settings, args: argparse.Namespace) -> int:
    """One scenario on every supported broker version; exit 1 if any version failed it."""
    import time

    from harness.design.versions import designs_for
    from harness.report import matrix

    scenario = args.scenario or os.environ.get("SCENARIO", "")
    if not scenario:
        raise HarnessError("name the scenario: make matrix SCENARIO=kill-live-master")
    seed = _seed(args)
    chosen = os.environ.get("DESIGN") or os.environ.get("TOPOLOGY") or ""
    topologies = [settings.design.name] if chosen else designs_for(settings.line)
    folder = stamped_folder(settings.runs_dir, "matrix", f"{scenario}-seed{seed}")
    print(f"matrix: {scenario} seed {seed} on ActiveMQ {', '.join(matrix.versions())} -> {folder}")
    outcomes = []
    for version in matrix.versions():
        started = time.monotonic()
        outcome = matrix.run_version(version, scenario, seed, chosen, folder / version)
        print(f"  {version}: pytest exit {outcome.exit_code} in {time.monotonic() - started:.0f}s")
        outcomes.append(outcome)
        # a usage error (pytest exit 2 or 4) would be the same for every version: stop at the first
        if outcome.exit_code in (2, 4) and not outcome.results:
            raise HarnessError(f"{version}: {_last_line(folder / version / 'pytest.log')}")
    lines = matrix.side_by_side(scenario, topologies, outcomes)
    (folder / "matrix.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"replay one: {commands.chaos(seed, scenario=scenario, version='<version>')}")
    return matrix_exit_code([o.exit_code for o in outcomes])


def matrix_exit_code(pytest_codes: list[int]) -> int:
    """Each version's pytest exit as the harness's: a violation on any version is the matrix's verdict, else
    any other failure is the harness's or the machine's."""
    codes = {chaos_exit_code(code, interrupted=False) for code in pytest_codes}
    return VIOLATION if VIOLATION in codes else MACHINE_FAILED if codes - {OK} else OK


def cmd_bugs(settings: Settings, args: argparse.Namespace) -> int:
    """The known-bug patterns on every broker version and both designs, TRIES tries each (seeds SEED,
    SEED+1, ...); writes bugs.md (the table, each cell linking its runs) and bugs.json. Exit 0 when every run
    gave a result, whatever the brokers showed; 3 when some run gave none."""
    import time

    from harness.design.versions import designs_for
    from harness.report import bugs, matrix
    from harness.settings import BROKER_SUITES

    if args.table:
        return _bugs_table_again(Path(args.table))
    seed = _seed(args)
    tries = int(positive_number("TRIES", args.tries or os.environ.get("TRIES") or "2", "of tries"))
    versions = (args.versions or os.environ.get("VERSIONS") or ",".join(matrix.versions())).split(",")
    unknown = [v for v in versions if v not in BROKER_SUITES]
    if unknown:
        raise HarnessError(
            f"unknown version {', '.join(unknown)}: choose from {', '.join(sorted(BROKER_SUITES))}"
        )
    chosen = os.environ.get("DESIGN") or os.environ.get("TOPOLOGY") or ""
    designs = [chosen] if chosen else designs_for(settings.line)
    wanted = (args.patterns or os.environ.get("PATTERNS") or "").split(",")
    patterns = [p for p in bugs.PATTERNS if p.key in wanted] if wanted != [""] else list(bugs.PATTERNS)
    if len(patterns) < len([w for w in wanted if w]):
        keys = ", ".join(p.key for p in bugs.PATTERNS)
        raise HarnessError(f"unknown pattern in PATTERNS={','.join(wanted)}: patterns are {keys}")
    targets = matrix.scenario_node_ids(list(dict.fromkeys(p.scenario for p in patterns)))
    folder = stamped_folder(settings.runs_dir, "bugs", f"seed{seed}")
    started, started_at = time.monotonic(), time.strftime("%Y-%m-%d %H:%M %Z")
    print(
        f"bugs: {len(patterns)} patterns, {len(targets)} scenarios on ActiveMQ {', '.join(versions)} x "
        f"{', '.join(designs)}, {tries} tries (seeds {seed}..{seed + tries - 1}) -> {folder}"
    )
    results, failed_runs = [], 0
    # try by try over the versions, so that a run cut short still has every version's first tries
    for n in range(tries):
        for version in versions:
            began = time.monotonic()
            outcome = matrix.run_version(
                version,
                "",
                seed + n,
                chosen,
                folder / version / f"try-{n + 1}",
                targets=targets,
                extra_env={"KNOWN_BUGS": "1"},
            )
            failed_runs += len(targets) * len(designs) - len(outcome.results)
            results += [(version, result) for result in outcome.results]
            print(
                f"  {version} try {n + 1}: {len(outcome.results)} results in {time.monotonic() - began:.0f}s"
            )
            cells = [
                c for c in bugs.cells_from_results(results, versions, designs, tries) if c.pattern in patterns
            ]
            minutes = (time.monotonic() - started) / 60
            header = (
                f"# Known-bug patterns, `make bugs` of {started_at}\n\nSeeds {seed}..{seed + tries - 1}, "
                f"{tries} tries per cell, {minutes:.0f} min so far on this machine (2 cores). Replay one run: "
                f"`SEED=<seed> ACTIVEMQ_VERSION=<version> KNOWN_BUGS=1 make chaos SCENARIO=<scenario>`."
            )
            table = bugs.write_outcome(folder, cells, versions, designs, header)
    print(table.read_text())
    print(f"bugs: {(time.monotonic() - started) / 60:.1f} min; table {table}")
    return MACHINE_FAILED if failed_runs else OK


def cmd_index(settings: Settings, args: argparse.Namespace) -> int:
    """runs/index.html: every chaos run and soak, and a trend per scenario and design."""
    from harness.report.index import write_index

    folder = Path(args.folder) if args.folder else settings.runs_dir
    if not folder.is_dir():
        raise HarnessError(f"{folder} is not a folder of runs")
    print(f"index of runs: {write_index(folder)}")
    return OK


def _bugs_table_again(folder: Path) -> int:
    """Rewrite a `make bugs` folder's table from its runs, with the signatures as they are now."""
    from harness.report import bugs

    results = bugs.results_in(folder)
    if not results:
        raise HarnessError(f"{folder} holds no make bugs run (no <version>/try-<n>/chaos/*/summary.json)")
    versions = sorted({v for v, _ in results}, key=lambda v: tuple(int(x) for x in v.split(".")))
    designs = list(dict.fromkeys(r.design for _, r in sorted(results, key=lambda vr: vr[1].design != "seed")))
    tries = len({p.parent.parent.parent.name for p in folder.glob("*/try-*/chaos/*/summary.json")})
    scenarios = {r.scenario for _, r in results}
    cells = [
        c
        for c in bugs.cells_from_results(results, versions, designs, tries)
        if c.pattern.scenario in scenarios
    ]
    previous = (
        (folder / "bugs.md").read_text().split("\n\n| pattern")[0] if (folder / "bugs.md").exists() else ""
    )
    rewritten = "\n\nTable rewritten from the runs."
    header = previous.replace(rewritten, "") or f"# Known-bug patterns of {folder.name}"
    table = bugs.write_outcome(folder, cells, versions, designs, header + rewritten)
    print(table.read_text())
    return OK


def cmd_chaos(settings: Settings, args: argparse.Namespace) -> int:
    """`pytest scenarios ARGS` (what `make chaos` runs), its exit code made the harness's own."""
    import pytest

    interrupted = _Interrupts()
    # the harness is imported already, so pytest cannot rewrite its asserts: nothing to warn about
    quiet = ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    code = pytest.main([*quiet, "scenarios", *args.pytest_args], plugins=[interrupted])
    return chaos_exit_code(int(code), interrupted.seen)


class _Interrupts:
    """A pytest plugin that notes a Ctrl-C or SIGTERM: pytest says 2 for that and for a collection error."""

    seen = False

    def pytest_keyboard_interrupt(self) -> None:
        self.seen = True


def chaos_exit_code(pytest_code: int, interrupted: bool) -> int:
    """pytest's exit code as the harness's: 1 is left to the plugin, which says 3 (pytest's internal error)
    itself when every failure was the harness's or the machine's and none a verdict."""
    if interrupted:
        return INTERRUPTED
    return {0: OK, 1: VIOLATION, 3: MACHINE_FAILED}.get(pytest_code, BAD_INPUT)  # 2, 4, 5: bad input


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return lines[-1] if lines else f"see {path}"


def cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    """Redraw the HTML report of a chaos or soak run folder (the runs write it already)."""
    from harness.longrun.soak import soak_report_from_folder
    from harness.report.html import report_from_folder

    folder = Path(args.folder)
    if (folder / "soak.json").exists():
        print(soak_report_from_folder(folder))
    elif (folder / "summary.json").exists():
        print(report_from_folder(folder))
    else:
        raise HarnessError(f"{folder} has no summary.json: give a folder made by `make chaos` or `make soak`")
    return 0


COMMANDS = {
    "images": cmd_images,
    "up": cmd_up,
    "status": cmd_status,
    "down": cmd_down,
    "sweep": cmd_sweep,
    "fault": cmd_fault,
    "soak": cmd_soak,
    "shrink": cmd_shrink,
    "report": cmd_report,
    "replay": cmd_replay,
    "matrix": cmd_matrix,
    "bugs": cmd_bugs,
    "chaos": cmd_chaos,
    "index": cmd_index,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name, text in (
        ("images", "build the broker and VIP images for ACTIVEMQ_VERSION"),
        ("up", "start a cluster that outlives the command (make up)"),
        ("status", "nodes, queues and bridges of the make-up cluster"),
        ("down", "remove the make-up cluster, keep its logs"),
        ("sweep", "remove everything any harness run left behind"),
    ):
        commands.add_parser(name, help=text)
    fault = commands.add_parser("fault", help="drive faults by hand against the make-up cluster")
    fault.add_argument("args", nargs="*", help=FAULT_HELP)
    soak = commands.add_parser("soak", help="random faults for hours, checked at every checkpoint")
    soak.add_argument("--duration", help="e.g. 8h, 30m (default: $DURATION or 8h)")
    soak.add_argument("--checkpoint", help="window between checks, e.g. 5m (default: $CHECKPOINT or 5m)")
    soak.add_argument("--seed", help="integer (default: $SEED or random)")
    replay = commands.add_parser("replay", help="redo the faults recorded in a history on a fresh cluster")
    replay.add_argument("history", help="a history.jsonl from any run folder")
    shrink = commands.add_parser(
        "shrink", help="the smallest fault schedule of a failing history that still fails"
    )
    shrink.add_argument("history", help="a failing run's history.jsonl (its verdicts.json beside it)")
    shrink.add_argument("--tries", help="runs per candidate, failing if any fails (default: $TRIES or 2)")
    shrink.add_argument("--budget", help="candidates at most (default: $BUDGET or 30)")
    matrix = commands.add_parser("matrix", help="one scenario on every broker version, side by side")
    matrix.add_argument("scenario", nargs="?", help="scenario name (default: $SCENARIO)")
    matrix.add_argument("--seed", help="integer (default: $SEED or random)")
    bugs = commands.add_parser("bugs", help="the known-bug patterns on every version and design, a table")
    bugs.add_argument("--seed", help="integer (default: $SEED or random); try n uses seed + n - 1")
    bugs.add_argument("--tries", help="runs per cell (default: $TRIES or 2)")
    bugs.add_argument("--versions", help="comma-separated (default: $VERSIONS or every one)")
    bugs.add_argument("--patterns", help="comma-separated pattern keys (default: $PATTERNS or every one)")
    bugs.add_argument(
        "--table", metavar="FOLDER", help="only rewrite the table of an earlier make bugs folder"
    )
    report = commands.add_parser("report", help="redraw a chaos or soak run folder's report.html")
    report.add_argument("folder")
    index = commands.add_parser("index", help="runs/index.html: every run, and a trend per scenario")
    index.add_argument("folder", nargs="?", help="the runs folder (default: $RUNS_DIR or runs/)")
    chaos = commands.add_parser(
        "chaos", help="the chaos scenarios (pytest scenarios ARGS), with the harness's exit codes"
    )
    chaos.add_argument(
        "pytest_args", nargs="*", help="passed to pytest as they are (-k, --seed, node ids...)"
    )
    words = sys.argv[1:] if argv is None else argv
    if words[:1] == ["chaos"] and not {"-h", "--help"} & set(words[1:2]):
        # pytest's options are pytest's: argparse would take `--seed 7` or `-k x` for its own and refuse them
        args = argparse.Namespace(command="chaos", pytest_args=words[1:])
    else:
        args = parser.parse_args(words)
    terminate_as_interrupt()
    try:
        settings = Settings.from_env()
        return COMMANDS[args.command](settings, args)
    except MachineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return MACHINE_FAILED
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted; the cluster being started was removed", file=sys.stderr)
        return INTERRUPTED
    except (
        Exception
    ):  # a bug in the harness: its traceback, and an exit code that says it was not the brokers
        traceback.print_exc()
        print(
            "error: the harness failed (the traceback above); not a verdict on the brokers", file=sys.stderr
        )
        return MACHINE_FAILED
