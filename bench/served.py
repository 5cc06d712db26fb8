"""``/metrics`` as Prometheus gets it: over HTTP, at a fixed interval (issue 19).

One engine holds a simulated shift (the floor a single worker serves); three servers in
this process serve it: one not rendering ahead (the same run's baseline: every scrape
renders) and two rendering ahead of the scrapes (``[metrics] render_ahead``, the default),
one of them scraped as Prometheus scrapes, asking for gzip, the other two for plain text.
They read the floor's states and waits as a worker does (at the scrape, or just before it
once scrapes keep a rhythm); then the same three servers are scraped again taking them from
the snapshot, as scrapes did before (the same run's baseline of what that reading costs).
All are scraped at the same interval, a third of an interval apart, so that one's
rendering does not run beside another's scrape. The first
:data:`~ccpulse.scrape_ahead.RHYTHM_ARRIVALS` scrapes of each tell the interval; the ones
after them are reported: how long a scrape took, measured by the scraper to the last byte,
the bytes sent, and how old its numbers were (``ccpulse_snapshot_age_seconds``). The clock
of the numbers is the engine's last event time plus the time the run has taken, so the
windows move as they do live; no events arrive meanwhile (what a scrape costs, not how
fresh a replica is: ``bench live`` and ``bench scale`` measure that).
"""

from __future__ import annotations

import re
import statistics
import time
import urllib.request
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from ccpulse.api import RecentSnapshot
from ccpulse.exporter import KpiCollector
from ccpulse.http import SCRAPE_TIMEOUT_HEADER, MetricsServer
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.snapshot import floor_now, snapshot
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


@dataclass(frozen=True)
class Scraped:
    seconds: float  # from the request to the last byte of the answer
    sent_bytes: int  # as sent: compressed, where it was
    text: bytes  # the exposition
    decompress_s: float  # what reading the compressed answer took after (0 if it was not)


# what Prometheus tells a target its scrape may take: its default, and the shipped config's
PROMETHEUS_SCRAPE_TIMEOUT_S = 10


def scrape(url: str, *, gzip: bool = True, timeout_s: float = 120) -> Scraped:
    """A GET of ``/metrics`` as Prometheus makes it: asking for gzip (unless not ``gzip``)
    and saying its scrape timeout, timed to the last byte received (``timeout_s`` is how long
    the benchmark itself waits); the text is decompressed after, as Prometheus parses it
    after (its ``scrape_duration_seconds`` holds that too: ``decompress_s`` says what it adds
    here)."""
    request = urllib.request.Request(url)
    request.add_header(SCRAPE_TIMEOUT_HEADER, str(PROMETHEUS_SCRAPE_TIMEOUT_S))
    if gzip:
        request.add_header("Accept-Encoding", "gzip")
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=timeout_s) as answer:
        assert answer.status == 200, answer.status
        sent = answer.read()
        packed = answer.headers.get("Content-Encoding") == "gzip"
    seconds = time.perf_counter() - started
    text = zlib.decompress(sent, 16 + zlib.MAX_WBITS) if packed else sent
    return Scraped(seconds, len(sent), text, time.perf_counter() - started - seconds)


def _figures(scrapes: list[Scraped]) -> dict[str, object]:
    reported = scrapes[RHYTHM_ARRIVALS:]
    ages = [float(found.group(1)) if (found := AGE.search(s.text)) else float("nan")
            for s in reported]
    return {"first_scrape_s": round(scrapes[0].seconds, 3),
            "scrape_s": round(statistics.median(s.seconds for s in reported), 3),
            "scrape_max_s": round(max(s.seconds for s in reported), 3),
            "snapshot_age_s": round(statistics.median(ages), 3),
            "scrapes_s": [round(s.seconds, 3) for s in reported],
            "decompress_s": round(statistics.median(s.decompress_s for s in reported), 3),
            "exposition_bytes": len(scrapes[-1].text), "sent_bytes": scrapes[-1].sent_bytes}


def bench_served(engine: KpiEngine, interval_s: float, reported: int = 4,
                 ) -> dict[str, object]:
    """Each server scraped :data:`RHYTHM_ARRIVALS` + ``reported`` times; the three servers
    once reading the floor's states as a worker does (with the scrape, or just ahead of
    it), then once more taking them from the snapshot (as before: the same run's baseline
    of what that reading costs a scrape)."""
    live = _served(engine, interval_s, reported, live_states=True)
    of_snapshot = _served(engine, interval_s, reported, live_states=False)

    def ratio(name: str, base: str, figures: dict[str, dict[str, object]] = live) -> float:
        return round(float(figures[name]["scrape_s"])  # type: ignore[arg-type]
                     / float(figures[base]["scrape_s"]), 3)  # type: ignore[arg-type]
    return {"interval_s": interval_s, **live,
            "scrape_ahead_vs_every_scrape": ratio("ahead", "every_scrape"),
            "scrape_gzip_vs_plain": ratio("ahead_gzip", "ahead"),
            "states_of_the_snapshot": of_snapshot,
            "live_states_vs_states_of_the_snapshot": round(
                float(live["ahead_gzip"]["scrape_s"])  # type: ignore[arg-type]
                / float(of_snapshot["ahead_gzip"]["scrape_s"]), 3)}  # type: ignore[arg-type]


def _served(engine: KpiEngine, interval_s: float, reported: int, *, live_states: bool,
            ) -> dict[str, dict[str, object]]:
    """The three servers' figures, by name; ``live_states``: the floor's states read at
    (or just before) each scrape, not taken from the snapshot."""
    origin, started = engine.max_ts or 0, time.monotonic()

    def clock() -> int:
        return origin + round((time.monotonic() - started) * 1000)

    def server(ahead: bool) -> tuple[MetricsServer, ScrapeAhead]:
        snapshots = RecentSnapshot(lambda now: snapshot(engine, now), clock)
        kpis = KpiCollector(snapshots, clock_ms=clock,  # type: ignore[arg-type]
                            floor_now=(lambda now, *_: floor_now(engine, now))
                            if live_states else None)
        scrapes = ScrapeAhead(kpis, CollectorRegistry(), clock, ahead=ahead)
        return MetricsServer(scrapes.body, "127.0.0.1", 0, lambda: (True, "ok")).start(), scrapes

    # name: rendering ahead, scraped asking for gzip
    runs = {"every_scrape": (False, False), "ahead": (True, False), "ahead_gzip": (True, True)}
    servers = {name: server(ahead) for name, (ahead, _) in runs.items()}

    def scraped(name: str, phase_s: float) -> list[Scraped]:
        url = f"http://127.0.0.1:{servers[name][0].port}/metrics"
        return [scrape(url, gzip=runs[name][1]) for _ in
                prometheus_slots(interval_s, RHYTHM_ARRIVALS + reported, phase_s)]
    try:
        with ThreadPoolExecutor(len(runs)) as pool:
            found = {name: pool.submit(scraped, name, n * interval_s / len(runs))
                     for n, name in enumerate(runs)}
            return {name: _figures(run.result()) for name, run in found.items()}
    finally:
        for http, scrapes in servers.values():
            http.stop()
            scrapes.close()
