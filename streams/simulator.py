"""A discrete-event contact-center simulator producing contract §1 events in time order.

Teams of agents serve one queue each; interactions arrive as Poisson processes, wait, are
routed to the longest-free agent with a free slot (chat and email agents handle several at
once), go through talk, hold and after-call work with log-normal durations, end with outcomes,
and some customers answer a survey minutes later. Agents log in, take breaks and trainings.

Scenario switches change the floor for a while so that every alert has something to find:
``hot`` (a team's queue gets 1.6x the calls), ``csat_aht`` (longer calls, unhappier customers),
``idle`` (a team gets a third of its calls) and ``sl_miss`` (a burst that breaks the SL).
Everything is drawn from seeded ``random.Random``s: the same seed gives the same events.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ccpulse.processors.timefmt import format_ms

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# channel -> (agents' slots, mean talk s, mean acw s, customer patience s or None)
CHANNEL_PROFILE: dict[str, tuple[int, float, float, float | None]] = {
    "voice": (1, 270.0, 50.0, 180.0),
    "chat": (3, 540.0, 40.0, 300.0),
    "email": (5, 420.0, 60.0, None),
}
CHANNEL_MIX = (("voice", 0.6), ("chat", 0.25), ("email", 0.15))
QUEUE_TOPICS = ("billing", "support", "sales", "retention", "tech", "orders", "claims")
TEAM_SIZE = 15
# Share of each channel's slots kept busy. Lower for chat and email: with several slots an
# agent is almost never without an interaction, so their occupancy would sit at 1.0.
TARGET_SLOT_USE = {"voice": 0.64, "chat": 0.42, "email": 0.3}


@dataclass(frozen=True)
class Scenario:
    """From ``start`` to ``end`` (ms after the simulation start), ``kind`` hits ``team``."""

    kind: str  # hot | csat_aht | idle | sl_miss
    team: int
    start: int
    end: int

    def active(self, offset: int) -> bool:
        return self.start <= offset < self.end


def default_scenarios(duration_ms: int, teams: int,
                      voice_teams: list[int] | None = None) -> list[Scenario]:
    """One of each scenario, spread over the run, each on its own team where there are enough.

    The SL burst goes to a voice team (the last one): chat and email slots absorb a burst.
    """
    n = max(teams, 1)
    burst_team = (voice_teams or [3 % n])[-1]
    plan = (("hot", 0 % n, 0.10, 0.55), ("csat_aht", 1 % n, 0.20, 0.70),
            ("idle", 2 % n, 0.15, 0.50), ("sl_miss", burst_team, 0.35, 0.50))
    return [Scenario(kind, team, int(a * duration_ms), int(b * duration_ms))
            for kind, team, a, b in plan]


def demo_scenarios(live_at_ms: int, duration_ms: int, teams: int) -> list[Scenario]:
    """Scenarios for the live demo: a cycle every 3 h, each under way when the view opens.

    ``live_at_ms`` is when the warm-up (replayed at full speed) ends and real time begins; the
    first cycle starts 1 h before it so the 1 h windows already show the effects.
    """
    cycle = 3 * HOUR
    # kind, team, start and end relative to the start of a cycle
    shape = (("csat_aht", 1, 0, 2 * HOUR), ("hot", 0, 20 * MINUTE, 100 * MINUTE),
             ("idle", 2, 15 * MINUTE, 90 * MINUTE), ("sl_miss", 3, 50 * MINUTE, 70 * MINUTE))
    out = []
    start = live_at_ms - HOUR
    while start < duration_ms:
        out.extend(Scenario(kind, team % max(teams, 1), start + a, start + b)
                   for kind, team, a, b in shape)
        start += cycle
    return out


@dataclass
class SimConfig:
    agents: int = 120
    duration_ms: int = 8 * HOUR
    seed: int = 7
    start_ms: int = int(datetime(2026, 11, 23, 8, 0, tzinfo=UTC).timestamp() * 1000)
    scenarios: list[Scenario] | None = None  # None: default_scenarios()
    survey_probability: float = 0.3
    end_shift: bool = False  # log every agent out at the end, so nothing is left open


@dataclass
class _Team:
    index: int
    team_id: str
    queue_id: str
    channel: str
    agents: list[_Agent] = field(default_factory=list)
    waiting: deque[_Call] = field(default_factory=deque)


@dataclass
class _Agent:
    agent_id: str
    team: _Team
    slots: int
    active: int = 0
    available: bool = False
    free_since: int = 0
    break_due: str | None = None  # not-ready reason to take once the last interaction wraps


@dataclass
class _Call:
    interaction_id: str
    queued_at: int
    customer_id: str
    category: str
    answered: bool = False


def _not_ready_length(reason: str, draw: float) -> int:
    """How long a not-ready lasts, from one uniform draw. A break is planned for 15 min: nine
    in ten end within it (12-15 min), one in ten overruns (16-25 min: what AgentStateTooLong
    is for). Lunch takes its half hour (28-31 min), a coaching session its 15 (13-16)."""
    if reason == "lunch":
        return int((28 + 3 * draw) * MINUTE)
    if reason != "break":
        return int((13 + 3 * draw) * MINUTE)
    if draw < 0.9:
        return int((12 + 3 * draw / 0.9) * MINUTE)
    return int((16 + 9 * (draw - 0.9) / 0.1) * MINUTE)


class Simulator:
    """Yields events (dicts of contract §1) in non-decreasing ``ts`` order."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        # how far from the plan agents start their breaks: a stream of its own
        self.plan_rng = random.Random(config.seed * 7919 + 1)
        self.now = config.start_ms
        self._heap: list[tuple[int, int, Callable[..., None], tuple]] = []
        self._seq = 0
        self._out: list[dict] = []
        self._ids = 0
        n_teams = max(1, round(config.agents / TEAM_SIZE))
        self.teams = [self._make_team(i, n_teams) for i in range(n_teams)]
        for i in range(config.agents):
            team = self.teams[i % n_teams]
            slots = CHANNEL_PROFILE[team.channel][0]
            team.agents.append(_Agent(f"agent-{i + 1:05d}", team, slots))
        voice = [t.index for t in self.teams if t.channel == "voice"]
        self.scenarios = (
            config.scenarios
            if config.scenarios is not None
            else default_scenarios(config.duration_ms, n_teams, voice)
        )
        # A pool of pseudonymous customers sized for roughly one repeat contact in ten.
        expected = sum(self._base_rate(t) for t in self.teams) * config.duration_ms
        self._customers = max(50, int(expected * 4))

    # -- topology ----------------------------------------------------------------------------
    def _make_team(self, i: int, n_teams: int) -> _Team:
        share = (i + 0.5) / n_teams
        cumulative = 0.0
        channel = CHANNEL_MIX[-1][0]
        for name, weight in CHANNEL_MIX:
            cumulative += weight
            if share < cumulative:
                channel = name
                break
        topic = QUEUE_TOPICS[i % len(QUEUE_TOPICS)]
        return _Team(i, f"team-{i + 1:03d}", f"{topic}-{channel}-{i + 1:03d}", channel)

    def _base_rate(self, team: _Team) -> float:
        """Arrivals per ms that keep the team near the target occupancy."""
        slots, talk, acw, _ = CHANNEL_PROFILE[team.channel]
        handle_ms = (talk + acw + 8) * 1000
        return TARGET_SLOT_USE[team.channel] * 0.9 * len(team.agents) * slots / handle_ms

    def _effect(self, team: _Team, kind: str) -> bool:
        offset = self.now - self.config.start_ms
        return any(s.kind == kind and s.team == team.index and s.active(offset)
                   for s in self.scenarios)

    # -- scheduling --------------------------------------------------------------------------
    def _at(self, when: int, action: Callable[..., None], *args: object) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, action, args))

    def _emit(self, kind: str, **fields: object) -> None:
        self._ids += 1
        event = {"event_id": f"sim-{self.config.seed}-{self._ids}", "type": kind,
                 "ts": format_ms(self.now)}
        event.update({k: v for k, v in fields.items() if v is not None})
        self._out.append(event)

    def _lognormal_ms(self, mean_s: float, sigma: float = 0.5) -> int:
        mu = math.log(mean_s) - sigma * sigma / 2
        return max(1000, int(self.rng.lognormvariate(mu, sigma) * 1000))

    def events(self) -> Iterator[dict]:
        end = self.config.start_ms + self.config.duration_ms
        number = 0
        for team in self.teams:
            for agent in team.agents:
                # WFM's plan first. In runs over an hour every 20th agent was planned a
                # quarter of an hour before they log in (late; in a run of minutes, the plan
                # would outlast the run's own windows), and the agents who leave half-way
                # through (see _login) are absent for the rest of it. Publishing draws no
                # random number from the day's stream.
                late = number % 20 == 19 and self.config.duration_ms > HOUR
                self._publish_schedule(agent, end, early=15 * MINUTE if late else 0)
                number += 1
                self._at(self.now + self.rng.randrange(0, 3 * MINUTE), self._login, agent)
            self._at(self.now + self.rng.randrange(0, MINUTE), self._arrival, team)
        if self.config.end_shift:
            self._at(end, self._end_shift)
        while self._heap:
            when, _, action, args = heapq.heappop(self._heap)
            if when > end:
                break
            self.now = when
            action(*args)
            if self._out:
                yield from self._out
                self._out.clear()

    def _end_shift(self) -> None:
        for team in self.teams:
            for agent in team.agents:
                self._emit("agent.logout", agent_id=agent.agent_id)
        self._heap.clear()

    # -- agents ------------------------------------------------------------------------------
    def _publish_schedule(self, agent: _Agent, end: int, early: int = 0) -> None:
        """What WFM planned (contract §7.1), published at the start of each day of the run
        for that day: work, a 15-minute break after about 2 h, 30 minutes of lunch after about
        4 h, a break after about 6 h; the agent takes them, give or take a few minutes.
        ``early``: the first day's plan starts that much before the run (a late agent)."""
        first = self.now - early
        last = min(self.now + DAY, end)
        number = int(agent.agent_id[-5:])
        # staggered, as WFM plans them: a quarter of a team in each of four slots, 15 min
        # apart, so a break never empties a queue
        stagger = (number % 4) * 15 * MINUTE
        planned = [(first + 2 * HOUR + stagger, 15 * MINUTE, "break"),
                   (first + 4 * HOUR + stagger, 30 * MINUTE, "lunch"),
                   (first + 6 * HOUR + stagger, 15 * MINUTE, "break")]
        if number % 10 == 3:  # one agent in ten has a coaching session
            planned.insert(1, (first + 3 * HOUR + stagger, 15 * MINUTE, "coaching"))
        for at, length, activity in planned:
            if at + length <= last:  # agents take their planned breaks, give or take
                self._at(max(at + self.plan_rng.randrange(-3 * MINUTE, 3 * MINUTE), self.now),
                         self._want_break, agent, activity)
        segments, cursor = [], first
        for at, length, activity in planned:
            if at + length > last:
                break
            segments += [(cursor, at, "work"), (at, at + length, activity)]
            cursor = at + length
        segments.append((cursor, last, "work"))
        self._emit("schedule.published", agent_id=agent.agent_id, team_id=agent.team.team_id,
                   segments=[{"start": format_ms(a), "end": format_ms(b), "activity": kind}
                             for a, b, kind in segments if b > a])
        if last < end:
            self._at(last, self._publish_schedule, agent, end)

    def _login(self, agent: _Agent) -> None:
        capacity = {agent.team.channel: agent.slots}
        self._emit("agent.login", agent_id=agent.agent_id, team_id=agent.team.team_id,
                   capacity=capacity)
        self._at(self.now + self.rng.randrange(20_000, 3 * MINUTE), self._ready, agent)
        if self.rng.random() < 0.1:  # a short shift: this agent leaves half-way through
            self._at(self.now + self.config.duration_ms // 2, self._want_break, agent, "logout")

    def _ready(self, agent: _Agent) -> None:
        if agent.break_due == "logout" and agent.active == 0 and not agent.available:
            return  # logged out during the break
        self._emit("agent.available", agent_id=agent.agent_id)
        agent.available = True
        agent.free_since = self.now
        self._dispatch(agent.team)

    def _want_break(self, agent: _Agent, reason: str | None = None) -> None:
        if agent.break_due == "logout" or (not agent.available and reason != "logout"):
            return  # already leaving, or already on a break that will schedule the next one
        agent.break_due = reason or "break"
        if agent.active == 0:
            self._take_break(agent)

    def _take_break(self, agent: _Agent) -> None:
        reason = agent.break_due or "break"
        agent.break_due = None
        agent.available = False
        if reason == "logout":
            self._emit("agent.logout", agent_id=agent.agent_id)
            agent.break_due = "logout"  # keeps the router and later breaks away from them
            return
        self._emit("agent.not_ready", agent_id=agent.agent_id, reason=reason)
        self._at(self.now + _not_ready_length(reason, self.rng.random()), self._ready, agent)

    # -- interactions ------------------------------------------------------------------------
    def _arrival(self, team: _Team) -> None:
        rate = self._base_rate(team)
        if self._effect(team, "hot"):
            rate *= 1.6
        if self._effect(team, "idle"):
            rate *= 0.33
        if self._effect(team, "sl_miss"):
            rate *= 2.2
        self._ids += 1
        call = _Call(
            f"int-{self.config.seed}-{self._ids}",
            self.now,
            f"cust-{self.rng.randrange(self._customers):07d}",
            self.rng.choice(("billing", "technical", "account", "order", "complaint")),
        )
        self._emit("interaction.queued", interaction_id=call.interaction_id,
                   queue_id=team.queue_id, channel=team.channel,
                   customer_id=call.customer_id, category=call.category)
        team.waiting.append(call)
        patience = CHANNEL_PROFILE[team.channel][3]
        if patience is not None:
            self._at(self.now + int(self.rng.expovariate(1 / patience) * 1000) + 1000,
                     self._patience_over, team, call)
        self._dispatch(team)
        self._at(self.now + max(1, int(self.rng.expovariate(rate))), self._arrival, team)

    def _patience_over(self, team: _Team, call: _Call) -> None:
        if call.answered or call not in team.waiting:
            return
        team.waiting.remove(call)
        self._emit("interaction.abandoned", interaction_id=call.interaction_id,
                   queue_id=team.queue_id)

    def _dispatch(self, team: _Team) -> None:
        while team.waiting:
            free = [a for a in team.agents
                    if a.available and a.break_due is None and a.active < a.slots]
            if not free:
                return
            agent = min(free, key=lambda a: (a.active, a.free_since))
            call = team.waiting.popleft()
            call.answered = True
            self._answer(agent, call)

    def _answer(self, agent: _Agent, call: _Call) -> None:
        team = agent.team
        agent.active += 1
        self._emit("interaction.answered", interaction_id=call.interaction_id,
                   agent_id=agent.agent_id, queue_id=team.queue_id, channel=team.channel,
                   customer_id=call.customer_id, category=call.category)
        _, talk_s, acw_s, _ = CHANNEL_PROFILE[team.channel]
        emotional = self.rng.random() < 0.12
        strained = self._effect(team, "csat_aht")
        talk = self._lognormal_ms(talk_s * (1.4 if emotional else 1.0) * (1.4 if strained else 1))
        if team.channel == "voice" and self.rng.random() < 0.2:
            hold_at = self.now + talk // 2
            hold = self._lognormal_ms(40)
            self._at(hold_at, self._hold, agent, call, "interaction.hold_started")
            self._at(hold_at + hold, self._hold, agent, call, "interaction.hold_ended")
            talk += hold
        acw = self._lognormal_ms(acw_s * (1.3 if strained else 1.0))
        self._at(self.now + talk, self._end, agent, call)
        self._at(self.now + talk + acw, self._wrap, agent, call, emotional, strained)

    def _hold(self, agent: _Agent, call: _Call, kind: str) -> None:
        self._emit(kind, interaction_id=call.interaction_id, agent_id=agent.agent_id)

    def _end(self, agent: _Agent, call: _Call) -> None:
        self._emit("interaction.ended", interaction_id=call.interaction_id,
                   agent_id=agent.agent_id)

    def _wrap(self, agent: _Agent, call: _Call, emotional: bool, strained: bool) -> None:
        rng = self.rng
        sale = rng.random() < (0.3 if "sales" in agent.team.queue_id else 0.08)
        sentiment = max(-1.0, min(1.0, rng.gauss(-0.1 if strained else 0.35, 0.3)))
        self._emit(
            "interaction.wrapped",
            interaction_id=call.interaction_id,
            agent_id=agent.agent_id,
            resolved=rng.random() < (0.6 if strained else 0.75),
            sale=sale,
            revenue=round(rng.lognormvariate(4.2, 0.6), 2) if sale else 0.0,
            request_captured=rng.random() < 0.8,
            escalated=rng.random() < (0.1 if strained else 0.04),
            transferred=rng.random() < 0.03,
            sentiment=round(sentiment, 3),
            qa_score=round(max(0.0, min(100.0, rng.gauss(82, 8))), 1),
            category=call.category,
            emotional=emotional,
        )
        agent.active -= 1
        if rng.random() < self.config.survey_probability:
            delay = int(rng.expovariate(1 / (20 * MINUTE))) + MINUTE
            self._at(self.now + delay, self._survey, agent, call, strained)
        if agent.active == 0:
            agent.free_since = self.now
            if agent.break_due is not None:
                self._take_break(agent)
        self._dispatch(agent.team)

    def _survey(self, agent: _Agent, call: _Call, strained: bool) -> None:
        weights = (3, 5, 12, 35, 45) if not strained else (12, 16, 28, 28, 16)
        csat = self.rng.choices((1, 2, 3, 4, 5), weights)[0]
        self._emit("interaction.survey", interaction_id=call.interaction_id,
                   agent_id=agent.agent_id, csat=csat, felt_heard=csat >= 4)
