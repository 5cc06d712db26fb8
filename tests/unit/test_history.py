"""History intervals (contract §7.5) in the embedded SQLite store: a period of whole intervals
equals the live window of the same span, for every agent, team, queue and channel."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from ccpulse.alerts.engine import AlertEvaluator
from ccpulse.alerts.rules import Thresholds
from ccpulse.api import named
from ccpulse.history import INTERVAL_MS, TABLES, HistoryStore, IntervalWriter, period_kpis
from ccpulse.processors.snapshot import Snapshot
from ccpulse.processors.timefmt import format_ms
from ccpulse.report import build_report, history_report
from ccpulse.runtime import Monitor
from ccpulse.settings import Settings
from ccpulse.streams.pipeline import Pipeline
from ccpulse.streams.simulator import HOUR, SimConfig, Simulator

START = SimConfig().start_ms  # an interval edge
EDGE = START + 8 * HOUR + 15 * 60_000  # the 8 h window ending here starts at 08:15


class Follower:
    """A lease another worker holds: this one evaluates nothing."""

    def lead(self) -> bool:
        return False


def replay_into(store: HistoryStore, hours: float = 8.5, *, alerts: bool = False,
                leading: bool = True) -> tuple[Pipeline, Snapshot]:
    """A simulated floor replayed with the history writer, as ``ccpulse replay --history``
    (``alerts``: with the alert evaluation every 15 s, whose snapshots at interval edges give
    the staffing rows, as in a worker; ``leading`` False: as in a worker another one leads);
    the snapshot is taken at EDGE when event time passes it, as a live scrape would be."""
    pipeline = Pipeline()
    monitor = Monitor(pipeline, AlertEvaluator(Thresholds()) if alerts else None,
                      history=IntervalWriter(store, pipeline.engine.config.lateness_ms,
                                             start_ms=START),
                      lease=None if leading else Follower())
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
    assert now is not None
    snap = snap or pipeline.snapshot(now)  # a replay shorter than EDGE
    monitor.history.advance(pipeline, now, final=True)  # type: ignore[union-attr]
    return pipeline, snap


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Snapshot]:
    path = tmp_path_factory.mktemp("history") / "history.db"
    store = HistoryStore(f"sqlite:///{path}")
    _, snap = replay_into(store)
    store.close()
    return path, snap


def _scopes(snap: Snapshot) -> dict[str, dict]:
    window = snap.windows["8h"]
    return {"agent": window.agent, "team": window.team, "queue": window.queue,
            "channel": window.channel}


def assert_period_equals_window(store: HistoryStore, snap: Snapshot) -> int:
    """Every agent's, team's, queue's and channel's report over the 8 h ending at EDGE
    against the live 8 h window at EDGE; returns how many were compared."""
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
    assert period_kpis(store, "agent", "nobody", EDGE - HOUR, EDGE)["kpis"] == {}
    return compared


def test_a_period_of_intervals_equals_the_8h_window(replayed: tuple[Path, Snapshot]) -> None:
    path, snap = replayed
    compared = assert_period_equals_window(HistoryStore(f"sqlite:///{path}"), snap)
    assert compared > 40  # every agent, team, queue and channel of the floor


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
    replay_into(store)
    store.close()
    assert dump(copy) == before
    assert before  # the check compares something


def test_a_writer_resumes_after_the_last_interval_written(tmp_path: Path) -> None:
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    pipeline = Pipeline()  # no events: the clock alone closes intervals
    writer = IntervalWriter(store, lateness_ms=600_000, start_ms=START)
    assert writer.advance(pipeline, START + HOUR) == 3  # 09:00 minus lateness: 3 intervals
    resumed = IntervalWriter(store, lateness_ms=600_000)  # a restarted (or second) worker
    assert resumed.advance(pipeline, START + HOUR) == 0
    assert resumed.advance(pipeline, START + 2 * HOUR) == 4  # 08:45 to 09:45
    assert store.written(START, START + 2 * HOUR) == 7
    writer.advance(pipeline, START + 2 * HOUR)  # the first one learns from the store
    assert writer.written == 3 and writer.next_start == START + 7 * INTERVAL_MS


def test_event_time_holds_intervals_back(tmp_path: Path) -> None:
    """A backlog being read closes intervals as its event time moves, not by the clock; a
    closed gate (the worker not caught up with Kafka) writes nothing."""
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    pipeline = Pipeline()
    pipeline.feed(orjson.dumps({"event_id": "e1", "type": "agent.login", "agent_id": "a1",
                                "team_id": "t1", "ts": format_ms(START + 40 * 60_000)}),
                  None, None)
    gate = [False]
    writer = IntervalWriter(store, lateness_ms=600_000, start_ms=START, gate=lambda: gate[0])
    assert writer.advance(pipeline, START + 5 * HOUR) == 0  # gate closed
    gate[0] = True
    # 08:40 minus 10 min: 08:00-08:15 and 08:15-08:30 have closed; the clock says 13:00
    assert writer.advance(pipeline, START + 5 * HOUR) == 2
    assert store.written(START, START + 5 * HOUR) == 2


def test_a_failing_store_never_stops_the_stream(tmp_path: Path) -> None:
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    writer = IntervalWriter(store, lateness_ms=0, start_ms=START)
    store.close()  # every query fails from here on
    assert writer.advance(Pipeline(), START + HOUR) == 0
    assert writer.failing and writer.next_start == START  # tried again next time


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


def test_interaction_records_add_up_to_the_kpis(replayed: tuple[Path, Snapshot]) -> None:
    """One record per wrapped interaction: per team they add up to the window's wrapped
    count and AHT, and split by category (top categories plus other) they add up again."""
    path, snap = replayed
    store = HistoryStore(f"sqlite:///{path}")
    for team, kpis in snap.windows["8h"].team.items():
        split = store.by_category(EDGE - 8 * HOUR, EDGE, "team", team, top=3)
        assert 1 < len(split) <= 4 and set(split) - {"other"}
        assert sum(c["wrapped_interactions"] for c in split.values()) == kpis["wrapped"]
        fcr = sum(c["fcr_ratio"] * c["wrapped_interactions"] for c in split.values())
        assert fcr / kpis["wrapped"] == pytest.approx(kpis["fcr"], rel=1e-9)
        whole = store.by_category(EDGE - 8 * HOUR, EDGE, "team", team, top=0)  # all "other"
        assert whole["other"]["aht_seconds"] == pytest.approx(kpis["aht_seconds"], rel=1e-9)
    with sqlite3.connect(path) as conn:
        customers = conn.execute("SELECT COUNT(DISTINCT customer) FROM ccpulse_interactions "
                                 "WHERE customer IS NOT NULL").fetchone()[0]
        assert customers > 10


def test_a_customer_can_be_purged(replayed: tuple[Path, Snapshot], tmp_path: Path) -> None:
    copy = tmp_path / "dsr.db"
    copy.write_bytes(replayed[0].read_bytes())
    with sqlite3.connect(copy) as conn:
        customer = conn.execute("SELECT customer FROM ccpulse_interactions WHERE customer "
                                "IS NOT NULL LIMIT 1").fetchone()[0]
    store = HistoryStore(f"sqlite:///{copy}")
    assert store.purge_customer(customer) >= 1
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT COUNT(*) FROM ccpulse_interactions WHERE customer = ?",
                            (customer,)).fetchone()[0] == 0


def _staffing_rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT interval_start, queue, channel, required_agents, "
                            "staffed_agents FROM ccpulse_interval_staffing "
                            "ORDER BY interval_start, queue, channel").fetchall()


def test_the_staffing_plan_at_each_interval_end_is_kept(tmp_path: Path) -> None:
    """With the alert evaluation running (as in a worker), each interval keeps the live
    staffing plan of the evaluation at its end: required and staffed agents per queue. A
    worker that does not evaluate (another one holds the alert lease) keeps the same plan."""
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    replay_into(store, hours=1.5, alerts=True)
    rows = _staffing_rows(tmp_path / "h.db")
    follower = HistoryStore(f"sqlite:///{tmp_path / 'f.db'}")
    replay_into(follower, hours=1.5, alerts=True, leading=False)
    assert _staffing_rows(tmp_path / "f.db") == rows
    starts = {row[0] for row in rows}
    assert starts == set(range(START, START + 5 * INTERVAL_MS, INTERVAL_MS))  # 08:00-09:15
    queues = {(row[1], row[2]) for row in rows}
    assert len(rows) == len(starts) * len(queues) and len(queues) >= 3
    assert all(required > 0 and staffed > 0 for *_, required, staffed in rows)


def test_a_coaching_page_from_history_equals_one_from_the_event_log(
        replayed: tuple[Path, Snapshot], tmp_path: Path) -> None:
    """``report --history`` builds the page from intervals; ``report EVENTS`` replays the
    log: for a period of whole intervals the KPIs, the card and the trend agree."""
    path, _ = replayed
    events = tmp_path / "day.jsonl"
    config = SimConfig(agents=40, duration_ms=int(8.5 * HOUR), seed=3, start_ms=START)
    events.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in Simulator(config).events()))
    settings = Settings()
    store = HistoryStore(f"sqlite:///{path}")
    for subject, ident in (("agent", "agent-00007"), ("team", "team-002")):
        period = {"subject": subject, "ident": ident, "start_ms": EDGE - 8 * HOUR,
                  "end_ms": EDGE, "bucket_ms": 2 * HOUR}
        live, stored = build_report(events, settings, **period), history_report(
            store, settings, **period)
        assert stored.team == live.team and stored.kpis.keys() == live.kpis.keys()
        for key, value in live.kpis.items():
            assert stored.kpis[key] == pytest.approx(value, rel=1e-9), (subject, key)
        assert stored.card.score == pytest.approx(live.card.score, rel=1e-9)
        assert [b.end_ms for b in stored.trend] == [b.end_ms for b in live.trend]
        for mine, theirs in zip(stored.trend, live.trend, strict=True):
            assert mine.kpis.keys() == theirs.kpis.keys()
        assert stored.focus == live.focus and stored.wins == live.wins
