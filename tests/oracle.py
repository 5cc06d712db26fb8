"""An independent, deliberately naive calculation of contract §2 KPIs for checking the engine.

It shares no code with ``processors`` beyond timestamp parsing: it walks each agent's events
in time order, holds the state between consecutive events constant, and adds up overlaps with
the window by brute force. Slow and simple on purpose, so a bug in the engine's segments,
running totals or rewinds cannot hide in it too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

from ccpulse.processors.timefmt import parse_ms

PRODUCTIVE = {"training", "coaching", "meeting", "backoffice"}
CAPACITY = {"voice": 1, "chat": 3, "email": 5, "social": 3, "sms": 3, "video": 1}


def _overlap(a: int, b: int, start: int, end: int) -> int:
    return max(0, min(b, end) - max(a, start))


STATE_KINDS = {"agent.login", "agent.available", "agent.not_ready", "agent.logout",
               "interaction.answered", "interaction.ended", "interaction.wrapped"}


def _walk(evs: list[dict[str, Any]], channels: dict[str, str],
          ) -> Iterator[tuple[int, str, str | None, float]]:
    """After each of one agent's events (in time order): (time, activity, team, load). The
    activity is handling, acw, idle, nr_prod, nr_other or logged_out; the team is None until
    an event changes the activity or names a team (before that, nothing is known of it)."""
    team, logged_in, presence = "unknown", False, "nr_other"
    begun = False
    capacity = dict(CAPACITY)
    active: dict[str, str] = {}
    cut: set[str] = set()
    for e in evs:
        kind = e["type"]
        begun = begun or kind in STATE_KINDS or e.get("team_id", team) != team
        team = e.get("team_id") or team
        iid = e.get("interaction_id")
        if kind == "agent.login":
            logged_in, presence = True, "nr_other"
            capacity = {**CAPACITY, **e.get("capacity", {})}
        elif kind == "agent.available":
            logged_in, presence = True, "idle"
        elif kind == "agent.not_ready":
            logged_in = True
            presence = "nr_prod" if e["reason"] in PRODUCTIVE else "nr_other"
        elif kind == "agent.logout":
            cut |= set(active)
            active, logged_in = {}, False
        elif kind == "interaction.answered":
            if not logged_in:
                logged_in, presence = True, "idle"
            active[iid] = "handling"
        elif kind == "interaction.ended" and iid not in cut:
            if not logged_in:
                logged_in, presence = True, "idle"
            active[iid] = "acw"
        elif kind == "interaction.wrapped":
            active.pop(iid, None)
        phases = set(active.values())
        state = ("logged_out" if not logged_in else "handling" if "handling" in phases
                 else "acw" if phases else presence)
        load = sum(1 / capacity.get(channels.get(x, "voice"), 1) for x in active)
        yield parse_ms(e["ts"]), state, team if begun else None, load if logged_in else 0.0


def _by_agent(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_agent: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        if "agent_id" in e:
            by_agent[e["agent_id"]].append(e)
    for evs in by_agent.values():
        evs.sort(key=lambda e: parse_ms(e["ts"]))
    return by_agent


def agent_times(events: list[dict[str, Any]], start: int, end: int,
                ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Seconds per activity in ``(start, end]`` per agent and per team (team at the moment)."""
    agents: dict[str, dict[str, float]] = {}
    teams: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    channels: dict[str, str] = {e["interaction_id"]: e["channel"] for e in events
                                if e["type"] in ("interaction.answered", "interaction.queued")}
    for agent, evs in _by_agent(events).items():
        acc: dict[str, float] = defaultdict(float)
        steps = list(_walk(evs, channels))
        for i, (t, state, team, load) in enumerate(steps):
            nxt = steps[i + 1][0] if i + 1 < len(steps) else end
            span = _overlap(t, nxt, start, end)
            if state == "logged_out" or span == 0:
                continue
            for target in (acc, teams[team or "unknown"]):
                target[state] += span / 1000
                target["load"] += load * span / 1000
        agents[agent] = acc
    return agents, teams


# Contract §7.1: which activities are in adherence with each scheduled one.
ADHERENT = {"work": {"handling", "acw", "idle"},
            "break": {"nr_prod", "nr_other", "logged_out"},
            "lunch": {"nr_prod", "nr_other", "logged_out"},
            "training": {"nr_prod"}, "meeting": {"nr_prod"}, "coaching": {"nr_prod"}}


def _planned(publications: list[dict[str, Any]], a: int, b: int,
             ) -> tuple[str | None, str | None]:
    """(activity, team named) of the latest publication covering ``[a, b)`` (offline where
    it has no segment); (None, None) where none covers it. Latest: by ts, then event id."""
    winner: tuple[str | None, str | None] = (None, None)
    for pub in sorted(publications, key=lambda p: (parse_ms(p["ts"]), p["event_id"])):
        segments = [(parse_ms(s["start"]), parse_ms(s["end"]), s["activity"])
                    for s in pub["segments"]]
        if min(s for s, _, _ in segments) <= a and b <= max(e for _, e, _ in segments):
            winner = (next((act for s, e, act in segments if s <= a < e), "offline"),
                      pub.get("team_id"))
    return winner


def adherence(events: list[dict[str, Any]], start: int, end: int,
              ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """§7.1 by brute force: every stretch between consecutive event times, schedule edges and
    window edges, planned activity against actual activity. Agents' adherence; teams'
    adherence and absence (team at the moment; before any event named it, the team the
    schedule names, else unknown)."""
    channels: dict[str, str] = {}
    agents: dict[str, float] = {}
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for agent, evs in _by_agent(events).items():
        publications = [e for e in evs if e["type"] == "schedule.published"]
        if not publications:
            continue
        steps = list(_walk(evs, channels))
        edges = {start, end} | {t for t, _, _, _ in steps if start < t < end}
        for pub in publications:
            for seg in pub["segments"]:
                edges |= {t for t in (parse_ms(seg["start"]), parse_ms(seg["end"]))
                          if start < t < end}
        ordered = sorted(edges)
        mine = defaultdict(float)
        for a, b in pairwise(ordered):
            planned, named = _planned(publications, a, b)
            if planned in (None, "offline"):
                continue
            before = [s for s in steps if s[0] <= a]
            state, team = (before[-1][1], before[-1][2]) if before else ("logged_out", None)
            team = team or named or "unknown"
            span = b - a
            for target in (mine, sums[team]):
                target["scheduled"] += span
                target["adherent"] += span if state in ADHERENT[planned] else 0
                target["work"] += span if planned == "work" else 0
                target["absent"] += span if planned == "work" and state == "logged_out" else 0
        if mine["scheduled"]:
            agents[agent] = mine["adherent"] / mine["scheduled"]
    teams = {}
    for team, c in sums.items():
        kpis = {}
        if c["scheduled"]:
            kpis["adherence"] = c["adherent"] / c["scheduled"]
        if c["work"]:
            kpis["absence"] = c["absent"] / c["work"]
        teams[team] = kpis
    return agents, teams


def time_kpis(t: dict[str, float]) -> dict[str, float]:
    busy = t.get("handling", 0) + t.get("acw", 0)
    available = busy + t.get("idle", 0)
    logged = available + t.get("nr_prod", 0) + t.get("nr_other", 0)
    out = {}
    if available:
        out["occupancy"] = busy / available
        out["load"] = t.get("load", 0) / available
    if logged:
        out["utilization"] = (busy + t.get("nr_prod", 0)) / logged
        out["logged_in_seconds"] = logged
    return out


def wrapped_kpis(events: list[dict[str, Any]], start: int, end: int,
                 ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Mean handle time, FCR and CSAT per agent and per queue (wraps/surveys in the window)."""
    answered = {e["interaction_id"]: e for e in events if e["type"] == "interaction.answered"}
    handle: dict[str, list[float]] = defaultdict(list)
    resolved: dict[str, list[bool]] = defaultdict(list)
    queue_handle: dict[str, list[float]] = defaultdict(list)
    csat: dict[str, list[int]] = defaultdict(list)
    for e in events:
        t = parse_ms(e["ts"])
        if not start < t <= end:
            continue
        if e["type"] == "interaction.wrapped":
            resolved[e["agent_id"]].append(bool(e.get("resolved")))
            ans = answered.get(e["interaction_id"])
            if ans is not None:
                handle[e["agent_id"]].append((t - parse_ms(ans["ts"])) / 1000)
                queue_handle[ans["queue_id"]].append((t - parse_ms(ans["ts"])) / 1000)
        elif e["type"] == "interaction.survey":
            csat[e["agent_id"]].append(e["csat"])
    agents: dict[str, dict[str, float]] = defaultdict(dict)
    for agent, values in handle.items():
        agents[agent]["aht_seconds"] = sum(values) / len(values)
    for agent, flags in resolved.items():
        agents[agent]["fcr"] = sum(flags) / len(flags)
        agents[agent]["wrapped"] = len(flags)
    for agent, scores in csat.items():
        agents[agent]["csat"] = sum(scores) / len(scores)
    queues = {q: {"aht_seconds": sum(v) / len(v)} for q, v in queue_handle.items()}
    return agents, queues


def queue_kpis(events: list[dict[str, Any]], start: int, end: int,
               sl_ms: int = 20_000, short_ms: int = 5_000) -> dict[str, dict[str, float]]:
    queued = {e["interaction_id"]: e for e in events if e["type"] == "interaction.queued"}
    n: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for e in events:
        t = parse_ms(e["ts"])
        if not start < t <= end:
            continue
        kind = e["type"]
        if kind == "interaction.queued":
            n[e["queue_id"]]["queued"] += 1
        elif kind == "interaction.abandoned":
            n[e["queue_id"]]["abandoned"] += 1
            q = queued.get(e["interaction_id"])
            if q is not None and t - parse_ms(q["ts"]) >= short_ms:
                n[e["queue_id"]]["long"] += 1
        elif kind == "interaction.answered" and e["interaction_id"] in queued:
            wait = t - parse_ms(queued[e["interaction_id"]]["ts"])
            n[e["queue_id"]]["answered"] += 1
            n[e["queue_id"]]["within"] += wait <= sl_ms
            n[e["queue_id"]]["wait"] += wait / 1000
    out: dict[str, dict[str, float]] = {}
    for queue, c in n.items():
        kpis: dict[str, float] = {}
        if c["answered"] + c["long"]:
            kpis["service_level"] = c["within"] / (c["answered"] + c["long"])
        if c["queued"]:
            kpis["abandon"] = c["abandoned"] / c["queued"]
        if c["answered"]:
            kpis["asa_seconds"] = c["wait"] / c["answered"]
        out[queue] = kpis
    return out
