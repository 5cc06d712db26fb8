"""``/metrics`` as Prometheus gets it: over HTTP, at a fixed interval (issue 19).

One engine holds a simulated shift (the floor a single worker serves); two servers in this
process serve it, one rendering ahead of the scrapes (``[metrics] render_ahead``, the
default) and one not (the same run's baseline: every scrape renders). Both are scraped at
the same interval, half an interval apart, so that one's rendering does not run beside the
other's scrape. The first :data:`~ccpulse.scrape_ahead.RHYTHM_ARRIVALS` scrapes of each
tell the interval; the ones after them are reported: how long a scrape took, measured by
the scraper, and how old its numbers were (``ccpulse_snapshot_age_seconds``). The clock
of the numbers is the engine's last event time plus the time the run has taken, so the
windows move as they do live; no events arrive meanwhile (what a scrape costs, not how
fresh a replica is: ``bench live`` and ``bench scale`` measure that).
"""

from __future__ import annotations

import re
import statistics
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import CollectorRegistry

from ccpulse.api import RecentSnapshot
from ccpulse.exporter import KpiCollector
from ccpulse.http import MetricsServer
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.snapshot import snapshot
from ccpulse.scrape_ahead import RHYTHM_ARRIVALS, ScrapeAhead

AGE = re.compile(rb"^ccpulse_snapshot_age_seconds (\S+)$", re.MULTILINE)


def prometheus_slots(interval_s: float, count: int, phase_s: float = 0.0) -> Iterator[int]:
    """Sleeps until each scrape slot, ``interval_s`` apart (the first ``phase_s`` from now),
    and yields its index, ``count`` times, as Prometheus scrapes a target: a slot that passed
    while the last scrape was under way is skipped, not caught up."""
    first = time.monotonic() + phase_s
    slot = made = 0
    while made < count:
        at = first + slot * interval_s
        slot += 1
        if made and time.monotonic() > at:
            continue
        time.sleep(max(0.0, at - time.monotonic()))
        made += 1
        yield slot - 1


def _scrape(port: int) -> tuple[float, float, int]:
    """Seconds the scrape took, the age of its numbers, its size."""
    started = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=120) as answer:
        body = answer.read()
    seconds = time.perf_counter() - started
    found = AGE.search(body)
    return seconds, float(found.group(1)) if found else float("nan"), len(body)


def _figures(scrapes: list[tuple[float, float, int]]) -> dict[str, object]:
    reported = scrapes[RHYTHM_ARRIVALS:]
    return {"first_scrape_s": round(scrapes[0][0], 3),
            "scrape_s": round(statistics.median(s for s, _, _ in reported), 3),
            "scrape_max_s": round(max(s for s, _, _ in reported), 3),
            "snapshot_age_s": round(statistics.median(a for _, a, _ in reported), 3),
            "scrapes_s": [round(s, 3) for s, _, _ in reported],
            "exposition_bytes": scrapes[-1][2]}


def bench_served(engine: KpiEngine, interval_s: float, reported: int = 4,
                 ) -> dict[str, object]:
    """Both servers scraped :data:`RHYTHM_ARRIVALS` + ``reported`` times each."""
    origin, started = engine.max_ts or 0, time.monotonic()

    def clock() -> int:
        return origin + round((time.monotonic() - started) * 1000)

    def server(ahead: bool) -> tuple[MetricsServer, ScrapeAhead]:
        snapshots = RecentSnapshot(lambda now: snapshot(engine, now), clock)
        kpis = KpiCollector(snapshots, clock_ms=clock)  # type: ignore[arg-type]
        scrapes = ScrapeAhead(kpis, CollectorRegistry(), clock, ahead=ahead)
        return MetricsServer(scrapes.body, "127.0.0.1", 0, lambda: (True, "ok")).start(), scrapes

    servers = {"ahead": server(True), "every_scrape": server(False)}

    def scraped(name: str, phase_s: float) -> list[tuple[float, float, int]]:
        port = servers[name][0].port
        return [_scrape(port) for _ in
                prometheus_slots(interval_s, RHYTHM_ARRIVALS + reported, phase_s)]
    try:
        with ThreadPoolExecutor(2) as pool:
            every_run = pool.submit(scraped, "every_scrape", 0.0)
            ahead_run = pool.submit(scraped, "ahead", interval_s / 2)
            ahead, every = _figures(ahead_run.result()), _figures(every_run.result())
    finally:
        for http, scrapes in servers.values():
            http.stop()
            scrapes.close()
    return {"interval_s": interval_s, "ahead": ahead, "every_scrape": every,
            "scrape_ahead_vs_every_scrape": round(
                float(ahead["scrape_s"]) / float(every["scrape_s"]), 3)}  # type: ignore[arg-type]
