"""The demo's live terminal view: teams and queues at a glance, colored by the contract's bands."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from processors.snapshot import Snapshot
from streams.pipeline import PipelineStats


def _band(value: float | None, fmt: str, good: tuple[float, float],
          warn: tuple[float, float]) -> Text:
    """Green inside ``good``, yellow inside ``warn``, red outside; '–' for no value."""
    if value is None:
        return Text("–", style="dim")
    style = ("green" if good[0] <= value <= good[1]
             else "yellow" if warn[0] <= value <= warn[1] else "red")
    return Text(format(value, fmt), style=style)


def render(snap: Snapshot, stats: PipelineStats, clock: str, firing: int) -> Group:
    teams = Table(title=f"Teams — {clock}", expand=True)
    for column in ("team", "agents (h/a/i/nr)", "occ 15m", "occ 1h", "util 1h", "AHT 1h",
                   "CSAT 1h", "FCR 1h", "IPH 1h"):
        teams.add_column(column, justify="right" if column != "team" else "left")
    w15, w1h = snap.windows["15m"], snap.windows["1h"]
    for team in sorted(snap.team_states):
        states = snap.team_states[team]
        k1, k15 = w1h.team.get(team, {}), w15.team.get(team, {})
        teams.add_row(
            team,
            f"{states['handling']}/{states['acw']}/{states['idle']}/{states['not_ready']}",
            _band(k15.get("occupancy"), ".2f", (0.75, 0.85), (0.60, 0.90)),
            _band(k1.get("occupancy"), ".2f", (0.75, 0.85), (0.60, 0.90)),
            _band(k1.get("utilization"), ".2f", (0.85, 1.0), (0.60, 1.0)),
            _band(k1.get("aht_seconds"), ".0f", (0, 1e9), (0, 1e9)),
            _band(k1.get("csat"), ".2f", (4.0, 5.0), (3.5, 5.0)),
            _band(k1.get("fcr"), ".2f", (0.70, 1.0), (0.60, 1.0)),
            _band(k1.get("interactions_per_hour"), ".1f", (0, 1e9), (0, 1e9)),
        )
    queues = Table(title="Queues", expand=True)
    for column in ("queue", "waiting", "longest", "SL 15m", "abandon 15m", "ASA 15m",
                   "SL 1h"):
        queues.add_column(column, justify="right" if column != "queue" else "left")
    for queue in sorted(set(w1h.queue) | set(snap.waiting)):
        q15, q1 = w15.queue.get(queue, {}), w1h.queue.get(queue, {})
        count, oldest = snap.waiting.get(queue, (0, 0.0))
        queues.add_row(
            queue,
            str(count),
            f"{oldest:.0f}s",
            _band(q15.get("service_level"), ".2f", (0.80, 1.0), (0.70, 1.0)),
            _band(q15.get("abandon"), ".3f", (0.0, 0.05), (0.0, 0.08)),
            _band(q15.get("asa_seconds"), ".0f", (0, 20), (0, 40)),
            _band(q1.get("service_level"), ".2f", (0.80, 1.0), (0.70, 1.0)),
        )
    processed = sum(stats.processed.values())
    dead = sum(stats.dead_lettered.values())
    footer = Text(f"events {processed:,} · dead-lettered {dead:,} · duplicates "
                  f"{stats.duplicates:,} · alerts firing {firing}", style="dim")
    return Group(teams, queues, footer)
