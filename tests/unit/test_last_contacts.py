"""The compact store of expired customers' last contacts, alone and inside the engine."""

from __future__ import annotations

import subprocess
import sys

import orjson
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
    book.put("c1", 5_000)
    book.put("c1", 4_000)  # older: changes nothing
    assert book.get("c1") == 5_000 and book.get("c2") is None
    book.expire(0, 0)
    book.expire(HOUR_MS, 0)  # an hour after it opened: sealed into a generation
    assert book.get("c1") == 5_000 and len(book) == 1
    book.put("c1", 9_000)  # met again and expired again: a second entry, the newer wins
    book.expire(HOUR_MS + 1, 0)
    book.expire(2 * HOUR_MS + 1, 0)
    assert book.get("c1") == 9_000 and len(book) == 2


def test_a_generation_goes_when_its_newest_time_is_past_the_horizon() -> None:
    book = LastContacts()
    book.put("old", 1_000)
    book.put("young", 3_000)
    book.expire(0, 0)
    book.expire(HOUR_MS, 0)
    book.expire(HOUR_MS, 3_000)  # "old" is past the horizon, "young" is not: both kept
    assert book.get("old") == 1_000 and book.get("young") == 3_000
    book.expire(HOUR_MS, 3_001)
    assert book.get("old") is None and book.get("young") is None and len(book) == 0


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
        book.put(customer, ts)
        newest[customer] = max(ts, newest.get(customer, ts))
        now += step
        horizon = now - DAY
        book.expire(now, horizon)
        for name in [f"c{i}" for i in range(12)]:
            found = book.get(name)
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


def test_an_engine_expiring_as_a_worker_does_reports_what_one_that_never_expires_does() -> None:
    """30 h of a small floor, expired every 5 min of event time (customers move to the
    compact store after 8 h, leave it after 24 h): every window's KPIs at the end, repeat
    contacts included, equal those of an engine that kept everything."""
    events = [decode(orjson.dumps(e)) for e in Simulator(SimConfig(
        agents=30, duration_ms=30 * HOUR_MS, seed=3)).events()]
    expiring, keeping = KpiEngine(dedup=False), KpiEngine(dedup=False)
    next_expiry = 0
    for decoded in events:
        expiring.apply(decoded)  # type: ignore[arg-type]
        keeping.apply(decoded)  # type: ignore[arg-type]
        if decoded.ts_ms >= next_expiry:  # type: ignore[union-attr]
            expiring.expire(decoded.ts_ms)  # type: ignore[union-attr]
            next_expiry = decoded.ts_ms + 5 * 60_000  # type: ignore[union-attr]
    assert len(expiring.last_contacts) > 0 and len(expiring.customers) < len(keeping.customers)
    now = keeping.max_ts or 0
    ends = snapshot(expiring, now).windows, snapshot(keeping, now).windows
    assert ends[0] == ends[1]
    repeats = [kpis.get("repeat_contact") for kpis in ends[0]["8h"].queue.values()]
    assert any(r for r in repeats)  # the simulator's customers do come back
