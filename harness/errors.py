"""Errors a user can act on: the CLI and the pytest plugin print them as one line."""


class HarnessError(Exception):
    """Bad input or an unmet precondition, with a message that says what to change."""


class ClusterNotReady(HarnessError):
    """The cluster did not reach the state the topology promises before its deadline."""
