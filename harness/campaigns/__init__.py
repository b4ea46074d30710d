"""Campaigns: many chaos sessions, each a pytest session in a subprocess with its own run folder, so that a
version that fails to build or start shows as such without stopping the others. `make matrix` (one scenario
on every broker version) and `make bugs` (the known-bug patterns on every version and design)."""
