"""The demo's live terminal view: teams and queues at a glance, coloured by the bands in force
(:mod:`ccpulse.bands`: the KPI catalogue's, the configured ones, the alert thresholds')."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ccpulse.processors.catalogue import WINDOW_1H, WINDOW_15M, Band
from ccpulse.processors.kpis import Kpis
from ccpulse.processors.snapshot import Snapshot
from ccpulse.streams.pipeline import PipelineStats


def _cell(kpis: Kpis, key: str, fmt: str, bands: Mapping[str, Band]) -> Text:
    """The value in its band's colour; plain where the KPI has no band; '–' for no value."""
    value = kpis.get(key)
    if value is None:
        return Text("–", style="dim")
    band = bands.get(key)
    return Text(format(value, fmt), style=band.colour(value) if band else "")


def render(snap: Snapshot, stats: PipelineStats, clock: str, firing: int,
           bands: Mapping[str, Band]) -> Group:
    teams = Table(title=f"Teams — {clock}", expand=True)
    for column in ("team", "agents (h/a/i/nr)", "occ 15m", "occ 1h", "util 1h", "AHT 1h",
                   "CSAT 1h", "FCR 1h", "IPH 1h"):
        teams.add_column(column, justify="right" if column != "team" else "left")
    w15, w1h = snap.windows[WINDOW_15M], snap.windows[WINDOW_1H]
    for team in sorted(snap.team_states):
        states = snap.team_states[team]
        k1, k15 = w1h.team.get(team, {}), w15.team.get(team, {})
        teams.add_row(
            team,
            f"{states['handling']}/{states['acw']}/{states['idle']}/{states['not_ready']}",
            _cell(k15, "occupancy", ".2f", bands),
            _cell(k1, "occupancy", ".2f", bands),
            _cell(k1, "utilization", ".2f", bands),
            _cell(k1, "aht_seconds", ".0f", bands),
            _cell(k1, "csat", ".2f", bands),
            _cell(k1, "fcr", ".2f", bands),
            _cell(k1, "interactions_per_hour", ".1f", bands),
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
            _cell(q15, "service_level", ".2f", bands),
            _cell(q15, "abandon", ".3f", bands),
            _cell(q15, "asa_seconds", ".0f", bands),
            _cell(q1, "service_level", ".2f", bands),
        )
    processed = sum(stats.processed.values())
    dead = sum(stats.dead_lettered.values())
    footer = Text(f"events {processed:,} · dead-lettered {dead:,} · duplicates "
                  f"{stats.duplicates:,} · alerts firing {firing}", style="dim")
    return Group(teams, queues, footer)
