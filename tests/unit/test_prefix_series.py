"""Windowed sums of one cell (processors/series.py), in integers where a family is all
integers: the same sums as a naive one, in half the bytes while the totals fit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.measures import INTEGRAL, WIDTH, Wrap
from ccpulse.processors.series import PrefixSeries
from tests.support import EventFactory, at, feed, one_call_morning

WIDTH_3 = 3
BIG = 2**31  # past a 4-byte integer: the totals widen

values = st.one_of(st.integers(-5, 5), st.integers(-BIG, BIG), st.integers(0, 2**45))
contributions = st.lists(
    st.tuples(st.integers(0, 50), st.tuples(*[values] * WIDTH_3)), min_size=1, max_size=40)


def naive(added: list[tuple[int, tuple[int, ...]]], start: int, end: int) -> tuple[int, ...]:
    rows = [vector for ts, vector in added if start < ts <= end]
    return tuple(sum(column) for column in zip(*rows, strict=True))


@given(contributions, st.integers(-1, 50), st.integers(0, 200), st.integers(-1, 50))
def test_an_integral_series_sums_any_window_exactly_in_any_order(
        added: list[tuple[int, tuple[int, ...]]], start: int, length: int,
        trimmed: int) -> None:
    series = PrefixSeries(WIDTH_3, ("a1", "t1"), integral=True)
    for ts, vector in added:  # in the order drawn: late ones are inserted in place
        series.add(ts, vector)
    end = start + length
    expected = naive(added, start, end) or None
    assert series.window(start, end) == expected
    series.trim(trimmed)  # windows starting at or after the trim stay exact
    if start >= trimmed:
        assert series.window(start, end) == expected


def test_integer_totals_take_four_bytes_until_one_outgrows_them() -> None:
    series = PrefixSeries(WIDTH_3, ("q1", "voice"), integral=True)
    for ts in range(1, 101):
        series.add(ts, (1, 0, 60_000))
    assert series._cum.itemsize == 4  # half a double's 8
    series.add(101, (1, 0, BIG))  # a cell's totals after weeks of waits
    assert series._cum.itemsize == 8 and len(series._cum) == 101 * WIDTH_3  # whole rows
    assert series.window(0, 101) == (101, 0, 100 * 60_000 + BIG)
    assert series.window(100, 101) == (1, 0, BIG)


def test_a_late_contribution_that_overflows_widens_every_total_after_it() -> None:
    series = PrefixSeries(WIDTH_3, ("q1", "voice"), integral=True)
    for ts in (10, 20, 30):
        series.add(ts, (1, 0, 2**30))
    series.add(15, (1, 0, 2**30))  # late: the totals at 20 and 30 pass 2^31
    assert series._cum.itemsize == 8
    assert series.window(0, 30) == (4, 0, 2**32)
    assert series.window(15, 30) == (2, 0, 2**31)
    assert series.window(0, 15) == (2, 0, 2**31)


def test_the_engine_keeps_the_integer_families_in_integers() -> None:
    """Answers, surveys and the queue families are counts and milliseconds; a wrap's revenue,
    sentiment and QA score are not, so its totals stay doubles."""
    ev = EventFactory()
    engine = KpiEngine()
    outcomes = feed(engine, [
        *one_call_morning(ev),  # a wrap with revenue 20, a survey
        ev("interaction.queued", "09:11:00", interaction_id="i2", queue_id="q1",
           channel="voice"),
        ev("interaction.abandoned", "09:12:00", interaction_id="i2", queue_id="q1"),
    ])
    assert set(outcomes) == {"applied"}
    kept = {family: [series._cum.itemsize for series in cells.values()]
            for family, cells in engine.families.items()}
    assert set(kept) == set(WIDTH) and all(kept.values())
    assert all(size == 4 for family in INTEGRAL for size in kept[family])
    assert kept["wrap"] == [8]
    wrap = engine.families["wrap"][("a1", "t1", "q1", "voice")].window(0, at("09:20:00"))
    assert wrap is not None and wrap[Wrap.REVENUE] == 20.0
