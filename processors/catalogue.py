"""The KPI catalogue: every KPI of contract §2 declared once, in one table.

A row says what a KPI is called where (its key in :mod:`processors.kpis`' output, its metric
name after ``ccpulse_<scope>_``), what it means (help), where it exists (scopes), whether
every agent gets a series of it by default (the per-agent set: what the supervisor and agent
dashboards show and the alert rules read), and its default green/yellow/red band. The
exporter, the dashboards, the console view, the scorecard and the coaching report read the
catalogue (and the configured overrides of the bands) instead of keeping their own copies, as
kube-state-metrics declares each metric family once and generates the rest.

How each KPI is *computed* stays beside its measures in :mod:`processors.kpis` (what is
counted, how it is added, how the ratio is taken); adding a KPI is a row here and its line
there. ``tests/unit/test_catalogue.py`` keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS

# The trailing windows of contract §2, ending now. The names are label values (§3).
WINDOW_15M, WINDOW_1H, WINDOW_8H = "15m", "1h", "8h"
WINDOWS: dict[str, int] = {WINDOW_15M: 15 * MINUTE_MS, WINDOW_1H: HOUR_MS, WINDOW_8H: 8 * HOUR_MS}

HOUR, SHIFT, HOUR_AND_SHIFT = (WINDOW_1H,), (WINDOW_8H,), (WINDOW_1H, WINDOW_8H)

AGENT, TEAM, QUEUE, CHANNEL = "agent", "team", "queue", "channel"
PEOPLE = frozenset({AGENT, TEAM})
CONTACTS = frozenset({QUEUE, CHANNEL})
EVERY_SCOPE = PEOPLE | CONTACTS

GREEN, YELLOW, RED = "green", "yellow", "red"
Range = tuple[float | None, float | None]  # inclusive; None = open


def _inside(value: float, bounds: Range) -> bool:
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


@dataclass(frozen=True)
class Band:
    """Green inside ``green``, yellow inside ``yellow`` (which contains green), red outside.
    Bands are ranges, not caps: a value can be red for being too low *and* too high."""

    green: Range
    yellow: Range

    def colour(self, value: float) -> str:
        if _inside(value, self.green):
            return GREEN
        return YELLOW if _inside(value, self.yellow) else RED


@dataclass(frozen=True)
class Kpi:
    key: str  # as processors.kpis names it
    metric: str  # the metric name after ``ccpulse_<scope>_`` (contract §3)
    help: str
    scopes: frozenset[str]
    # The windows every agent gets a series of by default: the per-agent budget (issue 19).
    # What the supervisor and agent dashboards read, and one window of each agent metric
    # contract §3 requires; the rest of an agent's KPIs are served on demand (/api/v1).
    agent_windows: tuple[str, ...] = ()
    band: Band | None = None  # default band; [scorecard] bands override it
    queue_help: str | None = None  # where a queue's or channel's meaning differs
    by_channel: bool = False  # also split by a ``channel`` label (``all`` for the total)
    name: str = ""  # what people call it on pages; default: the key in words

    @property
    def label(self) -> str:
        return self.name or self.key.replace("_", " ")

    @property
    def unit(self) -> str:
        """``ratio`` (0…1), ``seconds``, or what the value counts (score, interactions, …)."""
        return self.metric.rsplit("_", 1)[-1] if "_" in self.metric else self.metric

    def help_for(self, scope: str) -> str:
        return self.queue_help if self.queue_help and scope in CONTACTS else self.help


# Contract §2: occupancy healthy 0.75-0.85, burnout risk above 0.85 sustained, overstaffing
# below 0.60. The alert thresholds and the staffing plan's ceiling default to these.
OCCUPANCY_HEALTHY_LOW, OCCUPANCY_HEALTHY_HIGH = 0.75, 0.85
OCCUPANCY_OVERSTAFFED_BELOW = 0.60

# Bands: the contract's where it has them (occupancy healthy 0.75-0.85, overstaffing below
# 0.60; utilization above 0.85; FCR 0.70+; conversion above 0.30 / below 0.10; capture above
# 0.85 / below 0.50), common practice where it does not (CSAT, QA, felt heard, sentiment).
CATALOGUE: tuple[Kpi, ...] = (
    # Time and presence (agents and teams)
    Kpi("occupancy", "occupancy_ratio", "(handling + acw) / (handling + acw + idle) time",
        PEOPLE, agent_windows=HOUR,
        band=Band((OCCUPANCY_HEALTHY_LOW, OCCUPANCY_HEALTHY_HIGH),
                  (OCCUPANCY_OVERSTAFFED_BELOW, 0.90))),
    Kpi("utilization", "utilization_ratio",
        "(handling + acw + productive not-ready) / logged-in time", PEOPLE, agent_windows=HOUR,
        band=Band((0.85, None), (0.60, None))),
    Kpi("load", "load_ratio", "time-weighted share of interaction slots in use while available",
        PEOPLE, agent_windows=HOUR),
    Kpi("logged_in_seconds", "logged_in_seconds", "logged-in time in the window", PEOPLE,
        ),
    Kpi("answered", "answered_interactions", "interactions answered in the window", PEOPLE),
    Kpi("repeat_contact", "repeat_contact_ratio",
        "answered interactions whose customer had another in the last 24 h", EVERY_SCOPE,
        band=Band((None, 0.10), (None, 0.20)), name="repeat contacts",
        queue_help="interactions whose customer had another in the last 24 h"),
    Kpi("idle_between_seconds", "idle_between_interactions_seconds",
        "mean time between wrapping one interaction and the next answer", PEOPLE,
        agent_windows=HOUR, band=Band((30, None), (10, None)),
        name="breathing room between contacts"),
    Kpi("surveys", "surveys", "surveys received in the window", PEOPLE),
    Kpi("csat", "csat_score", "mean CSAT (1-5) of surveys received in the window", PEOPLE,
        agent_windows=SHIFT, band=Band((4.0, None), (3.5, None)), name="CSAT"),
    Kpi("csat_top2", "csat_top2_ratio", "share of CSAT answers of 4 or 5", PEOPLE),
    Kpi("felt_heard", "felt_heard_ratio", "share of surveyed customers who felt heard", PEOPLE,
        agent_windows=SHIFT, band=Band((0.75, None), (0.50, None))),
    Kpi("interactions_per_hour", "interactions_per_hour",
        "interactions wrapped / logged-in hours (channel 'all' for the total)", PEOPLE,
        agent_windows=HOUR, by_channel=True),
    # Schedules (contract §7.1), computed from the published schedules
    Kpi("adherence", "adherence_ratio",
        "scheduled time spent as the schedule says / scheduled time (offline excluded)",
        PEOPLE, agent_windows=HOUR, band=Band((0.90, None), (0.80, None))),
    Kpi("absence", "absence_ratio", "scheduled work time logged out / scheduled work time",
        frozenset({TEAM}), band=Band((None, 0.05), (None, 0.10))),
    # Queues and channels
    Kpi("service_level", "service_level_ratio",
        "answered within threshold / (answered + abandoned after short-abandon)", CONTACTS),
    Kpi("abandon", "abandon_ratio", "abandoned / queued, each counted at its own time",
        CONTACTS),
    Kpi("asa_seconds", "asa_seconds", "mean wait of answered interactions", CONTACTS),
    Kpi("queued", "queued_interactions", "interactions queued in the window", CONTACTS),
    Kpi("abandoned", "abandoned_interactions", "interactions abandoned in the window",
        CONTACTS),
    Kpi("answered_from_queue", "answered_interactions", "queued interactions answered",
        CONTACTS),
    # Outcomes of wrapped interactions (every scope)
    Kpi("wrapped", "wrapped_interactions", "interactions wrapped in the window", EVERY_SCOPE,
        ),
    Kpi("aht_seconds", "aht_seconds",
        "mean handle time (talk + hold + acw) of wrapped interactions", EVERY_SCOPE,
        agent_windows=HOUR),
    Kpi("talk_seconds", "talk_seconds", "mean talk time of wrapped interactions", EVERY_SCOPE),
    Kpi("hold_seconds", "hold_seconds", "mean hold time of wrapped interactions", EVERY_SCOPE),
    Kpi("acw_seconds", "acw_seconds", "mean after-call work of wrapped interactions",
        EVERY_SCOPE),
    Kpi("acw_share", "acw_share_ratio", "after-call work / handle time", EVERY_SCOPE,
        agent_windows=HOUR),
    # Scored as a ratio to its target (the team's own AHT unless configured): ±15 % green.
    Kpi("aht_non_emotional_seconds", "aht_non_emotional_seconds",
        "mean handle time of interactions not marked emotional", EVERY_SCOPE,
        agent_windows=HOUR_AND_SHIFT,
        band=Band((0.85, 1.15), (0.70, 1.30)), name="AHT (emotional calls left out)"),
    Kpi("aht_emotional_seconds", "aht_emotional_seconds",
        "mean handle time of interactions marked emotional", EVERY_SCOPE),
    Kpi("fcr", "fcr_ratio", "wrapped interactions resolved on first contact / wrapped",
        EVERY_SCOPE, agent_windows=SHIFT, band=Band((0.70, None), (0.60, None)),
        name="first-contact resolution"),
    Kpi("sales_conversion", "sales_conversion_ratio", "wrapped with a sale / wrapped",
        EVERY_SCOPE, band=Band((0.30, None), (0.10, None))),
    Kpi("request_capture", "request_capture_ratio", "wrapped with the request captured / wrapped",
        EVERY_SCOPE, band=Band((0.85, None), (0.50, None))),
    Kpi("revenue_per_interaction", "revenue_per_interaction", "revenue / wrapped interactions",
        EVERY_SCOPE),
    Kpi("escalation", "escalation_ratio", "wrapped and escalated / wrapped", EVERY_SCOPE,
        ),
    Kpi("transfer", "transfer_ratio", "wrapped and transferred / wrapped", EVERY_SCOPE),
    Kpi("emotional", "emotional_ratio", "wrapped interactions marked emotional / wrapped",
        EVERY_SCOPE),
    Kpi("sentiment", "sentiment_score", "mean sentiment (-1..1) of wrapped interactions",
        EVERY_SCOPE, band=Band((0.2, None), (0.0, None))),
    Kpi("qa_score", "qa_score", "mean QA score (0-100) of wrapped interactions", EVERY_SCOPE,
        agent_windows=SHIFT, band=Band((85, None), (70, None)), name="QA score"),
)

BY_KEY: dict[str, Kpi] = {kpi.key: kpi for kpi in CATALOGUE}
DEFAULT_BANDS: dict[str, Band] = {kpi.key: kpi.band for kpi in CATALOGUE if kpi.band}


# Per window, the KPI keys every agent gets a series of: the budget in force.
AgentSeries = dict[str, frozenset[str]]

DEFAULT_AGENT_SERIES: AgentSeries = {
    window: frozenset(kpi.key for kpi in CATALOGUE if window in kpi.agent_windows)
    for window in WINDOWS
}
ALL_AGENT_SERIES: AgentSeries = {
    window: frozenset(kpi.key for kpi in CATALOGUE if AGENT in kpi.scopes) for window in WINDOWS
}


def agent_series(entries: str | list[str]) -> AgentSeries:
    """``[metrics] agent_series``: ``"default"``, ``"all"``, or a list of ``KPI`` (every
    window) and ``KPI:WINDOW`` entries. ValueError names an entry that is not one."""
    if entries == "default":
        return dict(DEFAULT_AGENT_SERIES)
    if entries == "all":
        return dict(ALL_AGENT_SERIES)
    if isinstance(entries, str):
        raise ValueError(f"{entries!r}: give \"default\", \"all\" or a list of KPI[:WINDOW]")
    chosen: dict[str, set[str]] = {window: set() for window in WINDOWS}
    for entry in entries:
        key, _, window = entry.partition(":")
        if key not in BY_KEY or AGENT not in BY_KEY[key].scopes:
            known = ", ".join(kpi.key for kpi in CATALOGUE if AGENT in kpi.scopes)
            raise ValueError(f"{entry!r}: no agent KPI {key!r} (known: {known})")
        if window and window not in WINDOWS:
            raise ValueError(f"{entry!r}: no window {window!r} (known: {', '.join(WINDOWS)})")
        for name in [window] if window else WINDOWS:
            chosen[name].add(key)
    return {window: frozenset(keys) for window, keys in chosen.items()}


def in_scope(scope: str, *, agent_set: AgentSeries | None = None) -> tuple[Kpi, ...]:
    """The KPIs a scope exports, in catalogue order. For agents, those with a series in some
    window of ``agent_set`` (default: the per-agent budget)."""
    rows = tuple(kpi for kpi in CATALOGUE if scope in kpi.scopes)
    if scope != AGENT:
        return rows
    keys = set().union(*(agent_set or DEFAULT_AGENT_SERIES).values())
    return tuple(kpi for kpi in rows if kpi.key in keys)
