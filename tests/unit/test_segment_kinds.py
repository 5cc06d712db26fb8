"""A timeline segment keeps the number of its kind (category, load weight, team, not_ready
reason, multi-slot) in a table the floor's timelines share (processors/timeline.py
``Kinds``): 2 bytes a segment, then 4 from the 65,536th kind on, with the same answers; and
when its activity began as a 4-byte difference from its start, 8 bytes past 24.8 days."""

from __future__ import annotations

from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.timeline import (
    ACW,
    HANDLING,
    IDLE,
    NOT_READY_OTHER,
    Kinds,
    Timeline,
)
from tests.support import EventFactory, at, feed, one_call_morning


def a_morning(timeline: Timeline) -> None:
    """A call on chat in t1 (half a slot), its wrap-up, idle, a break; then t2."""
    timeline.mark(1_000, HANDLING, 0.5, "t1", multi=True)
    timeline.mark(31_000, ACW, 0.0, "t1")
    timeline.mark(36_000, IDLE, 0.0, "t1")
    timeline.mark(96_000, NOT_READY_OTHER, 0.0, "t1", reason="break")
    timeline.mark(99_000, IDLE, 0.0, "t2")


def answers(timeline: Timeline) -> tuple:
    return (timeline.state_at(97_000), timeline.state_at(100_000), timeline.team_at(50_000),
            timeline.category_at(2_000), timeline.total(120_000),
            timeline.windows((0, 40_000, 98_000), 120_000),
            timeline.pieces(0, 120_000))


def test_a_segment_keeps_its_kinds_number_and_answers_as_before() -> None:
    timeline = Timeline()
    a_morning(timeline)
    assert timeline.what.itemsize == 2 and len(timeline.what) == 5
    assert timeline.kinds.kinds[timeline.what[3]] == (NOT_READY_OTHER, 0.0, "t1", "break", False)
    state, reason, since, team = timeline.state_at(97_000)
    assert (state, reason, since, team) == (NOT_READY_OTHER, "break", 96_000, "t1")
    assert timeline.state_at(100_000) == (IDLE, "", 99_000, "t2")
    assert timeline.total(120_000) == (30_000, 5_000, 81_000, 0, 3_000, 15_000.0, 30_000)
    assert timeline.windows((98_000,), 120_000) == [
        [("t1", (0, 0, 0, 0, 1_000, 0.0, 0)), ("t2", (0, 0, 21_000, 0, 0, 0.0, 0))]]
    assert timeline.pieces(0, 40_000) == [(0, 1_000, -1, None), (1_000, 31_000, HANDLING, "t1"),
                                          (31_000, 36_000, ACW, "t1"), (36_000, 40_000, IDLE, "t1")]


def test_past_65536_kinds_a_timeline_keeps_4_byte_numbers_and_the_same_answers() -> None:
    crowded = Kinds()
    for n in range(65_536):  # a floor's kinds, of teams come and gone
        crowded.number((IDLE, 0.0, f"team-{n}", "", False))
    timeline, alone = Timeline(crowded), Timeline()
    a_morning(timeline)
    a_morning(alone)
    assert timeline.what.itemsize == 4 and alone.what.itemsize == 2
    assert answers(timeline) == answers(alone)


def test_a_floors_timelines_share_one_table_of_kinds() -> None:
    ev = EventFactory()
    engine = KpiEngine()
    feed(engine, [*one_call_morning(ev), *[
        {**event, "agent_id": "a2", "event_id": event["event_id"] + "-a2",
         **({"interaction_id": "i-a2"} if "interaction_id" in event else {})}
        for event in one_call_morning(ev) if "agent_id" in event]])
    one, two = engine.agents["a1"].timeline, engine.agents["a2"].timeline
    assert one.kinds is two.kinds is engine.segment_kinds
    assert len(one.what) == len(two.what) >= 3 and list(one.what) == list(two.what)
    assert len(engine.segment_kinds.kinds) == len(set(one.what))  # the same kinds, once
    assert one.state_at(at("09:05:30"))[0] == ACW


def test_an_activity_of_weeks_keeps_its_start_in_8_bytes() -> None:
    """Idle for 30 days, the last 10 in another team: the second segment's activity began
    30 days before its end, 20 before its start — past what 4 bytes hold."""
    day = 86_400_000
    timeline = Timeline()
    timeline.mark(1_000, IDLE, 0.0, "t1")
    timeline.mark(1_000 + 10 * day, IDLE, 0.0, "t1", multi=False)  # nothing new: no segment
    timeline.mark(1_000 + 20 * day, IDLE, 0.0, "t2")
    assert timeline.since.itemsize == 4
    timeline.mark(1_000 + 26 * day, IDLE, 0.0, "t1")
    assert timeline.since.itemsize == 8 and len(timeline.since) == 3
    assert timeline.state_at(1_000 + 30 * day) == (IDLE, "", 1_000, "t1")
    assert timeline.state_at(1_000 + 21 * day) == (IDLE, "", 1_000, "t2")
    timeline.mark(1_000 + 30 * day, ACW, 0.0, "t1")
    assert timeline.state_at(1_000 + 30 * day + 5) == (ACW, "", 1_000 + 30 * day, "t1")
