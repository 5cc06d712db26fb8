"""The history store (contract §7.5): what writing intervals costs a replay, and how long a
30-day team report takes from SQLite and from a real PostgreSQL server.

A simulated day of the floor is replayed twice in-process, without and with the interval
writer (the ratio is the writer's cost); the day's intervals are then copied to the 29 days
before it (the report's cost depends on the rows it reads, not on where they came from), and
the monthly team report (JSON and the HTML page with weekly buckets) and an agent's weekly
page are timed on each store. A replay of the same 30 days is the alternative a report
without history would need: 30 times the day's replay time.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from ccpulse.history import (
    DAY_MS,
    TABLES,
    WEEK_MS,
    HistoryStore,
    IntervalWriter,
    period_kpis,
)
from ccpulse.processors.decode import decode
from ccpulse.report import history_report
from ccpulse.runtime import Monitor
from ccpulse.settings import Settings
from ccpulse.streams.pipeline import Pipeline
from ccpulse.streams.simulator import HOUR, SimConfig, Simulator
from tests.servers import start_postgres
from tests.support import copy_intervals

DAYS = 30


def _replay(lines: list[bytes], store: HistoryStore | None) -> tuple[float, Pipeline]:
    pipeline = Pipeline()
    writer = None if store is None else IntervalWriter(store, pipeline.engine.config.lateness_ms,
                                                       resume=False)
    monitor = Monitor(pipeline, history=writer)
    started = time.perf_counter()
    for line in lines:
        decoded = decode(line)
        monitor.before_event(decoded.ts_ms)  # type: ignore[union-attr]
        pipeline.feed(line, None, None)
    now = pipeline.engine.max_ts or 0
    monitor.advance(now)
    if writer is not None:
        writer.advance(pipeline, now, final=True)
    return time.perf_counter() - started, pipeline


def _copy_back(store: HistoryStore, since: int) -> None:
    """The rows of the day from ``since`` again on each of the ``DAYS - 1`` days before it."""
    for back in range(1, DAYS):
        copy_intervals(store, back * DAY_MS, since, since + DAY_MS)


def _timed(run: Callable[[], object], repeat: int = 3) -> float:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return round(statistics.median(seconds), 3)


def _reports(store: HistoryStore, end: int) -> dict[str, float]:
    with store.transaction() as db:
        db.execute("SELECT team, agent FROM ccpulse_interval_time ORDER BY team, agent LIMIT 1")
        team, agent = db.fetchone()
    settings = Settings()
    month = end - DAYS * DAY_MS
    return {
        "team_30d_json_s": _timed(lambda: period_kpis(store, "team", team, month, end)),
        "team_30d_page_s": _timed(lambda: history_report(
            store, settings, subject="team", ident=team, start_ms=month, end_ms=end,
            bucket_ms=WEEK_MS)),
        "agent_7d_page_s": _timed(lambda: history_report(
            store, settings, subject="agent", ident=agent, start_ms=end - 7 * DAY_MS,
            end_ms=end, bucket_ms=DAY_MS)),
    }


def bench_history(agents: int, hours: float) -> dict[str, object]:
    config = SimConfig(agents=agents, duration_ms=int(hours * HOUR), seed=1)
    lines = [orjson.dumps(e) for e in Simulator(config).events()]
    without_s, _ = _replay(lines, None)
    out: dict[str, object] = {"events": len(lines), "replay_s": round(without_s, 2)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sqlite = HistoryStore(f"sqlite:///{work / 'history.db'}").connect()
        with_s, _ = _replay(lines, sqlite)
        out["replay_with_history_s"] = round(with_s, 2)
        out["history_writer_cost"] = round(with_s / without_s, 2)
        end = (config.start_ms + config.duration_ms) // DAY_MS * DAY_MS + DAY_MS
        rows = 0
        _copy_back(sqlite, config.start_ms)
        with sqlite.transaction() as db:
            for table in TABLES:
                db.execute(f"SELECT COUNT(*) FROM {table.name}")
                rows += db.fetchone()[0]
        out["rows_30d"] = rows
        out["sqlite"] = _reports(sqlite, end)
        out["sqlite_bytes"] = (work / "history.db").stat().st_size
        sqlite.close()
        (work / "pg").mkdir()
        server = start_postgres(work / "pg")
        try:
            url = f"postgresql://ccpulse@127.0.0.1:{server.port}/ccpulse"
            postgres = HistoryStore(url).connect()
            _replay(lines, postgres)
            _copy_back(postgres, config.start_ms)
            out["postgresql"] = _reports(postgres, end)
            postgres.close()
        finally:
            server.stop()
    out["replay_of_30_days_s"] = round(without_s * DAYS * 24 / hours, 1)  # the alternative
    return out
