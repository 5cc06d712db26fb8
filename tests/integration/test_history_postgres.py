"""History on a real PostgreSQL server (Debian's, started on loopback by the fixtures):
intervals written by a replay and by a live worker (killed -9 half-way) are the same rows,
and a period read back equals the live window of the same span."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ccpulse.alerts.rules import Thresholds
from ccpulse.history import (
    INTERVAL_MS,
    TABLES,
    HistoryStore,
    edge,
)
from ccpulse.history_dashboards import (
    SQL_KPIS,
    WEEK_MS,
    cost_kpis,
    history_dashboards,
    kpi_sql,
    sql_of,
)
from ccpulse.processors.snapshot import Snapshot
from ccpulse.processors.timefmt import format_ms, parse_ms
from ccpulse.settings import Costs
from tests.live import WorkerProcess, ccpulse, recent_shift, send, wait_for
from tests.support import copy_intervals
from tests.unit.test_history import EDGE, assert_period_equals_window, replay_into

LATENESS_MS = 10 * 60_000


def test_a_period_read_from_postgresql_equals_the_live_window(history_url: str) -> None:
    store = HistoryStore(history_url)
    _, snap = replay_into(store)
    assert assert_period_equals_window(store, snap) > 40
    # the CLI reads the same store: one team's 8 h as contract §7.5's JSON
    team = sorted(snap.windows["8h"].team)[0]
    out = json.loads(ccpulse("report", "--history", history_url, "--team", team,
                             "--from", format_ms(EDGE - 8 * 3_600_000), "--to",
                             format_ms(EDGE), "--json", "-"))
    assert out["period"] == {"from": format_ms(EDGE - 8 * 3_600_000), "to": format_ms(EDGE)}
    assert (out["scope"], out["id"]) == ("team", team)
    assert out["kpis"]["occupancy_ratio"] == pytest.approx(
        snap.windows["8h"].team[team]["occupancy"], rel=1e-12)


def _rows(url: str, through: int) -> dict[str, list[tuple]]:
    """Every table's rows of the intervals starting at or before ``through``, in order."""
    out: dict[str, list[tuple]] = {}
    conn: Any = (sqlite3.connect(url.removeprefix("sqlite:///")) if url.startswith("sqlite")
                 else psycopg.connect(url))
    try:
        for table in TABLES:
            keys = ", ".join(("interval_start", *table.keys))
            sql = (f"SELECT * FROM {table.name} WHERE interval_start <= {through} "
                   f"ORDER BY {keys}")
            out[table.name] = [tuple(row) for row in conn.execute(sql).fetchall()]
    finally:
        conn.close()
    return out


def test_a_worker_writes_the_rows_a_replay_writes_across_a_kill_9(
        worker_factory: Callable[..., WorkerProcess], kafka_bootstrap: str,
        topics: dict[str, str], history_url: str, tmp_path: Path) -> None:
    shift = recent_shift(tmp_path / "shift.jsonl", agents=30, minutes=75, seed=11)
    lines = shift.read_bytes().splitlines(keepends=True)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_bytes(b"".join(lines[:len(lines) // 2]))
    second.write_bytes(b"".join(lines[len(lines) // 2:]))
    last_ts = max(parse_ms(json.loads(line)["ts"]) for line in lines)
    half_ts = parse_ms(json.loads(lines[len(lines) // 2 - 1])["ts"])
    store = HistoryStore(history_url)

    def last() -> int | None:
        return store.last_written()

    env = {"CCPULSE_HISTORY_URL": history_url, "CCPULSE_INSTANCE_ID": "history-1"}
    worker = worker_factory(**env)
    send(first, kafka_bootstrap, topics)
    # the first half's event time closes the intervals ending 10 min before its newest event
    half_way = edge(half_ts - LATENESS_MS) - INTERVAL_MS
    wait_for(lambda: last() == half_way, 120, f"intervals through {format_ms(half_way)}")
    worker.kill()  # -9, with the rest of the shift still to come
    send(second, kafka_bootstrap, topics)
    worker = worker_factory(**env)
    through = edge(last_ts - LATENESS_MS) - INTERVAL_MS
    wait_for(lambda: last() == through, 180, f"intervals through {format_ms(through)}")
    assert store.written(0, through + 1) == (through - edge(parse_ms(
        json.loads(lines[0])["ts"]))) // INTERVAL_MS + 1  # every interval, none twice

    replayed = f"sqlite:///{tmp_path / 'replay.db'}"
    ccpulse("replay", str(shift), "--history", replayed)
    got, want = _rows(history_url, through), _rows(replayed, through)
    assert sum(map(len, want.values())) > 100
    for table in TABLES:
        keys = 1 + len(table.keys)  # interval_start and the cell
        mine, theirs = got[table.name], want[table.name]
        assert [row[:keys] for row in mine] == [row[:keys] for row in theirs], table.name
        for a, b in zip(mine, theirs, strict=True):
            assert a[keys:] == pytest.approx(b[keys:], rel=1e-9), (table.name, a[:keys])


def _substitute(sql: str, teams: list[str], queues: list[str], start: int, end: int) -> str:
    """What Grafana sends: the range in epoch ms, multi-value variables as quoted lists."""
    quoted = {name: ", ".join(f"'{v}'" for v in values)
              for name, values in (("team", teams), ("queue", queues))}
    return (sql.replace("$__from", str(start)).replace("$__to", str(end))
            .replace("$team", quoted["team"]).replace("$queue", quoted["queue"]))


@pytest.fixture(scope="module")
def two_weeks(new_database: Callable[[str], str]) -> tuple[str, Snapshot]:
    """A replayed day in the store (with the alert evaluation, so staffing is kept), and its
    copy a week earlier (for the week-on-week panels)."""
    history_url = new_database("two_weeks")
    store = HistoryStore(history_url)
    _, snap = replay_into(store, alerts=True)
    copy_intervals(store, WEEK_MS, 0, EDGE + 24 * 3_600_000)
    return history_url, snap


def test_every_panel_of_the_history_dashboards_returns_rows(
        two_weeks: tuple[str, Snapshot]) -> None:
    url, snap = two_weeks
    window = snap.windows["8h"]
    teams, queues = sorted(window.team), sorted(window.queue)
    failures = []
    with psycopg.connect(url) as conn:
        for name, board in history_dashboards(Thresholds(), costs=Costs(
                agent_hour=20.0, teams={teams[0]: 30.0})).items():
            for title, sql in sql_of(board):
                rows = conn.execute(_substitute(sql, teams, queues, EDGE - 8 * 3_600_000,
                                                EDGE)).fetchall()
                if not rows:
                    failures.append(f"{name} / {title}: {sql}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("key", sorted(SQL_KPIS))
def test_each_sql_kpi_equals_the_engines_formula(key: str,
                                                 two_weeks: tuple[str, Snapshot]) -> None:
    """The dashboards' SQL twin of processors.kpis, per team or queue over the 8 h ending at
    EDGE, against the live window of the same span."""
    url, snap = two_weeks
    kpi = SQL_KPIS[key]
    scope_kpis = getattr(snap.windows["8h"], kpi.scope)
    sql = kpi_sql(kpi, "0")  # one bucket: the whole range
    compared = 0
    with psycopg.connect(url) as conn:
        for ident, expected in scope_kpis.items():
            if key not in expected:
                continue
            (row,) = conn.execute(_substitute(sql, [ident], [ident], EDGE - 8 * 3_600_000,
                                              EDGE)).fetchall()
            assert row[1] == pytest.approx(expected[key], rel=1e-9), ident
            compared += 1
    assert compared


def test_costs_per_interaction_follow_the_configured_rates(
        two_weeks: tuple[str, Snapshot]) -> None:
    url, snap = two_weeks
    teams = snap.windows["8h"].team
    special = sorted(teams)[0]
    costs = Costs(agent_hour=20.0, teams={special: 30.0})
    by_key = {k.key: k for k in cost_kpis(costs)}
    with psycopg.connect(url) as conn:
        for team, kpis in teams.items():
            hours = kpis["logged_in_seconds"] / 3600
            rate = 30.0 if team == special else 20.0
            got = {key: conn.execute(_substitute(kpi_sql(by_key[key], "0"), [team], [],
                                                 EDGE - 8 * 3_600_000, EDGE)).fetchone()[1]
                   for key in by_key}
            assert got["cost"] == pytest.approx(hours * rate, rel=1e-9)
            assert got["cost_per_interaction"] == pytest.approx(
                hours * rate / kpis["wrapped"], rel=1e-9)
            assert got["cost_per_resolved"] == pytest.approx(
                hours * rate / (kpis["fcr"] * kpis["wrapped"]), rel=1e-9)
