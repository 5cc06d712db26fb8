"""Coaching reports: an agent's week for a 1:1, a team's month for strategy.

The events of the period (a replayed or stored log) go through the same pipeline as
``ccpulse replay``, with two windows: the whole period, and one bucket (a day, or a week) for
the trend. The numbers are therefore ``replay``'s, to the millisecond; this module only picks
what a coach needs from them — the scorecard, the trend of each KPI, wins, and one or two
focus areas chosen by rules a supervisor can argue with (README "Coaching reports").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ccpulse.history import HistoryStore
from ccpulse.processors import catalogue
from ccpulse.processors.agent import UNKNOWN_TEAM
from ccpulse.processors.kpis import Kpis
from ccpulse.processors.scorecard import AHT, GREEN, RED, Result, Scorecard, team_cards
from ccpulse.processors.snapshot import AgentNow, Snapshot, window_kpis
from ccpulse.settings import Settings
from ccpulse.streams.pipeline import Pipeline
from ccpulse.streams.replay import replay

PERIOD, BUCKET = "period", "bucket"


@dataclass(frozen=True)
class Focus:
    title: str
    why: str
    suggestion: str
    for_supervisor: bool = False  # a workload finding: the floor's to fix, not the agent's


@dataclass
class Bucket:
    end_ms: int
    kpis: Kpis
    card: Result


@dataclass
class Report:
    subject: str  # "agent" or "team"
    ident: str
    team: str
    start_ms: int
    end_ms: int
    bucket_ms: int
    card_definition: Scorecard
    kpis: Kpis  # over the whole period
    card: Result
    team_kpis: Kpis
    trend: list[Bucket]
    wins: list[str] = field(default_factory=list)
    focus: list[Focus] = field(default_factory=list)
    agents: dict[str, tuple[Kpis, Result]] = field(default_factory=dict)  # team reports
    spread: dict[str, float] = field(default_factory=dict)  # across agents, team reports
    bucket_variance: dict[str, float] = field(default_factory=dict)  # e.g. week on week


def _scope(snap: Snapshot, window: str, subject: str, ident: str,
           ) -> tuple[str, Kpis, Kpis, dict[str, Kpis]]:
    """(team, subject's KPIs, team's KPIs, the team's agents' KPIs) in one window."""
    kpis = snap.windows[window]
    team = ident if subject == "team" else snap.team_of(ident)
    members = snap.team_members(window, team)
    own = kpis.team.get(team, {}) if subject == "team" else kpis.agent.get(ident, {})
    return team, own, kpis.team.get(team, {}), members


def _card(subject: str, ident: str, scope: tuple[str, Kpis, Kpis, dict[str, Kpis]],
          card: Scorecard) -> Result:
    """The subject's card; an agent's AHT is judged against its team's."""
    _, own, team_kpis, members = scope
    if subject == "team":
        return team_cards(team_kpis, members, card).team
    return team_cards(team_kpis, {**members, ident: own}, card).agents[ident]


def build_report(events: Path, settings: Settings, *, subject: str, ident: str,
                 start_ms: int, end_ms: int, bucket_ms: int) -> Report:
    """Replay ``events`` and gather the report of ``subject`` (agent or team) ``ident``."""
    config = replace(settings.engine, windows={PERIOD: end_ms - start_ms, BUCKET: bucket_ms})
    pipeline = Pipeline(config)
    # buckets end at --to and go back in whole buckets: the last one is never partial
    boundaries = sorted(range(end_ms, start_ms, -bucket_ms))
    snaps: list[Snapshot] = []

    def take_due(ts_ms: int) -> None:
        # a window ending at b includes events at b: snapshot once time has moved past it
        while len(snaps) < len(boundaries) and boundaries[len(snaps)] < ts_ms:
            snaps.append(pipeline.snapshot(boundaries[len(snaps)]))

    replay(events, pipeline, now_ms=end_ms, before_event=take_due)
    take_due(end_ms + 1)
    return _assemble(pipeline.snapshot(end_ms), snaps, settings, subject=subject, ident=ident,
                     start_ms=start_ms, end_ms=end_ms, bucket_ms=bucket_ms)


def history_report(store: HistoryStore, settings: Settings, *, subject: str, ident: str,
                   start_ms: int, end_ms: int, bucket_ms: int) -> Report:
    """The same report from the history store's intervals (contract §7.5): the team's cells
    of the period and of each bucket, summed by the database, instead of a replay."""
    team = ident
    if subject == "agent":  # the team it spent the most time in over the period
        own = store.load(start_ms, end_ms, "agent", ident).time
        team = max(own, key=lambda key: sum(own[key]))[1] if own else UNKNOWN_TEAM

    def at(end: int, window: str, length: int) -> Snapshot:
        period = store.load(end - length, end, "team", team)
        agents = {agent: AgentNow(team, "logged_out") for agent, _ in period.time}
        return Snapshot(end, {window: window_kpis(period)}, agents, {}, {})

    snaps = [at(end, BUCKET, bucket_ms) for end in sorted(range(end_ms, start_ms, -bucket_ms))]
    return _assemble(at(end_ms, PERIOD, end_ms - start_ms), snaps, settings, subject=subject,
                     ident=ident, start_ms=start_ms, end_ms=end_ms, bucket_ms=bucket_ms)


def _assemble(final: Snapshot, snaps: list[Snapshot], settings: Settings, *, subject: str,
              ident: str, start_ms: int, end_ms: int, bucket_ms: int) -> Report:
    """The report from the period's snapshot and one per bucket, however they were made."""
    scope = _scope(final, PERIOD, subject, ident)
    team, own, team_kpis, members = scope
    card_definition = settings.scorecards.for_team(team)
    trend = []
    for snap in snaps:
        bucket = _scope(snap, BUCKET, subject, ident)
        trend.append(Bucket(snap.now, bucket[1],
                            _card(subject, ident, bucket, card_definition)))
    report = Report(subject, ident, team, start_ms, end_ms, bucket_ms, card_definition, own,
                    _card(subject, ident, scope, card_definition), team_kpis, trend)
    if subject == "team":
        cards = team_cards(team_kpis, members, card_definition)
        report.agents = {a: (k, cards.agents[a]) for a, k in sorted(members.items())}
        report.spread = cards.spread
        for key, _ in card_definition.kpis:
            values = [b.kpis[key] for b in trend if key in b.kpis]
            if len(values) >= 2:
                mean = sum(values) / len(values)
                report.bucket_variance[key] = sum((v - mean) ** 2 for v in values) / len(values)
    report.wins = wins(report)
    report.focus = focus_areas(report)
    return report


def label(key: str) -> str:
    kpi = catalogue.BY_KEY.get(key)
    return kpi.label if kpi is not None else key.replace("_", " ")


def wins(report: Report) -> list[str]:
    """What went well: KPIs in the green over the period, and a rising score."""
    out = [f"{label(m.key)} in the green band over the period"
           for m in report.card.marks if m.colour == GREEN and m.group != "experience"]
    scored = [b for b in report.trend if b.card.score is not None]
    if len(scored) >= 2 and scored[-1].card.score > scored[0].card.score:  # type: ignore[operator]
        out.insert(0, f"scorecard up from {scored[0].card.score:.0f} to "
                      f"{scored[-1].card.score:.0f} over the period")
    return out[:3]


def focus_areas(report: Report) -> list[Focus]:
    """At most two, in this order: workload first (it is the floor's to fix), then tone,
    resolution, handle time, quality. Each says why, with the numbers."""
    colours = {m.key: m.colour for m in report.card.marks}
    judged = {m.key: m.judged for m in report.card.marks}
    k = report.kpis
    found: list[Focus] = []
    idle = k.get("idle_between_seconds")
    # above the top of occupancy's yellow band, whether or not the card scores occupancy
    ceiling = report.card_definition.bands.get(
        "occupancy", catalogue.DEFAULT_BANDS["occupancy"]).yellow[1]
    overloaded = ceiling is not None and k.get("occupancy", 0) > ceiling
    if colours.get("idle_between_seconds") == RED or overloaded:
        found.append(Focus(
            "Workload", f"occupancy {k.get('occupancy', 0):.0%}, "
            + (f"{idle:.0f} s on average between contacts" if idle is not None else
               "no idle time recorded between contacts"),
            "Look at scheduling, breaks and queue assignment before anything else: this is "
            "the floor's to fix, not the agent's.", for_supervisor=True))
    if colours.get("csat") not in (None, GREEN) and colours.get("fcr") == GREEN:
        found.append(Focus(
            "Tone", f"problems get solved (FCR {k['fcr']:.0%}) but customers rate the contact "
            f"{k['csat']:.2f}", "Listen to two or three calls together: acknowledging the "
            "customer and explaining the next step often moves CSAT more than speed."))
    if colours.get("fcr") in ("yellow", RED):
        found.append(Focus(
            "Resolution", f"first-contact resolution {k['fcr']:.0%}",
            "Go through the repeat contacts of the period: which questions come back, and "
            "what knowledge or authority was missing the first time."))
    if AHT in judged and colours.get(AHT) != GREEN:
        direction = "longer" if judged[AHT] > 1 else "shorter"
        found.append(Focus(
            "Handle time", f"non-emotional calls {abs(judged[AHT] - 1):.0%} {direction} than "
            f"the target ({k[AHT]:.0f} s)",
            "Look at the talk / hold / after-call-work split together." if direction ==
            "longer" else "Check that customers are not being rushed: compare with FCR and "
            "CSAT before praising the speed."))
    if colours.get("qa_score") in ("yellow", RED):
        found.append(Focus("Quality", f"QA score {k['qa_score']:.0f}",
                           "Go through the lowest-scoring QA items together, with examples."))
    return found[:2]
