"""History intervals (contract §7.5) in the embedded SQLite store: a period of whole intervals
equals the live window of the same span, for every agent, team, queue and channel."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from ccpulse.api import named
from ccpulse.history import INTERVAL_MS, TABLES, HistoryStore, IntervalWriter, period_kpis
from ccpulse.processors.snapshot import Snapshot
from ccpulse.runtime import Monitor
from ccpulse.streams.pipeline import Pipeline
from ccpulse.streams.simulator import HOUR, SimConfig, Simulator

START = SimConfig().start_ms  # an interval edge
EDGE = START + 8 * HOUR + 15 * 60_000  # the 8 h window ending here starts at 08:15


def _replay(store: HistoryStore, hours: float = 8.5) -> tuple[Pipeline, Snapshot]:
    """A simulated floor replayed with the history writer, as ``ccpulse replay --history``;
    the snapshot is taken at EDGE when event time passes it, as a live scrape would be."""
    pipeline = Pipeline()
    monitor = Monitor(pipeline, history=IntervalWriter(store, pipeline.engine.config.lateness_ms,
                                                       start_ms=START))
    config = SimConfig(agents=40, duration_ms=int(hours * HOUR), seed=3, start_ms=START)
    snap: Snapshot | None = None
    for event in Simulator(config).events():
        raw = orjson.dumps(event)
        ts = pipeline.engine.max_ts or START
        if snap is None and ts > EDGE:
            snap = pipeline.snapshot(EDGE)
        monitor.before_event(ts)
        pipeline.feed(raw, None, None)
    now = pipeline.engine.max_ts
    assert now is not None and snap is not None
    monitor.history.advance(pipeline, now, final=True)  # type: ignore[union-attr]
    return pipeline, snap


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Snapshot]:
    path = tmp_path_factory.mktemp("history") / "history.db"
    store = HistoryStore(f"sqlite:///{path}")
    _, snap = _replay(store)
    store.close()
    return path, snap


def _scopes(snap: Snapshot) -> dict[str, dict]:
    window = snap.windows["8h"]
    return {"agent": window.agent, "team": window.team, "queue": window.queue,
            "channel": window.channel}


def test_a_period_of_intervals_equals_the_8h_window(replayed: tuple[Path, Snapshot]) -> None:
    path, snap = replayed
    store = HistoryStore(f"sqlite:///{path}")
    compared = 0
    for scope, kpis in _scopes(snap).items():
        assert kpis, scope
        for ident, expected in kpis.items():
            report = period_kpis(store, scope, ident, EDGE - 8 * HOUR, EDGE)
            assert report["intervals"] == {"expected": 32, "written": 32}
            want = named(scope, expected)
            assert report["kpis"].keys() == want.keys(), (scope, ident)
            for key, value in want.items():
                assert report["kpis"][key] == pytest.approx(value, rel=1e-9, abs=1e-9), (
                    scope, ident, key)
            compared += 1
    assert compared > 40  # every agent, team, queue and channel of the floor
    assert period_kpis(store, "agent", "nobody", EDGE - HOUR, EDGE)["kpis"] == {}


def test_rewriting_intervals_changes_nothing(replayed: tuple[Path, Snapshot],
                                            tmp_path: Path) -> None:
    """A second writer over the same events (a restarted worker, a second worker) writes
    the same rows: counts and values are unchanged."""
    path, _ = replayed
    copy = tmp_path / "again.db"
    copy.write_bytes(path.read_bytes())

    def dump(db: Path) -> list[tuple]:
        with sqlite3.connect(db) as conn:
            return [row for table in TABLES
                    for row in conn.execute(f"SELECT * FROM {table.name} ORDER BY 1, 2, 3")]

    before = dump(copy)
    store = HistoryStore(f"sqlite:///{copy}")
    _replay(store)
    store.close()
    assert dump(copy) == before
    assert before  # the check compares something


def test_a_writer_resumes_after_the_last_interval_written(tmp_path: Path) -> None:
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    pipeline = Pipeline()
    writer = IntervalWriter(store, lateness_ms=600_000, start_ms=START)
    assert writer.advance(pipeline, START + HOUR) == 3  # 09:00 minus lateness: 3 intervals
    resumed = IntervalWriter(store, lateness_ms=600_000)
    assert resumed.next_start == START + 3 * INTERVAL_MS
    assert resumed.advance(pipeline, START + HOUR) == 0


def test_periods_must_be_whole_intervals(tmp_path: Path) -> None:
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    with pytest.raises(ValueError, match="15-minute edge"):
        period_kpis(store, "team", "t1", START + 1, START + HOUR)


def test_purge_deletes_old_intervals(replayed: tuple[Path, Snapshot], tmp_path: Path) -> None:
    copy = tmp_path / "purge.db"
    copy.write_bytes(replayed[0].read_bytes())
    store = HistoryStore(f"sqlite:///{copy}")
    assert store.purge(START + HOUR) > 0
    assert store.written(START, START + HOUR) == 0
    assert store.written(START + HOUR, START + 2 * HOUR) == 4
