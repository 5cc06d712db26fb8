"""The built-in web pages, on the metrics port: a wallboard, a supervisor page per team, a WFM
page, and each agent's own page behind a signed link (:mod:`ccpulse.tokens`).

Pages are one HTML shell and one script served by ccpulse itself (nothing from a CDN: a
floor's wall screen may have no internet); the script polls a JSON view of its page every 2
seconds (Twilio Flex refreshes its queue view every 1–3 s) and renders it with
``textContent`` only. Each JSON view is built here from one snapshot — the same numbers as
``/metrics`` and ``/api/v1`` at the same instant, its ``at`` — with the colour of every
banded value computed server-side from the bands in force (catalogue ← config ← alert
thresholds), so the page and the dashboards colour alike.

Access: the wallboard, team and WFM pages and their JSON ask for the ``/metrics``
credentials when they are set; an agent page and its JSON ask for that agent's link token
and nothing else (an agent has no floor credentials). The assets hold no data and are open.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote, unquote

import orjson

from ccpulse.alerts.engine import Alert, AlertEvaluator
from ccpulse.api import AgentSnapshots, named
from ccpulse.bands import bands_in_force
from ccpulse.processors.catalogue import (
    BY_KEY,
    GREEN,
    WINDOW_1H,
    WINDOW_8H,
    WINDOW_15M,
    WINDOWS,
    Band,
)
from ccpulse.processors.kpis import Kpis
from ccpulse.processors.scorecard import Scorecards, team_cards
from ccpulse.processors.snapshot import FloorNow, Snapshot
from ccpulse.processors.timefmt import format_ms
from ccpulse.settings import Settings
from ccpulse.streams.pipeline import Pipeline
from ccpulse.tokens import AgentLinks

HTML = "text/html; charset=utf-8"
JSON = "application/json"
REFRESH_MS = 2000
# Schedule and activity pieces of an agent over (start, end]: what "schedule vs actual" draws.
DayPlan = Callable[[str, int, int], tuple[list[tuple[int, int, str]], list[tuple[int, int, str]]]]
SHIFT_MS = WINDOWS[WINDOW_8H]  # the agent page's "schedule against what happened"
# KPIs that measure the load put on an agent rather than how they work
WORKLOAD = frozenset({"occupancy", "load", "utilization", "idle_between_seconds"})


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes
    needs_auth: bool = False  # answer only once basic auth (if configured) passes


def _asset(name: str) -> bytes:
    return resources.files("ccpulse").joinpath("static", name).read_bytes()


ASSETS = {"/static/app.js": ("text/javascript; charset=utf-8", "app.js"),
          "/static/style.css": ("text/css; charset=utf-8", "style.css")}
PAGES = {"wallboard": "Wallboard", "wfm": "Staffing", "team": "Team", "agent": "My shift"}


def _shell(page: str, ident: str = "") -> bytes:
    """The page's HTML: which view to poll is in data attributes; the script does the rest."""
    escaped = html.escape(ident)
    title = html.escape(PAGES[page] + (f" · {ident}" if ident else ""))
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>ccpulse · {title}</title><link rel="stylesheet" href="/static/style.css">'
            f'</head><body data-page="{page}" data-id="{escaped}" '
            f'data-refresh-ms="{REFRESH_MS}"><header><h1>ccpulse <span>{title}</span></h1>'
            f'<nav></nav><p class="at" id="at">loading…</p></header><main id="main"></main>'
            f'<script src="/static/app.js"></script></body></html>').encode()


def _value(kpis: Kpis, key: str, bands: Mapping[str, Band]) -> dict[str, Any] | None:
    """A KPI's value with its colour and label, or None without a value."""
    if key not in kpis:
        return None
    value = kpis[key]
    band = bands.get(key)
    return {"value": value, "band": band.colour(value) if band else None, **_named(key)}


def _named(key: str) -> dict[str, str]:
    """What people call a KPI, and its unit (``ratio``, ``seconds``, …) for the page."""
    kpi = BY_KEY.get(key)
    return {"label": kpi.label if kpi else key.replace("_", " "),
            "unit": kpi.unit if kpi else ""}


def _alert(alert: Alert) -> dict[str, Any]:
    labels = alert.labels
    scope = next((f"{k} {labels[k]}" for k in ("agent", "team", "queue") if k in labels), "")
    return {"name": labels.get("alertname", ""), "severity": labels.get("severity", ""),
            "scope": scope, "since": alert.startsAt,
            "description": alert.annotations.get("description", "")}


def floor_view(snap: Snapshot, alerts: list[Alert], bands: Mapping[str, Band],
               live: FloorNow | None = None) -> dict[str, Any]:
    """The wallboard: queues, teams, alerts firing. ``live``: the floor's states and waits
    at the request (``at`` is the KPIs' instant, ``states_at`` theirs); the snapshot's
    where None."""
    now, hour = snap.windows[WINDOW_15M], snap.windows[WINDOW_1H]
    floor = live or snap.floor_now()
    queues = []
    for queue in sorted(set(now.queue) | set(floor.waiting)):
        waiting, longest = floor.waiting.get(queue, (0, 0.0))
        kpis = now.queue.get(queue, {})
        queues.append({"id": queue, "waiting": waiting, "longest_wait_seconds": longest,
                       "service_level": _value(kpis, "service_level", bands),
                       "abandon": _value(kpis, "abandon", bands),
                       "asa_seconds": _value(kpis, "asa_seconds", bands)})
    teams = []
    for team in sorted(floor.team_states):
        kpis = hour.team.get(team, {})
        teams.append({"id": team, "occupancy": _value(kpis, "occupancy", bands),
                      "load": _value(kpis, "load", bands),
                      "agents": dict(sorted(floor.team_states[team].items())),
                      "absent": floor.absent.get(team, 0)})
    return {"at": format_ms(snap.now), "states_at": format_ms(floor.now),
            "queues": queues, "teams": teams,
            "alerts": sorted((_alert(a) for a in alerts),
                             key=lambda a: (a["severity"] != "critical", a["name"], a["scope"]))}


def team_view(snap: Snapshot, team: str, alerts: list[Alert], bands: Mapping[str, Band],
              live: FloorNow | None = None) -> dict[str, Any] | None:
    """A supervisor's team: each agent now, against their own usual; None: no such team.
    ``live``: as for :func:`floor_view`."""
    floor = live or snap.floor_now()
    if team not in floor.team_states:
        return None
    hour, shift = snap.windows[WINDOW_1H], snap.windows[WINDOW_8H]
    by_agent: dict[str, list[str]] = {}
    for alert in alerts:
        if "agent" in alert.labels:
            by_agent.setdefault(alert.labels["agent"], []).append(alert.labels["alertname"])
    agents = []
    for agent, now in sorted(floor.agents.items()):
        if now.team != team:
            continue
        h, s = hour.agent.get(agent, {}), shift.agent.get(agent, {})
        usual = s.get("aht_seconds")
        agents.append({
            "id": agent, "state": now.state, "reason": now.reason,
            "state_seconds": now.state_seconds, "scheduled": now.scheduled,
            "in_adherence": now.in_adherence,
            "occupancy_1h": _value(h, "occupancy", bands),
            "occupancy_8h": _value(s, "occupancy", bands),
            "aht_1h": _value(h, "aht_seconds", {}), "aht_usual": usual,
            "aht_vs_usual": h["aht_seconds"] / usual if usual and "aht_seconds" in h else None,
            "adherence_8h": _value(s, "adherence", bands),
            "idle_between_seconds": _value(h, "idle_between_seconds", {}),
            "alerts": sorted(by_agent.get(agent, []))})
    kpis = hour.team.get(team, {})
    return {"at": format_ms(snap.now), "states_at": format_ms(floor.now), "team": team,
            "agents": agents,
            "kpis": [v for key in ("occupancy", "aht_seconds", "adherence") if
                     (v := _value(kpis, key, bands)) is not None]
            + [v for key in ("csat",) if (v := _value(shift.team.get(team, {}), key,
                                                         bands)) is not None]}


def wfm_view(snap: Snapshot) -> dict[str, Any]:
    """Required against staffed per queue and channel, now and at each forecast horizon."""
    rows = []
    for plan in sorted(snap.staffing.values(), key=lambda p: (p.queue, p.channel)):
        required = dict(plan.required_agents)
        rows.append({"queue": plan.queue, "channel": plan.channel,
                     "staffed": plan.staffed_agents, "required": required,
                     "gap": {h: n - plan.staffed_agents for h, n in required.items()},
                     "predicted_service_level": plan.predicted_service_level,
                     "service_level_target": plan.service_level_target})
    return {"at": format_ms(snap.now), "queues": rows}


def agent_view(snap: Snapshot, agent: str, cards: Scorecards, bands: Mapping[str, Band],
               day: DayPlan | None) -> dict[str, Any] | None:
    """An agent's own page: score, KPIs with wins and focus, time in state, schedule vs
    actual over the last 8 h. None: not tracked here."""
    now = snap.agents.get(agent)
    if now is None:
        return None
    shift = snap.windows[WINDOW_8H]
    own = shift.agent.get(agent, {})
    members = snap.team_members(WINDOW_8H, now.team)
    card = cards.for_team(now.team)
    result = team_cards(shift.team.get(now.team, {}), {**members, agent: own},
                        card).agents[agent]
    marks = [{"key": m.key, "value": m.value, "band": m.colour, "points": m.points,
              **_named(m.key)} for m in result.marks]
    # How hard the floor works this agent is the floor's to fix, not the agent's to work on
    # (the coaching report says the same to supervisors): said apart, kindly.
    own_doing = [m for m in marks if m["key"] not in WORKLOAD]
    out: dict[str, Any] = {
        "at": format_ms(snap.now), "agent": agent, "team": now.team, "state": now.state,
        "reason": now.reason, "state_seconds": now.state_seconds,
        "scheduled": now.scheduled, "in_adherence": now.in_adherence,
        "score": result.score, "marks": marks,
        "wins": [m["label"] for m in own_doing if m["band"] == GREEN],
        "focus": [m["label"] for m in own_doing if m["band"] != GREEN],
        "workload": [m["label"] for m in marks
                     if m["key"] in WORKLOAD and m["band"] != GREEN],
        "kpis": named("agent", own)}
    if day is not None:
        planned, actual = day(agent, snap.now - SHIFT_MS, snap.now)
        out["day"] = {"from": format_ms(snap.now - SHIFT_MS), "to": format_ms(snap.now),
                      "schedule": [[format_ms(a), format_ms(b), what] for a, b, what in planned],
                      "actual": [[format_ms(a), format_ms(b), what] for a, b, what in actual]}
    return out


FORBIDDEN = Response(403, "text/plain; charset=utf-8",
                     b"this page needs a valid agent link: ask your supervisor for a new one\n")


@dataclass
class WebApp:
    """Routes the pages and their JSON; ``None`` for a path that is not ours."""

    snapshots: Callable[[], Snapshot]
    bands: Mapping[str, Band]
    cards: Scorecards
    alerts: Callable[[], list[Alert]] = list
    links: AgentLinks | None = None
    day: DayPlan | None = None
    # an agent's page: a snapshot of it and its teammates (ccpulse.api.AgentSnapshots),
    # where given; the floor's otherwise
    agent_snapshots: AgentSnapshots | None = None
    # the floor's states and waits at the request (the wallboard's and a team's board);
    # the snapshot's where None
    floor_now: Callable[[], FloorNow] | None = None

    def handle(self, path: str, query: str) -> Response | None:
        if path == "/":
            return Response(302, "text/plain", b"/wallboard\n")
        if path in ASSETS:
            content_type, name = ASSETS[path]
            return Response(200, content_type, _asset(name))
        if path in ("/wallboard", "/wfm"):
            return Response(200, HTML, _shell(path[1:]), needs_auth=True)
        if path.startswith("/team/") and len(path) > len("/team/"):
            return Response(200, HTML, _shell("team", unquote(path[len("/team/"):])),
                            needs_auth=True)
        if path.startswith("/agent/"):
            agent = unquote(path[len("/agent/"):])
            if not self._allowed(agent, query):
                return FORBIDDEN
            return Response(200, HTML, _shell("agent", agent))
        if path == "/api/v1/floor":
            return self._json(lambda: floor_view(self.snapshots(), self.alerts(), self.bands,
                                                 self._live()), auth=True)
        if path == "/api/v1/wfm":
            return self._json(lambda: wfm_view(self.snapshots()), auth=True)
        if path.startswith("/api/v1/board/"):
            team = unquote(path[len("/api/v1/board/"):])
            return self._json(lambda: team_view(self.snapshots(), team, self.alerts(),
                                                self.bands, self._live()), auth=True)
        if path.startswith("/api/v1/me/"):
            agent = unquote(path[len("/api/v1/me/"):])
            if not self._allowed(agent, query):
                return FORBIDDEN
            return self._json(lambda: agent_view(self._of_team(agent), agent, self.cards,
                                                 self.bands, self.day))
        return None

    def _live(self) -> FloorNow | None:
        return self.floor_now() if self.floor_now is not None else None

    def _of_team(self, agent: str) -> Snapshot:
        if self.agent_snapshots is None:
            return self.snapshots()
        return self.agent_snapshots(agent, team=True)

    def _allowed(self, agent: str, query: str) -> bool:
        token = parse_qs(query).get("t", [None])[0]
        return self.links is not None and self.links.allows(token, agent)

    @staticmethod
    def _json(build: Callable[[], dict[str, Any] | None], auth: bool = False) -> Response:
        """The view, computed only once access is granted (the server checks ``needs_auth``
        before calling ``body``): see :class:`LazyResponse`."""
        return LazyResponse(200, JSON, b"", needs_auth=auth, build=build)


@dataclass
class LazyResponse(Response):
    """A JSON view built after the access check: a refused request computes nothing."""

    build: Callable[[], dict[str, Any] | None] = dict

    def render(self) -> Response:
        document = self.build()
        if document is None:
            return Response(404, JSON, orjson.dumps({"error": "not known here"}))
        return Response(200, JSON, orjson.dumps(document))


def web_app(settings: Settings, snapshots: Callable[[], Snapshot], pipeline: Pipeline,
            evaluator: AlertEvaluator | None, agents: AgentSnapshots | None = None, *,
            clock_ms: Callable[[], int] | None = None) -> WebApp:
    """The pages of a demo or a worker: its snapshots, its alerts, its bands and cards;
    with ``clock_ms``, the floor's states and waits read at each request."""
    return WebApp(snapshots, bands_in_force(settings.thresholds, settings.scorecards.default),
                  settings.scorecards,
                  alerts=evaluator.firing if evaluator is not None else list,
                  links=AgentLinks(settings.web_secret) if settings.web_secret else None,
                  day=pipeline.agent_day, agent_snapshots=agents,
                  floor_now=None if clock_ms is None else lambda: pipeline.floor_now(clock_ms()))


def agent_link(settings: Settings, agent: str, days: float) -> str:
    """The address of an agent's own page, valid ``days``."""
    if not settings.web_secret:
        raise ValueError("agent links need a secret: set CCPULSE_WEB_SECRET (16+ characters) "
                         "on the workers and here")
    base = (settings.web_url or f"http://localhost:{settings.metrics_port}").rstrip("/")
    token = AgentLinks(settings.web_secret).token(agent, days)
    return f"{base}/agent/{quote(agent, safe='')}?t={token}"
