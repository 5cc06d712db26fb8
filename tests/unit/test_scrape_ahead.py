"""/metrics rendered ahead of the scrape: when a kept rendering is served, when one is made,
and that the scrape's own series are read at the scrape (ccpulse.scrape_ahead)."""

from __future__ import annotations

import gc
import gzip
import re
import threading
import time
import weakref
from collections.abc import Iterator

import orjson
import pytest
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from ccpulse import scrape_ahead
from ccpulse.exporter import KpiCollector
from ccpulse.gzip_body import Packed
from ccpulse.processors.snapshot import FloorNow, Snapshot
from ccpulse.scrape_ahead import Rhythm, ScrapeAhead
from ccpulse.streams.pipeline import Pipeline
from ccpulse.textformat import Exposition
from tests.support import EventFactory, at, morning_pipeline

AGE = re.compile(rb"^ccpulse_snapshot_age_seconds (\S+)$", re.MULTILINE)
READ_AT_THE_SCRAPE = (b"ccpulse_snapshot_age_seconds ", b"ccpulse_event_lag_seconds ")


@pytest.mark.parametrize(("arrivals", "expected"), [
    ([0, 15, 30], None),  # three arrivals: two intervals are no rhythm yet
    ([0, 15, 30, 45], 60),
    ([0, 15, 30, 45.5], 60.5),  # a scraper's jitter: from the last arrival
    ([0, 15, 30, 50], None),  # one interval a third longer: no rhythm
    ([0, 30, 60, 75], 90),  # slots skipped while scrapes outlasted the interval
    ([0, 30, 60, 80], None),  # 20 s is no whole number of 15 s, nor 30 of 20
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


def shared_snapshots(pipeline: Pipeline, clock: Clock,
                     ) -> tuple[list[Snapshot], list[int], ScrapeAhead]:
    """Scrapes (nothing rendered ahead by a thread) of the last of ``snaps``, a snapshot
    shared as the alert evaluation's is, and the instants of those rendered."""
    snaps = [pipeline.snapshot(clock.ms)]
    kpis = KpiCollector(lambda: snaps[-1], pipeline.stats, clock_ms=clock)
    rendered = renders(kpis)
    return snaps, rendered, ScrapeAhead(kpis, CollectorRegistry(), clock, ahead=False)


def test_without_a_rhythm_a_scrape_renders_what_it_reads_unless_that_was_rendered(
        pipeline: Pipeline) -> None:
    """Another scrape's snapshot, or the alert evaluation's, shared by the snapshot source:
    the kept text is of that very snapshot, so it is written out again, with the age read
    at this scrape."""
    clock = Clock(at("09:20:00"))
    snaps, rendered, scrapes = shared_snapshots(pipeline, clock)
    first = scrapes.body()
    clock.ms += 30_000
    again = scrapes.body()
    assert rendered == [at("09:20:00")]
    assert AGE.findall(first) == [b"0.0"] and AGE.findall(again) == [b"30.0"]
    assert kept_part(again) == kept_part(first)
    snaps.append(pipeline.snapshot(clock.ms))  # a new snapshot: rendered
    scrapes.body()
    assert rendered == [at("09:20:00"), at("09:20:30")]



def test_a_kept_rendering_does_not_keep_its_snapshot_alive(pipeline: Pipeline) -> None:
    """Once a newer snapshot replaces it everywhere else, the rendering's is freed (a floor's
    is ~230 MB at 50,000 agents); the kept text still answers with the age of its instant,
    and is written out again while its snapshot is the one read."""
    clock = Clock(at("09:20:00"))
    snaps, rendered, scrapes = shared_snapshots(pipeline, clock)
    first = scrapes.body()
    old = weakref.ref(snaps[0])
    scrapes.body()
    assert rendered == [at("09:20:00")]  # the same snapshot: not rendered again
    snaps[0] = pipeline.snapshot(clock.ms + 15_000)
    gc.collect()
    assert old() is None
    clock.ms += 30_000
    served = scrapes._kept
    assert served is not None and served.now == at("09:20:00")
    assert first.startswith(served.answer(b"", gzip=False))  # the kept series, then the live
    scrapes.body()  # the new snapshot: rendered
    assert rendered == [at("09:20:00"), at("09:20:15")]

def renders(kpis: KpiCollector) -> list[int]:
    """The instants of the snapshots ``kpis`` renders from now on."""
    rendered: list[int] = []
    of_snapshot = kpis.of_snapshot

    def counted(snap: Snapshot) -> Iterator[Metric]:
        rendered.append(snap.now)
        return of_snapshot(snap)
    kpis.of_snapshot = counted  # type: ignore[method-assign]
    return rendered


def kept_part(body: bytes) -> list[bytes]:
    return [line for line in body.splitlines() if not line.startswith(READ_AT_THE_SCRAPE)]


def test_a_rendering_made_ahead_is_served_while_begun_within_four_times_what_it_took(
        pipeline: Pipeline) -> None:
    clock = Clock(at("09:20:00"))
    taken, kpis = counting(pipeline, clock, cost_ms=2_000)
    scrapes = ScrapeAhead(kpis, CollectorRegistry(), clock, ahead=False)
    scrapes.body()  # a rendering takes 2 s
    clock.ms = at("09:20:10")
    scrapes._render(ahead=True, pack=True)  # the thread's, once the scrapes keep a rhythm
    clock.ms = at("09:20:17.999")  # begun 7.999 s ago: served
    assert AGE.findall(scrapes.body()) == [b"7.999"]
    assert len(taken) == 2
    clock.ms = at("09:20:18")  # the next scrape reads anew: the one ahead was for the last
    scrapes.body()
    assert len(taken) == 3
    clock.ms = at("09:20:30")
    scrapes._render(ahead=True, pack=True)
    clock.ms = at("09:20:38")  # begun four times what it took ago: too old
    assert AGE.findall(scrapes.body()) == [b"2.0"]
    assert [ms for ms, _ in taken] == [at("09:20:00"), at("09:20:10"), at("09:20:18"),
                                       at("09:20:30"), at("09:20:38")]


def test_a_rendering_of_another_view_is_never_served(pipeline: Pipeline) -> None:
    """A worker that lost the alert lease stops exporting the floor at its next scrape, and
    agents whose partitions moved go with them, whether the kept rendering is of the very
    snapshot read now or was made ahead for this scrape."""
    clock = Clock(at("09:20:00"))
    holds, owned = [True], [frozenset({0, 1})]
    floor = pipeline.snapshot(clock.ms)  # shared, as the alert evaluation's is
    kpis = KpiCollector(lambda: floor, pipeline.stats, clock_ms=clock,
                        owns_agent=lambda _agent: True, floor=lambda: holds[0],
                        share=lambda windows: pipeline.share(clock.ms, lambda _a: True, windows),
                        shard_key=lambda: (8, owned[0]))
    rendered = renders(kpis)
    scrapes = ScrapeAhead(kpis, CollectorRegistry(), clock, ahead=False)
    team = b"ccpulse_team_occupancy_ratio"
    assert team in scrapes.body()
    holds[0] = False
    assert team not in scrapes.body()
    holds[0] = True
    scrapes._render(ahead=True, pack=True)
    holds[0] = False
    assert team not in scrapes.body()
    holds[0] = True
    before = scrapes.body()
    assert len(rendered) == 5  # floor, share, floor ahead, share, floor
    assert kept_part(scrapes.body()) == kept_part(before) and len(rendered) == 5
    owned[0] = frozenset({0})
    assert kept_part(scrapes.body()) == kept_part(before)  # the same floor, rendered anew
    assert len(rendered) == 6


def test_a_scrape_during_a_rendering_takes_the_last_one_while_it_is_recent(
        pipeline: Pipeline) -> None:
    """Renderings longer than the scrape interval are made back to back: a scrape then takes
    the last one finished rather than wait for most of the next; once that is older than
    four times what a rendering takes, it waits for the one under way."""
    clock = Clock(at("09:20:00"))
    taken, kpis = counting(pipeline, clock, cost_ms=20_000)
    scrapes = ScrapeAhead(kpis, CollectorRegistry(), clock, ahead=False)
    scrapes.body()  # begun at 09:20:00, took 20 s
    clock.ms = at("09:21:19.999")
    with scrapes._rendering_lock:  # a rendering under way (the thread's, ahead)
        assert AGE.findall(scrapes.body()) == [b"79.999"]
        clock.ms = at("09:21:20")
        answered: list[bytes] = []
        waiting = threading.Thread(target=lambda: answered.append(scrapes.body()))
        waiting.start()
        waiting.join(0.3)
        assert not answered  # too old to take: it waits
    waiting.join(10)
    assert AGE.findall(answered[0]) == [b"20.0"]  # then renders (nothing was made ahead)
    assert [ms for ms, _ in taken] == [at("09:20:00"), at("09:21:20")]


def test_a_scrape_waits_for_a_rendering_under_way_half_its_timeout_then_takes_the_last(
        pipeline: Pipeline) -> None:
    """Prometheus drops a scrape that outlasts its timeout, and the target's series go
    stale: numbers a rendering older, with their age, are the better answer. A scrape
    with a timeout takes the last rendering of its view, however old, once it has waited
    half of it; with no rendering of its view to take, it waits as one without does."""
    clock = Clock(at("09:20:00"))
    _, kpis = counting(pipeline, clock, cost_ms=1_000)
    scrapes = ScrapeAhead(kpis, CollectorRegistry(), clock, ahead=False)
    scrapes.body()  # begun at 09:20:00, took 1 s
    clock.ms = at("09:25:00")  # five minutes old: far beyond four times that
    with scrapes._rendering_lock:  # a rendering under way
        started = time.monotonic()
        answered = scrapes.body(timeout_s=0.4)
        waited = time.monotonic() - started
        assert AGE.findall(answered) == [b"300.0"]
        assert scrape_ahead.WAIT_SHARE * 0.4 <= waited < 5  # waited, then took the last
        scrapes._kept = None  # nothing of its view to serve: it waits whatever its timeout
        waiting: list[bytes] = []
        thread = threading.Thread(target=lambda: waiting.append(scrapes.body(timeout_s=0.1)))
        thread.start()
        thread.join(0.5)
        assert not waiting
    thread.join(10)
    assert AGE.findall(waiting[0]) == [b"1.0"]  # a new rendering, 1 s to make


def test_a_scrape_whose_own_rendering_outlasts_half_its_timeout_takes_the_last_one(
        pipeline: Pipeline) -> None:
    """No rendering under way, but the scrape's own (a snapshot of a large floor to compute)
    would outlast its budget: it answers with the last rendering; the one it started goes on
    and is kept, and a scrape meanwhile waits for that one instead of starting another."""
    clock = Clock(at("09:20:00"))
    slow, snaps = threading.Event(), []
    slow.set()

    def snap() -> Snapshot:
        slow.wait(10)
        snaps.append(clock.ms)
        return pipeline.snapshot(clock.ms)
    scrapes = ScrapeAhead(KpiCollector(snap, pipeline.stats, clock_ms=clock),
                          CollectorRegistry(), clock, ahead=False)
    scrapes.body()  # rendered at 09:20:00
    clock.ms = at("09:25:00")
    slow.clear()  # the next snapshot takes a while
    started = time.monotonic()
    assert AGE.findall(scrapes.body(timeout_s=0.4)) == [b"300.0"]
    assert time.monotonic() - started < 5
    assert AGE.findall(scrapes.body(timeout_s=0.4)) == [b"300.0"]  # still under way
    slow.set()
    deadline = time.monotonic() + 10
    while len(snaps) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # its text rendered and kept
    assert snaps == [at("09:20:00"), at("09:25:00")]  # one started, not two
    clock.ms = at("09:25:01")
    slow.clear()
    assert AGE.findall(scrapes.body(timeout_s=0.4)) == [b"1.0"]  # the one it started, kept
    slow.set()
    scrapes.close()


def test_a_scrape_does_not_wait_for_a_rendering_that_cannot_be_done_in_time(
        pipeline: Pipeline) -> None:
    """Renderings take longer than half the scrape's timeout (the last one took 30 s: a
    lease holder's floor of 50,000 agents): the scrape takes the last rendering at once
    rather than wait half its timeout for the same answer. One nearly done is waited for."""
    clock = Clock(at("09:20:00"))
    _, kpis = counting(pipeline, clock, cost_ms=1_000)
    scrapes = ScrapeAhead(kpis, CollectorRegistry(), clock, ahead=False)
    scrapes.body()  # begun at 09:20:00
    clock.ms = at("09:25:00")  # too old to be taken without a timeout
    scrapes._took_s = 30.0  # what the last rendering took, by the monotonic clock
    answered: list[bytes] = []
    with scrapes._rendering_lock:  # a rendering under way, begun 1 s ago
        scrapes._began_s = time.monotonic() - 1
        scrape = threading.Thread(target=lambda: answered.append(scrapes.body(timeout_s=40)))
        scrape.start()
        scrape.join(5)  # waiting would take 20 s
        assert AGE.findall(answered[0]) == [b"300.0"]
        # the same rendering, nearly done (began 29.5 s ago): worth half a second
        scrapes._began_s = time.monotonic() - 29.5
        scrape = threading.Thread(target=lambda: answered.append(scrapes.body(timeout_s=40)))
        scrape.start()
        scrape.join(1)
        assert len(answered) == 1  # waiting for it
    scrape.join(10)
    assert AGE.findall(answered[1]) == [b"1.0"]  # a new one, 1 s to make
    scrapes.close()


def test_a_scrape_that_takes_gzip_gets_the_same_series_and_ahead_they_are_kept_packed(
        pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prometheus asks for gzip: its scrape is the text of a plain one, compressed, with
    the series read at the scrape at the end of the same stream. A rendering made ahead is
    kept compressed (a ninth of the memory of a large floor's text) and a client without
    gzip gets it as text."""
    clock = Clock(at("09:20:00"))
    snaps, rendered, scrapes = shared_snapshots(pipeline, clock)
    plain = scrapes.body()
    clock.ms += 1_000
    packed = gzip.decompress(scrapes.body(gzip=True))
    assert kept_part(packed) == kept_part(plain) and len(rendered) == 1
    assert AGE.findall(plain) == [b"0.0"] and AGE.findall(packed) == [b"1.0"]
    snaps.append(pipeline.snapshot(clock.ms))
    with monkeypatch.context() as patched:  # packed as it is made: the text is never whole
        patched.delattr(Exposition, "render")
        scrapes._render(ahead=True, pack=True)
    ahead = scrapes._kept.body  # type: ignore[union-attr]
    assert isinstance(ahead, Packed) and len(ahead.head) < len(plain) / 3
    clock.ms += 1_000
    assert scrapes.body().startswith(ahead.text())  # served, as text
    assert len(rendered) == 2 and kept_part(ahead.text()) != kept_part(plain)


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


def test_a_kept_rendering_is_served_with_the_states_and_waits_of_each_scrape(
        pipeline: Pipeline) -> None:
    """A worker's floor (its states and waits) is read at the scrape, not kept with the
    rendering: served gzip twice from one rendering, the second scrape shows the call
    answered since and ten seconds more in state, and the first's KPI text again."""
    clock = Clock(at("09:20:00"))
    ev = EventFactory("late")
    pipeline.feed(orjson.dumps(ev("interaction.queued", "09:20:00", interaction_id="i9",
                                  queue_id="q1", channel="voice")), None, now_ms=clock.ms)
    snap = pipeline.snapshot(clock.ms)
    kpis = KpiCollector(lambda: snap, pipeline.stats, clock_ms=clock,
                        floor_now=lambda now, *_: pipeline.floor_now(now))
    rendered = renders(kpis)
    scrapes = ScrapeAhead(kpis, CollectorRegistry(), clock, ahead=False)

    def scrape() -> dict[str, list]:
        text = gzip.decompress(scrapes.body(gzip=True)).decode()
        return {f.name: f.samples for f in text_string_to_metric_families(text)}

    first = scrape()
    pipeline.feed(orjson.dumps(ev("interaction.answered", "09:20:20", interaction_id="i9",
                                  agent_id="a1", queue_id="q1", channel="voice")), None,
                  now_ms=at("09:20:30"))
    clock.ms = at("09:20:30")
    second = scrape()
    assert rendered == [at("09:20:00")]  # one rendering for both
    assert [s.labels["state"] for s in first["ccpulse_agent_state"]] == ["idle"]
    assert [s.labels["state"] for s in second["ccpulse_agent_state"]] == ["handling"]
    assert [s.value for s in second["ccpulse_agent_state_seconds"]] == [10.0]
    assert [s.value for s in first["ccpulse_queue_waiting_interactions"]] == [1]
    assert [s.value for s in second["ccpulse_queue_waiting_interactions"]] == [0]
    assert second["ccpulse_agent_occupancy_ratio"] == first["ccpulse_agent_occupancy_ratio"]


def test_states_read_ahead_are_served_to_the_next_scrape_while_recent(
        pipeline: Pipeline) -> None:
    """The floor's states read just before the scrape expected (the thread's, once scrapes
    keep a rhythm) are that scrape's if begun within twice what reading them takes plus a
    second, and that scrape's only; otherwise the scrape reads its own."""
    clock = Clock(at("09:20:00"))
    snap = pipeline.snapshot(clock.ms)
    kpis = KpiCollector(lambda: snap, pipeline.stats, clock_ms=clock,
                        floor_now=lambda now, *_: pipeline.floor_now(now))
    scrapes = ScrapeAhead(kpis, CollectorRegistry(), clock, ahead=False)

    def in_state_s() -> float:  # a1 idle since its wrap at 09:06
        text = scrapes.body().decode()
        (family,) = [f for f in text_string_to_metric_families(text)
                     if f.name == "ccpulse_agent_state_seconds"]
        return family.samples[0].value

    with scrapes._states_lock:
        scrapes._render_states(ahead=True, wait_s=None)
    clock.ms = at("09:20:00.999")
    assert in_state_s() == 840.0  # read at 09:20:00, ahead
    clock.ms = at("09:20:01")
    assert in_state_s() == 841.0  # read at the scrape: the ones ahead were the last one's
    with scrapes._states_lock:
        scrapes._render_states(ahead=True, wait_s=None)
    clock.ms = at("09:20:02")  # begun a second ago (they took no time): too old
    assert in_state_s() == 842.0


def test_a_scrape_does_not_wait_for_a_busy_engine_when_it_has_states_to_give(
        pipeline: Pipeline) -> None:
    """While the engine is held (an alert evaluation reads a large floor's for seconds), a
    scrape waits a tenth of a second for the states, then gives the last ones read if they
    are under 15 s old; a first scrape, with none to give, or one whose last are older,
    waits for the engine."""
    clock = Clock(at("09:20:00"))
    snap = pipeline.snapshot(clock.ms)
    kpis = KpiCollector(lambda: snap, pipeline.stats, clock_ms=clock,
                        floor_now=lambda now, _whole, wait_s: pipeline.floor_now(
                            now, wait_s=wait_s))
    scrapes = ScrapeAhead(kpis, CollectorRegistry(), clock, ahead=False)

    def gauge(body: bytes, name: str) -> float:
        (family,) = [f for f in text_string_to_metric_families(body.decode()) if f.name == name]
        return family.samples[0].value

    def in_state_s(body: bytes) -> float:  # a1 idle since its wrap at 09:06
        return gauge(body, "ccpulse_agent_state_seconds")

    def waited_for_the_engine() -> bytes:
        """A scrape begun while the engine is busy: it waits for it (still waiting 0.5 s
        in), and gets its body once the engine is free."""
        body: list[bytes] = []
        with pipeline.lock:
            waiting = threading.Thread(target=lambda: body.append(scrapes.body()))
            waiting.start()
            waiting.join(0.5)
            assert waiting.is_alive()
        waiting.join(5)
        return body[0]

    # busy before any states were read: the first scrape waits
    assert in_state_s(waited_for_the_engine()) == 840.0
    clock.ms = at("09:20:05")
    with pipeline.lock:
        began = time.monotonic()
        body = scrapes.body()
        assert in_state_s(body) == 840.0  # the last read, not waited for
        assert time.monotonic() - began < 1.0
        # and the scrape says how old they are; its KPIs, of the snapshot, older still
        assert gauge(body, "ccpulse_states_age_seconds") == 5.0
        assert gauge(body, "ccpulse_snapshot_age_seconds") == 5.0
    body = scrapes.body()
    assert in_state_s(body) == 845.0  # the engine free: read at the scrape
    assert gauge(body, "ccpulse_states_age_seconds") == 0.0
    clock.ms = at("09:20:20")  # the last read 15 s ago: too old to give, the scrape waits
    assert in_state_s(waited_for_the_engine()) == 860.0


def test_scrapes_in_a_rhythm_get_a_rendering_made_before_they_came(
        pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once a scraper's four scrapes came at a steady interval, its next one is rendered
    ahead, on a thread of its own, after the scrape before it: the scrape only writes it
    out. Two scrapers here, as the servers of an HA pair, every 0.8 s at phases 0.3 s apart;
    a rendering takes ~50 ms: the first four scrapes of each render for themselves, the
    later ones are begun ~0.3 s ahead, each for the soonest scrape expected."""
    monkeypatch.setattr(scrape_ahead, "RHYTHM_MIN_INTERVAL_S", 0.1)
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
    read: list[tuple[int, str]] = []  # the floor's states: when, on which thread

    def floor_now(now: int, _whole: bool, _wait_s: float | None) -> FloorNow | None:
        read.append((now, threading.current_thread().name))
        return pipeline.floor_now(now)
    scrapes = ScrapeAhead(KpiCollector(snap, pipeline.stats, clock_ms=now_ms,
                                       floor_now=floor_now),
                          CollectorRegistry(), now_ms)
    scraped_at: list[int] = []
    try:
        # at fixed slots, as Prometheus scrapes: a at 0, 0.8, 1.6 s…, b at 0.3, 1.1, 1.9 s…
        slots = sorted([(k * 0.8, "10.0.0.1") for k in range(6)]
                       + [(k * 0.8 + 0.3, "10.0.0.2") for k in range(6)])
        for offset, scraper in slots:
            time.sleep(max(0.0, started + offset - time.monotonic()))
            scraped_at.append(now_ms())
            scrapes.body(scraper)
        time.sleep(0.5)
    finally:
        scrapes.close()
    threads = [name for _, name in taken]
    assert threads[:8] == ["MainThread"] * 8
    assert threads[8:] == ["scrape-ahead"] * (len(threads) - 8)
    assert len(threads) >= 12  # the last scrape's next one was rendered too, or was begun
    # each rendering ahead began after the scrape before it, and before the one it is for
    for (instant, _), before, after in zip(taken[8:], scraped_at[7:], scraped_at[8:],
                                           strict=False):
        assert before <= instant <= after
    # and the floor's states are read ahead too, just before each scrape (0.2 s here)
    assert [name for _, name in read[:8]] == ["MainThread"] * 8
    ahead = [instant for instant, name in read if name == "scrape-ahead-states"]
    assert len(ahead) >= 3
    assert [name for _, name in read[8:]].count("MainThread") <= 1  # scrapes took them
    for instant in ahead:  # (the last may be for a scrape that did not come)
        after = [at for at in scraped_at if at >= instant]
        assert not after or after[0] - instant <= 450  # for the next scrape, just before it


def test_the_rhythms_of_the_last_scrapers_are_kept_and_no_more(pipeline: Pipeline) -> None:
    """Scrapers come and go (a Prometheus restarted on another address, people with curl):
    only the :data:`SCRAPERS` that scraped last keep their rhythm."""
    clock = Clock(at("09:20:00"))
    scrapes = ScrapeAhead(counting(pipeline, clock)[1], CollectorRegistry(), clock,
                          ahead=False)
    addresses = [f"10.0.0.{n}" for n in range(scrape_ahead.SCRAPERS + 2)]
    for address in addresses:
        scrapes.body(address)
    scrapes.body(addresses[2])  # scraped again: the newest now
    assert list(scrapes._rhythms) == addresses[3:] + addresses[2:3]
