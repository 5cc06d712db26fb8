"""History: closed 15-minute intervals of every KPI's additive components (contract §7.5).

An interval ``(s, s + 15 min]`` is the engine's :func:`period_sums` over that span, cell by
cell (agent × team × queue × channel for interactions, agent × team for time and adherence,
queue × channel for arrivals), so the KPIs of any period made of whole intervals are
:func:`window_kpis` of their sum — the same function, on the same sums, as a live window.

Two stores speak the same SQL: SQLite (``sqlite:///PATH``, the embedded default for the demo
and replay) and PostgreSQL (``postgresql://…``, production; psycopg 3). One table per
measure family, one column per component, named from the engine's own layouts, so Grafana
panels can ``SUM`` them directly. An interval is written in one transaction with an upsert,
and ``ccpulse_history_intervals`` records that it is complete: a rewrite after a crash
writes the same rows, and N writers write the same rows as one.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

from ccpulse.api import SCOPES, named, scope_kpis
from ccpulse.processors.catalogue import HOUR_MS
from ccpulse.processors.decode import Decoded
from ccpulse.processors.events import InteractionWrapped
from ccpulse.processors.interaction import Interaction, wrap_parts
from ccpulse.processors.measures import Abandon, Answer, Contact, QueueAnswer, Survey, Wrap
from ccpulse.processors.schedule import Adherence
from ccpulse.processors.snapshot import PeriodSums, Snapshot, window_kpis
from ccpulse.processors.timefmt import format_ms
from ccpulse.processors.timeline import TIME_WIDTH
from ccpulse.streams.pipeline import Pipeline

INTERVAL_MS = 15 * 60_000
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
# The timeline's time vector, by position (processors/timeline.py: HANDLING … MULTI_SLOT).
TIME_COLUMNS = ("handling_ms", "acw_ms", "idle_ms", "not_ready_productive_ms",
                "not_ready_other_ms", "load_ms", "multi_slot_ms")
assert len(TIME_COLUMNS) == TIME_WIDTH
AGENT_CELL = ("agent", "team", "queue", "channel")
QUEUE_CELL = ("queue", "channel")
NO_TEAM = ""  # adherence time whose team nobody named (None in the engine)


@dataclass(frozen=True)
class Table:
    """One family's table: the cell's key columns, then its components."""

    family: str  # "time", "adherence" or a key of ``engine.families``
    keys: tuple[str, ...]
    values: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"ccpulse_interval_{self.family}"


def _columns(layout: Iterable[Any]) -> tuple[str, ...]:
    return tuple(member.name.lower() for member in layout)


TABLES = (
    Table("time", ("agent", "team"), TIME_COLUMNS),
    Table("adherence", ("agent", "team"), tuple(f"{f}_ms" for f in Adherence._fields)),
    Table("wrap", AGENT_CELL, _columns(Wrap)),
    Table("answer", AGENT_CELL, _columns(Answer)),
    Table("survey", ("agent", "team"), _columns(Survey)),
    Table("contact", QUEUE_CELL, _columns(Contact)),
    Table("abandon", QUEUE_CELL, _columns(Abandon)),
    Table("queue_answer", QUEUE_CELL, _columns(QueueAnswer)),
)
PROGRESS = "ccpulse_history_intervals"
# One row per wrapped interaction, for drill-down from a KPI to its contacts and for KPIs by
# category; the customer only as the producer's pseudonym (purge_customer deletes them).
RECORDS = "ccpulse_interactions"
RECORD_TEXT = ("interaction_id", "agent", "team", "queue", "channel", "category", "customer")
RECORD_NUMBERS = ("queued_ms", "answered_ms", "ended_ms", "wrapped_ms", "wait_ms", "handle_ms",
                  "talk_ms", "hold_ms", "acw_ms", "resolved", "sale", "revenue",
                  "request_captured", "escalated", "transferred", "emotional", "sentiment",
                  "qa_score", "repeat_contact")
OTHER_CATEGORY = "other"
# The live staffing plan at each interval's end, as the alert evaluation at that instant saw
# it (required agents, agents serving, predicted service level per queue and channel).
STAFFING = "ccpulse_interval_staffing"
STAFFING_COLUMNS = ("required_agents", "staffed_agents", "predicted_service_level")
STORE_ERRORS = (sqlite3.Error, psycopg.Error, OSError)
log = logging.getLogger("ccpulse.history")


def schema() -> list[str]:
    """CREATE statements valid in SQLite and PostgreSQL."""
    out = []
    for table in TABLES:
        keys = ", ".join(f"{k} TEXT NOT NULL" for k in table.keys)
        values = ", ".join(f"{v} DOUBLE PRECISION NOT NULL" for v in table.values)
        out.append(f"CREATE TABLE IF NOT EXISTS {table.name} (interval_start BIGINT NOT NULL, "
                   f"{keys}, {values}, PRIMARY KEY (interval_start, {', '.join(table.keys)}))")
        out.append(f"CREATE INDEX IF NOT EXISTS {table.name}_{table.keys[0]} "
                   f"ON {table.name} ({table.keys[0]}, interval_start)")
    out.append(f"CREATE TABLE IF NOT EXISTS {PROGRESS} (interval_start BIGINT PRIMARY KEY, "
               "written_at BIGINT NOT NULL)")
    text = ", ".join(f"{c} TEXT" + (" PRIMARY KEY" if c == "interaction_id" else "")
                     for c in RECORD_TEXT)
    numbers = ", ".join(f"{c} DOUBLE PRECISION" for c in RECORD_NUMBERS)
    out.append(f"CREATE TABLE IF NOT EXISTS {RECORDS} (interval_start BIGINT NOT NULL, "
               f"{text}, {numbers})")
    out.append(f"CREATE INDEX IF NOT EXISTS {RECORDS}_interval ON {RECORDS} (interval_start)")
    staffing = ", ".join(f"{c} DOUBLE PRECISION NOT NULL" for c in STAFFING_COLUMNS)
    out.append(f"CREATE TABLE IF NOT EXISTS {STAFFING} (interval_start BIGINT NOT NULL, "
               f"queue TEXT NOT NULL, channel TEXT NOT NULL, {staffing}, "
               "PRIMARY KEY (interval_start, queue, channel))")
    out.append(f"CREATE INDEX IF NOT EXISTS {RECORDS}_customer ON {RECORDS} (customer)")
    return out


def rows(period: PeriodSums) -> dict[str, list[tuple]]:
    """A period's cells as table rows (without the interval column)."""
    out: dict[str, list[tuple]] = {
        "time": [(*key, *vector) for key, vector in period.time.items()],
        "adherence": [(agent, NO_TEAM if team is None else team, *sums)
                      for (agent, team), sums in period.adherence.items()],
    }
    for family, cells in period.cells.items():
        out[family] = [(*key, *vector) for key, vector in cells.items()]
    return out


class HistoryStore:
    """Intervals in a SQL database; see the module's docstring. Connects at first use (and
    again after the server dropped the connection), creating the tables if missing."""

    def __init__(self, url: str) -> None:
        self.url = url
        scheme = urlsplit(url).scheme
        self.kind = "postgresql" if scheme in ("postgresql", "postgres") else scheme
        if self.kind not in ("sqlite", "postgresql"):
            raise ValueError(f"history URL must start with sqlite:/// or postgresql://, "
                             f"not {scheme}://")
        self._marker = "?" if self.kind == "sqlite" else "%s"
        self._db: Any = None
        self._closed = False

    def connect(self) -> HistoryStore:
        """Open the connection and create the tables; raises what the database raises."""
        if self._closed:
            raise sqlite3.ProgrammingError("the history store was closed")
        if self._db is not None and not getattr(self._db, "closed", False):
            return self
        if self.kind == "sqlite":
            # sqlite:///relative.db, sqlite:////absolute.db (as SQLAlchemy spells them)
            path = self.url.removeprefix("sqlite:///")
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False)
        else:
            self._db = psycopg.connect(self.url, autocommit=False)
        with self.transaction() as db:
            for statement in schema():
                db.execute(statement)
        return self

    def close(self) -> None:
        self._closed = True
        if self._db is not None:
            self._db.close()

    def reset(self) -> None:
        """After an error: drop a PostgreSQL connection the server broke, so the next call
        opens a new one (psycopg does not reconnect by itself)."""
        if self.kind == "postgresql" and self._db is not None and self._db.closed:
            self._db = None

    def _sql(self, sql: str) -> str:
        return sql.replace("?", self._marker)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor whose work commits at the end of the block, or rolls back on error."""
        self.connect()  # at once when connected
        try:
            yield self._db.cursor()
            self._db.commit()
        except BaseException:
            self._db.rollback()
            raise

    def write(self, start: int, period: PeriodSums, written_at: int,
              records: Sequence[tuple] = (), staffing: Sequence[tuple] = ()) -> None:
        """Write interval ``(start, start + 15 min]``: every cell upserted, the interactions
        wrapped in it (``RECORD_TEXT`` then ``RECORD_NUMBERS``), then marked done, in one
        transaction."""
        by_family = rows(period)
        with self.transaction() as db:
            self._upsert(db, STAFFING, ("queue", "channel"), STAFFING_COLUMNS, start=start,
                         batch=staffing)
            self._upsert(db, RECORDS, ("interaction_id",), (*RECORD_TEXT[1:], *RECORD_NUMBERS),
                         start=start, batch=records)
            for table in TABLES:
                self._upsert(db, table.name, table.keys, table.values, start=start,
                             batch=by_family.get(table.family, ()))
            db.execute(self._sql(f"INSERT INTO {PROGRESS} (interval_start, written_at) "
                                 "VALUES (?, ?) ON CONFLICT (interval_start) DO NOTHING"),
                       (start, written_at))

    def _upsert(self, db: Any, table: str, keys: tuple[str, ...], values: tuple[str, ...],
                *, start: int, batch: Sequence[tuple]) -> None:
        """Rows of ``keys`` then ``values`` at interval ``start``: inserted, or their values
        replaced where the key (with the interval, unless the key is unique alone — an
        interaction id) is there already."""
        if not batch:
            return
        unique = keys if table == RECORDS else ("interval_start", *keys)
        columns = ("interval_start", *keys, *values)
        updates = ", ".join(f"{v} = excluded.{v}" for v in values)
        db.executemany(self._sql(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
            f"({', '.join('?' * len(columns))}) ON CONFLICT ({', '.join(unique)}) "
            f"DO UPDATE SET {updates}"), [(start, *row) for row in batch])

    def last_written(self) -> int | None:
        """Start of the newest interval written, if any."""
        with self.transaction() as db:
            db.execute(f"SELECT MAX(interval_start) FROM {PROGRESS}")
            value = db.fetchone()[0]
        return None if value is None else int(value)

    def written(self, start: int, end: int) -> int:
        """How many of the intervals starting in ``[start, end)`` are written."""
        with self.transaction() as db:
            db.execute(self._sql(f"SELECT COUNT(*) FROM {PROGRESS} "
                                 "WHERE interval_start >= ? AND interval_start < ?"),
                       (start, end))
            return int(db.fetchone()[0])

    def load(self, start: int, end: int, scope: str | None = None,
             ident: str | None = None) -> PeriodSums:
        """The cell-wise sum of the intervals in ``(start, end]`` (both on interval edges),
        only the cells of ``scope`` = ``ident`` when given (tables without that scope's
        column are skipped: a team has no arrivals of its own)."""
        period = PeriodSums()
        with self.transaction() as db:
            for table in TABLES:
                if scope is not None and scope not in table.keys:
                    continue
                keys = ", ".join(table.keys)
                sums = ", ".join(f"SUM({v})" for v in table.values)
                where = "interval_start >= ? AND interval_start < ?"
                params: list[Any] = [start, end]
                if scope is not None:
                    where += f" AND {scope} = ?"
                    params.append(ident)
                db.execute(self._sql(f"SELECT {keys}, {sums} FROM {table.name} "
                                     f"WHERE {where} GROUP BY {keys}"), params)
                for row in db.fetchall():
                    key = tuple(row[:len(table.keys)])
                    # counts and milliseconds come back as whole doubles: ints again, as live
                    vector = tuple(int(v) if float(v).is_integer() else v
                                   for v in row[len(table.keys):])
                    _add_row(period, table.family, key, vector)
        return period

    def purge(self, intervals_before: int, records_before: int | None = None) -> int:
        """Delete intervals starting before ``intervals_before`` and interaction records
        before ``records_before`` (default: the same); returns rows deleted."""
        deleted = 0
        limits = [(t.name, intervals_before) for t in TABLES] + [
            (PROGRESS, intervals_before), (STAFFING, intervals_before),
            (RECORDS, intervals_before if records_before is None else records_before)]
        with self.transaction() as db:
            for name, before in limits:
                db.execute(self._sql(f"DELETE FROM {name} WHERE interval_start < ?"),
                           (before,))
                deleted += max(db.rowcount, 0)
        return deleted

    def purge_customer(self, customer: str) -> int:
        """A data-protection request: delete every interaction record of one customer
        pseudonym (intervals hold no customer ids). Returns rows deleted."""
        with self.transaction() as db:
            db.execute(self._sql(f"DELETE FROM {RECORDS} WHERE customer = ?"), (customer,))
            return max(db.rowcount, 0)

    def by_category(self, start: int, end: int, scope: str, ident: str, top: int = 5,
                    ) -> dict[str, dict[str, float]]:
        """AHT, FCR and repeat contact of the period's wrapped interactions per category:
        the ``top`` categories by volume, the rest together as ``other``."""
        if scope not in SCOPES:  # the scope names its column
            raise KeyError(scope)
        with self.transaction() as db:
            db.execute(self._sql(
                f"SELECT COALESCE(category, '{OTHER_CATEGORY}'), COUNT(*), "
                "SUM(CASE WHEN answered_ms IS NOT NULL THEN 1 ELSE 0 END), SUM(handle_ms), "
                "SUM(resolved), SUM(CASE WHEN repeat_contact IS NOT NULL THEN 1 ELSE 0 END), "
                f"SUM(repeat_contact) FROM {RECORDS} WHERE interval_start >= ? AND "
                f"interval_start < ? AND {scope} = ? GROUP BY 1 ORDER BY 2 DESC, 1"),
                (start, end, ident))
            found = db.fetchall()
        sums: dict[str, list[float]] = {}
        for rank, (category, *values) in enumerate(found):
            name = category if rank < top and category != OTHER_CATEGORY else OTHER_CATEGORY
            into = sums.setdefault(name, [0.0] * len(values))
            for k, value in enumerate(values):
                into[k] += value or 0
        out: dict[str, dict[str, float]] = {}
        for name, (count, handled, handle_ms, resolved, with_customer, repeats) in sums.items():
            kpis = {"wrapped_interactions": int(count), "fcr_ratio": resolved / count}
            if handled:
                kpis["aht_seconds"] = handle_ms / handled / 1000
            if with_customer:
                kpis["repeat_contact_ratio"] = repeats / with_customer
            out[name] = kpis
        return out


def _add_row(period: PeriodSums, family: str, key: tuple, vector: tuple) -> None:
    if family == "time":
        period.time[key] = vector  # type: ignore[index]
    elif family == "adherence":
        agent, team = key
        period.adherence[(agent, None if team == NO_TEAM else team)] = Adherence(
            *(int(v) for v in vector))
    else:
        period.cells[family][key] = vector


def edge(ms: int) -> int:
    """The interval edge at or before ``ms``."""
    return ms - ms % INTERVAL_MS


def interval_of(ts: int) -> int:
    """Start of the interval ``(s, s + 15 min]`` holding ``ts`` (an edge ends its interval,
    as a window's end is inclusive)."""
    return edge(ts - 1)


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _record(wrap: InteractionWrapped, rec: Interaction) -> tuple:
    """``RECORD_TEXT`` then ``RECORD_NUMBERS`` of one wrapped interaction."""
    agent, team, queue, channel = rec.wrap_cell or (wrap.agent_id, None, None, None)
    answered, ended, wrapped = rec.answered_ms, rec.ended_ms, rec.wrapped_ms
    handle = talk = hold = acw = None
    if answered is not None and wrapped is not None:
        _, handle, talk, hold, acw = wrap_parts(rec, wrapped)  # as the KPIs count them
    wait = answered - rec.queued_ms if answered is not None and rec.queued_ms is not None \
        else None
    return (wrap.interaction_id, agent, team, queue, channel, wrap.category,
            rec.customer_id, rec.queued_ms, answered, ended, wrapped, wait, handle, talk, hold,
            acw, _flag(wrap.resolved), _flag(wrap.sale), wrap.revenue,
            _flag(wrap.request_captured), _flag(wrap.escalated), _flag(wrap.transferred),
            _flag(wrap.emotional), wrap.sentiment, wrap.qa_score,
            None if rec.customer_id is None else _flag(rec.repeat))


class IntervalWriter:
    """Writes each interval once it is closed, exactly once per store.

    Closed means the watermark has passed its end by the lateness limit, the watermark being
    the older of ``now`` and the newest event applied: a backlog being caught up (or a
    producer replaying one) closes intervals as its event time moves, never ahead of it, and a
    floor with no events at all writes nothing until events come again (nothing happened in
    between; open activities are counted up to the interval's end when it is written).
    ``gate`` (a worker's readiness: Kafka read to within a few seconds) must also say yes.

    Several writers may share a store (every worker of a group holds the whole floor): before
    writing, each looks at what the store already has, and the upsert makes a race harmless.
    A store that fails is retried at the next call; the stream never waits for it.
    """

    def __init__(self, store: HistoryStore, lateness_ms: int, *, resume: bool = True,
                 start_ms: int | None = None, gate: Callable[[], bool] | None = None,
                 retention_ms: int | None = None,
                 records_retention_ms: int | None = None) -> None:
        """``resume``: carry on after the newest interval in the store (a worker); else
        write every interval from the first event on (a replay, rewriting what it covers).
        ``start_ms`` fixes the first interval (tests). ``retention_ms``: once a day, delete
        intervals older than this."""
        self.retention_ms = retention_ms
        self.records_retention_ms = records_retention_ms
        self._purged_at: int | None = None
        self._wraps: dict[int, list[tuple[int, InteractionWrapped]]] = {}
        self._staffing: dict[int, list[tuple]] = {}
        self.store = store
        self.lateness_ms = lateness_ms
        self.resume = resume
        self.gate = gate
        self.next_start = start_ms
        self.written = 0
        self.failing = False

    def advance(self, pipeline: Pipeline, now_ms: int, *, final: bool = False) -> int:
        """Write the intervals closed at ``now_ms`` (``final``: every one ended by then, as
        at the end of a replay, when no event can come). Returns how many."""
        newest = pipeline.engine.max_ts
        closed_by = now_ms if final else min(now_ms, newest or now_ms) - self.lateness_ms
        if self.next_start is not None and self.next_start + INTERVAL_MS > closed_by:
            return 0  # the common case: nothing due, no query
        if self.gate is not None and not self.gate():
            return 0
        count = 0
        try:
            self._from_store(pipeline, now_ms)
            while self.next_start + INTERVAL_MS <= closed_by:  # type: ignore[operator]
                start: int = self.next_start  # type: ignore[assignment]
                period = pipeline.period_sums(start, start + INTERVAL_MS)
                records = self._records(pipeline, start)
                self.store.write(start, period, now_ms, records,
                                 self._staffing.pop(start, ()))
                log.info("history_interval_written", extra={"fields": {
                    "interval": format_ms(start), "cells": period.size(),
                    "interactions": len(records)}})
                self.next_start = start + INTERVAL_MS
                count += 1
            self._purge(now_ms)
            if self.failing:
                log.info("history_store_back", extra={"fields": {"kind": self.store.kind}})
            self.failing = False
        except STORE_ERRORS as exc:
            if not self.failing:  # once per outage, not once per call
                log.warning("history_write_failed", extra={"fields": {
                    "kind": self.store.kind, "error": type(exc).__name__,
                    "hint": "check the history database; intervals are written once it "
                            "answers (CCPULSE_HISTORY_URL)"}})
            self.failing = True
            self.store.reset()
        self.written += count
        return count

    def observe(self, decoded: Decoded) -> None:
        """Called with each applied event: keeps the wraps of the intervals not yet written
        (their outcome fields are not in the engine, which only adds them up)."""
        event, ts = decoded
        if isinstance(event, InteractionWrapped):
            start = interval_of(ts)
            if self._unwritten(start):
                self._wraps.setdefault(start, []).append((ts, event))

    def note(self, snap: Snapshot) -> None:
        """Called with each alert evaluation's snapshot: at an interval's end, keep the live
        staffing plan for that interval (a replay without alerts, or an evaluation skipped
        by a restart, leaves its interval without one)."""
        if snap.now % INTERVAL_MS or not snap.staffing:
            return
        start = snap.now - INTERVAL_MS
        if self._unwritten(start):
            self._staffing[start] = [
                (plan.queue, plan.channel, plan.required_agents.get("now", 0),
                 plan.staffed_agents, plan.predicted_service_level)
                for plan in snap.staffing.values()]

    def unwritten(self) -> tuple[dict, dict]:
        """What this writer holds for the intervals not written yet (the wraps' outcome
        fields, the staffing plans): saved with a replica's checkpoint, since the events
        before it are not replayed again (:meth:`restore`)."""
        return self._wraps, self._staffing

    def restore(self, unwritten: tuple[dict, dict]) -> None:
        self._wraps, self._staffing = unwritten

    def _unwritten(self, start: int) -> bool:
        """Interval ``start`` is not written yet (as far as this writer knows)."""
        return self.next_start is None or start >= self.next_start

    def prime(self) -> None:
        """Learn where the store stands before a replica replays its log, so the wraps of
        intervals already written are not kept (the store may be away: then later)."""
        if self.resume and self.next_start is None:
            try:
                last = self.store.last_written()
            except STORE_ERRORS:
                return
            if last is not None:
                self.next_start = last + INTERVAL_MS

    def _records(self, pipeline: Pipeline, start: int) -> list[tuple]:
        """The interaction records of the wraps in interval ``start``, joined with what the
        engine knows of each interaction (queue, channel, times, repeat status)."""
        out: dict[str, tuple] = {}
        for ts, wrap in self._wraps.pop(start, []):
            rec = pipeline.engine.interaction(wrap.interaction_id)
            if rec is None or rec.wrapped_ms != ts or wrap.interaction_id in out:
                continue  # a second wrap of the same interaction counts once, as in the KPIs
            out[wrap.interaction_id] = _record(wrap, rec)
        for kept in (self._wraps, self._staffing):
            for old in [k for k in kept if k < start]:
                del kept[old]  # intervals written before this writer (a replayed log)
        return list(out.values())

    def _purge(self, now_ms: int) -> None:
        if self.retention_ms is None or (
                self._purged_at is not None and now_ms - self._purged_at < DAY_MS):
            return
        records = self.records_retention_ms or self.retention_ms
        deleted = self.store.purge(edge(now_ms - self.retention_ms), edge(now_ms - records))
        self._purged_at = now_ms
        before = format_ms(now_ms - self.retention_ms)
        log.info("history_purged", extra={"fields": {"rows": deleted, "before": before}})

    def _from_store(self, pipeline: Pipeline, now_ms: int) -> None:
        """Where to go on: after what the store has (another writer may have been faster),
        from the first event otherwise, never before what the engine still holds whole."""
        last = self.store.last_written() if self.resume else None
        if last is not None:
            self.next_start = max(self.next_start or 0, last + INTERVAL_MS)
        elif self.next_start is None:
            first = pipeline.stats.first_event_ms
            self.next_start = edge(now_ms) if first is None else interval_of(first)
        oldest = edge(now_ms - pipeline.engine.config.retention_ms + self.lateness_ms)
        self.next_start = max(self.next_start, oldest + INTERVAL_MS)


def period_kpis(store: HistoryStore, scope: str, ident: str, start: int, end: int,
                ) -> dict[str, Any]:
    """Contract §7.5's report JSON of one agent, team, queue or channel over ``(start, end]``
    (both on interval edges): its KPIs as ratios of the summed components, keyed by metric
    name without ``ccpulse_<scope>_``; a KPI without a denominator is absent."""
    if start % INTERVAL_MS or end % INTERVAL_MS:
        raise ValueError("a history period starts and ends on a 15-minute edge")
    kpis = scope_kpis(window_kpis(store.load(start, end, scope, ident)), scope)
    return {"period": {"from": format_ms(start), "to": format_ms(end)}, "scope": scope,
            "id": ident, "kpis": named(scope, kpis.get(ident, {})),
            # the "root cause" view: AHT, FCR and repeat contact of the top categories
            "by_category": store.by_category(start, end, scope, ident),
            "intervals": {"expected": (end - start) // INTERVAL_MS,
                          "written": store.written(start, end)}}
