"""Soaks: random faults for hours in checkpoint windows, with the harness's memory watched."""
