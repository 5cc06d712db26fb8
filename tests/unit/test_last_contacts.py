"""The compact store of expired customers' last contacts, alone and inside the engine."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccpulse.processors.config import HOUR_MS
from ccpulse.processors.decode import decode
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.last_contacts import LastContacts, digest
from ccpulse.processors.snapshot import snapshot
from ccpulse.streams.simulator import SimConfig, Simulator

DAY = 24 * HOUR_MS


def test_the_newest_time_of_a_customer_is_found_across_generations() -> None:
    book = LastContacts()
    book.put(digest("c1"), 5_000)
    book.put(digest("c1"), 4_000)  # older: changes nothing
    assert book.get(digest("c1")) == 5_000 and book.get(digest("c2")) is None
    book.expire(0, 0)
    book.expire(HOUR_MS, 0)  # an hour after it opened: sealed into a generation
    assert book.get(digest("c1")) == 5_000 and len(book) == 1
    book.put(digest("c1"), 9_000)  # met again and expired again: a second entry, the newer wins
    book.expire(HOUR_MS + 1, 0)
    book.expire(2 * HOUR_MS + 1, 0)
    assert book.get(digest("c1")) == 9_000 and len(book) == 2


def test_a_generation_goes_when_its_newest_time_is_past_the_horizon() -> None:
    book = LastContacts()
    book.put(digest("old"), 1_000)
    book.put(digest("young"), 3_000)
    book.expire(0, 0)
    book.expire(HOUR_MS, 0)
    book.expire(HOUR_MS, 3_000)  # "old" is past the horizon, "young" is not: both kept
    assert book.get(digest("old")) == 1_000 and book.get(digest("young")) == 3_000
    book.expire(HOUR_MS, 3_001)
    assert book.get(digest("old")) is None and book.get(digest("young")) is None and len(book) == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([f"c{i}" for i in range(12)]),
                          st.integers(0, 3 * DAY), st.integers(0, 4 * HOUR_MS)),
                max_size=80))
def test_it_answers_as_a_dict_of_newest_times_does(steps: list[tuple[str, int, int]]) -> None:
    """Puts, each followed by expiry some time later (the engine's order): a customer whose
    newest time is inside the horizon is found with that time; one never put is not; one past
    the horizon is either gone or found with its true newest time (stale, never wrong)."""
    book, newest = LastContacts(), {}
    now = 0
    for customer, ts, step in steps:
        book.put(digest(customer), ts)
        newest[customer] = max(ts, newest.get(customer, ts))
        now += step
        horizon = now - DAY
        book.expire(now, horizon)
        for name in [f"c{i}" for i in range(12)]:
            found = book.get(digest(name))
            if name not in newest:
                assert found is None
            elif newest[name] >= horizon:
                assert found == newest[name]
            else:
                assert found in (None, newest[name])


def test_the_digest_is_the_same_in_every_process() -> None:
    """Workers must agree on it: Python's own str hash is salted per process."""
    code = "from ccpulse.processors.last_contacts import digest; print(digest('cust-42'))"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": seed}).stdout.strip()
            for seed in ("1", "2")}
    assert runs == {str(digest("cust-42"))}


@pytest.fixture(scope="module")
def expired_as_a_worker() -> tuple[KpiEngine, KpiEngine, list[bool]]:
    """30 h of a small floor, applied to an engine expired every 5 min of event time (customers
    move to the compact store after 8 h, leave it after 24 h) and to one that keeps
    everything; and, at each expiry, whether the expiring one's churned dicts were left the
    size of a copy of them."""
    events = [decode(orjson.dumps(e)) for e in Simulator(SimConfig(
        agents=30, duration_ms=30 * HOUR_MS, seed=3)).events()]
    # the expiring one deduplicates, as the demo's and replay's do: its event ids churn too
    expiring, keeping = KpiEngine(dedup=True), KpiEngine(dedup=False)
    compact: list[bool] = []
    next_expiry = 0
    for decoded in events:
        expiring.apply(decoded)  # type: ignore[arg-type]
        keeping.apply(decoded)  # type: ignore[arg-type]
        if decoded.ts_ms >= next_expiry:  # type: ignore[union-attr]
            expiring.expire(decoded.ts_ms)  # type: ignore[union-attr]
            next_expiry = decoded.ts_ms + 5 * 60_000  # type: ignore[union-attr]
            compact.append(all(sys.getsizeof(table) == sys.getsizeof(dict(table))
                               for table in (expiring.interactions, expiring.customers,
                                             expiring.seen)))
    return expiring, keeping, compact


def test_an_engine_expiring_as_a_worker_does_reports_what_one_that_never_expires_does(
        expired_as_a_worker: tuple[KpiEngine, KpiEngine, list[bool]]) -> None:
    """Every window's KPIs at the end, repeat contacts included, equal those of an engine
    that kept everything."""
    expiring, keeping, _ = expired_as_a_worker
    assert len(expiring.last_contacts) > 0 and len(expiring.customers) < len(keeping.customers)
    now = keeping.max_ts or 0
    ends = snapshot(expiring, now).windows, snapshot(keeping, now).windows
    assert ends[0] == ends[1]
    repeats = [kpis.get("repeat_contact") for kpis in ends[0]["8h"].queue.values()]
    assert any(r for r in repeats)  # the simulator's customers do come back


def test_expiry_leaves_the_churned_dicts_sized_to_what_they_hold(
        expired_as_a_worker: tuple[KpiEngine, KpiEngine, list[bool]]) -> None:
    """Records and customers come and go all day: each expiry leaves their dicts no larger
    than a copy (CPython grows a dict whose deleted slots ran out to three times what it
    holds), and customers are known by their digest, not their id."""
    expiring, _, compact = expired_as_a_worker
    assert len(compact) > 300 and all(compact)
    assert expiring.customers and all(type(key) is int for key in expiring.customers)
    churned = dict.fromkeys(range(len(expiring.interactions)))  # what a dict without copies
    for key in range(len(expiring.interactions), 20 * len(expiring.interactions)):
        churned[key] = None  # becomes after the same churn: the premise of the copies
        del churned[key - len(expiring.interactions)]
    assert sys.getsizeof(churned) > 1.4 * sys.getsizeof(dict(churned))
