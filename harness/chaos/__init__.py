"""A chaos run: the nemesis and its faults, schedules, replay, bridge probes, and the run that composes them."""
