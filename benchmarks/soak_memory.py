"""The harness's memory over a soak, from the soak folder's memory.jsonl: start, peak, end, and the growth
per hour over the soak's second half (after the first windows have warmed every cache), which is what
"flat" means here.

    python benchmarks/soak_memory.py runs/soak/<stamp>-seed<n>      (default: the newest soak)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def slope_per_hour(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS against time, MiB per hour."""
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    return sum((t - mean_t) * (m - mean_m) for t, m in samples) / var * 3600


def chosen_folder(argv: list[str]) -> Path:
    """The soak folder named on the command line, else the newest one."""
    if len(argv) > 1:
        return Path(argv[1])
    soaks = sorted((ROOT / "runs" / "soak").glob("*-seed*"))
    if not soaks:
        sys.exit("error: no soak folder under runs/soak: run `make soak` first or name one")
    return soaks[-1]


def main() -> None:
    folder = chosen_folder(sys.argv)
    samples = [
        (float(r["t"]), float(r["rss_mib"])) for r in map(json.loads, (folder / "memory.jsonl").open())
    ]
    if len(samples) < 4:
        sys.exit(f"error: {folder}/memory.jsonl has {len(samples)} samples: too few to say anything")
    second_half = [s for s in samples if s[0] >= samples[-1][0] / 2]
    checkpoints = (
        json.loads((folder / "checkpoints.json").read_text())
        if (folder / "checkpoints.json").exists()
        else []
    )
    print(f"soak folder       {folder}")
    print(
        f"duration          {samples[-1][0] / 60:.1f} min, {len(samples)} samples, {len(checkpoints)} checkpoints"
    )
    print(f"RSS at start      {samples[0][1]:.1f} MiB")
    print(f"RSS peak          {max(m for _, m in samples):.1f} MiB")
    print(f"RSS at end        {samples[-1][1]:.1f} MiB")
    print(f"growth, 2nd half  {slope_per_hour(second_half):+.1f} MiB/hour")
    for c in checkpoints:
        print(f"  checkpoint {c['window']} at {c['ended_at']}: RSS {c['rss_mib']} MiB, {c.get('verdict')}")


if __name__ == "__main__":
    main()
