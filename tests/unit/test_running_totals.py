"""Running totals in integers where what they add up is (processors/series.py for a cell's
measures, processors/timeline.py for an agent's time): the same sums as a naive one, in half
the bytes while the totals fit, and widened when one outgrows them."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.measures import (
    COUNTS,
    DOUBLES,
    WIDTH,
    Abandon,
    Answer,
    Contact,
    QueueAnswer,
    Survey,
    Wrap,
)
from ccpulse.processors.series import COUNTS as IN_TWO_BYTES
from ccpulse.processors.series import PrefixSeries, SplitSeries, series_for
from ccpulse.processors.timeline import (
    ACW,
    HANDLING,
    IDLE,
    LOAD,
    LOGGED_OUT,
    MS_WIDTH,
    NOT_READY_OTHER,
    NOT_READY_PRODUCTIVE,
    STRIDE,
    Timeline,
)
from tests.support import EventFactory, at, feed, one_call_morning

WIDTH_3 = 3
BIG = 2**31  # past a 4-byte integer: the totals widen

values = st.one_of(st.integers(-5, 5), st.integers(-BIG, BIG), st.integers(0, 2**45))
contributions = st.lists(
    st.tuples(st.integers(0, 50), st.tuples(*[values] * WIDTH_3)), min_size=1, max_size=40)


def naive(added: list[tuple[int, tuple[int, ...]]], start: int, end: int) -> tuple[int, ...]:
    rows = [vector for ts, vector in added if start < ts <= end]
    return tuple(sum(column) for column in zip(*rows, strict=True))


# how many of the measures are not integers (the last), and how many are counts (the first)
kinds = st.integers(0, WIDTH_3).flatmap(
    lambda doubles: st.tuples(st.just(doubles), st.integers(0, WIDTH_3 - doubles)))


@given(contributions, st.integers(-1, 50), st.integers(0, 200), st.integers(-1, 50), kinds)
@example(added=[(0, (0, 0, 2**31))], start=-1, length=1, trimmed=0, kinds=(0, 3))
@example(added=[(5, (1, 1, 1)), (1, (40_000, 0, 0))], start=0, length=5, trimmed=0,
         kinds=(0, 3))  # 2 bytes to 8 at once, whole rows; to 4 by a late one
@example(added=[(5, (2**31, 2**31, 1)), (1, (40_000, 0, 0))], start=0, length=5, trimmed=0,
         kinds=(1, 1))  # each part of a split series widens alone, in order and late
@settings(max_examples=300)
def test_a_series_sums_any_window_exactly_in_any_order(
        added: list[tuple[int, tuple[int, ...]]], start: int, length: int,
        trimmed: int, kinds: tuple[int, int]) -> None:
    """Whether all, some (the last ``doubles``) or none of its measures are integers, and
    however many of the first are counts."""
    doubles, counts = kinds
    added = [(ts, (*vector[:WIDTH_3 - doubles], *(v / 4 for v in vector[WIDTH_3 - doubles:])))
             for ts, vector in added]  # quarters: exact in doubles, as the naive sums are
    series = series_for(WIDTH_3, ("a1", "t1"), doubles, counts)
    for ts, vector in added:  # in the order drawn: late ones are inserted in place
        series.add(ts, vector)
    end = start + length
    expected = naive(added, start, end) or None
    assert series.window(start, end) == expected
    assert series.windows((start, end - 1, -1), end) == [
        naive(added, first, end) or None for first in (start, end - 1, -1)]
    series.trim(trimmed)  # windows starting at or after the trim stay exact
    if start >= trimmed:
        assert series.window(start, end) == expected


def test_integer_totals_take_four_bytes_until_one_outgrows_them() -> None:
    series = PrefixSeries(WIDTH_3, ("q1", "voice"))
    for ts in range(1, 101):
        series.add(ts, (1, 0, 60_000))
    assert series._cum.itemsize == 4  # half a double's 8
    series.add(101, (1, 0, BIG))  # a cell's totals after weeks of waits
    # whole rows: the totals trimmed away (none yet), then one a contribution
    assert series._cum.itemsize == 8 and len(series._cum) == (1 + 101) * WIDTH_3
    assert series.window(0, 101) == (101, 0, 100 * 60_000 + BIG)
    assert series.window(100, 101) == (1, 0, BIG)


@pytest.mark.parametrize("doubles", [0, 1])
def test_times_take_four_bytes_from_the_first_until_one_is_25_days_away(doubles: int) -> None:
    """A cell keeps its contributions' times from its first one's; a queue busy for a month
    has them more than 2^31 ms (24.8 days) apart, and keeps them in 8 bytes from then on.
    Times before the first (a late contribution) are kept as well."""
    day = 86_400_000
    start = 1_795_498_800_000
    series = series_for(WIDTH_3, ("q1", "voice"), doubles, doubles)  # (a wrap's split, or not)
    for n in range(20):
        series.add(start + n * day, (1, 0, 1_000))
    series.add(start - 1_000, (1, 0, 5))  # late: before the first
    assert series._ts.itemsize == 4
    series.add(start + 30 * day, (1, 0, 2_000))
    assert series._ts.itemsize == 8 and len(series._ts) == 22
    assert series.window(start - 2_000, start + 30 * day) == (22, 0, 20 * 1_000 + 5 + 2_000)
    assert series.window(start + 19 * day, start + 30 * day) == (1, 0, 2_000)
    assert series.windows((start - 1_000, start + 29 * day), start + 30 * day - 1) == [
        (20, 0, 20_000), None]
    series.trim(start + 10 * day)
    assert series.window(start + 10 * day, start + 31 * day) == (10, 0, 9 * 1_000 + 2_000)


def test_counts_take_two_bytes_until_one_outgrows_them() -> None:
    """A family of counts alone (a queue's contacts and abandons, an agent's surveys) starts
    in 2-byte totals; a queue busy for hours passes 32,767 and widens them to 4, and a
    total past 2^31 to 8."""
    series = PrefixSeries(WIDTH_3, ("q1", "voice"), IN_TWO_BYTES)
    for ts in range(1, 101):
        series.add(ts, (1, 0, 300))
    assert series._cum.itemsize == 2
    series.add(101, (1, 0, 2_767))  # 100 × 300 + 2,767 = 32,767: the most 2 bytes hold
    assert series._cum.itemsize == 2
    series.add(102, (1, 0, 1))
    assert series._cum.itemsize == 4 and len(series._cum) == (1 + 102) * WIDTH_3
    series.add(103, (1, 2**31, 0))
    assert series._cum.itemsize == 8 and len(series._cum) == (1 + 103) * WIDTH_3
    assert series.window(0, 103) == (103, 2**31, 32_768)
    assert series.windows((101, 102), 103) == [(2, 2**31, 1), (1, 2**31, 0)]


def test_a_late_contribution_that_overflows_widens_every_total_after_it() -> None:
    series = PrefixSeries(WIDTH_3, ("q1", "voice"))
    for ts in (10, 20, 30):
        series.add(ts, (1, 0, 2**30))
    series.add(15, (1, 0, 2**30))  # late: the totals at 20 and 30 pass 2^31
    assert series._cum.itemsize == 8
    assert series.window(0, 30) == (4, 0, 2**32)
    assert series.window(15, 30) == (2, 0, 2**31)
    assert series.window(0, 15) == (2, 0, 2**31)


def test_a_split_series_widens_its_integers_alone_and_trims_both_parts() -> None:
    """Two integer measures and one double (as a wrap's 16 and 3): an overflow widens the
    integers and keeps whole rows, a late contribution rebuilds both parts, and a trim keeps
    both parts' totals of what it dropped."""
    series = series_for(3, ("a1", "t1", "q1", "voice"), 1, 0)
    series.add(10, (1, 2**30, 0.5))
    series.add(20, (1, 2**30 - 1, 0.5))  # 2^31 - 1: the most 4 bytes hold
    assert series._cum.itemsize == 4
    series.add(30, (1, 1, 0.25))  # the second total passes it, after the first fit
    assert series._cum.itemsize == 8 and len(series._cum) == (1 + 3) * 2
    assert series._doubles.typecode == "d" and len(series._doubles) == 1 + 3
    assert series.window(0, 30) == (3, 2**31, 1.25)
    series.add(15, (1, 0, 2.0))  # late
    assert series.window(10, 30) == (3, 2**30, 2.75)
    series.trim(10)
    assert series.window(10, 30) == (3, 2**30, 2.75)  # from the totals of what was trimmed
    assert series.windows((15, 20, 30), 30) == [(2, 2**30, 0.75), (1, 1, 0.25), None]


def test_a_split_series_keeps_its_counts_in_two_bytes_and_widens_them_alone() -> None:
    """A count, a millisecond measure and a double (as a wrap's 11, 5 and 3)."""
    series = series_for(3, ("a1", "t1", "q1", "voice"), 1, 1)
    series.add(10, (32_000, 60_000, 0.5))
    assert [a.typecode for a in (series._counts, series._cum, series._doubles)] == ["h", "i",
                                                                                 "d"]
    series.add(20, (1_000, 1, 0.25))  # past 32,767: the counts widen, and only they
    assert [a.typecode for a in (series._counts, series._cum, series._doubles)] == ["i", "i",
                                                                                 "d"]
    assert [len(a) for a in (series._counts, series._cum, series._doubles)] == [3, 3, 3]
    series.add(15, (1, 2**31, 1.0))  # late, past 2^31: the milliseconds widen
    assert series._cum.typecode == "q"
    assert series.windows((0, 10, 15), 20) == [(33_001, 2**31 + 60_001, 1.75),
                                               (1_001, 2**31 + 1, 1.25), (1_000, 1, 0.25)]
    series.trim(10)
    assert series.window(10, 20) == (1_001, 2**31 + 1, 1.25)


def test_the_engine_keeps_every_integer_measure_in_integers() -> None:
    """Answers, surveys and the queue families are counts and milliseconds, surveys,
    contacts and abandons counts alone (in 2 bytes); of a wrap's measures, revenue,
    sentiment and QA score are not, so only their totals are doubles."""
    ev = EventFactory()
    engine = KpiEngine()
    outcomes = feed(engine, [
        *one_call_morning(ev),  # a wrap with revenue 20, a survey
        ev("interaction.queued", "09:11:00", interaction_id="i2", queue_id="q1",
           channel="voice"),
        ev("interaction.abandoned", "09:12:00", interaction_id="i2", queue_id="q1"),
    ])
    assert set(outcomes) == {"applied"}
    kept = {family: {series._cum.itemsize for series in cells.values()}
            for family, cells in engine.families.items()}
    assert kept == {"wrap": {4}, "answer": {4}, "queue_answer": {4}, "survey": {2},
                    "contact": {2}, "abandon": {2}}
    series = engine.families["wrap"][("a1", "t1", "q1", "voice")]
    assert isinstance(series, SplitSeries)
    counts, doubles = COUNTS["wrap"], DOUBLES["wrap"]
    assert series._counts.typecode == "h" and len(series._counts) == 2 * counts  # trimmed,
    assert len(series._cum) == 2 * (WIDTH["wrap"] - counts - doubles)  # the wrap
    assert series._doubles.typecode == "d" and len(series._doubles) == 2 * doubles
    assert {m.name for m in list(Wrap)[:counts]} == {
        "COUNT", "HANDLED", "RESOLVED", "SALE", "CAPTURED", "ESCALATED", "TRANSFERRED",
        "SENTIMENT_N", "QA_N", "EMOTIONAL", "EMOTIONAL_HANDLED"}
    assert all(m.name.endswith("_MS") for m in list(Wrap)[counts:-doubles])
    assert set(list(Wrap)[-doubles:]) == {Wrap.REVENUE, Wrap.SENTIMENT_SUM, Wrap.QA_SUM}
    for family, measures in (("survey", Survey), ("answer", Answer), ("contact", Contact),
                             ("abandon", Abandon), ("queue_answer", QueueAnswer)):
        assert not any(m.name.endswith("_MS") for m in list(measures)[:COUNTS[family]])
    wrap = series.window(0, at("09:20:00"))
    assert wrap is not None and wrap[Wrap.REVENUE] == 20.0
    assert wrap[Wrap.COUNT] == 1 and wrap[Wrap.HANDLE_MS] == 290_000 + 60_000  # talk, ACW


DAY_MS = 86_400_000


def a_shift(timeline: Timeline, start: int, *, idle_ms: int = 60_000) -> int:
    """Handling on chat (half a slot's load), then idle, then not ready: one row each."""
    t = start
    for category, weight, multi, length in ((HANDLING, 0.5, True, 30_000), (ACW, 0.0, False,
                                            5_000), (IDLE, 0.0, False, idle_ms),
                                            (NOT_READY_PRODUCTIVE, 0.0, False, 7_000),
                                            (NOT_READY_OTHER, 0.0, False, 3_000)):
        timeline.mark(t, category, weight, "t1", multi=multi)
        t += length
    return t


def test_an_agents_time_is_kept_in_integers_and_its_load_in_doubles() -> None:
    timeline = Timeline()
    end = a_shift(timeline, a_shift(timeline, 1_000))  # ten segments
    timeline.mark(end, IDLE, 0.0, "t1")
    assert STRIDE == 8 and timeline.cums.itemsize == 4
    assert len(timeline.cums) == 2 * MS_WIDTH and len(timeline.loads) == 2  # segments 0, 8
    assert timeline.total(end) == (60_000, 10_000, 120_000, 14_000, 6_000, 30_000.0, 60_000)
    second = 1_000 + 105_000
    assert timeline.window(second + 10_000, end - 1_000) == [
        ("t1", (20_000, 5_000, 60_000, 7_000, 2_000, 10_000.0, 20_000))]


def test_an_agent_idle_for_weeks_widens_its_totals_and_they_stay_exact() -> None:
    timeline = Timeline()
    # idle past 2^31 ms (24.8 days) in the first shift: the second's row (segment 8) widens
    first = a_shift(timeline, 1_000, idle_ms=30 * DAY_MS)
    end = a_shift(timeline, first)
    timeline.mark(end, HANDLING, 1.0, "t1")
    assert timeline.cums.itemsize == 8 and len(timeline.cums) == 2 * MS_WIDTH  # whole rows
    assert timeline.total(first)[IDLE] == 30 * DAY_MS  # from the first row, not widened
    at_end = timeline.total(end + 1_000)
    assert at_end[IDLE] == 30 * DAY_MS + 60_000 and at_end[HANDLING] == 61_000
    assert at_end[LOAD] == 30_000.0 + 1_000.0
    assert timeline.window(end - 1, end + 1) == [
        ("t1", (1, 0, 0, 0, 1, 1.0, 0))]  # the last ms of not ready, the first of a call


class EveryRow(Timeline):
    """A row of running totals at every segment, as before rows were strided: the sums to
    compare with."""

    __slots__ = ()
    _stride = 1


@given(st.lists(st.tuples(st.sampled_from(["mark", "mark", "mark", "rewind", "trim"]),
                          st.integers(0, 50),
                          st.sampled_from([HANDLING, ACW, IDLE, NOT_READY_PRODUCTIVE,
                                           NOT_READY_OTHER, LOGGED_OUT]),
                          st.sampled_from([0.0, 0.5, 1 / 3, 1.0]), st.booleans(),
                          st.sampled_from(["t1", "t2"])), max_size=80),
       st.lists(st.integers(0, 300), min_size=1, max_size=4), st.integers(0, 300))
@settings(max_examples=300)
# a trim past two rows, a rewind and more marks: what a floor's agent does each hour
@example([*[("mark", 10, category, 0.5, False, "t1")
            for category in [HANDLING, ACW, IDLE, NOT_READY_OTHER] * 5],
          ("trim", 15, IDLE, 0.0, False, "t1"), ("rewind", 19, IDLE, 0.0, False, "t1"),
          *[("mark", 7, category, 1.0, True, "t2") for category in [HANDLING, ACW] * 3]],
         [0, 40], 100)
def test_strided_rows_give_the_sums_of_a_row_at_every_segment(
        steps: list[tuple[str, int, int, float, bool, str]], starts: list[int],
        end: int) -> None:
    """Totals, windows (one team and split by team) and states read at any instant after
    the trims are those of a row at every segment, to the last bit of the loads, whatever
    marks, rewinds (a late event truncating to an earlier count) and trims came before."""
    strided, every, t, counts, trimmed = Timeline(), EveryRow(), 0, [(0, 0)], 0
    for op, step, category, weight, multi, team in steps:
        if op == "mark":
            t += step
            for timeline in (strided, every):
                timeline.mark(t, category, weight, team, multi=multi)
            counts.append((strided.count, strided.team_change_index))
        elif op == "rewind" and len(counts) > 1:
            count, index = counts[step % len(counts)]
            # within what both keep (a worker rewinds by minutes and trims by hours): one
            # that empties a timeline empties it of what the other may still hold
            if count > max(strided.dropped, every.dropped):
                for timeline in (strided, every):
                    timeline.truncate(count, index)
                counts = [c for c in counts if c[0] <= count]
        elif op == "trim":
            trimmed = max(trimmed, t - step)
            for timeline in (strided, every):
                timeline.trim(trimmed)
    assert strided.count == every.count and strided.dropped % STRIDE == 0
    assert len(strided.loads) == -(-len(strided.starts) // STRIDE)
    window = (tuple(trimmed + s for s in starts), trimmed + end)
    assert strided.windows(*window) == every.windows(*window)
    for instant in (trimmed, *window[0], window[1], t, t + 7):
        assert strided.total(instant) == every.total(instant)
        assert strided.state_at(instant) == every.state_at(instant)
