"""Checking a run: the ledger of its history, the checkers, the verdicts. Never imports the cluster or Docker."""
