"""The reliability suite: faults injected into a real worker, Kafka and Redis; the numbers at
the end must equal a fault-free ``ccpulse replay`` of the same events.

Quick by default (one run of each fault, for CI). ``make reliability`` runs them longer:
``CCPULSE_RELIABILITY_RUNS`` runs of each, each with more kills. Every test appends a line to
``.cache/reliability/results.jsonl`` (fault, runs, events, faults injected, differences) and
``python -m tests.reliability.summary`` prints the table for the closing note.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.live import HOLDLESS
from tests.servers import ROOT

RUNS = int(os.environ.get("CCPULSE_RELIABILITY_RUNS", "1"))
RESULTS = ROOT / ".cache" / "reliability" / "results.jsonl"


@pytest.fixture
def record() -> Callable[..., None]:
    """``record(fault, events=…, injected=…, differences=…)``: one row of the results table."""

    def add(fault: str, *, events: int, injected: int, differences: int) -> None:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as out:
            out.write(json.dumps({"fault": fault, "events": events, "injected": injected,
                                  "differences": differences, "at": int(time.time())}) + "\n")

    return add


@pytest.fixture
def holdless_config(tmp_path: Path) -> Path:
    path = tmp_path / "holdless.toml"
    path.write_text(HOLDLESS)
    return path
