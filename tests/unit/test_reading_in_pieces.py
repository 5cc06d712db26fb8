"""A reading of the engine in pieces (``processors.snapshot.read``'s ``pause``,
``streams.pipeline.LetIn``): a replica lets its engine go between chunks of a long reading,
so that it goes on applying events and a scrape reads its states; what the reading gives at
its instant is what a reading in one piece gives."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import orjson
import pytest

import ccpulse.processors.snapshot as snapshot_module
import ccpulse.streams.pipeline as pipeline_module
from ccpulse.exporter import KpiCollector, MetricsConfig, exposition
from ccpulse.processors.catalogue import agent_series
from ccpulse.processors.decode import decode
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.snapshot import (
    AgentFilter,
    FloorNow,
    PeriodSums,
    Reading,
    finish,
    floor_now,
    period_sums,
    read,
    window_sums,
)
from ccpulse.processors.timefmt import format_ms
from ccpulse.streams.pipeline import LetIn, Pipeline
from ccpulse.streams.simulator import HOUR, MINUTE, SimConfig, Simulator
from tests.support import EventFactory

AGENTS = 120  # cells and agents enough for several chunks of each part
EVERYTHING = MetricsConfig(agent_series("all"), agent_channels=True)


def _shift() -> tuple[list[bytes], int]:
    config = SimConfig(agents=AGENTS, duration_ms=3 * HOUR, seed=5)
    return ([orjson.dumps(event) for event in Simulator(config).events()],
            config.start_ms + config.duration_ms - 20 * MINUTE)


def _engine(lines: list[bytes]) -> KpiEngine:
    engine = KpiEngine(dedup=False)
    for line in lines:
        engine.apply(decode(line))  # type: ignore[arg-type]
    return engine


def _in_order(reading: Reading) -> list[object]:
    """Everything a reading summed, in its order (a float's sum depends on it)."""
    def of(period: PeriodSums) -> list[object]:
        return [list(period.time.items()), list(period.adherence.items()),
                [(family, list(cells.items())) for family, cells in period.cells.items()]]
    return [(name, of(period)) for name, period in reading.periods.items()]


def _text(reading: Reading) -> bytes:
    snap = finish(reading)
    return exposition(KpiCollector(lambda: snap, metrics=EVERYTHING))


@pytest.fixture(scope="module")
def shift() -> tuple[list[bytes], list[bytes], int]:
    """The shift's events up to the reading's instant, those after it, and the instant."""
    lines, now = _shift()
    after = [line for line in lines if orjson.loads(line)["ts"] > format_ms(now)]
    later = set(after)
    # and, first, a new agent and a new queue: entries added to the engine's dicts while
    # the reading is under way
    ev = EventFactory("pieces")
    new = [ev("agent.login", now + 1000, agent_id="agent-new", team_id="team-new"),
           ev("agent.available", now + 1000, agent_id="agent-new"),
           ev("interaction.queued", now + 2000, interaction_id="i-new", queue_id="q-new",
              channel="chat"),
           ev("interaction.answered", now + 3000, interaction_id="i-new", agent_id="agent-new",
              queue_id="q-new", channel="chat")]
    return ([line for line in lines if line not in later],
            [orjson.dumps(event) for event in new] + after, now)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot_module, "CHUNK", 2)  # hundreds of pauses on a small floor


class Arriving:
    """A reading's ``pause`` that does what a replica does while the reading lets go of its
    engine: applies the next event after the reading's instant, at each of the first
    ``limit`` offers (those before the parts read in one piece: the floor's states and
    waits are of the engine as it stands, whatever the instant)."""

    def __init__(self, engine: KpiEngine, after: list[bytes], limit: int) -> None:
        self.engine, self._after, self._limit = engine, iter(after), limit
        self.offered = 0
        self.applied: list[bytes] = []

    def __call__(self) -> None:
        self.offered += 1
        line = next(self._after, None) if self.offered <= self._limit else None
        if line is not None:
            self.engine.apply(decode(line))  # type: ignore[arg-type]
            self.applied.append(line)


def _window_offers(engine: KpiEngine, now: int, agents: AgentFilter | None = None,
                   windows: tuple[str, ...] = ("15m", "1h", "8h")) -> int:
    """The offers a reading makes before it reads the floor's states (of ``engine`` before
    any event arrives: fewer than while they do)."""
    counted = Arriving(engine, [], 0)
    starts = tuple(now - engine.config.windows[name] for name in windows)
    window_sums(engine, now, starts, agents, pause=counted)
    return counted.offered


@pytest.mark.usefixtures("small_chunks")
def test_a_reading_in_pieces_is_a_reading_whole_while_later_events_arrive(shift):
    """Between its chunks events after its instant are applied — new agents, new cells,
    segments, counts, answers — and the reading, its sums in their order and every series
    of its snapshot, is the one-piece reading of an engine that had them."""
    before, after, now = shift
    engine = _engine(before)
    # events arrive until the floor's states and waits are read (the waits are of the engine
    # as it stands, whatever the instant)
    arriving = Arriving(engine, after, _window_offers(_engine(before), now) + 1)
    pieces = read(engine, now, pause=arriving)
    assert len(arriving.applied) > 200
    assert {orjson.loads(line)["type"] for line in arriving.applied} >= {
        "agent.login", "interaction.queued", "interaction.answered", "interaction.wrapped"}
    one_piece = read(_engine(before + arriving.applied), now)
    assert _in_order(pieces) == _in_order(one_piece)
    assert _text(pieces) == _text(one_piece)
    assert b"ccpulse_agent_occupancy" in _text(pieces)


@pytest.mark.usefixtures("small_chunks")
def test_the_floors_states_read_in_pieces_are_those_read_whole(shift):
    """A scrape's states (``floor_now``) let the engine go too: each agent's state at the
    instant, its team's counts and the queues' waits (read after every agent) are those of
    the engine with the events applied meanwhile — of agents it knew when it began, and
    with the holds under way when it began (an engine knows its holds now, not at an
    instant)."""
    before, after, now = shift
    simulated = after[4:]  # not the new agent: it was not there when the reading began
    engine = _engine(before)
    arriving = Arriving(engine, simulated, len(simulated))
    pieces = floor_now(engine, now, pause=arriving)
    assert len(arriving.applied) > 50
    whole = floor_now(_engine(before + arriving.applied), now)
    began = floor_now(_engine(before), now)
    assert _holds(pieces) == _holds(began) != _holds(whole)  # a hold ended after the instant
    assert _without_holds(pieces) == _without_holds(whole)
    assert pieces.waiting


def _holds(floor: FloorNow) -> dict[str, float | None]:
    return {agent: state.hold_seconds for agent, state in floor.agents.items()}


def _without_holds(floor: FloorNow) -> FloorNow:
    return replace(floor, agents={agent: replace(state, hold_seconds=None)
                                  for agent, state in floor.agents.items()})


@pytest.mark.usefixtures("small_chunks")
def test_a_share_and_a_history_interval_read_in_pieces_are_those_read_whole(shift):
    before, after, now = shift
    engine = _engine(before)
    mine = {f"agent-{n:05d}" for n in range(1, AGENTS, 2)}.__contains__
    share = (now, mine, ["1h", "8h"])
    # until the share's states are read: the team counts of agents who arrive later differ
    arriving = Arriving(engine, after, _window_offers(_engine(before), now, mine, ("1h", "8h")) + 1)
    shared = read(engine, *share, pause=arriving)  # type: ignore[arg-type]
    assert len(arriving.applied) > 100
    one_piece = read(_engine(before + arriving.applied), *share)  # type: ignore[arg-type]
    assert _in_order(shared) == _in_order(one_piece)
    assert shared.state == one_piece.state and shared.team_wraps == one_piece.team_wraps

    engine = _engine(before)
    arriving = Arriving(engine, after, len(after))
    interval = period_sums(engine, now - 15 * MINUTE, now, pause=arriving)
    assert len(arriving.applied) > 100
    assert interval == period_sums(_engine(before + after), now - 15 * MINUTE, now)


def test_a_reading_lets_the_engine_go_only_once_it_has_held_it_long_enough(monkeypatch):
    lock = threading.Lock()
    lock.acquire()
    held = LetIn(lock)
    monkeypatch.setattr(pipeline_module, "HOLD_S", 60.0)
    held()
    assert lock.locked() and held.away_s == 0  # held for less than HOLD_S: kept
    monkeypatch.setattr(pipeline_module, "HOLD_S", 0.0)
    taken = threading.Event()

    def waiter() -> None:
        with lock:
            taken.set()
            time.sleep(0.05)  # the reading waits for it to be given back

    thread = threading.Thread(target=waiter)
    thread.start()
    deadline = time.monotonic() + 10
    while not taken.is_set() and time.monotonic() < deadline:
        held()  # the reading's pauses: the waiting thread takes the engine in one of them
    thread.join()
    assert taken.is_set()
    assert lock.locked()  # the reading has it back
    assert held.away_s >= 0.05
    lock.release()


def test_a_replica_applies_events_while_a_floor_is_read(monkeypatch, shift):
    """The pipeline's reading lets its engine go between chunks: an event fed on another
    thread during a floor reading is applied, and the floor's states read, before the
    reading ends, and the reading says it held the engine for less than it took."""
    before, after, now = shift
    pipe = Pipeline(dedup=False)
    for line in before:
        pipe.feed(line, None, None)
    monkeypatch.setattr(pipeline_module, "HOLD_S", 0.0)
    fed_at: list[float] = []
    ended_at: list[float] = []
    reading = threading.Event()
    original = pipeline_module.read

    def slow_read(*args, **kwargs):  # the reading under way when the event arrives
        reading.set()
        pause = kwargs["pause"]

        def slower() -> None:
            time.sleep(0.002)
            pause()
        kwargs["pause"] = slower
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "read", slow_read)

    def feed() -> None:  # and a scrape's states, which wait a tenth of a second at most
        reading.wait(10)
        pipe.feed(after[0], None, None)
        states = pipe.floor_now(now, wait_s=0.1)
        if states is not None:
            fed_at.append(time.perf_counter())

    thread = threading.Thread(target=feed)
    thread.start()
    pending = pipe.floor_reading(now)
    ended_at.append(time.perf_counter())
    thread.join()
    assert fed_at and fed_at[0] < ended_at[0]
    assert 0 <= pending.held_s < ended_at[0] - pending.started


def test_two_long_readings_take_turns_whole_not_chunk_by_chunk(monkeypatch, shift):
    """A reading lets the engine go for events and states, not for another long reading:
    two floor snapshots asked at once (a scrape's and the alert evaluation's) are read one
    after the other, so the first is done in its own time."""
    before, _, now = shift
    pipe = Pipeline(dedup=False)
    for line in before:
        pipe.feed(line, None, None)
    monkeypatch.setattr(pipeline_module, "HOLD_S", 0.0)
    spans: list[tuple[float, float]] = []
    original = pipeline_module.read

    def timed_read(*args, **kwargs):
        pause = kwargs["pause"]

        def slower() -> None:
            time.sleep(0.001)
            pause()
        kwargs["pause"] = slower
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spans.append((began, time.perf_counter()))

    monkeypatch.setattr(pipeline_module, "read", timed_read)
    readers = [threading.Thread(target=pipe.floor_reading, args=(now,)) for _ in range(2)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(30)
    (first, second) = sorted(spans)
    assert first[1] <= second[0]


def test_a_reading_counts_the_engine_held_from_when_it_has_it(shift):
    """``ccpulse_snapshot_engine_held_seconds`` is what the reading held the engine for, not
    its wait behind another reading (the snapshot's time counts that); it counted both."""
    before, _, now = shift
    pipe = Pipeline(dedup=False)
    for line in before:
        pipe.feed(line, None, None)
    alone = pipe.floor_reading(now)
    other_has_it, done = threading.Event(), threading.Event()

    def another_reading() -> None:
        with pipe._reading:
            other_has_it.set()
            done.wait(10)

    threading.Thread(target=another_reading, daemon=True).start()
    assert other_has_it.wait(10)
    threading.Timer(0.5, done.set).start()
    waited = pipe.floor_reading(now)
    assert time.perf_counter() - waited.started >= 0.5
    assert waited.held_s < 0.25 + 2 * alone.held_s
