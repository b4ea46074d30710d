"""Reporting a run: summary table, matrix, HTML report with its plots. Never imports the cluster or Docker."""
