"""Live staffing per queue and channel: offered load, required agents, forecast and gap.

The workforce manager's question is "how many agents does this queue need now, and in the
next hour?". The answer here is Erlang C (:mod:`processors.erlang`) fed with what the engine
measured live:

- **offered load** = arrivals per second × AHT, over each load window (15m, 1h). AHT is the
  queue and channel's own, falling back to the next longer window when a window has no wraps.
- **required agents** = the fewest agents that meet the queue's service-level target *and*
  keep planned occupancy at or below the healthy ceiling (0.85): the plan never buys service
  level with burnout.
- **concurrent channels** (chat, email, …): each agent offers ``capacity`` slots (chat 3 by
  default, or the agent's own login capacity); Erlang C plans slots with the measured per-
  interaction handle time, which already includes the slowdown of handling several at once,
  and required agents = ⌈slots ÷ capacity⌉.
- **staffed agents**: agents in production now (handling, acw or idle) serving this queue and
  channel, each counted by their share of answers over the last hour; an agent who splits
  answers 2:1 between two queues counts 2/3 and 1/3. An agent who answered nothing in the
  last hour is not attributed to any queue yet.
- **forecast**: arrivals in 5-minute bins over the last hour, smoothed with a damped trend
  (Holt), projected 15/30/60 minutes ahead. No time-of-day profile: the engine keeps 8 hours
  of history, not the days such a profile needs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ccpulse.processors.config import EngineConfig, StaffingConfig
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.erlang import average_speed_of_answer, required_servers, service_level
from ccpulse.processors.kpis import Kpis
from ccpulse.processors.measures import Answer, Contact
from ccpulse.processors.series import PrefixSeries, Vector

NOW = "now"
IN_PRODUCTION = frozenset({"handling", "acw", "idle"})
QueueChannel = tuple[str, str]


@dataclass(frozen=True)
class QueueStaffing:
    """The staffing picture of one queue and channel at one instant."""

    queue: str
    channel: str
    service_level_target: float
    threshold_seconds: float
    occupancy_cap: float
    aht_seconds: dict[str, float]  # load window -> AHT; the longest one drives the forecast
    capacity: float  # concurrent interactions per agent on this channel
    offered_load: dict[str, float]  # load window -> Erlangs (of slots, on concurrent channels)
    arrivals_per_hour: dict[str, float]  # "now" (first load window) and each horizon
    required_agents: dict[str, int]  # "now" and each horizon
    staffed_agents: float
    predicted_service_level: float  # with the staffed agents, at the "now" load
    predicted_asa_seconds: float | None  # None when the staffed agents cannot keep up

    def gap(self, horizon: str) -> float:
        """Agents to add (positive) or that could be released (negative) at ``horizon``."""
        return self.required_agents[horizon] - self.staffed_agents


def holt_forecast(counts: Iterable[float], steps: float, cfg: StaffingConfig) -> float:
    """Damped-trend exponential smoothing of ``counts`` (oldest first), ``steps`` bins ahead."""
    level = trend = None
    for count in counts:
        if level is None:
            level, trend = count, 0.0
            continue
        previous = level
        level = cfg.level_smoothing * count + (1 - cfg.level_smoothing) * (
            level + cfg.trend_damping * trend)
        trend = cfg.trend_smoothing * (level - previous) + (1 - cfg.trend_smoothing) * (
            cfg.trend_damping * trend)
    if level is None:
        return 0.0
    damping = sum(cfg.trend_damping ** i for i in range(1, math.ceil(steps) + 1))
    return max(0.0, level + damping * trend)


def _arrival_bins(series: PrefixSeries, now: int, cfg: StaffingConfig) -> list[float]:
    bins = []
    for i in range(cfg.forecast_bins, 0, -1):
        vector = series.window(now - i * cfg.forecast_bin_ms, now - (i - 1) * cfg.forecast_bin_ms)
        bins.append(vector[Contact.QUEUED] if vector else 0.0)
    return bins


def _aht_by_window(windows: Mapping[str, Mapping[QueueChannel, Kpis]], key: QueueChannel,
                   lengths: Mapping[str, int]) -> dict[str, float]:
    """Per window, the AHT of ``key`` there or, without wraps there, in the next longer window
    that has some; windows with no wraps at their length or above are left out."""
    out: dict[str, float] = {}
    fallback = None
    for name in sorted(lengths, key=lengths.__getitem__, reverse=True):
        fallback = windows.get(name, {}).get(key, {}).get("aht_seconds") or fallback
        if fallback:
            out[name] = fallback
    return out


def _staffed(engine: KpiEngine, states: Mapping[str, str],
             answers: Mapping[tuple[str, ...], Vector],
             ) -> tuple[dict[QueueChannel, float], dict[QueueChannel, float]]:
    """(agents, slots) per queue and channel, from each in-production agent's answer shares
    in ``answers``: the answer cells' sums over the longest load window."""
    shares_of: dict[str, dict[QueueChannel, float]] = {}
    for (agent, _team, queue, channel), vector in answers.items():
        if states.get(agent) not in IN_PRODUCTION:
            continue
        shares = shares_of.setdefault(agent, {})
        shares[(queue, channel)] = shares.get((queue, channel), 0.0) + vector[Answer.COUNT]
    agents: dict[QueueChannel, float] = {}
    slots: dict[QueueChannel, float] = {}
    for agent, shares in shares_of.items():
        total = sum(shares.values())
        capacity = engine.agents[agent].capacity or engine.config.capacity
        for key, count in shares.items():
            share = count / total
            agents[key] = agents.get(key, 0.0) + share
            slots[key] = slots.get(key, 0.0) + share * capacity.get(key[1], 1)
    return agents, slots


@dataclass(frozen=True)
class StaffingReading:
    """What the staffing picture needs of the engine at one instant, read while the engine
    holds still; :func:`staffing` then computes from it alone (the replica applies on)."""

    now: int
    config: EngineConfig
    load_names: list[str]  # the configured load windows this engine has, shortest first
    agents: dict[QueueChannel, float]  # staffed agents, by answer shares (:func:`_staffed`)
    slots: dict[QueueChannel, float]
    arrivals: dict[QueueChannel, list[float]]  # arrivals per forecast bin, oldest first


def read_staffing(engine: KpiEngine, states: Mapping[str, str], now: int,
                  answers: Mapping[str, Mapping[tuple[str, ...], Vector]],
                  ) -> StaffingReading | None:
    """The engine's part of the staffing picture at ``now``; ``states`` maps an agent to its
    activity now, ``answers`` a window's name to the answer cells' sums over it (those of
    the snapshot being read: the longest load window's are taken from there, not looked up
    again, which halves this part: 0.16 → 0.08 s of a 50,000-agent floor's reading, held
    under the replica's lock; BENCHMARKS.md). None for an engine
    configured without a load window (e.g. a coaching report's)."""
    config = engine.config
    cfg = config.staffing
    load_names = [w for w in cfg.load_windows if w in config.windows]
    if not load_names:
        return None
    agents, slots = _staffed(engine, states, answers[load_names[-1]])
    arrivals = {key: _arrival_bins(series, now, cfg)
                for key, series in engine.families["contact"].items()}
    return StaffingReading(now, config, load_names, agents, slots, arrivals)


def staffing(reading: StaffingReading | None,
             windows: Mapping[str, Mapping[QueueChannel, Kpis]],
             ) -> dict[QueueChannel, QueueStaffing]:
    """The staffing picture of every queue and channel with arrivals and a known AHT.

    ``windows`` maps a window name to its per-(queue, channel) KPIs at the reading's instant.
    """
    if reading is None:
        return {}
    config, load_names = reading.config, reading.load_names
    cfg = config.staffing
    first, last = load_names[0], load_names[-1]
    longest = max(config.windows, key=config.windows.__getitem__)
    out: dict[QueueChannel, QueueStaffing] = {}
    for key in sorted(windows.get(longest, {})):
        queue, channel = key
        aht = _aht_by_window(windows, key, config.windows)
        if last not in aht:
            continue  # no wraps in any window long enough: the workload is unknown
        rates = {name: windows[name].get(key, {}).get("queued", 0.0)
                 / config.windows[name] * 3_600_000 for name in load_names}
        loads = {name: rates[name] / 3600 * aht[name] for name in load_names}
        bins = reading.arrivals.get(key, [])
        per_hour = {NOW: rates[first]}
        for horizon, ahead_ms in cfg.horizons_ms.items():
            per_bin = holt_forecast(bins, ahead_ms / cfg.forecast_bin_ms, cfg)
            per_hour[horizon] = per_bin * 3_600_000 / cfg.forecast_bin_ms
        staffed_slots = reading.slots.get(key, 0.0)
        staffed_agents = reading.agents.get(key, 0.0)
        capacity = (staffed_slots / staffed_agents if staffed_agents
                    else config.capacity.get(channel, 1))
        target = cfg.sl_target(queue)
        threshold_s = config.sl_threshold_ms(queue) / 1000
        required = {}
        for horizon, rate in per_hour.items():
            handle = aht[first] if horizon == NOW else aht[last]
            servers = required_servers(rate / 3600 * handle, handle, threshold_s, target,
                                       cfg.occupancy_cap)
            required[horizon] = math.ceil(servers / capacity - 1e-9)
        servers_now = math.floor(staffed_slots + 1e-9)
        asa = average_speed_of_answer(servers_now, loads[first], aht[first])
        out[key] = QueueStaffing(
            queue=queue, channel=channel, service_level_target=target,
            threshold_seconds=threshold_s, occupancy_cap=cfg.occupancy_cap,
            aht_seconds={name: aht[name] for name in load_names}, capacity=capacity,
            offered_load=loads, arrivals_per_hour=per_hour, required_agents=required,
            staffed_agents=staffed_agents,
            predicted_service_level=service_level(servers_now, loads[first], aht[first],
                                                  threshold_s),
            predicted_asa_seconds=None if math.isinf(asa) else asa,
        )
    return out
