"""One alert evaluation of the whole floor, part by part (issue 19): what the worker that
holds the alert lease does every 15 s, and what makes its alerts and its scrapes late on a
large floor.

The parts, timed at instants 15 s apart after a first (which pays for growing the heap),
the median of each: reading the engine (the part a replica holds its lock for), finishing
the snapshot from that reading, the agents' KPIs the rules read (computed on the finisher's
thread in a worker), and the rules themselves. Uses only :func:`processors.snapshot.read`,
:func:`~processors.snapshot.finish` and :class:`alerts.engine.AlertEvaluator`, so that the
same file measures an earlier checkout's code as the baseline (BENCHMARKS.md).
"""

from __future__ import annotations

import statistics
import time

from ccpulse.alerts.engine import DEFAULT_INTERVAL_MS, AlertEvaluator
from ccpulse.alerts.rules import AGENT_WINDOWS
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.snapshot import AgentKpis, finish, read

EVALUATIONS = 5  # timed, after a first


def bench_evaluation(engine: KpiEngine) -> dict[str, object]:
    evaluator = AlertEvaluator()
    start = engine.max_ts or 0
    parts: dict[str, list[float]] = {"read_s": [], "finish_s": [], "agents_s": [],
                                     "rules_s": [], "total_s": []}
    transitions = 0
    for n in range(EVALUATIONS + 1):
        now = start + n * DEFAULT_INTERVAL_MS
        began = time.perf_counter()
        reading = read(engine, now)
        read_at = time.perf_counter()
        snap = finish(reading)
        finished_at = time.perf_counter()
        for window in AGENT_WINDOWS:
            kpis = snap.windows[window].agent
            if isinstance(kpis, AgentKpis):
                kpis.compute_all()
        agents_at = time.perf_counter()
        transitions += len(evaluator.evaluate(snap))
        ended = time.perf_counter()
        if n:
            for name, seconds in (("read_s", read_at - began),
                                  ("finish_s", finished_at - read_at),
                                  ("agents_s", agents_at - finished_at),
                                  ("rules_s", ended - agents_at), ("total_s", ended - began)):
                parts[name].append(seconds)
    return {"evaluations": EVALUATIONS, "agents_tracked": len(engine.agents),
            "transitions": transitions,
            **{name: round(statistics.median(values), 6) for name, values in parts.items()}}
