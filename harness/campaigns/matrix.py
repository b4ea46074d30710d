"""`make matrix`: one scenario on every broker version the images support, verdicts side by side."""

from __future__ import annotations

import time

from harness import commands
from harness.campaigns.sessions import last_line, run_version
from harness.design.versions import designs_for
from harness.errors import MACHINE_FAILED, OK, VIOLATION, HarnessError, chaos_exit_code
from harness.report import matrix
from harness.settings import Settings, stamped_folder


def run_matrix(settings: Settings, scenario: str, seed: int, design: str) -> int:
    """Every version in turn (design "" runs each the version can); exit 1 if any version failed it."""
    designs = [settings.design.name] if design else designs_for(settings.line)
    folder = stamped_folder(settings.runs_dir, "matrix", f"{scenario}-seed{seed}")
    print(f"matrix: {scenario} seed {seed} on ActiveMQ {', '.join(matrix.versions())} -> {folder}")
    outcomes = []
    for version in matrix.versions():
        started = time.monotonic()
        outcome = run_version(version, scenario, seed, design, folder / version)
        print(f"  {version}: pytest exit {outcome.exit_code} in {time.monotonic() - started:.0f}s")
        outcomes.append(outcome)
        # a usage error (pytest exit 2 or 4) would be the same for every version: stop at the first
        if outcome.exit_code in (2, 4) and not outcome.results:
            raise HarnessError(f"{version}: {last_line(folder / version / 'pytest.log')}")
    lines = matrix.side_by_side(scenario, designs, outcomes)
    (folder / "matrix.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"replay one: {commands.chaos(seed, scenario=scenario, version='<version>')}")
    return matrix_exit_code([o.exit_code for o in outcomes])


def matrix_exit_code(pytest_codes: list[int]) -> int:
    """Each version's pytest exit as the harness's: a violation on any version is the matrix's verdict, else
    any other failure is the harness's or the machine's."""
    codes = {chaos_exit_code(code, interrupted=False) for code in pytest_codes}
    return VIOLATION if VIOLATION in codes else MACHINE_FAILED if codes - {OK} else OK
