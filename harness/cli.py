"""`amq-chaos <command>`: the chaos suite, the cluster by hand (what `make up` calls), faults driven by hand
against it, soaks, replays and shrinks of recorded histories, reports, the version matrix and the known-bug
table. Settings come from the environment (AMQ_CHAOS_*, ACTIVEMQ_*, AMQ_*) and .env: docs/reference/settings.md."""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from harness import by_hand
from harness.cluster.docker_env import docker_client
from harness.cluster.images import ensure_host_image, ensure_images
from harness.debian_dist import prepare as prepare_debian_dist
from harness.errors import (
    BAD_INPUT,
    EXIT_CODES,
    INTERRUPTED,
    MACHINE_FAILED,
    OK,
    HarnessError,
    MachineError,
    chaos_exit_code,
)
from harness.settings import Settings, given, last_seed, parse_duration, parse_seed, positive_number
from harness.signals import terminate_as_interrupt


def cmd_images(settings: Settings, args: argparse.Namespace) -> int:
    client = docker_client()
    images = ensure_images(client, settings)
    print(f"broker image: {images.broker}\nvip image:    {images.vip}")
    if images.tools != images.vip:
        print(f"tools image:  {images.tools}")
    # the SSH backend's stand-in server host, from Debian's broker (a user's distribution or image has none)
    if settings.dist is None and settings.broker_image is None:
        print(f"host image:   {ensure_host_image(client, settings.version)}")
    return 0


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    return by_hand.up(settings)


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    return by_hand.status(settings)


def cmd_down(settings: Settings, args: argparse.Namespace) -> int:
    return by_hand.down(settings)


def cmd_sweep(settings: Settings, args: argparse.Namespace) -> int:
    return by_hand.sweep(settings)


def cmd_fault(settings: Settings, args: argparse.Namespace) -> int:
    """Drive the nemesis by hand against the cluster `make up` started; faults and heals go to its history."""
    return by_hand.fault(settings, list(args.args))


def _seed(args: argparse.Namespace, own: dict[str, str], last_of: Path | None = None) -> int:
    """--seed, else SEED, else a fresh one (printed by the command, so the run can be replayed); `last` is the
    seed of the newest run folder under `last_of`, where the command has such folders."""
    text = args.seed if args.seed is not None else own.get("SEED", "")
    if text.strip() == "last" and last_of is not None:
        return last_seed(last_of)
    return parse_seed(text)


def cmd_soak(settings: Settings, args: argparse.Namespace) -> int:
    """Random faults from the seed for DURATION, checked at every CHECKPOINT; exit 1 if any window failed."""
    from harness.chaos.schedule import fault_plan_from
    from harness.client.placement import SEEDED, parse_mode
    from harness.client.shape import given_settings, parse_shape
    from harness.longrun.soak import SoakPlan, soak_command

    own = given()
    try:
        duration = parse_duration(args.duration or own.get("DURATION", "") or "8h")
        checkpoint = parse_duration(args.checkpoint or own.get("CHECKPOINT", "") or "5m", "CHECKPOINT")
    except ValueError as exc:
        raise HarnessError(str(exc)) from None
    placement = parse_mode(own.get("PLACEMENT") or SEEDED)
    shape = given_settings(own)
    parse_shape(shape)  # a bad value stops here, before any cluster
    faults = fault_plan_from(own)
    seed = _seed(args, own, last_of=settings.runs_dir / "soak")
    return soak_command(
        settings, SoakPlan(seed, duration, checkpoint, faults=faults, placement=placement, shape=shape)
    )


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    """Redo a recorded history's faults on a fresh cluster of the same version and design."""
    from harness.chaos.rerun import replay_command

    return replay_command(settings, Path(args.history))


def cmd_shrink(settings: Settings, args: argparse.Namespace) -> int:
    """Search a failing history's faults for the smallest schedule that fails the same way."""
    from harness.chaos.rerun import shrink_command

    own = given()
    tries = int(positive_number("TRIES", args.tries or own.get("TRIES", "") or "2"))
    budget = int(positive_number("BUDGET", args.budget or own.get("BUDGET", "") or "30"))
    return shrink_command(settings, Path(args.history), tries, budget)


def cmd_matrix(settings: Settings, args: argparse.Namespace) -> int:
    """One scenario on every supported broker version; exit 1 if any version failed it."""
    from harness.campaigns.matrix import run_matrix

    own = given()
    scenario = args.scenario or own.get("SCENARIO", "")
    if not scenario:
        raise HarnessError("name the scenario: make matrix SCENARIO=kill-live-master")
    return run_matrix(settings, scenario, _seed(args, own), own.get("DESIGN", ""))


def cmd_bugs(settings: Settings, args: argparse.Namespace) -> int:
    """The known-bug patterns on every broker version and both designs, a table (harness.campaigns.bugs)."""
    from harness.campaigns import bugs
    from harness.design.versions import designs_for
    from harness.report.matrix import versions as all_versions
    from harness.settings import BROKER_SUITES

    if args.table:
        return bugs.table_again(Path(args.table))
    own = given()
    seed = _seed(args, own)
    tries = int(positive_number("TRIES", args.tries or own.get("TRIES") or "2", "of tries"))
    versions = (args.versions or own.get("VERSIONS") or ",".join(all_versions())).split(",")
    unknown = [v for v in versions if v not in BROKER_SUITES]
    if unknown:
        raise HarnessError(
            f"unknown version {', '.join(unknown)}: choose from {', '.join(sorted(BROKER_SUITES))}"
        )
    design = own.get("DESIGN", "")
    designs = [design] if design else designs_for(settings.line)
    patterns = bugs.chosen_patterns((args.patterns or own.get("PATTERNS") or "").split(","))
    # JRE= (checked by the settings): every version as Debian's files on that one JRE
    return bugs.run_bugs(settings, seed, tries, versions, design, designs, patterns, own.get("JRE", ""))


def cmd_index(settings: Settings, args: argparse.Namespace) -> int:
    """runs/index.html: every chaos run and soak, and a trend per scenario and design."""
    from harness.report.index import write_index

    folder = Path(args.folder) if args.folder else settings.runs_dir
    if not folder.is_dir():
        raise HarnessError(f"{folder} is not a folder of runs")
    print(f"index of runs: {write_index(folder)}")
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


def cmd_merge(settings: Settings, args: argparse.Namespace) -> int:
    """Join the run folders of one chaos run's shards into one run folder, its report and the index."""
    from harness.report.merge import merge_runs

    _, lines = merge_runs([Path(folder) for folder in args.folders], settings.runs_dir)
    for line in lines:
        print(line)
    return 0


def cmd_durations(settings: Settings, args: argparse.Namespace) -> int:
    """Refresh durations.json, which SHARD=K/N splits the items by, from JUnit files of this machine's runs."""
    from harness.chaos.durations import DURATIONS_FILE, refresh
    from harness.settings import ROOT

    junits = [Path(f) for f in args.junit] or [
        f
        for f in (
            settings.runs_dir / "tests" / "junit.xml",
            settings.runs_dir / "chaos" / "latest" / "junit.xml",
        )
        if f.is_file()
    ]
    missing = [str(f) for f in junits if not f.is_file()]
    if not junits or missing:
        raise HarnessError(
            f"no JUnit file {'at ' + ', '.join(missing) if missing else 'under ' + str(settings.runs_dir)}: "
            "run make test or make chaos first, or give JUNIT=<file> ..."
        )
    given_ids, held = refresh(ROOT / DURATIONS_FILE, junits, ROOT)
    print(
        f"{DURATIONS_FILE}: {given_ids} items' times from {', '.join(map(str, junits))}; {held} held in all"
    )
    return OK


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
    "merge": cmd_merge,
    "durations": cmd_durations,
    "replay": cmd_replay,
    "matrix": cmd_matrix,
    "bugs": cmd_bugs,
    "chaos": cmd_chaos,
    "index": cmd_index,
}


EXIT_CODES_HELP = "exit codes (every command, make chaos included):\n" + "\n".join(
    f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES
)


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("amq-chaos")
    except PackageNotFoundError:  # a checkout run as `python -m harness` without installing it
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """Every command and option (docs/reference/cli.md is generated from it)."""
    parser = argparse.ArgumentParser(
        prog="amq-chaos",
        description=__doc__,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name, text in (
        ("images", "build the broker, VIP and stand-in SSH host images for ACTIVEMQ_VERSION"),
        ("up", "start a cluster that outlives the command (make up)"),
        ("status", "nodes, queues and bridges of the make-up cluster"),
        ("down", "remove the make-up cluster, keep its logs"),
        ("sweep", "remove everything any harness run left behind"),
    ):
        commands.add_parser(name, help=text)
    fault = commands.add_parser("fault", help="drive faults by hand against the make-up cluster")
    fault.add_argument("args", nargs="*", help=by_hand.FAULT_HELP)
    soak = commands.add_parser("soak", help="random faults for hours, checked at every checkpoint")
    soak.add_argument("--duration", help="e.g. 8h, 30m (default: $AMQ_CHAOS_DURATION or 8h)")
    soak.add_argument(
        "--checkpoint", help="window between checks, e.g. 5m (default: $AMQ_CHAOS_CHECKPOINT or 5m)"
    )
    soak.add_argument(
        "--seed", help="integer, or last: the newest soak's (default: $AMQ_CHAOS_SEED or random)"
    )
    replay = commands.add_parser("replay", help="redo the faults recorded in a history on a fresh cluster")
    replay.add_argument("history", help="a history.jsonl from any run folder")
    shrink = commands.add_parser(
        "shrink", help="the smallest fault schedule of a failing history that still fails"
    )
    shrink.add_argument("history", help="a failing run's history.jsonl (its verdicts.json beside it)")
    shrink.add_argument(
        "--tries", help="runs per candidate, failing if any fails (default: $AMQ_CHAOS_TRIES or 2)"
    )
    shrink.add_argument("--budget", help="candidates at most (default: $AMQ_CHAOS_BUDGET or 30)")
    matrix = commands.add_parser("matrix", help="one scenario on every broker version, side by side")
    matrix.add_argument("scenario", nargs="?", help="scenario name (default: $AMQ_CHAOS_SCENARIO)")
    matrix.add_argument("--seed", help="integer (default: $AMQ_CHAOS_SEED or random)")
    bugs = commands.add_parser("bugs", help="the known-bug patterns on every version and design, a table")
    bugs.add_argument("--seed", help="integer (default: $AMQ_CHAOS_SEED or random); try n uses seed + n - 1")
    bugs.add_argument("--tries", help="runs per cell (default: $AMQ_CHAOS_TRIES or 2)")
    bugs.add_argument("--versions", help="comma-separated (default: $AMQ_CHAOS_VERSIONS or every one)")
    bugs.add_argument(
        "--patterns", help="comma-separated pattern keys (default: $AMQ_CHAOS_PATTERNS or every one)"
    )
    bugs.add_argument(
        "--table", metavar="FOLDER", help="only rewrite the table of an earlier make bugs folder"
    )
    report = commands.add_parser("report", help="redraw a chaos or soak run folder's report.html")
    report.add_argument("folder")
    merge = commands.add_parser(
        "merge", help="join the run folders of a chaos run's shards (SHARD=K/N) into one, with its report"
    )
    merge.add_argument("folders", nargs="+", metavar="folder")
    durations = commands.add_parser(
        "durations", help="refresh durations.json, which SHARD=K/N splits the items by, from JUnit files"
    )
    durations.add_argument(
        "junit", nargs="*", help="JUnit files (default: runs/tests/junit.xml and runs/chaos/latest/junit.xml)"
    )
    index = commands.add_parser("index", help="runs/index.html: every run, and a trend per scenario")
    index.add_argument("folder", nargs="?", help="the runs folder (default: $AMQ_CHAOS_RUNS_DIR or runs/)")
    chaos = commands.add_parser(
        "chaos", help="the chaos scenarios (pytest scenarios ARGS), with the harness's exit codes"
    )
    chaos.add_argument(
        "pytest_args", nargs="*", help="passed to pytest as they are (-k, --chaos-seed, node ids...)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    words = sys.argv[1:] if argv is None else argv
    if words[:1] == ["chaos"] and not {"-h", "--help"} & set(words[1:2]):
        # pytest's options are pytest's: argparse would take `--chaos-seed 7` or `-k x` for its own and refuse them
        args = argparse.Namespace(command="chaos", pytest_args=words[1:])
    else:
        args = parser.parse_args(words)
    terminate_as_interrupt()
    try:
        prepare_debian_dist()  # ACTIVEMQ_DIST=debian:X: the tarball the settings will find
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
