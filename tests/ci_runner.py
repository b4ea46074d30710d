"""A stand-in for the two CI platforms, enough to run ci/'s nightly-soak examples on this machine: the jobs'
own shell lines, in a clean clone, with the variables each runner sets, and the platform's built-in steps
(checkout, cache, artifacts, JUnit) done the way the platform does them, on folders here.

What it does not do is what only a hosted runner has: its image, its Docker set-up, its secrets store. A
runner runs as a user with `sudo`; this machine runs as root without a `sudo`, so a shim stands in for it
(`sudo -E cmd` runs cmd with the same environment).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUDO_SHIM = """#!/bin/sh
# this machine runs as root: sudo [-E] cmd... is cmd...
while [ "${1#-}" != "$1" ]; do shift; done
exec "$@"
"""


@dataclass
class StepResult:
    name: str
    code: int
    seconds: float


@dataclass
class Job:
    """One job's run: its workspace (the clone), every step's exit code, and the folders standing for the
    platform's artifact store and cache."""

    workspace: Path
    artifacts: Path
    cache: Path
    env: dict[str, str]
    steps: list[StepResult] = field(default_factory=list)
    junit_files: list[Path] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)  # history bytes before and after the pack step

    def code(self, fragment: str) -> int:
        return next(s.code for s in self.steps if fragment in s.name)

    @property
    def failed(self) -> bool:
        return any(s.code != 0 for s in self.steps)


def clean_clone(source: Path, into: Path) -> Path:
    """What a checkout gives a job: the committed tree, nothing a working copy has besides."""
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(source), str(into)], check=True)
    return into


def shim_path(folder: Path) -> str:
    bin_dir = folder / "shim-bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    sudo = bin_dir / "sudo"
    sudo.write_text(SUDO_SHIM)
    sudo.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def history_bytes(workspace: Path) -> dict[str, int]:
    soak = workspace / "runs" / "soak"
    plain = sum(p.stat().st_size for p in soak.rglob("history.jsonl"))
    packed = sum(p.stat().st_size for p in soak.rglob("history.jsonl.gz"))
    return {"plain": plain, "packed": packed}


def copy_globs(patterns: list[str], source: Path, target: Path) -> list[Path]:
    """Copy what each pattern (relative to `source`; a folder whole) matches to the same place under
    `target`, as the artifact and cache actions keep a path."""
    copied = []
    for pattern in patterns:
        for match in sorted(glob.glob(str(source / pattern.rstrip("/")))):
            path = Path(match)
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                shutil.copytree(path, dest, dirs_exist_ok=True)
            else:
                shutil.copy2(path, dest)
            copied.append(dest)
    return copied


def run_shell(script: str, job: Job, name: str, shell: list[str], env: dict[str, str], timeout: float) -> int:
    started = time.monotonic()
    script_file = job.workspace.parent / f"step-{len(job.steps)}.sh"
    script_file.write_text(script + "\n")
    try:
        code = subprocess.run(
            [*shell, str(script_file)], cwd=job.workspace, env=env, timeout=timeout, check=False
        ).returncode
    except subprocess.TimeoutExpired:
        code = 124
    job.steps.append(StepResult(name, code, round(time.monotonic() - started, 1)))
    return code


# ----------------------------------------------------------------------------------------- GitHub Actions
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def github_expression(text: str, contexts: dict[str, Any]) -> str:
    """The `${{ a || 'b' }}` expressions the example uses: context paths and quoted strings joined by ||,
    the first non-empty one winning. Anything else is an error here, so an example that grows beyond what
    this stand-in evaluates fails the test rather than running with a guess."""

    def value(expression: str) -> str:
        for operand in (part.strip() for part in expression.split("||")):
            if re.fullmatch(r"'[^']*'", operand):
                found: Any = operand[1:-1]
            elif re.fullmatch(r"[a-z_]+(\.[A-Za-z_]+)+", operand):
                found = contexts
                for key in operand.split("."):
                    found = found.get(key, "") if isinstance(found, dict) else ""
            else:
                raise ValueError(f"expression not evaluated by this stand-in: {expression!r}")
            if found:
                return str(found)
        return ""

    return EXPRESSION.sub(lambda m: value(m.group(1)), text)


def run_github_job(
    workflow: dict[str, Any],
    job_name: str,
    source: Path,
    folder: Path,
    contexts: dict[str, Any],
    timeout: float,
) -> Job:
    """One matrix entry of a job, steps in order: a `run` step in bash as the runner runs it (`bash
    --noprofile --norc -eo pipefail`), a step without `if` only while every earlier one passed, an
    `if: always()` step whatever happened."""
    spec = workflow["jobs"][job_name]
    job = Job(folder / "work", folder / "artifacts", folder / "cache", {})
    job.workspace.mkdir(parents=True)
    summary = folder / "step-summary.md"
    summary.touch()
    env = {
        **os.environ,
        "PATH": shim_path(folder),
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(job.workspace),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_RUN_NUMBER": str(contexts["github"]["run_number"]),
        "GITHUB_RUN_ID": str(contexts["github"]["run_id"]),
        "RUNNER_TEMP": str(folder / "runner-temp"),
    }
    for key, text in spec.get("env", {}).items():
        env[key] = job.env[key] = github_expression(str(text), contexts)
    for step in spec["steps"]:
        name = step.get("name") or step.get("uses") or step["run"][:40]
        condition = step.get("if", "success()")
        if condition != "always()" and job.failed:
            continue
        if "run" in step:
            script = github_expression(step["run"], contexts)
            if "make pack" in script:
                job.sizes["before pack"] = history_bytes(job.workspace)["plain"]
            run_shell(script, job, name, ["bash", "--noprofile", "--norc", "-eo", "pipefail"], env, timeout)
            if "make pack" in script:
                job.sizes["after pack"] = history_bytes(job.workspace)["packed"]
            continue
        uses, given = (
            step["uses"].split("@")[0],
            {k: github_expression(str(v), contexts) for k, v in step.get("with", {}).items()},
        )
        started = time.monotonic()
        if uses == "actions/checkout":
            shutil.rmtree(job.workspace)
            clean_clone(source, job.workspace)
        elif uses == "actions/cache/restore":
            prefix = given["restore-keys"]
            keys = sorted(
                (p for p in job.cache.glob("*") if p.name.startswith(prefix)), key=lambda p: p.stat().st_mtime
            )
            if keys:  # the newest entry of the series, as restore-keys picks it
                copy_globs(given["path"].split(), keys[-1], job.workspace)
        elif uses == "actions/cache/save":
            copy_globs(given["path"].split(), job.workspace, job.cache / given["key"])
        elif uses == "actions/upload-artifact":
            copy_globs(given["path"].split(), job.workspace, job.artifacts / given["name"])
        elif uses == "mikepenz/action-junit-report":
            job.junit_files = [Path(p) for p in sorted(glob.glob(str(job.workspace / given["report_paths"])))]
        else:
            raise ValueError(f"action not stood in for: {uses}")
        job.steps.append(StepResult(name, 0, round(time.monotonic() - started, 1)))
    return job


# ---------------------------------------------------------------------------------------------- GitLab CI
def gitlab_expand(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: variables.get(m.group(1), ""), text)


def run_gitlab_job(
    spec: dict[str, Any],
    matrix_entry: dict[str, str],
    source: Path,
    folder: Path,
    predefined: dict[str, str],
    schedule_variables: dict[str, str],
    timeout: float,
    cache: Path,
) -> Job:
    """A shell-executor job: the clone, the cache restored, before_script and script in one bash (as the
    runner joins them, stopping at the first failing line), after_script in a shell of its own whose failure
    does not fail the job, the cache saved and the artifacts kept as `when:` says."""
    job = Job(folder / "work", folder / "artifacts", cache, {})
    clean_clone(source, job.workspace)
    variables = {**predefined, "CI_PROJECT_DIR": str(job.workspace)}
    for key, text in {**spec.get("variables", {}), **matrix_entry}.items():
        variables[key] = gitlab_expand(str(text), variables)
    variables.update(schedule_variables)  # a schedule's variables override the job's
    job.env = dict(variables)
    env = {**os.environ, "PATH": shim_path(folder), **variables}
    cache_key = gitlab_expand(spec["cache"]["key"], variables)
    cached = cache / cache_key
    if cached.is_dir():
        copy_globs(spec["cache"]["paths"], cached, job.workspace)
    bash = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
    main = "\n".join([*spec.get("before_script", []), *spec["script"]])
    run_shell(main, job, "before_script + script", bash, env, timeout)
    job.sizes["before pack"] = history_bytes(job.workspace)["plain"]
    after = run_shell("\n".join(spec.get("after_script", [])), job, "after_script", bash, env, timeout)
    job.sizes["after pack"] = history_bytes(job.workspace)["packed"]
    job.steps[-1] = StepResult("after_script", after, job.steps[-1].seconds)
    if spec["cache"].get("when") == "always" or not job.steps[0].code:
        copy_globs(spec["cache"]["paths"], job.workspace, cached)
    if spec["artifacts"].get("when") == "always" or not job.steps[0].code:
        copy_globs(spec["artifacts"]["paths"], job.workspace, job.artifacts)
        job.junit_files = [
            Path(p) for p in sorted(glob.glob(str(job.workspace / spec["artifacts"]["reports"]["junit"])))
        ]
    return job
