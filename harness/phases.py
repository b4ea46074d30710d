"""The phases a run records in its history (`{"f": "phase", "phase": ...}`), named once: the run writes them;
the checkers, the timeline and the report read them."""

LOAD = "load"  # the workload starts
TOPIC_DEMAND = "topic-demand"  # durable subscriptions confirmed and seen on every live broker (or not)
SCHEDULE = "schedule"  # a fault schedule begins (its steps with it)
TOOK_OVER = "took-over"  # a waiting node became live after its partner's fault
LOAD_STALLED = "load-stalled"  # a load() waited out its deadline without its receipts
HEALED = "healed"  # every fault in force healed
RECOVERED = "recovered"  # back to the design's promised state (with the seconds it took)
NOT_RECOVERED = "not-recovered"  # not back within the deadline (with what is missing)
FAIL_BACK = "fail-back"  # the run returns the stores to the masters, as an operator would
LOAD_ENDED = "load-ended"  # the producers stop
DRAIN_DEADLINE = "drain-deadline"  # deliveries after this are late
FINAL_STATE = "final-state"  # what introspection read once the drain ended
REPLAY = "replay"  # this run replays a recorded history
