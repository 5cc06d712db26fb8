"""One agent's answer over HTTP where no floor snapshot is recent (issue 19): what a
supervisor's click on an agent costs on a worker that computes no floor for its scrapes.

One pipeline holds a simulated shift; two servers in this process answer from it: one as
workers did before (the floor's snapshot for every answer, the same run's baseline) and one
as they do now (``ccpulse.api.AgentSnapshots``: the agent's own snapshot, or its team's for
its page). Both are asked, in alternating order, for ``/api/v1/agent/ID`` and the agent's
page JSON (``/api/v1/me/ID``) of agents spread over the floor, each question at a new
instant a minute after the last, so that no snapshot is recent; the two answers of an
instant must be equal.
"""

from __future__ import annotations

import statistics
import time
import urllib.request
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from ccpulse.api import AgentSnapshots, RecentSnapshot, api
from ccpulse.bands import bands_in_force
from ccpulse.http import MetricsServer
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.scorecard import Scorecards
from ccpulse.settings import Thresholds
from ccpulse.streams.pipeline import Pipeline
from ccpulse.tokens import AgentLinks
from ccpulse.web import WebApp

SECRET = "bench-drill-0123456789-0123456789"
STEP_MS = 60_000  # a new instant for each agent: no snapshot of the last one is recent


def _server(pipeline: Pipeline, clock: Callable[[], int], drill: bool) -> MetricsServer:
    # each its own floor snapshots: the other server's are not taken
    floor = RecentSnapshot(pipeline.snapshot, clock)
    agents = AgentSnapshots(floor, pipeline.drill, clock) if drill else None
    web = WebApp(floor, bands_in_force(Thresholds()), Scorecards(), links=AgentLinks(SECRET),
                 agent_snapshots=agents)
    return MetricsServer(CollectorRegistry(), "127.0.0.1", 0, lambda: (True, "ok"),
                         api=api(floor, agents), web=web).start()


def _get(url: str) -> tuple[float, bytes]:
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as response:
        body = response.read()
    return time.perf_counter() - began, body


def bench_drill(engine: KpiEngine, answers: int = 5) -> dict[str, object]:
    pipeline = Pipeline(dedup=False)
    pipeline.engine = engine
    instant = [engine.max_ts or 0]
    kinds: dict[str, int] = {}
    pipeline.on_snapshot = lambda cost: kinds.__setitem__(cost.kind, kinds.get(cost.kind, 0) + 1)
    servers = {"floor": _server(pipeline, lambda: instant[0], drill=False),
               "drill": _server(pipeline, lambda: instant[0], drill=True)}
    ids = sorted(engine.agents)
    chosen = ids[:: max(1, len(ids) // answers)][:answers]
    seconds: dict[tuple[str, str], list[float]] = {
        (name, route): [] for name in servers for route in ("agent", "page")}
    try:
        for index, agent in enumerate(chosen):
            token = AgentLinks(SECRET).token(agent)
            for route, path in (("agent", f"/api/v1/agent/{agent}"),
                                ("page", f"/api/v1/me/{agent}?t={token}")):
                instant[0] += STEP_MS
                order = list(servers.items()) if index % 2 == 0 else [*servers.items()][::-1]
                bodies = {}
                for name, server in order:
                    took, bodies[name] = _get(f"http://127.0.0.1:{server.port}{path}")
                    seconds[(name, route)].append(took)
                if bodies["floor"] != bodies["drill"]:
                    raise AssertionError(f"{route} of {agent}: the drill-down differs")
    finally:
        for server in servers.values():
            server.stop()
    figures = {f"{name}_{route}_s": round(statistics.median(values), 3)
               for (name, route), values in seconds.items()}
    return {"answers": len(chosen), **figures, "snapshots_by_kind": kinds,
            **{f"drill_vs_floor_{route}": round(figures[f"drill_{route}_s"]
                                                / figures[f"floor_{route}_s"], 3)
               for route in ("agent", "page")}}
