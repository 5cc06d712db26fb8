"""Print the reliability results as the table the closing note wants:
``python -m tests.reliability.summary [--since EPOCH_SECONDS]``."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

from tests.reliability.conftest import RESULTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--since", type=int, default=0)
    args = parser.parse_args()
    rows: dict[str, list[dict]] = defaultdict(list)
    for line in RESULTS.read_text().splitlines():
        row = json.loads(line)
        if row["at"] >= args.since:
            rows[row["fault"]].append(row)
    print("| fault injected | runs | events per run | faults injected | differences |")
    print("|---|---|---|---|---|")
    for fault, runs in rows.items():
        events = sorted({r["events"] for r in runs})
        shown = f"{events[0]:,}" if len(events) == 1 else f"{events[0]:,}–{events[-1]:,}"
        print(f"| {fault} | {len(runs)} | {shown} | {sum(r['injected'] for r in runs)} | "
              f"{sum(r['differences'] for r in runs)} |")


if __name__ == "__main__":
    main()
