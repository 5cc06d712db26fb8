"""``ccpulse demo``: the simulator feeding the monitor in real time, on this machine alone.

The simulator starts ``warmup`` minutes in the past; that history is fed at full speed, then
events are released as the demo clock reaches their time. The demo clock equals the wall
clock at ``--speed 1`` and runs faster otherwise; it is the "now" of every window, scrape
and alert evaluation, so everything stays consistent whatever the speed.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

import orjson
from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.live import Live

from ccpulse.api import api, readers
from ccpulse.bands import bands_in_force
from ccpulse.console import render
from ccpulse.exporter import KpiCollector
from ccpulse.http import MetricsServer
from ccpulse.processors.catalogue import Band
from ccpulse.processors.timefmt import format_ms, parse_ms
from ccpulse.runtime import Monitor
from ccpulse.scrape_ahead import ScrapeAhead
from ccpulse.settings import Settings
from ccpulse.snapshot_cost import SnapshotCosts
from ccpulse.streams.simulator import MINUTE, TEAM_SIZE, SimConfig, Simulator, demo_scenarios
from ccpulse.web import agent_link, web_app

# Only the end of the warm-up is evaluated for alerts: enough for "held 15 min" rules to be
# in their right state when the view opens, without evaluating hours of history every 15 s.
ALERT_WARMUP_MS = 30 * MINUTE
FOREVER_S = 30 * 24 * 3600


@dataclass(frozen=True)
class DemoOptions:
    agents: int = 120
    seed: int = 7
    speed: float = 1.0
    warmup_minutes: float = 180
    duration_s: float | None = None
    live_view: bool = True


class _DemoClock:
    def __init__(self, speed: float) -> None:
        self.wall_start = time.time() * 1000
        self.speed = max(speed, 0.01)

    def __call__(self) -> int:
        return int(self.wall_start + (time.time() * 1000 - self.wall_start) * self.speed)


def run_demo(monitor: Monitor, settings: Settings, options: DemoOptions,
             console: Console) -> int:
    pipeline, evaluator = monitor.pipeline, monitor.evaluator
    assert evaluator is not None
    clock = _DemoClock(options.speed)
    warmup = int(options.warmup_minutes * MINUTE)
    start = int(clock.wall_start)
    run_for = int((options.duration_s or FOREVER_S) * 1000 * clock.speed)
    sim_config = SimConfig(agents=options.agents, seed=options.seed, start_ms=start - warmup,
                           duration_ms=warmup + run_for)
    sim_config.scenarios = demo_scenarios(warmup, sim_config.duration_ms,
                                          max(1, round(options.agents / TEAM_SIZE)))
    evaluator.next_due_ms = (start - min(warmup, ALERT_WARMUP_MS)) // 15_000 * 15_000

    registry = CollectorRegistry()
    pipeline.on_snapshot = SnapshotCosts(registry)
    snapshots, agents = readers(pipeline, clock, lambda: round(pipeline.floor_ms * clock.speed))
    kpis = KpiCollector(snapshots, pipeline.stats, alerts=evaluator,  # type: ignore[arg-type]
                        clock_ms=clock, scorecards=settings.scorecards,
                        metrics=settings.metrics,
                        floor_now=(lambda now, _whole, wait_s: pipeline.floor_now(
                            now, wait_s=wait_s)) if settings.metrics.states_at_scrape else None)
    scrapes = ScrapeAhead(kpis, registry, clock, ahead=settings.metrics.render_ahead)
    if not settings.web_secret:  # agent links of this run only: a new secret each start
        settings = replace(settings, web_secret=secrets.token_urlsafe(32))
    try:
        server = MetricsServer(scrapes.body, settings.metrics_host, settings.metrics_port,
                               lambda: (True, "ok"), settings.metrics_credentials,
                               api=api(snapshots, agents,
                                       floor_now=lambda: pipeline.floor_now(clock())),
                               web=web_app(settings, snapshots, pipeline, evaluator,
                                           agents, clock_ms=clock)).start()
    except OSError as exc:
        console.print(f"[red]cannot serve metrics on port {settings.metrics_port}: "
                      f"{exc.strerror}. Pick another with --metrics-port.[/]")
        return 2
    base = f"http://localhost:{server.port}"
    link = agent_link(replace(settings, web_url=settings.web_url or base), "agent-00001", 1)
    console.print(f"[bold]ccpulse demo[/]: {options.agents} simulated agents, warming up with "
                  f"{options.warmup_minutes:.0f} min of history…\n"
                  f"  wallboard: {base}/wallboard   (team pages and staffing from there)\n"
                  f"  metrics:   {base}/metrics   one agent's every KPI: "
                  f"{base}/api/v1/agent/agent-00001\n"
                  f"  agent-00001's own page (this run only): {link}\n"
                  "  Ctrl-C to stop", highlight=False, soft_wrap=True)
    live = Live(console=console, auto_refresh=False) if options.live_view else None
    bands = bands_in_force(settings.thresholds, settings.scorecards.default,
                           settings.engine.service_level_threshold_ms / 1000)
    view = _View(monitor, clock, live, bands)
    stop_at = time.time() + options.duration_s if options.duration_s else None
    try:
        if live is not None:
            live.start()
        for event in Simulator(sim_config).events():
            ts = parse_ms(event["ts"])
            while ts > clock():
                monitor.advance(clock())
                view.refresh()
                if stop_at and time.time() >= stop_at:
                    raise KeyboardInterrupt
                time.sleep(min(0.2, max((ts - clock()) / 1000 / clock.speed, 0.0)))
            monitor.before_event(ts)
            pipeline.feed(orjson.dumps(event), None, now_ms=clock())
    except KeyboardInterrupt:
        pass
    finally:
        if live is not None:
            live.stop()
        server.stop()
        scrapes.close()
    console.print(f"stopped: {sum(pipeline.stats.processed.values()):,} events processed, "
                  f"{monitor.transitions} alert transitions", highlight=False)
    return 0


class _View:
    """Redraws the live table at most once a second."""

    def __init__(self, monitor: Monitor, clock: _DemoClock, live: Live | None,
                 bands: Mapping[str, Band]) -> None:
        self._monitor = monitor
        self._bands = bands
        self._clock = clock
        self._live = live
        self._last = 0.0

    def refresh(self) -> None:
        if self._live is None or time.time() - self._last < 1.0:
            return
        now = self._clock()
        evaluator = self._monitor.evaluator
        firing = sum(n for _, _, n in evaluator.firing_counts()) if evaluator else 0
        pipeline = self._monitor.pipeline
        self._live.update(render(pipeline.snapshot(now), pipeline.stats, format_ms(now), firing,
                                 self._bands), refresh=True)
        self._last = time.time()
