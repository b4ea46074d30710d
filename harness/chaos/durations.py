"""The items' recorded durations, which `SHARD=K/N` splits the suite by (harness.chaos.shard).

`durations.json` at the checkout's root maps each node id to its seconds (set-up, call and tear-down, as
pytest's JUnit file times them). It is committed, so every runner of a CI matrix splits alike; `make
durations` refreshes it from the JUnit files of a `make test` and a `make chaos` run on the machine that ran
them. Times from another machine only need to be in proportion: the split compares them with each other."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from harness.errors import HarnessError

DURATIONS_FILE = "durations.json"


def read_durations(path: Path) -> dict[str, float]:
    """A durations file's seconds by node id; {} where there is none (every item then weighs the same)."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path} is not JSON ({exc.msg}): rewrite it with `make durations`") from exc
    if not isinstance(data, dict) or not all(
        isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0
        for seconds in data.values()
    ):
        raise HarnessError(f"{path} must map node ids to seconds: rewrite it with `make durations`")
    return {str(node_id): float(seconds) for node_id, seconds in data.items()}


def junit_durations(junit: Path, root: Path) -> dict[str, float]:
    """Each test case's seconds in a pytest JUnit file, by node id. pytest names a case by its module's dotted
    path (and class) and its name; the module is the longest prefix that is a file under root."""
    try:
        tree = ET.parse(junit)
    except (ET.ParseError, OSError) as exc:
        raise HarnessError(f"{junit} is not a readable JUnit file ({exc})") from exc
    found: dict[str, float] = {}
    for case in tree.iter("testcase"):
        node_id = _node_id(case.get("classname", ""), case.get("name", ""), root)
        if node_id is not None:
            found[node_id] = round(float(case.get("time", "0")), 1)
    return found


def _node_id(classname: str, name: str, root: Path) -> str | None:
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        module = "/".join(parts[:end]) + ".py"
        if (root / module).is_file():
            return "::".join([module, *parts[end:], name])
    return None  # a module since removed or renamed: nothing to split by


def refresh(path: Path, junits: Iterable[Path], root: Path) -> tuple[int, int]:
    """Write path with the JUnit files' times over what it held, dropping node ids whose module is gone;
    (how many node ids the JUnit files gave, how many the file holds now)."""
    held = read_durations(path)
    given: dict[str, float] = {}
    for junit in junits:
        given |= junit_durations(junit, root)
    if not given:
        raise HarnessError("the JUnit files name no test case of this checkout: nothing to record")
    kept = {node_id: s for node_id, s in held.items() if (root / node_id.split("::")[0]).is_file()}
    merged = dict(sorted((kept | given).items()))
    path.write_text(json.dumps(merged, indent=1) + "\n")
    return len(given), len(merged)
