"""Engine parameters: windows, thresholds and defaults of contract §2, all overridable.

Plain frozen dataclasses so the engine stays pure; :mod:`ccpulse.settings` fills them from
flags, environment and the config file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ccpulse.processors.catalogue import (
    HOUR_MS,
    MINUTE_MS,
    OCCUPANCY_HEALTHY_HIGH,
    WINDOW_1H,
    WINDOW_15M,
    WINDOWS,
)

DEFAULT_WINDOWS: dict[str, int] = WINDOWS
DEFAULT_CAPACITY: dict[str, int] = {
    "voice": 1,
    "chat": 3,
    "email": 5,
    "social": 3,
    "sms": 3,
    "video": 1,
}
DEFAULT_PRODUCTIVE_REASONS: frozenset[str] = frozenset(
    {"training", "coaching", "meeting", "backoffice"}
)
# not_ready reasons that label time in state (contract §7.2) as themselves, beside the
# productive ones; any other reason is "other" (free text must not become label values).
# "login" is the reason contract §2 gives the not_ready that starts every session.
DEFAULT_STATE_REASONS: frozenset[str] = frozenset({"login", "break", "lunch"})
OTHER_REASON = "other"


@dataclass(frozen=True)
class StaffingConfig:
    """How required agents are planned and arrivals forecast (issue 9; README "Staffing")."""

    service_level_target: float = 0.80
    queue_service_level_target: dict[str, float] = field(default_factory=dict)
    # Never plan above the top of the healthy occupancy band: meeting the service level must
    # not mean planning agents into burnout.
    occupancy_cap: float = OCCUPANCY_HEALTHY_HIGH
    # Live offered load is measured over these windows; the first one drives "now".
    load_windows: tuple[str, ...] = (WINDOW_15M, WINDOW_1H)
    horizons_ms: dict[str, int] = field(
        default_factory=lambda: {"15m": 15 * MINUTE_MS, "30m": 30 * MINUTE_MS, "60m": HOUR_MS}
    )
    # Forecast: damped-trend exponential smoothing (Holt) of arrivals in 5-minute bins over
    # the last hour. Damping keeps a burst from being extrapolated into a flood an hour out.
    forecast_bin_ms: int = 5 * MINUTE_MS
    forecast_bins: int = 12
    level_smoothing: float = 0.3
    trend_smoothing: float = 0.1
    trend_damping: float = 0.9

    def sl_target(self, queue_id: str) -> float:
        return self.queue_service_level_target.get(queue_id, self.service_level_target)


@dataclass(frozen=True)
class EngineConfig:
    """What the KPI engine needs to know; every field has the contract's default."""

    windows: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_WINDOWS))
    capacity: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    productive_reasons: frozenset[str] = DEFAULT_PRODUCTIVE_REASONS
    state_reasons: frozenset[str] = DEFAULT_STATE_REASONS
    service_level_threshold_ms: int = 20_000
    queue_service_level_threshold_ms: dict[str, int] = field(default_factory=dict)
    short_abandon_ms: int = 5_000
    # Events older than an entity's newest event by more than this are dead-lettered as
    # too_late; younger ones are applied in event-time order (the state machine rewinds).
    lateness_ms: int = 10 * MINUTE_MS
    repeat_contact_ms: int = 24 * HOUR_MS
    dedup_ms: int = 24 * HOUR_MS
    # Cardinality guard: a flood of made-up ids must not exhaust memory or Prometheus. An
    # event that would start tracking one more agent, team or queue beyond these is refused
    # (reason over_limit) and counted; in a worker it stays in the event log, so raising the
    # limit and restarting applies it. Defaults are twice a very large BPO floor.
    max_agents: int = 100_000
    max_teams: int = 10_000
    max_queues: int = 10_000
    staffing: StaffingConfig = field(default_factory=StaffingConfig)

    @property
    def retention_ms(self) -> int:
        """How much history the longest window can still ask for, plus room for late events."""
        return max(self.windows.values()) + self.lateness_ms

    @property
    def log_horizon_ms(self) -> int:
        """How far back a replica rebuilding this engine must read the event log: the windows'
        history, and before it the customer contacts a repeat-contact decision and the event
        ids a dedup decision look back on. Older events change no number (an agent logged in
        for longer than this is the one exception: a missing logout, not a shift)."""
        return self.retention_ms + max(self.repeat_contact_ms, self.dedup_ms)

    def sl_threshold_ms(self, queue_id: str) -> int:
        return self.queue_service_level_threshold_ms.get(queue_id, self.service_level_threshold_ms)

    @property
    def reason_labels(self) -> dict[str, str]:
        """Each labelled reason to one shared string object (an agent keeps one per segment)."""
        return {reason: reason for reason in self.state_reasons | self.productive_reasons}

    def reason_label(self, reason: str) -> str:
        return self.reason_labels.get(reason, OTHER_REASON)
