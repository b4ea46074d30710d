"""Errors a user can act on (the CLI and the pytest plugin print them as one line), and the exit codes every
command shares, so that CI can tell what the brokers did from what the harness or the machine did."""

# exit codes of `amq-chaos ...`, `make chaos`, `make soak`, `make replay`, `make shrink`, `make bugs`
OK = 0  # every verdict ok (make bugs: every run gave a result, whatever the brokers showed)
VIOLATION = 1  # a property violated (or left undecided) that nothing declared: the brokers, not the harness
BAD_INPUT = 2  # bad input or an unmet precondition the message names; nothing was started
MACHINE_FAILED = (
    3  # the harness or the machine failed: Docker gone, an image build, a cluster that never came up
)
INTERRUPTED = 130  # Ctrl-C or SIGTERM; what was started was removed

# what each code means, as `amq-chaos --help` and docs/reference/exit-codes.md say it
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (OK, "every verdict ok (make bugs: every run gave a result, whatever the brokers showed)"),
    (
        VIOLATION,
        "a property violated, or left undecided, that nothing declared: the brokers, not the harness",
    ),
    (BAD_INPUT, "bad input or an unmet precondition the message names; nothing was started"),
    (
        MACHINE_FAILED,
        "the harness or the machine failed: Docker gone, an image build, a cluster that never came up",
    ),
    (INTERRUPTED, "Ctrl-C or SIGTERM; what was started was removed"),
)


class HarnessError(Exception):
    """Bad input or an unmet precondition, with a message that says what to change."""


class MachineError(HarnessError):
    """The machine or the harness failed, not the input: no Docker engine, an image that would not build, a
    cluster that never came up."""


class ClusterNotReady(MachineError):
    """The cluster did not reach the state the topology promises before its deadline."""


def chaos_exit_code(pytest_code: int, interrupted: bool) -> int:
    """pytest's exit code as the harness's: 1 is left to the plugin, which says 3 (pytest's internal error)
    itself when every failure was the harness's or the machine's and none a verdict."""
    if interrupted:
        return INTERRUPTED
    return {0: OK, 1: VIOLATION, 3: MACHINE_FAILED}.get(pytest_code, BAD_INPUT)  # 2, 4, 5: bad input
