"""Settled interaction records are kept frozen: compact, and read back exactly."""

from __future__ import annotations

from dataclasses import fields

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.footprint import deep_size
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.interaction import (
    Interaction,
    Shapes,
    contact_of,
    freeze,
    repeat_of,
    thaw,
    touched_ms,
)
from ccpulse.processors.last_contacts import digest
from tests.support import EventFactory, at, feed, run

BASE = 1_795_498_800_000
# times a record's own events give (hours apart at most: 4-byte differences), and any
near = st.integers(BASE - 3_600_000, BASE + 30 * 3_600_000)
times = st.one_of(st.none(), st.sampled_from([BASE, BASE + 10_000, BASE + 310_000]), near,
                  st.integers(-2**61, 2**61))
names = st.sampled_from(["q1", "q2", "voice", "chat", "a1", "t1"])
cells2 = st.one_of(st.none(), st.tuples(names, names))
cells4 = st.one_of(st.none(), st.tuples(names, names, names, names))


@st.composite
def records(draw: st.DrawFn) -> Interaction:
    """Any record, with the equalities freezing codes (a time equal to another; the queue
    and channel those of a cell; the wrap's cell the answer's) drawn often."""
    rec = Interaction(touched_ms=draw(st.one_of(near, st.integers(-2**61, 2**61))),
                      iid=draw(st.text(max_size=8)))
    for field in ("queued_ms", "answered_ms", "abandoned_ms", "ended_ms", "wrapped_ms",
                  "seen_ts", "contact_ts"):
        setattr(rec, field, draw(times))
    rec.contact_cell, rec.abandon_cell = draw(cells2), draw(cells2)
    rec.answer_cell = draw(cells4)
    rec.wrap_cell = draw(st.one_of(cells4, st.just(rec.answer_cell)))
    rec.queue_id = draw(st.one_of(st.none(), names))
    rec.channel = draw(st.one_of(st.none(), names))
    # ids of up to 256 characters: as UTF-8, more than the 255 bytes of a 1-byte length
    rec.customer_id = draw(st.one_of(st.none(), st.text(max_size=8),
                                     st.text(min_size=200, max_size=256)))
    rec.repeat = draw(st.sampled_from([None, False, True]))
    rec.hold_marks = draw(st.one_of(st.none(), st.lists(
        st.tuples(st.one_of(near, st.integers(-2**61, 2**61)), st.sampled_from([1, -1])),
        max_size=5)))
    rec.pending_wrap = draw(st.one_of(st.none(), st.tuples(st.floats(allow_nan=False))))
    return rec


@given(records())
@settings(max_examples=300)
def test_a_frozen_record_thaws_to_an_equal_one(rec: Interaction) -> None:
    shapes = Shapes()
    frozen = freeze(rec, shapes)
    assert type(frozen) is bytes
    assert thaw(frozen, rec.iid, shapes) == rec
    assert repeat_of(frozen) is rec.repeat and touched_ms(frozen) == rec.touched_ms
    assert contact_of(frozen) == contact_of(rec) == (rec.customer_id, rec.seen_ts)


@given(records(), records())
@settings(max_examples=200)
def test_records_of_the_same_references_share_one_tuple_of_them(a: Interaction,
                                                                b: Interaction) -> None:
    """Frozen with the same references, two records name one tuple of them; with others,
    two; each still thaws to itself."""
    for name in ("contact_cell", "abandon_cell", "answer_cell", "wrap_cell", "queue_id",
                 "channel", "pending_wrap"):
        setattr(b, name, getattr(a, name))
    shapes = Shapes()
    frozen_a, frozen_b = freeze(a, shapes), freeze(b, shapes)
    assert thaw(frozen_a, a.iid, shapes) == a and thaw(frozen_b, b.iid, shapes) == b
    assert len(shapes) == 1
    assert thaw(frozen_a, a.iid, shapes).answer_cell is thaw(frozen_b, b.iid, shapes).answer_cell
    b.channel = "other"
    frozen_b = freeze(b, shapes)
    assert len(shapes) == 2 and thaw(frozen_b, b.iid, shapes) == b


def test_a_record_whose_references_are_numbered_past_65535_thaws_to_itself() -> None:
    """Numbers take 2 bytes of a record up to 65,535, and 4 from there on."""
    shapes = Shapes()
    for n in range(70_000):
        shapes.number((("q", str(n)), None, None, None, "q", str(n), None))
    rec = Interaction(touched_ms=BASE, iid="i1", queue_id="q1", channel="chat",
                      customer_id="c1", queued_ms=BASE, contact_cell=("q1", "chat"))
    narrow = freeze(rec, Shapes())
    wide = freeze(rec, shapes)
    assert len(wide) == len(narrow) + 2
    assert thaw(wide, "i1", shapes) == rec
    assert contact_of(wide) == ("c1", None) and touched_ms(wide) == BASE


def test_pruned_numbers_are_given_again_lowest_first() -> None:
    """Once no record uses a tuple, its number is free again: numbers stay low (2 bytes a
    record) on a floor whose agents and queues come and go."""
    shapes = Shapes()
    recs = [Interaction(touched_ms=BASE, iid=f"i{n}", queue_id=f"q{n}") for n in range(200)]
    frozen = [freeze(rec, shapes) for rec in recs]
    shapes.prune(frozen[150:])  # 200 > 2 × 0 + 64: pruned
    assert len(shapes) == 50
    assert [thaw(kept, f"i{n}", shapes) for n, kept in enumerate(frozen[150:], 150)] \
        == recs[150:]
    again = Interaction(touched_ms=BASE, iid="j", queue_id="new")
    assert thaw(freeze(again, shapes), "j", shapes) == again
    assert shapes.number(_refs(again)) == 0
    assert shapes.number(_refs(Interaction(touched_ms=BASE, iid="k", queue_id="newer"))) == 1
    shapes.prune(frozen[150:])  # 52 ≤ 2 × 50 + 64: not yet
    assert len(shapes) == 52


def _refs(rec: Interaction) -> tuple:
    return (rec.contact_cell, rec.abandon_cell, rec.answer_cell, rec.wrap_cell, rec.queue_id,
            rec.channel, rec.pending_wrap)


def test_a_settled_record_takes_under_a_quarter_of_the_memory_frozen() -> None:
    """A wrapped call as a floor holds ~59 an agent (its id is its key, and its cells are
    shared with the agent's other records, so not counted): ints of its own times, as after
    a restore."""
    t = BASE + 1
    rec = Interaction(touched_ms=t + 400_000, iid="int-1-425017", queue_id="sales-chat-024",
                      channel="chat", customer_id="cust-0418450", queued_ms=t,
                      answered_ms=t + 20_000, ended_ms=t + 300_000, wrapped_ms=t + 400_000,
                      repeat=False, seen_ts=t + 0, contact_ts=t - 0,
                      contact_cell=("sales-chat-024", "chat"),
                      answer_cell=("agent-00189", "team-024", "sales-chat-024", "chat"))
    rec.wrap_cell = rec.answer_cell
    shared = {id(rec.iid), id(rec.contact_cell), id(rec.answer_cell), *map(id, rec.contact_cell),
              *map(id, rec.answer_cell)}
    frozen = freeze(rec, Shapes())
    live, own = deep_size(rec, shared), deep_size(frozen, shared)
    assert own <= 80 and own < live / 4, (own, live)  # 80: one allocation, 16-byte aligned


def test_expiry_prunes_the_shared_references_to_those_records_still_use() -> None:
    """The tuples of references shared by frozen records go once no record uses them (as
    agents and queues leave the floor); the records still held keep theirs."""
    ev = EventFactory()
    engine = KpiEngine()
    for n in range(100):  # 100 agents, each in its own queue, for one call each
        agent, queue, start = f"a{n}", f"q{n}", at("09:00:00") + n * 60_000
        feed(engine, [
            ev("interaction.queued", start, interaction_id=f"i{n}", queue_id=queue,
               channel="voice", customer_id=f"c{n}"),
            ev("interaction.answered", start + 5_000, interaction_id=f"i{n}", agent_id=agent,
               queue_id=queue, channel="voice", customer_id=f"c{n}"),
            ev("interaction.wrapped", start + 60_000, interaction_id=f"i{n}", agent_id=agent)])
    assert len(engine.shapes) == 100
    # the first 90 calls' records expire (their wraps at 09:01 … 10:30)
    engine.expire(at("10:30:01") + engine.config.retention_ms)
    assert len(engine.interactions) == 10
    assert len(engine.shapes) == 10
    for iid in engine.interactions:
        rec = engine.interaction(iid)
        assert rec.answer_cell[0] == "a" + iid[1:] and rec.queue_id == "q" + iid[1:]


def _late_hold_shift(ev: EventFactory, *, holds_after_wrap: bool) -> list[dict]:
    call = [
        ev("agent.login", "09:00:00", agent_id="a1", team_id="t1"),
        ev("agent.available", "09:00:00", agent_id="a1"),
        ev("interaction.queued", "09:00:00", interaction_id="i1", queue_id="q1",
           channel="voice", customer_id="c1"),
        ev("interaction.answered", "09:00:10", interaction_id="i1", agent_id="a1",
           queue_id="q1", channel="voice", customer_id="c1"),
        ev("interaction.ended", "09:05:00", interaction_id="i1", agent_id="a1"),
    ]
    wrap = ev("interaction.wrapped", "09:06:00", interaction_id="i1", agent_id="a1")
    holds = [ev("interaction.hold_started", "09:01:00", interaction_id="i1", agent_id="a1"),
             ev("interaction.hold_ended", "09:02:30", interaction_id="i1", agent_id="a1")]
    return [*call, wrap, *holds] if holds_after_wrap else [*call, *holds, wrap]


def test_the_engine_keeps_settled_records_frozen_and_corrects_them_late() -> None:
    engine = KpiEngine()
    late = _late_hold_shift(EventFactory(), holds_after_wrap=True)
    feed(engine, late[:5])
    assert type(engine.interactions["i1"]) is Interaction  # still being handled
    feed(engine, late[5:6])
    assert type(engine.interactions["i1"]) is bytes  # wrapped: frozen
    rec = engine.interaction("i1")
    assert rec is not None and rec.wrapped_ms == at("09:06:00") and rec.customer_id == "c1"
    feed(engine, late[6:])  # its holds, late: thawed, corrected, frozen again
    assert type(engine.interactions["i1"]) is bytes
    assert engine.interaction("i1").hold_marks == [(at("09:01:00"), 1), (at("09:02:30"), -1)]
    got = run([], "09:30:00", engine).windows["1h"].agent["a1"]
    want = run(_late_hold_shift(EventFactory(), holds_after_wrap=False),
               "09:30:00").windows["1h"].agent["a1"]
    assert got == want
    assert got["hold_seconds"] == 90 and got["talk_seconds"] == 290 - 90
    ev = EventFactory("x")
    feed(engine, [ev("interaction.queued", "09:10:00", interaction_id="i2", queue_id="q1",
                     channel="voice"),
                  ev("interaction.abandoned", "09:11:00", interaction_id="i2", queue_id="q1")])
    assert type(engine.interactions["i2"]) is bytes  # abandoned: settled too


def test_a_repeat_decided_again_on_a_frozen_record_is_kept() -> None:
    """A customer's earlier contact arriving late makes the wrapped (frozen) one a repeat:
    the change is written back to the frozen record and counted."""
    ev = EventFactory()
    second = [
        ev("interaction.queued", "10:00:00", interaction_id="i2", queue_id="q1",
           channel="voice", customer_id="c1"),
        ev("interaction.answered", "10:00:05", interaction_id="i2", agent_id="a1",
           queue_id="q1", channel="voice", customer_id="c1"),
        ev("interaction.ended", "10:03:00", interaction_id="i2", agent_id="a1"),
        ev("interaction.wrapped", "10:04:00", interaction_id="i2", agent_id="a1"),
    ]
    first = ev("interaction.answered", "09:58:00", interaction_id="i1", agent_id="a2",
               queue_id="q1", channel="voice", customer_id="c1")
    engine = KpiEngine()
    feed(engine, second)
    assert repeat_of(engine.interactions["i2"]) is False
    feed(engine, [first])
    assert type(engine.interactions["i2"]) is bytes and repeat_of(engine.interactions["i2"])
    assert {f.name: getattr(engine.interaction("i2"), f.name) for f in fields(Interaction)} \
        == {f.name: getattr(_in_order(second, first).interaction("i2"), f.name)
            for f in fields(Interaction)}


def _in_order(second: list[dict], first: dict) -> KpiEngine:
    engine = KpiEngine()
    feed(engine, [first, *second])
    return engine


def test_reading_a_frozen_record_changes_nothing() -> None:
    engine = KpiEngine()
    feed(engine, _late_hold_shift(EventFactory(), holds_after_wrap=False))
    kept = engine.interactions["i1"]
    engine.interaction("i1").repeat = True  # a copy: not kept
    assert engine.interactions["i1"] is kept and repeat_of(kept) is False


def test_a_lone_contact_is_kept_as_its_record_and_its_time_outlives_the_record() -> None:
    """A customer with one contact of an interaction held keeps its id alone (the time is the
    record's); when the record expires, the time is kept as last_contacts keeps it, and a
    contact 20 h later is a repeat."""
    ev = EventFactory()
    engine = KpiEngine()
    feed(engine, [
        ev("interaction.queued", "09:00:00", interaction_id="i1", queue_id="q1",
           channel="voice", customer_id="c1"),
        ev("interaction.answered", "09:00:05", interaction_id="i1", agent_id="a1",
           queue_id="q1", channel="voice", customer_id="c1"),
        ev("interaction.wrapped", "09:06:00", interaction_id="i1", agent_id="a1")])
    assert engine.customers[digest("c1")] == "i1"
    engine.expire(at("09:06:00") + engine.config.retention_ms + 1)
    assert "i1" not in engine.interactions and digest("c1") not in engine.customers
    assert engine.last_contacts.get(digest("c1")) == at("09:00:00")
    later = at("09:00:00") + 20 * 3_600_000
    feed(engine, [ev("interaction.queued", later, interaction_id="i2", queue_id="q1",
                     channel="voice", customer_id="c1")])
    assert repeat_of(engine.interactions["i2"]) is True
    assert engine.customers[digest("c1")] == (at("09:00:00"), "", later, "i2")  # two: flat
