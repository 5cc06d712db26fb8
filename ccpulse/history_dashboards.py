"""Grafana dashboards on the history store (contract §7.5): the leader's trends, costs and
week-on-week comparison, and the WFM intraday view of today against the same weekday last week.

Panels query PostgreSQL (Grafana's built-in data source, uid ``ccpulse-history``). Each KPI is
a ratio of sums of interval components, written once below as :data:`SQL_KPIS` — the SQL twin
of :mod:`processors.kpis`, which the tests hold equal to it on a replayed floor — and every
panel's SQL is generated from it, so a renamed column breaks the build, not a wallboard.
Grafana passes the dashboard's range as ``$__from`` / ``$__to`` in epoch milliseconds, the
unit of ``interval_start``; days and weeks are cut in the database session's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass

from ccpulse.alerts.rules import Thresholds
from ccpulse.bands import bands_in_force
from ccpulse.grafana import (
    HISTORY_DATASOURCE,
    Bands,
    Json,
    Panel,
    Query,
    bands_of,
    dashboard,
    sql_variable,
)
from ccpulse.history import INTERVAL_MS, STAFFING, TIME_COLUMNS, WEEK_MS
from ccpulse.processors.catalogue import BY_KEY
from ccpulse.processors.scorecard import Scorecard
from ccpulse.settings import Costs

LOGGED_IN = " + ".join(TIME_COLUMNS[:5])  # processors.kpis.logged_in_ms: the states, not load
PEOPLE, CONTACTS = "team", "queue"  # which variable filters a KPI's tables


@dataclass(frozen=True)
class Term:
    """``SUM(expr)`` over one family's interval table."""

    family: str
    expr: str


@dataclass(frozen=True)
class SqlKpi:
    key: str  # as processors.kpis names it (and the catalogue's label and band)
    numerator: tuple[Term, ...]
    denominator: tuple[Term, ...] = ()  # empty: a plain sum (a count)
    scale: float = 1.0
    scope: str = PEOPLE
    unit: str = "percentunit"


def _wrap(column: str) -> tuple[Term, ...]:
    return (Term("wrap", column),)


SQL_KPIS: dict[str, SqlKpi] = {k.key: k for k in (
    SqlKpi("service_level", (Term("queue_answer", "within"),),
           (Term("queue_answer", "count"), Term("abandon", "long")), scope=CONTACTS),
    SqlKpi("abandon", (Term("abandon", "count"),), (Term("contact", "queued"),),
           scope=CONTACTS),
    SqlKpi("asa_seconds", (Term("queue_answer", "wait_ms"),), (Term("queue_answer", "count"),),
           0.001, CONTACTS, "s"),
    SqlKpi("queued", (Term("contact", "queued"),), scope=CONTACTS, unit="none"),
    SqlKpi("answered_from_queue", (Term("queue_answer", "count"),), scope=CONTACTS,
           unit="none"),
    SqlKpi("aht_seconds", _wrap("handle_ms"), _wrap("handled"), 0.001, unit="s"),
    SqlKpi("fcr", _wrap("resolved"), _wrap("count")),
    SqlKpi("csat", (Term("survey", "csat_sum"),), (Term("survey", "count"),), unit="none"),
    SqlKpi("occupancy", (Term("time", "handling_ms + acw_ms"),),
           (Term("time", "handling_ms + acw_ms + idle_ms"),)),
    SqlKpi("adherence", (Term("adherence", "adherent_ms"),),
           (Term("adherence", "scheduled_ms"),)),
    SqlKpi("sales_conversion", _wrap("sale"), _wrap("count")),
    SqlKpi("request_capture", _wrap("captured"), _wrap("count")),
    SqlKpi("revenue_per_interaction", _wrap("revenue"), _wrap("count"), unit="none"),
)}


def cost_expr(costs: Costs) -> str:
    """Logged-in hours times the team's hourly cost, over the time table."""
    rate = str(costs.agent_hour)
    if costs.teams:
        cases = " ".join(f"WHEN '{team.replace(chr(39), chr(39) * 2)}' THEN {value}"
                         for team, value in sorted(costs.teams.items()))
        rate = f"(CASE team {cases} ELSE {costs.agent_hour} END)"
    return f"({LOGGED_IN}) / 3600000.0 * {rate}"


def cost_kpis(costs: Costs) -> list[SqlKpi]:
    cost = (Term("time", cost_expr(costs)),)
    return [SqlKpi("cost", cost, unit="currencyUSD"),
            SqlKpi("cost_per_interaction", cost, _wrap("count"), unit="currencyUSD"),
            SqlKpi("cost_per_resolved", cost, _wrap("resolved"), unit="currencyUSD")]


def _label(key: str) -> str:
    """What people call a KPI (the catalogue's name; the cost KPIs are not in it)."""
    kpi = BY_KEY.get(key)
    return kpi.label if kpi is not None else key.replace("_", " ")


def kpi_sql(kpi: SqlKpi, time: str, *, shift_ms: int = 0, name: str | None = None) -> str:
    """One KPI per ``time`` bucket (an SQL expression of ``interval_start``) over the
    dashboard's range, ``shift_ms`` earlier (shown at the range's own times: last week beside
    this one), filtered by the scope's variable."""
    tables: dict[str, tuple[list[str], list[str]]] = {}
    for term in kpi.numerator:
        tables.setdefault(term.family, ([], []))[0].append(term.expr)
    for term in kpi.denominator:
        tables.setdefault(term.family, ([], []))[1].append(term.expr)
    shifted = f"(interval_start + {shift_ms})" if shift_ms else "interval_start"
    span = (f"interval_start >= $__from - {shift_ms} AND interval_start < $__to - {shift_ms}"
            if shift_ms else "interval_start >= $__from AND interval_start < $__to")
    scope = f"{kpi.scope} IN (${kpi.scope})"
    parts = []
    for family, (num, den) in tables.items():
        numerator = " + ".join(f"({e})" for e in num) or "0"
        denominator = " + ".join(f"({e})" for e in den) or "0"
        parts.append(f"SELECT {time.replace('interval_start', shifted)} AS time, "
                     f"{numerator} AS num, {denominator} AS den "
                     f"FROM ccpulse_interval_{family} WHERE {span} AND {scope}")
    value = ("SUM(num)" if not kpi.denominator
             else f"SUM(num) / NULLIF(SUM(den), 0) * {kpi.scale}")
    label = name or _label(kpi.key)
    return (f'SELECT time, {value} AS "{label}" FROM ({" UNION ALL ".join(parts)}) AS parts '
            "GROUP BY time ORDER BY time")


DAY = "date_trunc('day', to_timestamp(interval_start / 1000.0))"
WEEK = "date_trunc('week', to_timestamp(interval_start / 1000.0))"
INTERVAL_END = f"to_timestamp((interval_start + {INTERVAL_MS}) / 1000.0)"


def _beside_last_week(kpi: SqlKpi, time: str, names: tuple[str, str], description: str, *,
                     bands: Bands | None, width: int) -> Panel:
    """The KPI per ``time`` bucket, and the same buckets a week earlier beside it."""
    now, before = names
    return Panel("timeseries", _label(kpi.key), [
        Query(kpi_sql(kpi, time, name=now)),
        Query(kpi_sql(kpi, time, shift_ms=WEEK_MS, name=before))],
        description, unit=kpi.unit, bands=bands, width=width, datasource=HISTORY_DATASOURCE)


def _trend(kpi: SqlKpi, bands: Bands | None, description: str, width: int = 8) -> Panel:
    """By day, and by day a week earlier beside it."""
    return _beside_last_week(kpi, DAY, ("by day", "a week earlier"), description,
                             bands=bands, width=width)


def _staffing(title: str, why: str, width: int) -> Panel:
    """Required agents (the live Erlang C plan at each interval's end) against agents
    serving, summed over the chosen queues."""
    sql = (f"SELECT {INTERVAL_END} AS time, SUM(required_agents) AS \"required\", "
           f"SUM(staffed_agents) AS \"staffed\" FROM {STAFFING} WHERE interval_start >= "
           "$__from AND interval_start < $__to AND queue IN ($queue) GROUP BY 1 ORDER BY 1")
    return Panel("timeseries", title, [Query(sql)], why, width=width,
                 datasource=HISTORY_DATASOURCE)


def _variables() -> list[Json]:
    return [sql_variable("team", "team", "SELECT DISTINCT team FROM ccpulse_interval_time "
                                         "ORDER BY 1"),
            sql_variable("queue", "queue", "SELECT DISTINCT queue FROM ccpulse_interval_contact "
                                           "ORDER BY 1")]


def leader(t: Thresholds, card: Scorecard, costs: Costs) -> Json:
    bands = bands_in_force(t, card)

    def band(key: str) -> Bands | None:
        return bands_of(bands[key]) if key in bands else None

    def trend(key: str, why: str) -> Panel:
        return _trend(SQL_KPIS[key], band(key), why)

    cost = {k.key: k for k in cost_kpis(costs)}
    weekly = [Panel("timeseries", "Week by week", [
        Query(kpi_sql(SQL_KPIS[key], WEEK, name=BY_KEY[key].label))
        for key in ("service_level", "fcr", "occupancy", "adherence")],
        "Service level, FCR, occupancy and adherence by week: the month against the last.",
        unit="percentunit", width=24, datasource=HISTORY_DATASOURCE)]
    return dashboard(
        "ccpulse-leader", "ccpulse — leader: trends, cost, staffing",
        "Days and weeks from the history store (closed 15-minute intervals); each line beside "
        "the same days a week earlier. Ratios of sums, as the live windows.", _variables(), [
            ("Customers: service", [
                trend("service_level", "Answered within the threshold / (answered + abandoned "
                      "after the short-abandon time), per day."),
                trend("abandon", "Abandoned / queued, per day."),
                trend("asa_seconds", "Mean wait of answered interactions, per day.")]),
            ("Customers: quality", [
                trend("aht_seconds", "Mean handle time (talk + hold + after-call work)."),
                trend("fcr", "Wrapped interactions resolved on first contact / wrapped."),
                trend("csat", "Mean CSAT (1-5) of the surveys received.")]),
            ("People", [
                trend("occupancy", "(Handling + after-call work) / (that + idle) time: "
                      "above the band, agents are running hot."),
                trend("adherence", "Scheduled time in the scheduled activity / scheduled "
                      "time."),
                _trend(SQL_KPIS["queued"], None, "Interactions offered per day: the demand "
                       "the staffing has to meet.")]),
            ("Revenue", [
                trend("sales_conversion", "Wrapped with a sale / wrapped: above 30 % high, "
                      "below 10 % low."),
                trend("request_capture", "Wrapped with the customer's request captured / "
                      "wrapped: above 85 % good, below 50 % poor."),
                trend("revenue_per_interaction", "Revenue / wrapped interactions.")]),
            ("Cost (from [costs] in the config)", [
                _trend(cost["cost"], None, "Logged-in hours × the team's hourly agent cost."),
                _trend(cost["cost_per_interaction"], None, "Agent cost / wrapped "
                       "interactions."),
                _trend(cost["cost_per_resolved"], None, "Agent cost / interactions resolved "
                       "on first contact.")]),
            ("Staffing", [_staffing(
                "Required vs staffed, by interval", "Agents the live plan required at each "
                "interval's end (Erlang C, capped occupancy) against agents serving the "
                "queues: where the lines part, the schedule and the demand disagreed.", 24)]),
            ("Month on month", weekly),
        ])


def intraday(t: Thresholds, card: Scorecard) -> Json:
    bands = bands_in_force(t, card)

    def panel(key: str, why: str, band: bool = True) -> Panel:
        return _beside_last_week(SQL_KPIS[key], INTERVAL_END,
                                 ("today", "same weekday last week"), why,
                                 bands=bands_of(bands[key]) if band and key in bands else None,
                                 width=12)

    board = dashboard(
        "ccpulse-intraday", "ccpulse — WFM intraday",
        "Today's 15-minute intervals against the same weekday last week: is the day going "
        "to plan? Intervals appear 10 minutes after they close.", _variables(), [
            ("Demand", [
                panel("queued", "Interactions offered per interval.", band=False),
                panel("answered_from_queue", "Queued interactions answered per interval.",
                      band=False)]),
            ("Service", [
                panel("service_level", "Service level per interval."),
                panel("aht_seconds", "Mean handle time per interval.")]),
            ("Staffing", [_staffing(
                "Required vs staffed today", "Agents required at each interval's end against "
                "agents serving: a gap that keeps opening needs people moved now.", 24)]),
        ])
    board["time"] = {"from": "now/d", "to": "now"}
    return board


def history_dashboards(t: Thresholds, card: Scorecard | None = None,
                       costs: Costs | None = None) -> dict[str, Json]:
    card = card or Scorecard()
    return {"leader": leader(t, card, costs or Costs()), "intraday": intraday(t, card)}


def sql_of(board: Json) -> list[tuple[str, str]]:
    """(panel title, SQL) of every query on the history store, variables included."""
    out = [(f"variable {v['name']}", v["definition"]) for v in board["templating"]["list"]
           if v.get("datasource") == HISTORY_DATASOURCE]
    out += [(panel["title"], target["rawSql"]) for panel in board["panels"]
            for target in panel.get("targets", []) if "rawSql" in target]
    return out

