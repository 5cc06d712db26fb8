"""``ccpulse schedules import FILE.csv``: a WFM export into ``schedule.published`` events.

Schedules leave WFM tools as rows — agent, start, end, activity (and often a team) — so this
reads such a CSV (a header row naming those columns; ``agent`` may be ``agent_id``, ``team``
may be ``team_id``), makes one publication per agent of every row of that agent, and checks
each event with the same decoder the worker uses. The import is all or nothing: a file with a
bad row sends nothing and says which rows (by line number and reason, never their content).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from ccpulse.processors.decode import Rejection, decode
from ccpulse.processors.timefmt import format_ms, parse_ms

COLUMNS = {"agent": ("agent", "agent_id"), "start": ("start",), "end": ("end",),
           "activity": ("activity",), "team": ("team", "team_id")}


@dataclass
class Imported:
    events: list[bytes] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "line N: what is wrong"


def _column(header: list[str], name: str) -> int | None:
    names = [h.strip().lower() for h in header]
    for alias in COLUMNS[name]:
        if alias in names:
            return names.index(alias)
    return None


def import_csv(lines: Iterable[str], now_ms: int) -> Imported:
    """Events published at ``now_ms``, one per agent, in the file's order of agents."""
    out = Imported()
    rows = csv.reader(lines)
    header = next(rows, None)
    if header is None:
        out.errors.append("line 1: the file is empty")
        return out
    where = {name: _column(header, name) for name in COLUMNS}
    missing = [name for name in ("agent", "start", "end", "activity") if where[name] is None]
    if missing:
        out.errors.append(f"line 1: no column {', '.join(missing)} in the header")
        return out
    agents: dict[str, dict] = {}
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            cells = {name: row[index].strip() for name, index in where.items()
                     if index is not None and index < len(row)}
            agent = cells["agent"]
            start, end = format_ms(parse_ms(cells["start"])), format_ms(parse_ms(cells["end"]))
        except (KeyError, ValueError):
            out.errors.append(f"line {number}: needs an agent and RFC 3339 start and end times")
            continue
        entry = agents.setdefault(agent, {"lines": [], "segments": [], "team": None})
        entry["lines"].append(number)
        entry["segments"].append({"start": start, "end": end,
                                  "activity": cells.get("activity", "").lower()})
        entry["team"] = cells.get("team") or entry["team"]
    for agent, entry in agents.items():
        digest = hashlib.sha256(orjson.dumps([agent, entry["segments"]])).hexdigest()[:16]
        event = {"event_id": f"wfm-import-{now_ms}-{digest}", "type": "schedule.published",
                 "ts": format_ms(now_ms), "agent_id": agent, "segments": entry["segments"]}
        if entry["team"]:
            event["team_id"] = entry["team"]
        raw = orjson.dumps(event)
        checked = decode(raw, now_ms)
        if isinstance(checked, Rejection):
            lines_of = ", ".join(str(n) for n in entry["lines"])
            out.errors.append(f"lines {lines_of} (one agent's schedule): {checked.reason}: "
                              f"{checked.detail}")
        else:
            out.events.append(raw)
    return out
