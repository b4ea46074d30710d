"""JUnit XML for a soak: one test case per checkpoint window, so a CI server shows each window's verdict, with
the run's seed and the command that replays that window as properties (what `make chaos` puts in its own
JUnit file for each scenario)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any


def soak_junit(checkpoints: Sequence[dict[str, Any]], seed: int, design: str, version: str) -> str:
    """The checkpoints as `soak.json` and `checkpoints.json` record them (verdict ok / FAIL / ERROR)."""
    failures = sum(1 for c in checkpoints if c.get("verdict") == "FAIL")
    errors = sum(1 for c in checkpoints if c.get("verdict") not in ("ok", "FAIL"))
    suite = ET.Element(
        "testsuite",
        name=f"soak {design} ActiveMQ {version}",
        tests=str(len(checkpoints)),
        failures=str(failures),
        errors=str(errors),
        time=f"{sum(float(c.get('seconds', 0.0)) for c in checkpoints):.1f}",
    )
    for checkpoint in checkpoints:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"soak.{design}",
            name=str(checkpoint.get("scenario", f"window {checkpoint.get('window')}")),
            time=f"{float(checkpoint.get('seconds', 0.0)):.1f}",
        )
        properties = ET.SubElement(case, "properties")
        ET.SubElement(properties, "property", name="seed", value=str(seed))
        ET.SubElement(properties, "property", name="replay", value=str(checkpoint.get("replay", "")))
        verdict = checkpoint.get("verdict")
        if verdict == "FAIL":
            what = str(checkpoint.get("unexpected") or "a violation")
            failure = ET.SubElement(case, "failure", message=f"violated or undecided: {what}")
            failure.text = f"replay this window: {checkpoint.get('replay', '')}"
        elif verdict != "ok":
            error = ET.SubElement(case, "error", message=str(checkpoint.get("unexpected") or "no result"))
            error.text = "the window did not finish: the harness or the machine failed, not the brokers"
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def soak_markdown(
    checkpoints: Sequence[dict[str, Any]], seed: int, design: str, version: str, replay: str
) -> str:
    """The soak as a CI job summary (GitHub's $GITHUB_STEP_SUMMARY, or any Markdown page): one row per window
    with its verdict, then the command that replays each window that did not pass, and the whole soak's."""
    failing = [c for c in checkpoints if c.get("verdict") != "ok"]
    state = "ok" if checkpoints and not failing else "FAILED"
    lines = [
        f"### soak {design}, ActiveMQ {version}, seed {seed}: {state} "
        f"({len(checkpoints)} windows, {len(failing)} not ok)",
        "",
        "| window | verdict | violated or undecided | acknowledged | seconds |",
        "|---|---|---|---|---|",
    ]
    for c in checkpoints:
        unexpected = str(c.get("unexpected") or "").replace("|", "\\|")
        lines.append(
            f"| {c.get('scenario', c.get('window'))} | {c.get('verdict')} | {unexpected or '-'} "
            f"| {c.get('acknowledged', '-')} | {c.get('seconds', '-')} |"
        )
    if failing:
        lines += ["", "Replay a window that did not pass:", ""]
        lines += [f"- {c.get('scenario')}: `{c.get('replay', '')}`" for c in failing]
    lines += ["", f"The whole soak again: `{replay}`", ""]
    return "\n".join(lines)
