"""Where a run's results come from: the harness's commit, the images' ids and the broker version, recorded in
every history header so that a replay can say when it runs on something else."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING, Any

from harness.settings import ROOT

if TYPE_CHECKING:
    from harness.broker_image import BrokerImage
    from harness.cluster.brokers import BrokerCluster
    from harness.distribution import Distribution


def harness_version() -> str:
    """The commit the harness runs from, with `+dirty` when the work tree has changes; "unknown" outside git."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def _dist(dist: Distribution | None) -> str | None:
    return f"{dist.name} sha256:{dist.sha256}" if dist else None


def _image(image: BrokerImage | None) -> str | None:
    return f"{image.ref} {image.id}" if image else None


def provenance(cluster: BrokerCluster) -> dict[str, Any]:
    images = cluster.software()
    return {
        "harness": harness_version(),
        "activemq_version": cluster.settings.version,
        # a user's own tarball: its name and sha256, so a replay can tell it was the same distribution
        "activemq_dist": _dist(cluster.settings.dist),
        # a user's own image: its name and the engine's id of it, so a replay can tell it was the same image
        "broker_image": _image(cluster.settings.broker_image),
        "images": images,
    }


def differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs between a history's provenance and this machine's, one line each."""
    lines = []
    for key in ("harness", "activemq_version", "activemq_dist", "broker_image"):
        if recorded.get(key) and recorded.get(key) != current.get(key):
            lines.append(f"{key}: recorded {recorded.get(key)}, now {current.get(key)}")
    for role, image in (recorded.get("images") or {}).items():
        now = (current.get("images") or {}).get(role)
        if now and image != now:
            lines.append(f"{role} image: recorded {image}, now {now}")
    return lines
