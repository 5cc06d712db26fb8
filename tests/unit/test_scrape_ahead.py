"""/metrics rendered ahead of the scrape: when a kept rendering is served, when one is made,
and that the scrape's own series are read at the scrape (ccpulse.scrape_ahead)."""

from __future__ import annotations

import re
import threading
import time

import pytest
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from ccpulse import scrape_ahead
from ccpulse.exporter import KpiCollector
from ccpulse.processors.snapshot import Snapshot
from ccpulse.scrape_ahead import Rhythm, ScrapeAhead
from ccpulse.streams.pipeline import Pipeline
from tests.support import EventFactory, at, morning_pipeline

AGE = re.compile(rb"^ccpulse_snapshot_age_seconds (\S+)$", re.MULTILINE)
READ_AT_THE_SCRAPE = (b"ccpulse_snapshot_age_seconds ", b"ccpulse_event_lag_seconds ")


@pytest.mark.parametrize(("arrivals", "expected"), [
    ([0, 15, 30], None),  # three arrivals: two intervals are no rhythm yet
    ([0, 15, 30, 45], 60),
    ([0, 15, 30, 45.5], 60.5),  # a scraper's jitter: the median interval from the last
    ([0, 15, 30, 50], None),  # one interval a third longer: no rhythm
    ([0, 1, 2, 3], None),  # polled every second: nothing rendered ahead
    ([100, 0, 15, 30, 45], 60),  # only the last four count
])
def test_the_next_scrape_is_expected_only_from_a_steady_rhythm(
        arrivals: list[float], expected: float | None) -> None:
    rhythm = Rhythm()
    for at_s in arrivals:
        rhythm.arrived(at_s)
    assert rhythm.expected() == expected


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def pipeline() -> Pipeline:
    return morning_pipeline(EventFactory())


def counting(pipeline: Pipeline, clock: Clock, cost_ms: int = 0,
             ) -> tuple[list[tuple[int, str]], KpiCollector]:
    """A collector whose snapshots are counted (instant, thread) and take ``cost_ms`` of
    ``clock``."""
    taken: list[tuple[int, str]] = []

    def snap() -> Snapshot:
        taken.append((clock.ms, threading.current_thread().name))
        out = pipeline.snapshot(clock.ms)
        clock.ms += cost_ms
        return out
    return taken, KpiCollector(snap, pipeline.stats, clock_ms=clock)


def test_a_rendering_is_served_while_begun_within_four_times_what_it_took(
        pipeline: Pipeline) -> None:
    clock = Clock(at("09:20:00"))
    taken, kpis = counting(pipeline, clock, cost_ms=2_000)
    scrapes = ScrapeAhead(kpis, CollectorRegistry(), clock, ahead=False)
    first = scrapes.body()
    assert len(taken) == 1
    clock.ms = at("09:20:00") + 7_999  # begun 7.999 s ago, took 2 s: served
    again = scrapes.body()
    assert len(taken) == 1
    # the same series, but its age read now: 9.999 s from the snapshot's instant
    assert AGE.findall(first) == [b"2.0"] and AGE.findall(again) == [b"7.999"]
    assert kept_part(again) == kept_part(first)
    clock.ms = at("09:20:00") + 8_000  # four times what it took: rendered anew
    scrapes.body()
    assert [ms for ms, _ in taken] == [at("09:20:00"), at("09:20:08")]


def kept_part(body: bytes) -> list[bytes]:
    return [line for line in body.splitlines() if not line.startswith(READ_AT_THE_SCRAPE)]


def test_a_quick_rendering_is_served_for_a_second_at_most(pipeline: Pipeline) -> None:
    clock = Clock(at("09:20:00"))
    taken, kpis = counting(pipeline, clock)
    scrapes = ScrapeAhead(kpis, CollectorRegistry(), clock, ahead=False)
    scrapes.body()
    clock.ms += 999
    scrapes.body()
    clock.ms += 1
    scrapes.body()
    assert len(taken) == 2


def test_a_rendering_of_another_view_is_never_served(pipeline: Pipeline) -> None:
    """A worker that lost the alert lease stops exporting the floor at its next scrape, and
    agents whose partitions moved go with them, however recent the kept rendering."""
    clock = Clock(at("09:20:00"))
    holds, owned = [True], [frozenset({0, 1})]
    share_taken: list[int] = []

    def share(windows: frozenset[str]) -> Snapshot:
        share_taken.append(clock.ms)
        return pipeline.share(clock.ms, lambda _agent: True, windows)
    kpis = KpiCollector(lambda: pipeline.snapshot(clock.ms), pipeline.stats, clock_ms=clock,
                        owns_agent=lambda _agent: True, share=share, floor=lambda: holds[0],
                        shard_key=lambda: (8, owned[0]))
    scrapes = ScrapeAhead(kpis, CollectorRegistry(), clock, ahead=False)
    assert b"ccpulse_team_occupancy_ratio" in scrapes.body()
    holds[0] = False
    assert b"ccpulse_team_occupancy_ratio" not in scrapes.body()
    assert len(share_taken) == 1
    assert b"ccpulse_team_occupancy_ratio" not in scrapes.body()  # the share's, kept
    owned[0] = frozenset({0})
    scrapes.body()
    assert len(share_taken) == 2


def test_the_process_own_series_are_read_at_each_scrape(pipeline: Pipeline) -> None:
    clock = Clock(at("09:20:00"))
    others = CollectorRegistry()
    scrapes_seen = Counter("ccpulse_test_scrapes", "scrapes", registry=others)
    _, kpis = counting(pipeline, clock)
    scrapes = ScrapeAhead(kpis, others, clock, ahead=False)
    for _ in range(3):
        scrapes_seen.inc()
        body = scrapes.body().decode()
    families = {f.name: f for f in text_string_to_metric_families(body)}
    assert families["ccpulse_test_scrapes"].samples[0].value == 3
    assert "ccpulse_agent_occupancy_ratio" in families  # the kept rendering's
    assert "ccpulse_events_processed" in families  # the pipeline's, read at the scrape


def test_scrapes_in_a_rhythm_get_a_rendering_made_before_they_came(
        pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once four scrapes came at a steady interval, each next one is rendered ahead, on a
    thread of its own, after the scrape before it: the scrape only writes it out. Here a
    rendering takes ~50 ms, the scrapes come every 0.6 s, and a rendering is served while
    begun within 0.4 s (the bound's floor, lowered from a second for the test's sake): the
    first four render for themselves, the rest are begun ~0.3 s ahead."""
    monkeypatch.setattr(scrape_ahead, "RHYTHM_MIN_INTERVAL_S", 0.1)
    monkeypatch.setattr(scrape_ahead, "SNAPSHOT_MAX_AGE_MS", 400)
    started, origin = time.monotonic(), at("09:20:00")
    clock = Clock(origin)

    def now_ms() -> int:
        clock.ms = origin + round((time.monotonic() - started) * 1000)
        return clock.ms
    taken: list[tuple[int, str]] = []

    def snap() -> Snapshot:
        taken.append((now_ms(), threading.current_thread().name))
        time.sleep(0.05)
        return pipeline.snapshot(clock.ms)
    scrapes = ScrapeAhead(KpiCollector(snap, pipeline.stats, clock_ms=now_ms),
                          CollectorRegistry(), now_ms)
    scraped_at: list[int] = []
    try:
        for _ in range(8):
            scraped_at.append(now_ms())
            scrapes.body()
            time.sleep(0.6)
    finally:
        scrapes.close()
    threads = [name for _, name in taken]
    assert threads[:4] == ["MainThread"] * 4
    assert threads[4:] == ["scrape-ahead"] * (len(threads) - 4)
    assert len(threads) >= 8  # the last scrape's next one was rendered too, or was begun
    # each rendering ahead began after the scrape before it, and before the one it is for
    for (instant, _), before, after in zip(taken[4:], scraped_at[3:], scraped_at[4:],
                                           strict=False):
        assert before <= instant <= after
