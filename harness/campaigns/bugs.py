"""`make bugs`: the known-bug patterns on every broker version and design, TRIES tries each (seeds SEED,
SEED+1, ...), as a table (bugs.md, each cell linking its runs) and bugs.json."""

from __future__ import annotations

import time
from pathlib import Path

from harness.campaigns.sessions import run_version, scenario_node_ids
from harness.errors import MACHINE_FAILED, OK, HarnessError
from harness.report import bugs
from harness.report.bugs import Pattern
from harness.settings import BY_NAME, Settings, stamped_folder


def chosen_patterns(wanted: list[str]) -> list[Pattern]:
    """The patterns named (all of them when none is), or a one-line error naming the unknown one."""
    names = [w for w in wanted if w]
    patterns = [p for p in bugs.PATTERNS if p.key in names] if names else list(bugs.PATTERNS)
    if len(patterns) < len(names):
        keys = ", ".join(p.key for p in bugs.PATTERNS)
        raise HarnessError(f"unknown pattern in PATTERNS={','.join(wanted)}: patterns are {keys}")
    return patterns


def run_bugs(
    settings: Settings,
    seed: int,
    tries: int,
    versions: list[str],
    design: str,
    designs: list[str],
    patterns: list[Pattern],
    jre: str = "",
) -> int:
    """Exit 0 when every run gave a result, whatever the brokers showed; 3 when some run gave none."""
    targets = scenario_node_ids(list(dict.fromkeys(p.scenario for p in patterns)))
    folder = stamped_folder(settings.runs_dir, "bugs", f"seed{seed}")
    started, started_at = time.monotonic(), time.strftime("%Y-%m-%d %H:%M %Z")
    print(
        f"bugs: {len(patterns)} patterns, {len(targets)} scenarios on ActiveMQ {', '.join(versions)} x "
        f"{', '.join(designs)}, {tries} tries (seeds {seed}..{seed + tries - 1})"
        + (f", every version on {jre}'s JRE" if jre else "")
        + f" -> {folder}"
    )
    results, failed_runs = [], 0
    # try by try over the versions, so that a run cut short still has every version's first tries
    for n in range(tries):
        for version in versions:
            began = time.monotonic()
            outcome = run_version(
                version,
                "",
                seed + n,
                design,
                folder / version / f"try-{n + 1}",
                targets=targets,
                extra_env={BY_NAME["KNOWN_BUGS"].env: "1"},
                jre=jre,
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
                f"{tries} tries per cell, {minutes:.0f} min so far on this machine (2 cores)"
                + (
                    f", every version as Debian's files on {jre}'s JRE. Replay one run: `SEED=<seed> "
                    f"ACTIVEMQ_DIST=debian:<version> JRE={jre} KNOWN_BUGS=1 make chaos SCENARIO=<scenario>`."
                    if jre
                    else ". Replay one run: "
                    "`SEED=<seed> ACTIVEMQ_VERSION=<version> KNOWN_BUGS=1 make chaos SCENARIO=<scenario>`."
                )
            )
            table = bugs.write_outcome(folder, cells, versions, designs, header)
    print(table.read_text())
    print(f"bugs: {(time.monotonic() - started) / 60:.1f} min; table {table}")
    return MACHINE_FAILED if failed_runs else OK


def table_again(folder: Path) -> int:
    """Rewrite a `make bugs` folder's table from its runs, with the signatures as they are now."""
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
