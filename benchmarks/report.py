"""Print each benchmark group as ratios against our implementation (see conftest.py)."""

from __future__ import annotations

import json
import platform
import sys
from collections import defaultdict
from pathlib import Path


def main(path: str = "build/bench.json") -> int:
    p = Path(path)
    if not p.exists():
        print(f"no benchmark results at {p}", file=sys.stderr)
        return 1
    data = json.loads(p.read_text())
    groups: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for b in data["benchmarks"]:
        groups[b.get("group") or b["name"]].append((b["name"], b["stats"]["median"]))
    mi = data.get("machine_info", {})
    print(
        f"\nmachine: {mi.get('cpu', {}).get('brand_raw', platform.processor())}, "
        f"{mi.get('python_implementation', '')} {mi.get('python_version', '')}"
    )
    print(f"{'group':<34} {'implementation':<40} {'median':>11} {'vs ours':>9}")
    for group in sorted(groups):
        rows = groups[group]
        ours = [t for n, t in rows if n.split("[")[0].endswith("_ours")]
        base = ours[0] if ours else None
        for name, t in sorted(rows, key=lambda r: r[1]):
            ratio = f"{t / base:8.2f}x" if base else "       -"
            print(f"{group:<34} {name:<40} {t * 1e3:9.3f}ms {ratio}")
    print("(vs ours = anchor median / our median: above 1 means ours is faster)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
