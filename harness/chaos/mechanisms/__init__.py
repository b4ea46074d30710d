"""How fault kinds are realised, one module per family of mechanism (harness.cluster.backend.MECHANISMS):
`process` (a broker's process, its CPU), `network` (filter rules, shaping, the backend's own grudge rows) and
`store` (a pair's shared store and its lock). Each family reaches nodes only through the NodeControl it holds
and records every fault and heal in the history; the nemesis composes the three, and the fault kinds
(harness.chaos.faults, pure data and argument parsing) call them through it.
"""

from __future__ import annotations

from harness.errors import HarnessError


class FaultUnsupported(HarnessError):
    """This machine's kernel cannot apply the fault; the history says so."""


class FaultRefused(HarnessError):
    """The backend has no mechanism for the fault kind: refused before anything is touched."""
