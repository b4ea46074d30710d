"""The chaos plugin as a pytest user meets it, on a stand-in suite whose `chaos` fixture starts no cluster:
options and their one-line errors, `-k`, `--lf`, `--seed last`, repeats in folders of their own, and the seed
and rerun command in the JUnit file. (The real fixture, on Docker, is what `make chaos` runs.)"""

from __future__ import annotations

import json
import shlex
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness import commands
from harness.client.shape import SHAPE_OPTIONS
from harness.settings import BY_NAME
from tests.support import apache_layout

SHAPE_VARIABLES = [o.name for o in SHAPE_OPTIONS]

pytest_plugins = ["pytester"]

SUITE = """
import pytest

@pytest.mark.chaos_declares({"seed": {"stuck": "why"}})
def test_alpha(chaos):
    with chaos():
        pass

def test_beta(chaos):
    with chaos():
        assert BETA_PASSES

def test_random(chaos, chaos_minutes):
    with chaos():
        pass
"""

# the real fixture starts a cluster; this one records what the plugin gave the test and makes its folder
CONFTEST = """
import contextlib, json
import pytest
from harness.chaos.plugin import SESSION, item_folder

@pytest.fixture
def chaos(request, design_name):
    session = request.config.stash[SESSION]
    folder = item_folder(session.folder(), request.node)
    folder.mkdir(parents=True)
    marker = request.node.get_closest_marker("chaos_declares")
    record = {"design": design_name, "seed": session.seed, "declared": marker.args[0] if marker else {},
              "placement": session.placement, "shape": session.shape}
    (folder / "record.json").write_text(json.dumps(record))
    yield contextlib.nullcontext
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in (
        "SEED",
        "SCENARIO",
        "DESIGN",
        "TOPOLOGY",
        "CHAOS_MINUTES",
        "FAULTS",
        "INTERVAL",
        "HOLD",
        "PLACEMENT",
        "KNOWN_BUGS",
        "SHARD",
        "VIP_PORT",
        "ACTIVEMQ_VERSION",
        "ACTIVEMQ_DIST",
        "ACTIVEMQ_DIST_CHECKSUM",
        *SHAPE_VARIABLES,
    ):
        monkeypatch.delenv(BY_NAME[name].env if name in BY_NAME else name, raising=False)
    monkeypatch.setenv(BY_NAME["RUNS_DIR"].env, str(pytester.path / "runs"))
    pytester.makeini("[pytest]\nchaos_scenarios = scenarios\n")
    scenarios = pytester.mkdir("scenarios")
    (scenarios / "conftest.py").write_text(CONFTEST)
    (scenarios / "test_suite.py").write_text(SUITE.replace("BETA_PASSES", "True"))
    return pytester


def run_folder(suite: pytest.Pytester) -> Path:
    return (suite.path / "runs" / "chaos" / "latest").resolve()


def test_each_design_and_seed_reach_the_test_and_the_junit_file(suite: pytest.Pytester) -> None:
    result = suite.runpytest("scenarios", "--chaos-seed", "42", "-k", "alpha", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["chaos seed: 42*", "designs: seed, hardened*"])
    folder = run_folder(suite)
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["alpha-hardened", "alpha-seed"]
    record = (folder / "alpha-seed" / "record.json").read_text()
    assert '"seed": 42' in record and '"declared": {"seed": {"stuck": "why"}}' in record
    cases = ET.parse(folder / "junit.xml").getroot().iter("testcase")
    properties = {c.get("name"): {p.get("name"): p.get("value") for p in c.iter("property")} for c in cases}
    assert properties["test_alpha[seed]"]["seed"] == "42"
    rerun = properties["test_alpha[seed]"]["replay"]
    assert rerun == "SEED=42 make chaos PYTEST_ARGS=\"'scenarios/test_suite.py::test_alpha[seed]'\""


def test_a_known_bug_is_skipped_on_its_design_with_the_reason_unless_known_bugs_are_asked_for(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = 'import pytest\n\n@pytest.mark.chaos_known_bug({"seed": "two live brokers"})\n'
    (suite.path / "scenarios" / "test_known.py").write_text(known + "def test_gamma(chaos):\n    pass\n")
    result = suite.runpytest("scenarios", "--chaos-seed", "4", "-k", "gamma", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*known bug on seed: two live brokers*"])
    suite.runpytest("scenarios", "--chaos-seed", "4", "-k", "gamma", "--chaos-known-bugs").assert_outcomes(
        passed=2
    )
    monkeypatch.setenv(BY_NAME["KNOWN_BUGS"].env, "1")
    suite.runpytest("scenarios", "--chaos-seed", "4", "-k", "gamma").assert_outcomes(passed=2)
    # the rerun of the known-bug item says KNOWN_BUGS=1, or pasting it would skip what it means to rerun
    cases = ET.parse(run_folder(suite) / "junit.xml").getroot().iter("testcase")
    reruns = {
        c.get("name"): next(p.get("value") for p in c.iter("property") if p.get("name") == "replay")
        for c in cases
    }
    assert reruns["test_gamma[seed]"].startswith("SEED=4 KNOWN_BUGS=1 make chaos PYTEST_ARGS=")
    assert reruns["test_gamma[hardened]"].startswith("SEED=4 make chaos PYTEST_ARGS=")


def test_an_upstream_bug_is_skipped_on_the_versions_before_its_fix_and_run_on_a_fixed_one(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    marked = 'import pytest\n\n@pytest.mark.chaos_upstream_bug("AMQ-9262", "5.17.5")\n'
    (suite.path / "scenarios" / "test_upstream.py").write_text(marked + "def test_delta(chaos):\n    pass\n")
    # the default, 5.17.2, predates the fix: both designs skip it, naming the bug and the fixed version
    result = suite.runpytest("scenarios", "--chaos-seed", "4", "-k", "delta", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*known bug on seed: AMQ-9262 on ActiveMQ 5.17.2 (fixed in 5.17.5)*"])
    suite.runpytest("scenarios", "--chaos-seed", "4", "-k", "delta", "--chaos-known-bugs").assert_outcomes(
        passed=2
    )
    monkeypatch.setenv("ACTIVEMQ_VERSION", "5.17.6")
    suite.runpytest("scenarios", "--chaos-seed", "4", "-k", "delta").assert_outcomes(passed=2)
    # a rerun repeats the version that was not the default
    cases = ET.parse(run_folder(suite) / "junit.xml").getroot().iter("testcase")
    replay = next(p.get("value") for c in cases for p in c.iter("property") if p.get("name") == "replay")
    assert replay.startswith("SEED=4 ACTIVEMQ_VERSION=5.17.6 make chaos PYTEST_ARGS=")


def test_a_failure_that_is_no_verdict_ends_the_session_as_the_harness_s_not_the_brokers(
    suite: pytest.Pytester,
) -> None:
    """Exit 1 means the brokers did something; a test failed by anything else (a cluster that never came up,
    Docker gone, a scenario's own bug) alone makes it 3, pytest's internal error."""
    broken = (
        "from harness.errors import ClusterNotReady\n\n"
        "def test_down(chaos):\n    raise ClusterNotReady('pair 01 never had a live node')\n"
    )
    (suite.path / "scenarios" / "test_down.py").write_text(broken)
    alone = suite.runpytest("scenarios", "--chaos-seed", "4", "-k", "down", "--chaos-design", "seed")
    assert alone.ret == pytest.ExitCode.INTERNAL_ERROR
    verdict = (
        "from harness.chaos.plugin import SESSION, assert_as_declared\n"
        "from harness.check.verdict import Verdict\n"
        "from harness.check.result import ScenarioResult\n\n"
        "def test_lossy(chaos, request):\n"
        "    result = ScenarioResult('lossy', 'seed', 4, '.', {}, [Verdict('lost', False)])\n"
        "    assert_as_declared(result, request.config.stash[SESSION], request.node)\n"
    )
    (suite.path / "scenarios" / "test_lossy.py").write_text(verdict)
    found = suite.runpytest("scenarios", "--chaos-seed", "4", "-k", "lossy", "--chaos-design", "seed")
    assert found.ret == pytest.ExitCode.TESTS_FAILED
    found.stdout.fnmatch_lines(["*lossy on seed (seed 4): undeclared violations*"])
    # a violation found counts for more than a harness failure beside it: the brokers did something
    both = suite.runpytest("scenarios", "--chaos-seed", "4", "-k", "lossy or down", "--chaos-design", "seed")
    assert both.ret == pytest.ExitCode.TESTS_FAILED


def test_placement_is_seeded_unless_the_vip_is_asked_for_and_the_rerun_says_so(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.runpytest(
        "scenarios", "--chaos-seed", "5", "--chaos-design", "seed", "-k", "alpha"
    ).assert_outcomes(passed=1)
    assert '"placement": "seeded"' in (run_folder(suite) / "alpha-seed" / "record.json").read_text()
    monkeypatch.setenv(BY_NAME["PLACEMENT"].env, "vip")
    result = suite.runpytest("scenarios", "--chaos-seed", "6", "--chaos-design", "seed", "-k", "alpha")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["chaos seed: 6   placement: vip   (replay: SEED=6 PLACEMENT=vip make chaos)"]
    )
    folder = run_folder(suite)
    assert '"placement": "vip"' in (folder / "alpha-seed" / "record.json").read_text()
    case = next(ET.parse(folder / "junit.xml").getroot().iter("testcase"))
    rerun = {p.get("name"): p.get("value") for p in case.iter("property")}["replay"]
    assert rerun.startswith("SEED=6 PLACEMENT=vip make chaos PYTEST_ARGS=")


def test_the_workload_shape_reaches_the_run_its_header_and_its_rerun(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BY_NAME["QUEUES"].env, "4")
    result = suite.runpytest(
        "scenarios",
        "--chaos-seed",
        "8",
        "--chaos-design",
        "seed",
        "-k",
        "alpha",
        "--chaos-rate",
        "max",
        "--chaos-size",
        "100-900",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*(replay: SEED=8 RATE=max SIZE=100-900 QUEUES=4 make chaos)",
            "workload: 2 producers x unthrottled, 2 consumers, 4 queues, 100-900 bytes, persistent*",
        ]
    )
    folder = run_folder(suite)
    record = json.loads((folder / "alpha-seed" / "record.json").read_text())
    assert record["shape"] == {"RATE": "max", "SIZE": "100-900", "QUEUES": "4"}
    case = next(ET.parse(folder / "junit.xml").getroot().iter("testcase"))
    rerun = {p.get("name"): p.get("value") for p in case.iter("property")}["replay"]
    assert rerun.startswith("SEED=8 RATE=max SIZE=100-900 QUEUES=4 make chaos PYTEST_ARGS=")


def test_an_old_distribution_runs_each_design_its_line_has_and_says_what_it_leaves_out(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's 5.5.1 tarball (a stand-in: nothing starts here): the seed's pure master/slave joins the
    designs, and the header says which of hardened's settings 5.5 does not have."""
    dist = apache_layout(suite.path, "5.5.1", start="bin/run.jar")
    monkeypatch.setenv("ACTIVEMQ_DIST", str(dist))
    result = suite.runpytest("scenarios", "--chaos-seed", "1", "-k", "alpha", "-p", "no:randomly")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            f"designs: seed, hardened, pure-master-slave   ActiveMQ 5.5.1 ({dist.name})*",
            "hardened on the 5.5 line leaves out: kahaDB lockKeepAlivePeriod (ActiveMQ 5.9+), *",
        ]
    )
    assert "seed on the 5.5 line" not in result.stdout.str()


def test_a_design_option_and_a_scenario_narrow_the_run(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "scenarios", "--chaos-design", "hardened", "--chaos-scenario", "random", "--chaos-seed", "1"
    )
    result.assert_outcomes(passed=1)
    assert [p.name for p in run_folder(suite).iterdir() if p.is_dir()] == ["random-hardened"]


def test_last_failed_and_last_seed_rerun_what_failed_with_its_seed(suite: pytest.Pytester) -> None:
    (suite.path / "scenarios" / "test_suite.py").write_text(SUITE.replace("BETA_PASSES", "False"))
    first = suite.runpytest("scenarios", "--chaos-seed", "77")
    first.assert_outcomes(passed=4, failed=2)
    again = suite.runpytest("scenarios", "--lf", "--chaos-seed", "last")
    again.assert_outcomes(failed=2)
    again.stdout.fnmatch_lines(["chaos seed: 77*"])


def test_repeats_each_get_a_folder_and_a_rerun_command_with_their_count(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "scenarios", "--chaos-seed", "3", "--chaos-design", "seed", "-k", "alpha", "--count", "2"
    )
    result.assert_outcomes(passed=2)
    folder = run_folder(suite)
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["alpha-seed-1-2", "alpha-seed-2-2"]
    replays = [
        p.get("value")
        for p in ET.parse(folder / "junit.xml").getroot().iter("property")
        if p.get("name") == "replay"
    ]
    assert (
        "SEED=3 make chaos PYTEST_ARGS=\"'scenarios/test_suite.py::test_alpha[seed-2-2]' --count 2\""
        in replays
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--chaos-seed", "x1"], "SEED='x1' is not a non-negative integer"),
        (["--chaos-design", "mesh"], "unknown design 'mesh'"),
        (["--chaos-minutes", "0"], "CHAOS_MINUTES='0' must be a positive number"),
        (["--chaos-scenario", "melt"], "unknown SCENARIO 'melt'"),
        (["--chaos-placement", "random"], "unknown PLACEMENT 'random': choose one of seeded, vip"),
        (["--chaos-seed", "last", "-p", "no:cacheprovider"], "SEED=last: no earlier chaos session"),
        (["--chaos-producers", "0"], "PRODUCERS='0' must be a whole number of at least 1"),
        (["--chaos-consumers", "two"], "CONSUMERS='two' must be a whole number of at least 1"),
        (["--chaos-rate", "-5"], "RATE='-5' must be sends per second per producer (> 0) or `max`"),
        (["--chaos-size", "9-3"], "SIZE='9-3': the low end 9 is above the high end 3"),
        (["--chaos-queues", "0"], "QUEUES='0' must be a whole number of at least 1"),
        (["--chaos-persistent", "maybe"], "PERSISTENT='maybe' must be true or false"),
        (["--chaos-faults", "kill,teleport"], "FAULTS=kill,teleport: unknown fault 'teleport'"),
        (["--chaos-interval", "10s", "--chaos-hold", "8s"], "HOLD=8s with INTERVAL=10s"),
    ],
)
def test_bad_options_are_one_line_errors_before_any_test(
    suite: pytest.Pytester, args: list[str], error: str
) -> None:
    result = suite.runpytest("scenarios", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{error}*"])
    assert "Traceback" not in result.stderr.str()


def test_shards_split_the_items_deterministically_and_each_runs_its_share(suite: pytest.Pytester) -> None:
    """Three runners of a CI matrix, SHARD=1/3 to 3/3 with one SEED: each runs two of the six items, none
    twice, none left out, each in a run folder named for its share (`amq-chaos merge` joins them)."""
    shares = []
    for k in (1, 2, 3):
        result = suite.runpytest("scenarios", "--chaos-seed", "5", "--chaos-shard", f"{k}/3", "-v")
        result.assert_outcomes(passed=2, deselected=4)
        result.stdout.fnmatch_lines([f"shard {k}/3: this runner's share*"])
        assert run_folder(suite).name.endswith(f"-seed5-shard{k}of3")
        shares.append(passed_items(result))
    assert sum(map(len, shares)) == len(set().union(*shares)) == 6
    again = suite.runpytest("scenarios", "--chaos-seed", "5", "--chaos-shard", "2/3", "-v")
    assert passed_items(again) == shares[1]  # the same share, run again


def passed_items(result: pytest.RunResult) -> set[str]:
    return {line.split(" PASSED")[0] for line in result.outlines if " PASSED" in line}


# the stand-in fixture, with a result per item as the real one has (harness.chaos.run.ChaosRun.finish)
RESULTS_CONFTEST = CONFTEST.replace(
    "    yield contextlib.nullcontext",
    """    yield contextlib.nullcontext
    from harness.check.result import ScenarioResult
    from harness.check.verdict import Verdict
    counts = {"acknowledged": 1, "delivered": 1, "indeterminate": 0, "failed": 0, "invoked": 1}
    name = request.node.originalname.removeprefix("test_")
    result = ScenarioResult(name, design_name, session.seed, str(folder), counts, [Verdict("lost", True, {}, {})])
    session.results.append(result)
    (folder / "vip-port").write_text(str(session.settings.vip_port))""",
)


def test_workers_side_by_side_make_one_run_with_one_seed_summary_and_report(suite: pytest.Pytester) -> None:
    """`-n 2` (pytest-xdist): the controller draws the seed and makes the run folder; both workers run their
    items in it under that seed, and hand back their results: one summary, one report, one JUnit file."""
    (suite.path / "scenarios" / "conftest.py").write_text(RESULTS_CONFTEST)
    # an absolute path: a chaos session works from the project's root (pytest_sessionstart), and a worker
    # collects its arguments after that
    result = suite.runpytest_subprocess(str(suite.path / "scenarios"), "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)
    folders = list((suite.path / "runs" / "chaos").glob("*-seed*"))
    assert len(folders) == 1, folders
    folder = folders[0]
    items = sorted(p.name for p in folder.iterdir() if p.is_dir())
    assert items == sorted(f"{n}-{d}" for n in ("alpha", "beta", "random") for d in ("seed", "hardened"))
    seeds = {json.loads((folder / item / "record.json").read_text())["seed"] for item in items}
    assert seeds == {int(folder.name.rsplit("-seed", 1)[1])}  # one seed, the controller's
    ports = {int((folder / item / "vip-port").read_text()) for item in items}
    assert ports == {61613, 61614}  # each worker's cluster has a VIP port of its own
    summary = json.loads((folder / "summary.json").read_text())
    assert sorted((r["scenario"], r["design"]) for r in summary) == sorted(
        (n, d) for n in ("alpha", "beta", "random") for d in ("seed", "hardened")
    )
    assert (folder / "report.html").exists()
    cases = list(ET.parse(folder / "junit.xml").getroot().iter("testcase"))
    properties = [{p.get("name"): p.get("value") for p in case.iter("property")} for case in cases]
    assert len(cases) == 6 and {p["seed"] for p in properties} == {str(seed) for seed in seeds}
    result.stdout.fnmatch_lines(["*chaos summary (seed *", "report: *report.html"])


def test_a_sharded_chaos_session_needs_one_seed_and_a_share_that_exists(suite: pytest.Pytester) -> None:
    for args, error in (
        (["--chaos-shard", "1/2"], "SHARD=1/2 needs a SEED, the same on every runner*"),
        (["--chaos-shard", "3/2", "--chaos-seed", "1"], "SHARD must be K/N with 1 <= K <= N*"),
        (["--chaos-shard", "half", "--chaos-seed", "1"], "SHARD must be K/N*'half'*"),
    ):
        result = suite.runpytest("scenarios", *args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"*{error}"])


def test_any_session_is_sharded_make_test_s_too(suite: pytest.Pytester) -> None:
    """make test's items go to shares one by one, but the tests of a file that share a module's fixture go
    together, so only one runner pays for it."""
    suite.makepyfile(
        test_plain="def test_a():\n    pass\ndef test_b():\n    pass\ndef test_c():\n    pass\n",
        test_hosts="""
import pytest

@pytest.fixture(scope="module")
def hosts():
    return "stand-in hosts"

def test_d(hosts):
    pass

def test_e(hosts):
    pass

def test_f():
    pass
""",
    )
    args = ["test_plain.py", "test_hosts.py", "-v", "-p", "no:randomly"]
    first = suite.runpytest(*args, "--chaos-shard", "1/2")
    second = suite.runpytest(*args, "--chaos-shard", "2/2")
    shares = [passed_items(first), passed_items(second)]
    assert sorted(i for share in shares for i in share) == sorted(
        [*(f"test_plain.py::test_{t}" for t in "abc"), *(f"test_hosts.py::test_{t}" for t in "def")]
    )
    assert any({"test_hosts.py::test_d", "test_hosts.py::test_e"} <= share for share in shares)
    assert [len(share) for share in shares] == [3, 3]  # the pair weighs two, the rest one each


def test_the_longest_file_runs_first_with_its_tests_in_their_written_order(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_short="def test_x():\n    pass\n",
        test_long="def test_a():\n    pass\ndef test_b():\n    pass\ndef test_c():\n    pass\n",
    )
    durations = {"test_short.py::test_x": 20, "test_long.py::test_c": 30, "test_long.py::test_a": 1}
    (suite.path / "durations.json").write_text(json.dumps(durations))
    result = suite.runpytest("test_short.py", "test_long.py", "-v")
    ran = [line.split(" PASSED")[0] for line in result.outlines if " PASSED" in line]
    assert ran == [*(f"test_long.py::test_{t}" for t in "abc"), "test_short.py::test_x"]


def test_shards_balance_the_recorded_durations_and_say_what_they_ran(suite: pytest.Pytester) -> None:
    """With durations.json the long random-chaos items go to different shares, each shard runs its longest
    item first, and shard.json records the split for the merge to check."""
    times = {"test_random[seed]": 100, "test_random[hardened]": 90, "test_alpha[seed]": 30}
    durations = {f"scenarios/test_suite.py::{name}": seconds for name, seconds in times.items()}
    (suite.path / "durations.json").write_text(json.dumps(durations))
    records = []
    for k in (1, 2):
        result = suite.runpytest("scenarios", "--chaos-seed", "5", "--chaos-shard", f"{k}/2", "-v")
        result.assert_outcomes(passed=3, deselected=3)
        records.append(json.loads((run_folder(suite) / "shard.json").read_text()))
        ran = [line.split(" PASSED")[0].split("::")[-1] for line in result.outlines if " PASSED" in line]
        assert ran[0] == ("test_random[seed]" if k == 1 else "test_random[hardened]")
        result.stdout.fnmatch_lines(
            [f"shard {k}/2: 3 of 6 items, * s of the suite's 440 s by durations.json"]
        )
    assert records[0]["items"] == records[1]["items"] and len(records[0]["items"]) == 6
    assert set(records[0]["share"]).isdisjoint(records[1]["share"])
    # the three unrecorded items weigh the mean, 73.3 s each: 100 and 90 open the two shares, the three
    # unrecorded go 2-1 by name onto the lighter, and alpha[seed]'s 30 s closes the first
    assert [r["seconds"] for r in records] == [203.3, 236.7]
    assert records[0]["suite_seconds"] == records[1]["suite_seconds"] == pytest.approx(440.0, abs=0.1)


def test_a_damaged_durations_file_stops_the_session_in_one_line(suite: pytest.Pytester) -> None:
    (suite.path / "durations.json").write_text('{"scenarios/test_suite.py::test_alpha[seed]": "long"}')
    result = suite.runpytest("scenarios", "--chaos-seed", "5", "--chaos-shard", "1/2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*durations.json must map node ids to seconds*make durations*"])


def test_a_session_without_chaos_scenarios_is_left_alone(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = suite.runpytest("test_plain.py", "--chaos-seed", "x1")  # the option exists, nothing reads it
    result.assert_outcomes(passed=1)
    assert not (suite.path / "runs").exists()


@pytest.mark.parametrize(
    "nodeid", ["scenarios/test_faults.py::test_kill_live_master[seed]", "s/t.py::test_x[it's $HOME]"]
)
def test_the_rerun_command_hands_pytest_exactly_the_node_id(nodeid: str) -> None:
    """What the shell that runs make puts in PYTEST_ARGS, then what the recipe's shell makes of it."""
    assignment = commands.chaos(7, nodeid=nodeid, pytest_args=("--count", "2")).split(" make chaos ")[1]
    value = subprocess.run(
        ["bash", "-c", f'{assignment} && printf %s "$PYTEST_ARGS"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shlex.split(value) == [nodeid, "--count", "2"]


# the real `chaos` fixture, on a backend that cannot shape traffic and is never brought up
REFUSING_CONFTEST = """
import pytest
from harness.chaos import plugin

class NoTrafficShaping:
    backend = "stand-in"
    capabilities = frozenset({"process", "filter"})

    def __enter__(self):
        raise AssertionError("brought up")

    def __exit__(self, *exc):
        pass

@pytest.fixture(autouse=True)
def stand_in_backend(monkeypatch):
    monkeypatch.setattr(plugin, "open_cluster", lambda settings: NoTrafficShaping())
"""

REFUSED_SUITE = """
import pytest

@pytest.mark.chaos_faults("kill", "slow")
def test_slow(chaos):
    with chaos():
        pass
"""


def test_a_scenario_needing_what_the_backend_lacks_is_refused_before_its_cluster_comes_up(
    suite: pytest.Pytester,
) -> None:
    (suite.path / "scenarios" / "conftest.py").write_text(REFUSING_CONFTEST)
    (suite.path / "scenarios" / "test_suite.py").write_text(REFUSED_SUITE)
    result = suite.runpytest("scenarios", "--chaos-seed", "1", "-rs", "-p", "no:randomly")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        ["*refused: the stand-in backend cannot realise slow (needs tc); it has filter, process*"]
    )
    assert "brought up" not in result.stdout.str()


RANDOM_SUITE = """
import pytest
from harness.chaos.schedule import RANDOM_KINDS

@pytest.mark.chaos_faults(*RANDOM_KINDS)
def test_random(chaos, fault_plan):
    with chaos():
        pass
"""


@pytest.mark.parametrize(
    ("faults", "refused"),
    [
        ("kill,starve", "starve (needs cpu)"),
        ("kill,slow", "slow (needs tc)"),  # a kind the plain menu never draws
        ("", None),  # the plain menu draws processes and filters only: what the stand-in can do
        ("kill,freeze,isolate", None),
    ],
)
def test_a_random_schedule_is_checked_against_the_backend_for_the_kinds_its_plan_draws(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, faults: str, refused: str | None
) -> None:
    if faults:
        monkeypatch.setenv(BY_NAME["FAULTS"].env, faults)
    (suite.path / "scenarios" / "conftest.py").write_text(REFUSING_CONFTEST)
    (suite.path / "scenarios" / "test_suite.py").write_text(RANDOM_SUITE)
    result = suite.runpytest("scenarios", "--chaos-seed", "1", "--chaos-design", "seed", "-rs")
    if refused:
        result.assert_outcomes(skipped=1)
        result.stdout.fnmatch_lines([f"*refused: the stand-in backend cannot realise {refused}*"])
        assert "brought up" not in result.stdout.str()
    else:
        result.assert_outcomes(errors=1)  # not skipped: the stand-in's bring-up was reached
        assert "AssertionError: brought up" in result.stdout.str()
        words = f" FAULTS={faults}" if faults else ""
        result.stdout.fnmatch_lines([f"*(replay: SEED=1{words} make chaos)"])


def test_every_scenario_declares_the_fault_kinds_it_injects() -> None:
    """The marker is what a backend is checked against before bring-up; a kind injected beyond it fails the
    run (Nemesis.refuse_unless_able), so a declaration cannot go stale unseen."""
    import ast

    from harness.chaos.faults import FAULT_KINDS
    from harness.chaos.schedule import COMBINED_KINDS, RANDOM_KINDS
    from harness.settings import ROOT

    for path in sorted((ROOT / "scenarios").glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                markers = {ast.unparse(d).split("(")[0]: d for d in node.decorator_list}
                marker = markers.get("pytest.mark.chaos_faults")
                assert isinstance(marker, ast.Call), f"{path.name}::{node.name} has no chaos_faults marker"
                named = {a.value for a in marker.args if isinstance(a, ast.Constant)}
                assert named <= set(FAULT_KINDS), f"{path.name}::{node.name}: {named - set(FAULT_KINDS)}"
                kinds: set[str] = set()
                for call in (c for c in ast.walk(node) if isinstance(c, ast.Call)):
                    name = ast.unparse(call.func)
                    position = 1 if name == "Step" else 0 if name.endswith(".inject") else None
                    if position is not None and isinstance(call.args[position], ast.Constant):
                        kinds.add(call.args[position].value)
                starred = {ast.unparse(a.value) for a in marker.args if isinstance(a, ast.Starred)}
                declared = named | (set(RANDOM_KINDS) if "RANDOM_KINDS" in starred else set())
                declared |= set(COMBINED_KINDS) if "COMBINED_KINDS" in starred else set()
                assert kinds <= declared, f"{path.name}::{node.name} injects {kinds - declared} undeclared"


def test_a_replay_command_names_a_history_under_the_checkout_as_typed_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a soak on a CI runner writes under /home/runner/work/...: pasted after downloading the artifact into a
    # checkout, only the path from the checkout's root still names the history
    history = tmp_path / "runs" / "soak" / "20261207-soak" / "soak-w000" / "history.jsonl"
    monkeypatch.chdir(tmp_path)
    assert commands.replay(history) == "make replay HISTORY=runs/soak/20261207-soak/soak-w000/history.jsonl"
    elsewhere = tmp_path.parent / "history.jsonl"
    assert commands.replay(elsewhere) == f"make replay HISTORY={elsewhere}"
