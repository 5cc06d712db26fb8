"""``/metrics`` rendered ahead of the scrape that asks for it.

Prometheus scrapes a target at a fixed interval and phase, and drops a scrape that outlasts
its ``scrape_timeout`` (10 s by default). What a scrape of ccpulse costs is a snapshot of
the floor (or of a worker's share of it) and the text of its series: about a second at
5,000 agents, many seconds at 50,000 (BENCHMARKS.md). Like kube-state-metrics, which keeps
each object's metric text in a store and only writes it out when scraped, a worker here
keeps the text of its last rendering and serves it; unlike a store updated on every event,
the text is of one snapshot, because a window's values move with time, not only with
events.

So, once the scrapes arrive in a steady rhythm (:class:`Rhythm`), the next rendering starts
ahead of the next scrape expected — :data:`LEAD` times what the last one took, so it is done
when the scrape comes — and the scrape writes it out with the series of its own instant:
the floor's states and waits (:meth:`KpiCollector.states`, read just before the scrape
expected, on a thread of their own — begun :data:`LEAD` times what reading them takes
before it — and taken by the scrape if begun within twice that plus a second; read at the
scrape otherwise), then the snapshot's age and the states' (``ccpulse_states_age_seconds``),
the alerts and the pipeline's counters, read at the scrape (:meth:`KpiCollector.at_scrape`).
Where a rendering takes longer than the interval they are made back to back, and a scrape
that comes while one is under way takes the last one finished instead of waiting (if it is
recent, below).
Each scraper (by address: the two servers of an HA pair scrape at two phases) has a
rhythm of its own, and the next rendering is for the soonest scrape expected. Without a
rhythm (a person with curl, a benchmark polling) nothing is rendered ahead and a scrape is
what it was: it renders the snapshot it reads, or writes out the kept text if that is of
the very same snapshot. A rendering made ahead is served to the next scrape only while
begun within four times what a rendering takes (at least a second: the rule
:class:`ccpulse.api.RecentSnapshot` applies to snapshots) and only if that scrape exports
the same thing (:meth:`KpiCollector.view`: the floor or a share, of which partitions). Each
scrape's ``ccpulse_snapshot_age_seconds`` says how old its numbers are.

A scrape that has to wait for a rendering (one under way, or its own) waits at most half of
what its scraper allows it (Prometheus says so in ``X-Prometheus-Scrape-Timeout-Seconds``,
10 s by default) and then takes the last rendering of what it exports, however old:
Prometheus drops a scrape that outlasts its timeout, and every series of the target goes
stale with it, where numbers a rendering older still answer, with their age. Where the
rendering cannot be done within that half — begun, or begun now, plus what the last one
took — it takes the last one at once rather than wait for nothing: the numbers are the
same, the scrape seconds shorter (a lease holder of 50,000 agents waited 5 s a scrape,
BENCHMARKS.md, issue 19, seventeenth round). A scraper that gives no timeout (curl) waits,
as before.

A rendering made ahead is kept gzip-compressed (:mod:`ccpulse.gzip_body`): Prometheus asks
for gzip, and the kept text is then a tenth of its size; a scraper asking for text gets it
decompressed.

The cost moves, it does not vanish: the same renderings are made (at most one per scrape),
before the scrape instead of during it, and the numbers are that much older at the
scrape (BENCHMARKS.md, issue 19, fourteenth round).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import pairwise

from prometheus_client import CollectorRegistry

from ccpulse.api import max_age_ms
from ccpulse.exporter import KpiCollector
from ccpulse.gzip_body import Packed, gzipped
from ccpulse.processors.snapshot import Snapshot
from ccpulse.textformat import Exposition, render

log = logging.getLogger("ccpulse.metrics")

RHYTHM_ARRIVALS = 4  # scrapes whose intervals must agree before anything is rendered ahead
# each interval within this share of the shortest of a whole number of times it: a scrape
# that outlasts the interval makes Prometheus skip a slot (Prometheus' own jitter is ms)
RHYTHM_TOLERANCE = 0.1
RHYTHM_MIN_INTERVAL_S = 2.0  # polled faster than this: rendering ahead would only add work
SCRAPERS = 8  # scrapers whose rhythms are kept (by address: an HA pair is two), the newest
# a rendering starts this many times what the last one took before the scrape expected (and
# a fixed margin more), so that a slower one is still done in time
LEAD = 1.5
LEAD_MARGIN_S = 0.2
# of its scraper's timeout, how long a scrape waits for a rendering (one under way, or its
# own) when one of what it exports could be served instead: the rest is for writing it out
# and sending it
WAIT_SHARE = 0.5
# how long a reading of the floor's states waits for the engine, held by an alert
# evaluation's reading for seconds on a large floor, before it takes the last ones read
STATES_WAIT_S = 0.1
# the oldest states a scrape gives rather than wait for the engine (Prometheus' default
# scrape interval): evaluations in phase with the scrapes must not keep them from ever
# being read again
STATES_KEPT_MS = 15_000


class Rhythm:
    """When the next scrape is expected, from the arrivals of the last few: every interval
    is a whole number of times the shortest, within :data:`RHYTHM_TOLERANCE` of it, and the
    shortest is at least :data:`RHYTHM_MIN_INTERVAL_S`. Times are seconds of a monotonic
    clock."""

    def __init__(self) -> None:
        self._arrivals: deque[float] = deque(maxlen=RHYTHM_ARRIVALS)

    def arrived(self, at_s: float) -> None:
        self._arrivals.append(at_s)

    def expected(self) -> float | None:
        """The next scrape's arrival, or None while there is no steady rhythm."""
        if len(self._arrivals) < RHYTHM_ARRIVALS:
            return None
        intervals = [b - a for a, b in pairwise(self._arrivals)]
        base = min(intervals)
        if base < RHYTHM_MIN_INTERVAL_S or any(
                abs(interval - max(1, round(interval / base)) * base) > RHYTHM_TOLERANCE * base
                for interval in intervals):
            return None
        return self._arrivals[-1] + base


@dataclass(frozen=True)
class Rendering:
    """The text of one snapshot's series, and what it is of.

    The snapshot itself is not kept, only its instant and a weak reference to tell it from
    another: at 50,000 agents a floor's snapshot holds ~230 MB once the alert rules have read
    every agent's KPIs, and a rendering kept it alive after a newer one had replaced it
    everywhere else, for as long as the next rendering took (BENCHMARKS.md, issue 19,
    twentieth round)."""

    of: weakref.ref[Snapshot] = field(compare=False)
    now: int  # the snapshot's instant: what the live series are read at
    rendered_ms: int  # when it was begun, by the collector's clock
    view: tuple[bool, object]  # KpiCollector.view() when it was rendered
    # kept compressed where a scraper asks for gzip (Prometheus does; about a tenth of the memory)
    body: bytes | Packed
    ahead: bool  # made for the next scrape, which has not come yet

    def answer(self, tail: bytes, *, gzip: bool) -> bytes:
        """The body of a scrape: the kept series then ``tail``, compressed if ``gzip``."""
        if isinstance(self.body, Packed):
            return self.body.ended(tail) if gzip else self.body.text() + tail
        return gzipped(self.body + tail) if gzip else self.body + tail


@dataclass(frozen=True)
class States:
    """The text of the floor's states and waits at one instant (:meth:`KpiCollector.states`),
    read just before a scrape expected (:meth:`ScrapeAhead._render_states`)."""

    text: bytes
    now: int  # the instant they are of, by the collector's clock
    view: tuple[bool, object]
    ahead: bool  # made for the next scrape, which has not come yet


def _kept_as(body: bytes | Packed, *, pack: bool) -> bytes | Packed:
    """``body`` compressed if ``pack`` and it is not yet; as it is otherwise."""
    return Packed.of(body) if pack and not isinstance(body, Packed) else body


class ScrapeAhead:
    """The ``/metrics`` body: ``collector``'s series from a kept or new rendering, then its
    live series and ``others`` (the process' own collectors) read at the scrape."""

    def __init__(self, collector: KpiCollector, others: CollectorRegistry,
                 clock_ms: Callable[[], int], *, ahead: bool = True) -> None:
        self._collector = collector
        self._others = others
        self._clock_ms = clock_ms
        self._exposition = Exposition()  # label text kept between renderings
        # and between renderings of the floor's states: their own lock, since scrapes (an
        # HA pair's) may come at once, and the thread rendering ahead renders them too
        self._states_exposition = Exposition()
        self._states_lock = threading.Lock()
        self._states: States | None = None
        self._states_took_ms = 0
        self._states_took_s = 0.0
        self._rendering_lock = threading.Lock()  # one rendering at a time: they share it
        self._arrivals_lock = threading.Lock()
        self._rhythms: dict[str, Rhythm] = {}  # by scraper, the last to scrape last
        self._arrivals = 0
        self._kept: Rendering | None = None
        self._took_ms = 0  # what the last rendering took, by the collector's clock
        self._took_s = 0.0  # the same, by the monotonic clock (to plan the next)
        self._began_s = 0.0  # when the last rendering began, by the monotonic clock
        self._scraped = threading.Event()
        self._closed = threading.Event()
        # renderings a scrape with a timeout started, finished after it answered if need be
        self._renderer = ThreadPoolExecutor(1, thread_name_prefix="scrape-render")
        self._submitting = threading.Lock()
        self._started: Future[Rendering] | None = None
        self._scraped_states = threading.Event()
        if ahead:
            threading.Thread(target=self._render_ahead, name="scrape-ahead",
                             daemon=True).start()
            threading.Thread(target=self._states_ahead, name="scrape-ahead-states",
                             daemon=True).start()

    def body(self, scraper: str = "", *, gzip: bool = False,
             timeout_s: float | None = None) -> bytes:
        """A scrape's answer, compressed if ``gzip``; ``scraper`` tells scrapers apart
        (their address): each keeps a rhythm of its own, and the servers of an HA pair
        scrape at two phases. ``timeout_s``: how long the scraper waits for the answer, if
        it said (bounds the wait for a rendering: :meth:`_rendered`)."""
        with self._arrivals_lock:
            rhythm = self._rhythms.pop(scraper, None) or Rhythm()
            self._rhythms[scraper] = rhythm
            if len(self._rhythms) > SCRAPERS:
                del self._rhythms[next(iter(self._rhythms))]
            rhythm.arrived(time.monotonic())
            self._arrivals += 1
        kept = self._while_rendering() or self._rendered(gzip=gzip, timeout_s=timeout_s)
        self._scraped.set()  # plan the next rendering ahead
        self._scraped_states.set()
        states = self._states_for_this_scrape()
        return kept.answer(states.text + render(self._collector.at_scrape(
            kept.now, states_ms=states.now)) + render(self._others.collect()), gzip=gzip)

    def _states_for_this_scrape(self) -> States:
        """The floor's states read ahead for this scrape, if they are of what it exports and
        were begun within twice what reading them takes, plus a second; read now otherwise
        — unless the engine stays busy :data:`STATES_WAIT_S` (an alert evaluation reading
        it): then the last ones read, of what it exports, if read within
        :data:`STATES_KEPT_MS` (the scrape waited for the evaluation's reading before, 3.6 s
        a scrape at 50,000 agents). Without such, it waits as long as it takes."""
        with self._states_lock:
            kept = self._states
            if kept is not None and kept.view != self._collector.view():
                kept = None  # of what this scrape does not export
            if (kept is not None and kept.ahead
                    and 0 <= self._clock_ms() - kept.now < 2 * self._states_took_ms + 1000):
                self._states = replace(kept, ahead=False)
                return kept
            if kept is not None and not 0 <= self._clock_ms() - kept.now < STATES_KEPT_MS:
                kept = None  # too old to give instead of waiting
            fresh = self._render_states(ahead=False, wait_s=STATES_WAIT_S) or (
                kept if kept is not None else self._render_states(ahead=False, wait_s=None))
            assert fresh is not None  # read without a bound: never None
            return fresh

    def _render_states(self, *, ahead: bool, wait_s: float | None) -> States | None:
        """The floor's states and waits now, kept; None (and nothing kept) where the engine
        stayed busy ``wait_s``. The caller holds the states' lock."""
        started_ms, started_s = self._clock_ms(), time.monotonic()
        view = self._collector.view()
        metrics = self._collector.states(started_ms, view[0], wait_s)
        if metrics is None:
            return None
        text = self._states_exposition.render(metrics)
        self._states_took_ms = max(0, self._clock_ms() - started_ms)
        self._states_took_s = max(0.0, time.monotonic() - started_s)
        self._states = States(text, started_ms, view, ahead)
        return self._states

    def _while_rendering(self) -> Rendering | None:
        """While a rendering is under way, the last one if it is still recent: a floor that
        takes longer to render than the scrape interval is rendered ahead back to back, and
        a scrape waiting for the one under way would wait for most of it."""
        kept = self._kept
        if self._rendering_lock.locked() and kept is not None and self._recent(kept):
            return kept
        return None

    def _rendered(self, *, gzip: bool, timeout_s: float | None) -> Rendering:
        """The rendering made ahead for this scrape, or a new one; if that takes longer than
        :data:`WAIT_SHARE` of ``timeout_s`` (a rendering under way to wait for, a snapshot
        to compute), the last one of what it exports, however old — at once where it is
        not expected done in that time (:meth:`_done_by_s`). The rendering it started goes
        on, on a thread of its own, and is kept for the next scrape; scrapes that come
        meanwhile wait for that one rather than start another."""
        kept = self._kept
        fallback = kept if kept is not None and kept.view == self._collector.view() else None
        if timeout_s is None or fallback is None:
            return self._for_this_scrape(gzip)
        with self._submitting:
            started = self._started
            if started is None or started.done():
                started = self._started = self._renderer.submit(self._for_this_scrape, gzip)
        wait_s = WAIT_SHARE * timeout_s
        if self._done_by_s() > time.monotonic() + wait_s:
            return fallback
        try:
            return started.result(timeout=wait_s)
        except TimeoutError:
            return fallback

    def _done_by_s(self) -> float:
        """When a rendering asked for now is expected done, by the monotonic clock: the one
        under way when it began plus what the last one took, or now plus that (nothing
        known before the first: now)."""
        now = time.monotonic()
        if self._rendering_lock.locked():
            return max(now, self._began_s + self._took_s)
        return now + self._took_s

    def _for_this_scrape(self, gzip: bool) -> Rendering:
        with self._rendering_lock:  # a rendering ahead just finished or under way: ours
            return self._take_ahead() or self._render(ahead=False, pack=gzip)

    def close(self) -> None:
        self._closed.set()
        self._scraped.set()
        self._scraped_states.set()
        self._renderer.shutdown(wait=False, cancel_futures=True)

    def _take_ahead(self) -> Rendering | None:
        """The rendering made ahead for this scrape, if it is of what this scrape exports
        and was begun within four times what a rendering takes (at least a second)."""
        kept = self._kept
        if kept is None or not kept.ahead:
            return None
        self._kept = replace(kept, ahead=False)  # for this scrape only
        return kept if self._recent(kept) else None

    def _recent(self, kept: Rendering) -> bool:
        """Of what a scrape exports now, and begun within four times what a rendering
        takes (at least a second)."""
        return (0 <= self._clock_ms() - kept.rendered_ms < max_age_ms(self._took_ms)
                and kept.view == self._collector.view())

    def _render(self, *, ahead: bool, pack: bool) -> Rendering:
        """The rendering of the snapshot the collector reads now, compressed if ``pack``;
        the kept one if it is of that very snapshot (another scrape's, or the alert
        evaluation's, shared: the same text). The caller holds the rendering lock."""
        started_ms, started_s = self._clock_ms(), time.monotonic()
        self._began_s = started_s
        view = self._collector.view()
        snap = self._collector.snapshot(whole=view[0])
        kept = self._kept
        if kept is not None and kept.of() is snap and kept.view == view:
            self._kept = replace(kept, ahead=ahead, body=_kept_as(kept.body, pack=pack))
            return self._kept
        # packed, the text itself is not kept, nor ever held whole
        metrics = self._collector.of_snapshot(snap)
        body = (self._exposition.render_packed(metrics) if pack
                else self._exposition.render(metrics))
        self._took_ms = max(0, self._clock_ms() - started_ms)
        self._took_s = max(0.0, time.monotonic() - started_s)
        self._kept = Rendering(weakref.ref(snap), snap.now, started_ms, view, body, ahead)
        return self._kept

    def _next_expected(self) -> float | None:
        """The soonest scrape expected of any scraper with a rhythm, not yet overdue."""
        now = time.monotonic()
        expected = [at for rhythm in self._rhythms.values()
                    if (at := rhythm.expected()) is not None and at >= now]
        return min(expected, default=None)

    def _next_slot(self, scraped: threading.Event, took_s: Callable[[], float],
                   ) -> tuple[float, int] | None:
        """After each scrape (``scraped``), while the scrapes keep a rhythm: waits until
        :data:`LEAD` times ``took_s()`` (plus a margin) before the next one expected, and
        returns when that is and how many scrapes had come; None once closed."""
        while True:
            scraped.wait()
            scraped.clear()
            if self._closed.is_set():
                return None
            with self._arrivals_lock:
                expected, planned_after = self._next_expected(), self._arrivals
            if expected is None:
                continue
            start = expected - LEAD * took_s() - LEAD_MARGIN_S
            if self._closed.wait(max(0.0, start - time.monotonic())):
                return None
            return expected, planned_after

    def _replanned(self, planned_after: int) -> bool:
        """A scrape came since the slot was planned, and planned anew."""
        with self._arrivals_lock:
            return self._arrivals != planned_after

    def _render_ahead(self) -> None:
        """Render once more before each scrape expected, to be done by then."""
        while (slot := self._next_slot(self._scraped, lambda: self._took_s)) is not None:
            with self._rendering_lock:
                if self._replanned(slot[1]):
                    continue
                try:
                    # packed: the scrapers that keep a rhythm are Prometheus servers
                    self._render(ahead=True, pack=True)
                except Exception:  # the scrape renders for itself then; say why here
                    log.exception("scrape_ahead_failed")

    def _states_ahead(self) -> None:
        """Read the floor's states as late before each scrape expected as they can be and
        still be done when it comes. They are what a wallboard watches second by second;
        read at the scrape, they were most of its time in a busy process (BENCHMARKS.md,
        issue 19, twenty-first round). A thread of their own: one behind a floor's rendering
        that ran late would be late too."""
        while (slot := self._next_slot(self._scraped_states,
                                       lambda: self._states_took_s)) is not None:
            expected, planned_after = slot
            # the engine busy (an evaluation reading it): tried again until the scrape is due
            while time.monotonic() < expected and not self._closed.is_set():
                with self._states_lock:
                    if self._replanned(planned_after):
                        break
                    try:
                        if self._render_states(ahead=True, wait_s=STATES_WAIT_S) is not None:
                            break
                    except Exception:  # the scrape reads them itself then; say why here
                        log.exception("scrape_ahead_failed")
                        break
