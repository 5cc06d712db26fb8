"""The KPI engine: applies decoded events to agent machines, queue joins and counters.

Pure and deterministic: no clock, no I/O. Time arrives with each event and with every query,
so a replay of the same events gives the same numbers, and adapters (the embedded runner, the
Kafka worker) decide what "now" is.
"""

from __future__ import annotations

from bisect import insort
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from ccpulse.processors.agent import (
    ANSWERED,
    AVAILABLE,
    ENDED,
    LOGIN,
    LOGOUT,
    NOT_READY,
    TEAM,
    WRAPPED,
    AgentMachine,
    Transition,
)
from ccpulse.processors.config import HOUR_MS, OTHER_REASON, EngineConfig
from ccpulse.processors.decode import OVER_LIMIT, Decoded, Rejection, too_late
from ccpulse.processors.events import (
    AgentAvailable,
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AnyEvent,
    HoldEnded,
    HoldStarted,
    InteractionAbandoned,
    InteractionAnswered,
    InteractionEnded,
    InteractionQueued,
    InteractionSurvey,
    InteractionWrapped,
    SchedulePublished,
)
from ccpulse.processors.interaction import (
    Frozen,
    Interaction,
    Shapes,
    contact_of,
    freeze,
    open_hold,
    record_of,
    repeat_of,
    touched_ms,
    wrap_parts,
)
from ccpulse.processors.last_contacts import LastContacts, digest
from ccpulse.processors.measures import COUNTS, DOUBLES, WIDTH, Wrap
from ccpulse.processors.schedule import AgentSchedule, publication
from ccpulse.processors.series import Cell, PrefixSeries, Vector, series_for
from ccpulse.processors.timefmt import datetime_ms
from ccpulse.processors.timeline import Kinds, next_stamp

UNKNOWN_CHANNEL = "unknown"
UNKNOWN_QUEUE = "unknown"

Applied = Literal["applied", "duplicate"]


class KpiEngine:
    """All state needed to compute contract §2 KPIs for any window ending at any instant."""

    def __init__(self, config: EngineConfig | None = None, *, dedup: bool = True) -> None:
        """``dedup`` False trusts the caller to feed each event once: a worker's replica reads
        the event log, whose commit already refused duplicates, and the ids kept for a
        dedup decision were half of a replica's memory at steady state (BENCHMARKS.md)."""
        self.config = config or EngineConfig()
        self.dedup = dedup
        self._reasons = self.config.reason_labels
        self.agents: dict[str, AgentMachine] = {}
        self.segment_kinds = Kinds()  # what their timelines' segments are, each kept once
        # interaction id -> its record, frozen once settled (processors/interaction.py);
        # ordered by last touch
        self.interactions: dict[str, Interaction | Frozen] = {}
        # the tuples of references frozen records share, by number
        self.shapes = Shapes()
        # agent -> its published schedules (contract §7.1)
        self.schedules: dict[str, AgentSchedule] = {}
        # interaction id -> (agent, when its open hold began): the holds going on now, so a
        # snapshot finds them without looking at every interaction
        self.on_hold: dict[str, tuple[str, int]] = {}
        self.families: dict[str, dict[tuple[str, ...], PrefixSeries]] = {
            name: {} for name in WIDTH
        }
        self.waiting: dict[str, dict[str, int]] = {}  # queue -> interaction -> queued at
        # customer (the digest of its id, processors/last_contacts.py) -> its contacts
        # (first-sight ts, interaction), sorted, flat (see History); ordered by last contact.
        # Once all its contacts' interactions have expired, a customer moves to
        # last_contacts: its newest contact's time is all a repeat decision needs of it then
        self.customers: dict[int, History] = {}
        self.last_contacts = LastContacts()
        self.queue_last_ts: dict[str, int] = {}
        # team / queue -> newest event time naming it: what the cardinality guard counts
        self.teams: dict[str, int] = {}
        self.queues: dict[str, int] = {}
        self.over_limit: Counter[str] = Counter()  # scope -> events refused
        # Dicts below are kept in (roughly) time order so that expiry pops from the front.
        # event id -> hour of its event time, in arrival order (dedup). An hour, not the
        # time: the ids of one hour share one int object, and expiry needs no finer grain.
        self.seen: dict[str, int] = {}
        self._seen_hour = -1
        self.max_ts: int | None = None
        # a settled record thawed by the event being applied, to freeze again after it
        self._thawed: Interaction | None = None

    # -- public API --------------------------------------------------------------------------
    def apply(self, decoded: Decoded) -> Applied | Rejection:
        """Apply one valid event. Duplicates change nothing; too-late events are refused."""
        event, ts = decoded
        if event.event_id in self.seen:
            return "duplicate"
        agent_id = getattr(event, "agent_id", None)
        if agent_id is not None:
            last = self.agents[agent_id].last_ts if agent_id in self.agents else None
        else:
            last = self.queue_last_ts.get(event.queue_id)  # type: ignore[attr-defined]
        late = too_late(ts, last, self.config.lateness_ms)
        if late is not None:
            return late
        refused = self._over_limit(event, agent_id, ts)
        if refused is not None:
            return refused
        if self.dedup:
            hour = ts // HOUR_MS
            if hour != self._seen_hour:
                self._seen_hour = hour
            self.seen[event.event_id] = self._seen_hour
        if self.max_ts is None or ts > self.max_ts:
            self.max_ts = ts
        handler = _HANDLERS[type(event)]
        handler(self, event, ts)
        thawed = self._thawed
        if thawed is not None:  # a settled record this (late) event touched: frozen again
            self._freeze(thawed)
        return "applied"

    def interaction(self, iid: str) -> Interaction | None:
        """What is known of interaction ``iid``, to read: a change to a frozen record's copy
        is not kept."""
        kept = self.interactions.get(iid)
        return None if kept is None else record_of(kept, iid, self.shapes)

    def __getstate__(self) -> dict[str, Any]:
        # the stamps its schedules and presence views hold came from this process's counter
        return {**self.__dict__, "_stamps_below": next_stamp()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        next_stamp.beyond(state.pop("_stamps_below"))  # none of this process may equal them
        self.__dict__.update(state)

    def agent(self, agent_id: str) -> AgentMachine:
        machine = self.agents.get(agent_id)
        if machine is None:
            machine = self.agents[agent_id] = AgentMachine(kinds=self.segment_kinds)
        return machine

    def expire(self, now: int) -> None:
        """Forget what no window ending at or after ``now`` can need any more."""
        horizon = now - self.config.retention_ms
        for family in self.families.values():
            for series in family.values():
                series.trim(horizon)
            for key in [k for k, series in family.items() if not len(series)]:
                del family[key]
        for agent_id, schedule in list(self.schedules.items()):
            schedule.expire(horizon)
            if not schedule.publications:
                del self.schedules[agent_id]
        for agent_id in list(self.agents):
            machine = self.agents[agent_id]
            machine.trim(horizon)
            if (not machine.logged_in and (machine.last_ts or 0) < horizon
                    and agent_id not in self.schedules):  # scheduled and absent: still here
                del self.agents[agent_id]
        repeat_horizon = now - self.config.repeat_contact_ms
        for iid, kept in _drop_oldest(self.interactions, horizon, touched_ms):
            customer, seen = contact_of(kept)
            if customer is None:
                continue
            key = digest(customer)
            if self.customers.get(key) == iid:
                # its customer's one contact, whose time goes with the record: kept as
                # _trimmed keeps a lone expired contact, its time alone
                del self.customers[key]
                if seen is not None and seen >= repeat_horizon:
                    self.last_contacts.put(key, seen)
        self.shapes.prune(self.interactions.values())  # agents and queues gone
        for iid in [i for i in self.on_hold if i not in self.interactions]:
            del self.on_hold[iid]  # a hold whose interaction was forgotten never ended
        for queue in self.waiting.values():
            _drop_oldest(queue, horizon, lambda queued_at: queued_at)
        _drop_oldest(self.customers, repeat_horizon, self._newest_contact)
        changed = {}
        for customer, history in self.customers.items():
            kept = _trimmed(history, repeat_horizon, self.interactions)
            if kept is not history:
                changed[customer] = kept
        for customer, kept in changed.items():
            if len(kept) == 2 and not kept[1]:  # one contact left, and its interaction gone
                self.last_contacts.put(customer, kept[0])  # type: ignore[arg-type]
                del self.customers[customer]
            else:
                self.customers[customer] = self._history(_contacts(kept))
        self.last_contacts.expire(now, repeat_horizon)
        _drop_oldest(self.seen, (now - self.config.dedup_ms) // HOUR_MS, lambda hour: hour)
        for names in (self.teams, self.queues):
            for name in [n for n, last in names.items() if last < horizon]:
                del names[name]
        # The dicts that live by churn, the newest in and the oldest out, each as a copy sized
        # to what it holds. A dict keeps the slots of what was deleted until an insert finds
        # none left, and CPython then sizes it for three times what it holds: the
        # interactions' and customers' tables were twice their copies' size at steady state,
        # 3.8 and 5.2 KiB an agent (BENCHMARKS.md, issue 19, twenty-sixth round). A copy
        # keeps the order expiry relies on, and takes ~3 ms per 30,000 entries.
        self.interactions = dict(self.interactions)
        self.customers = dict(self.customers)
        if self.seen:
            self.seen = dict(self.seen)

    def entities(self) -> dict[str, tuple[int, int]]:
        """scope -> (tracked now, limit)."""
        cfg = self.config
        return {"agent": (len(self.agents), cfg.max_agents),
                "team": (len(self.teams), cfg.max_teams),
                "queue": (len(self.queues), cfg.max_queues)}

    # -- helpers -------------------------------------------------------------------------------
    def _over_limit(self, event: AnyEvent, agent_id: str | None, ts: int) -> Rejection | None:
        """Refuse an event that would track one entity too many; otherwise note its team and
        queue as seen."""
        team = event.team_id
        queue = getattr(event, "queue_id", None)
        teams, queues = self.teams, self.queues
        if not ((agent_id is None or agent_id in self.agents)
                and (team is None or team in teams) and (queue is None or queue in queues)):
            # someone new (rare; the check above is every event's, and building this table
            # for each one was ~3 % of apply under a profiler: BENCHMARKS.md)
            for scope, key, known, limit in (
                ("agent", agent_id, self.agents, self.config.max_agents),
                ("team", team, teams, self.config.max_teams),
                ("queue", queue, queues, self.config.max_queues),
            ):
                if key is not None and key not in known and len(known) >= limit:
                    self.over_limit[scope] += 1
                    return Rejection(OVER_LIMIT,
                                     f"{len(known)} {scope}s tracked, the limit: raise "
                                     f"[engine] max_{scope}s if the floor is that large")
        if team is not None and ts > teams.get(team, ts - 1):
            teams[team] = ts
        if queue is not None and ts > queues.get(queue, ts - 1):
            queues[queue] = ts
        return None

    def _count(self, family: str, key: tuple[str, ...], ts: int, values: Vector) -> Cell:
        """Add ``values`` to a cell at ``ts``; returns the cell's own key, which interaction
        records keep instead of their own equal tuple (one per cell, not one per record)."""
        cells = self.families[family]
        series = cells.get(key)
        if series is None:
            series = cells[key] = series_for(WIDTH[family], key, DOUBLES.get(family, 0),
                                             COUNTS[family])
        series.add(ts, values)
        return series.cell

    def _record(self, iid: str, ts: int) -> Interaction:
        kept = self.interactions.pop(iid, None)
        if kept is None:
            rec = Interaction(touched_ms=ts, iid=iid)
        else:
            rec = record_of(kept, iid, self.shapes)
            if rec is not kept:
                self._thawed = rec
            rec.touched_ms = max(rec.touched_ms, ts)
        self.interactions[rec.iid] = rec  # re-inserted: the dict stays ordered by last touch
        return rec

    def _freeze(self, rec: Interaction) -> None:
        """Keep ``rec``, settled, frozen (processors/interaction.py): by the handler that
        settles it, or after a late event thawed it."""
        self._thawed = None
        self.interactions[rec.iid] = freeze(rec, self.shapes)

    def _saw_queue_event(self, queue: str, ts: int) -> None:
        """The newest event time of a queue's own events: what lateness is judged against."""
        self.queue_last_ts[queue] = max(self.queue_last_ts.get(queue, ts), ts)

    def _transition(
        self, agent_id: str, ts: int, tr: Transition
    ) -> tuple[AgentMachine, int | None]:
        machine = self.agent(agent_id)
        gap = machine.apply(ts, tr, self.config.lateness_ms)
        for iid, counted, now in machine.gap_corrections:
            rec = self.interaction(iid)
            if rec is not None and rec.answer_cell is not None and rec.answered_ms is not None:
                gap_ms = (now or 0) - (counted or 0)
                samples = (now is not None) - (counted is not None)
                self._count("answer", rec.answer_cell, rec.answered_ms, (0, 0, 0, gap_ms, samples))
        machine.gap_corrections.clear()
        return machine, gap

    def _team_at(self, machine: AgentMachine, ts: int) -> str:
        return machine.timeline.team_at(ts) or machine.team

    def _weight(self, machine: AgentMachine, channel: str | None) -> float:
        capacity = machine.capacity or self.config.capacity
        return 1.0 / capacity.get(channel or "voice", 1)

    def _repeat(self, rec: Interaction, ts: int) -> int:
        """Did this interaction's customer contact us in the 24 h before it?

        Order-independent: each customer's contacts are kept in time order — an interaction
        at its queued time, or at its answer time until the queued event turns up — and each
        one's status follows from the contact before it. A late event re-decides the contacts
        around it and corrects what was already counted (a queued event arriving after its
        answer moved the contact earlier and changed who came first: found by the kill -9
        reliability runs, where partitions deliver in any order).
        """
        customer = rec.customer_id
        if customer is None:
            if rec.repeat is None:
                rec.repeat = False
            return int(rec.repeat)
        if rec.seen_ts is not None and ts >= rec.seen_ts:
            return int(bool(rec.repeat))
        key = digest(customer)
        history = self.customers.pop(key, None)
        if history is None:
            last = self.last_contacts.get(key)
            contacts = [] if last is None else [(last, "")]
        else:
            contacts = self._contacts(history)
        iid = rec.iid
        if rec.seen_ts is not None and (rec.seen_ts, iid) in contacts:
            contacts.remove((rec.seen_ts, iid))
        rec.seen_ts = ts
        insort(contacts, (ts, iid))
        self.customers[key] = self._history(contacts)  # re-inserted: by last contact
        self._redecide(contacts)
        return int(bool(rec.repeat))

    def _contacts(self, history: History) -> list[tuple[int, str]]:
        """A customer's contacts, (time, interaction) in time order."""
        if type(history) is str:
            return [(self._contact_time(history), history)]
        return _contacts(history)

    def _contact_time(self, iid: str) -> int:
        """Where a held interaction's contact stands in its customer's history."""
        return contact_of(self.interactions[iid])[1]  # type: ignore[return-value]

    def _history(self, contacts: list[tuple[int, str]]) -> History:
        """What a customer's contacts are kept as: a lone contact of an interaction held,
        as its id alone (its time is its record's ``seen_ts``); otherwise flat."""
        if len(contacts) == 1 and contacts[0][1] and contacts[0][1] in self.interactions:
            return contacts[0][1]
        return _flat(contacts)

    def _newest_contact(self, history: History) -> int:
        if type(history) is str:
            return self._contact_time(history)
        return history[-2] if history else 0  # type: ignore[return-value]

    def _redecide(self, history: list[tuple[int, str]]) -> None:
        """Set each contact's repeat status from its predecessor; correct counted ones."""
        previous: int | None = None
        for ts, iid in history:
            repeat = previous is not None and ts - previous <= self.config.repeat_contact_ms
            previous = ts
            kept = self.interactions.get(iid)
            if kept is None or repeat_of(kept) == repeat:
                continue
            rec = record_of(kept, iid, self.shapes)
            if rec.repeat is not None:  # counted with the other status: move the count
                delta = 1 if repeat else -1
                if rec.contact_cell is not None and rec.contact_ts is not None:
                    self._count("contact", rec.contact_cell, rec.contact_ts, (0, 0, delta))
                if rec.answer_cell is not None and rec.answered_ms is not None:
                    self._count("answer", rec.answer_cell, rec.answered_ms,
                                (0, 0, delta, 0, 0))
            rec.repeat = repeat
            if rec is not kept:
                self.interactions[iid] = freeze(rec, self.shapes)

    def _join_wait(self, rec: Interaction, iid: str) -> None:
        """Count the queue side of an answer or abandon once both ends of the wait are known."""
        if rec.queued_ms is None or rec.queue_id is None:
            return
        queue = rec.queue_id
        channel = rec.channel or UNKNOWN_CHANNEL
        self.waiting.get(queue, {}).pop(iid, None)
        if rec.answered_ms is not None:
            wait = rec.answered_ms - rec.queued_ms
            within = 1 if wait <= self.config.sl_threshold_ms(queue) else 0
            self._count("queue_answer", (queue, channel), rec.answered_ms, (1, within, wait))
        elif rec.abandoned_ms is not None:
            wait = rec.abandoned_ms - rec.queued_ms
            if wait >= self.config.short_abandon_ms:
                self._count("abandon", (queue, channel), rec.abandoned_ms, (0, 1))

    # -- event handlers --------------------------------------------------------------------
    def _on_login(self, ev: AgentLogin, ts: int) -> None:
        machine = self.agent(ev.agent_id)
        if ev.capacity is not None:
            machine.capacity = {**self.config.capacity, **ev.capacity}
        label = self._reasons.get("login", OTHER_REASON)  # contract §2: login is not_ready
        self._transition(ev.agent_id, ts, Transition(LOGIN, ev.team_id, reason=label))

    def _on_available(self, ev: AgentAvailable, ts: int) -> None:
        self._transition(ev.agent_id, ts, Transition(AVAILABLE, ev.team_id))

    def _on_not_ready(self, ev: AgentNotReady, ts: int) -> None:
        productive = ev.reason in self.config.productive_reasons
        label = self._reasons.get(ev.reason, OTHER_REASON)
        self._transition(ev.agent_id, ts, Transition(NOT_READY, ev.team_id, productive=productive,
                                                     reason=label))

    def _on_logout(self, ev: AgentLogout, ts: int) -> None:
        self._transition(ev.agent_id, ts, Transition(LOGOUT, ev.team_id))

    def _on_queued(self, ev: InteractionQueued, ts: int) -> None:
        iid = ev.interaction_id
        rec = self._record(iid, ts)
        if rec.queued_ms is not None:
            return  # a second queued event of the same interaction (re-queue): first one wins
        rec.queued_ms = ts
        # The wait belongs to the queue it was spent in, whatever queue an answer names and
        # whichever of the two events arrived first.
        rec.queue_id = ev.queue_id
        rec.channel = ev.channel
        rec.customer_id = rec.customer_id or ev.customer_id
        self._saw_queue_event(ev.queue_id, ts)
        repeat = self._repeat(rec, ts)
        has_customer = int(rec.customer_id is not None)
        if rec.contact_cell is not None and rec.contact_ts is not None:
            # The answer arrived first and counted this as a direct contact: take it back.
            self._count("contact", rec.contact_cell, rec.contact_ts, (0, -has_customer, -repeat))
        rec.contact_ts = ts
        rec.contact_cell = self._count("contact", (ev.queue_id, ev.channel), ts,
                                       (1, has_customer, repeat))
        rec.queue_id, rec.channel = rec.contact_cell  # the same ids, one object per queue
        if (rec.abandon_cell is not None and rec.abandoned_ms is not None
                and rec.abandon_cell[1] != rec.channel):
            # The abandon arrived first, of a channel not known yet: move it to its channel
            # (found by the reordering fault test: the channel "unknown" kept the count).
            self._count("abandon", rec.abandon_cell, rec.abandoned_ms, (-1, 0))
            rec.abandon_cell = self._count("abandon", (rec.abandon_cell[0], rec.channel),
                                           rec.abandoned_ms, (1, 0))
        if rec.answered_ms is None and rec.abandoned_ms is None:
            self.waiting.setdefault(ev.queue_id, {})[iid] = ts
        else:
            self._join_wait(rec, iid)

    def _on_abandoned(self, ev: InteractionAbandoned, ts: int) -> None:
        iid = ev.interaction_id
        rec = self._record(iid, ts)
        self._saw_queue_event(ev.queue_id, ts)
        if rec.abandoned_ms is not None or rec.answered_ms is not None:
            return
        rec.abandoned_ms = ts
        rec.queue_id = rec.queue_id or ev.queue_id
        rec.abandon_cell = self._count("abandon", (ev.queue_id, rec.channel or UNKNOWN_CHANNEL),
                                       ts, (1, 0))
        self._join_wait(rec, iid)
        self._freeze(rec)

    def _on_answered(self, ev: InteractionAnswered, ts: int) -> None:
        iid = ev.interaction_id
        rec = self._record(iid, ts)
        if rec.answered_ms is not None:
            return  # answered twice (a transfer re-answer): the first answer owns the wait
        rec.answered_ms = ts
        rec.queue_id = rec.queue_id or ev.queue_id
        rec.channel = rec.channel or ev.channel
        rec.customer_id = rec.customer_id or ev.customer_id
        machine = self.agent(ev.agent_id)
        weight = self._weight(machine, ev.channel)
        machine, gap = self._transition(
            ev.agent_id, ts, Transition(ANSWERED, ev.team_id, rec.iid, weight=weight)
        )
        has_customer = int(rec.customer_id is not None)
        repeat = self._repeat(rec, ts)
        if rec.queued_ms is None:
            # A direct or outbound interaction, or a queued event still on its way.
            rec.contact_ts = ts
            rec.contact_cell = self._count("contact", (ev.queue_id, ev.channel), ts,
                                           (0, has_customer, repeat))
        rec.answer_cell = self._count(
            "answer", (ev.agent_id, self._team_at(machine, ts), ev.queue_id, ev.channel), ts,
            (1, has_customer, repeat, gap or 0, 0 if gap is None else 1))
        self._join_wait(rec, iid)
        if rec.pending_wrap is not None:
            self._recount_wrap(rec)

    def _recount_wrap(self, rec: Interaction) -> None:
        """The answer of an interaction already wrapped has arrived (within the lateness
        limit, e.g. 2 ms after the wrap from another partition): count the wrap again as a
        handled one, in the queue and channel now known, as an in-order run counted it.
        Found by the out-of-order property test."""
        old, rec.pending_wrap = rec.pending_wrap, None
        wrapped, cell, answered = rec.wrapped_ms, rec.wrap_cell, rec.answered_ms
        if old is None or wrapped is None or cell is None or answered is None \
                or answered > wrapped:
            return  # an answer after the wrap in event time: the wrap stays unhandled
        self._count("wrap", cell, wrapped, tuple(-v for v in old))
        handled, handle, talk, hold, acw = wrap_parts(rec, wrapped)
        new = list(old)
        new[Wrap.HANDLED], new[Wrap.HANDLE_MS], new[Wrap.TALK_MS] = handled, handle, talk
        new[Wrap.HOLD_MS], new[Wrap.ACW_MS] = hold, acw
        new[Wrap.EMOTIONAL_HANDLED] = old[Wrap.EMOTIONAL]
        new[Wrap.EMOTIONAL_HANDLE_MS] = old[Wrap.EMOTIONAL] * handle
        key = (cell[0], cell[1], rec.queue_id or UNKNOWN_QUEUE, rec.channel or UNKNOWN_CHANNEL)
        rec.wrap_cell = self._count("wrap", key, wrapped, tuple(new))

    def _on_schedule(self, ev: SchedulePublished, ts: int) -> None:
        self._team_only(ev.agent_id, ev.team_id, ts)
        segments = [(datetime_ms(seg.start), datetime_ms(seg.end), seg.activity)
                    for seg in ev.segments]
        self.schedules.setdefault(ev.agent_id, AgentSchedule()).publish(
            publication(ts, ev.event_id, segments, ev.team_id))

    def _on_hold_started(self, ev: HoldStarted, ts: int) -> None:
        self._team_only(ev.agent_id, ev.team_id, ts)
        self._hold_mark(ev.interaction_id, ev.agent_id, ts, 1)

    def _on_hold_ended(self, ev: HoldEnded, ts: int) -> None:
        self._team_only(ev.agent_id, ev.team_id, ts)
        self._hold_mark(ev.interaction_id, ev.agent_id, ts, -1)

    def _hold_mark(self, iid: str, agent: str, ts: int, kind: int) -> None:
        rec = self._record(iid, ts)
        if rec.hold_marks is None:
            rec.hold_marks = []
        with self._wrap_corrected(rec):
            insort(rec.hold_marks, (ts, kind))
        started = open_hold(rec)
        if started is not None and rec.ended_ms is None and rec.wrapped_ms is None:
            self.on_hold[iid] = (agent, started)
        else:
            self.on_hold.pop(iid, None)

    @contextmanager
    def _wrap_corrected(self, rec: Interaction) -> Iterator[None]:
        """Around a change of an interaction's end or holds: if its wrap was already counted
        as handled, move its talk, hold and after-call work to what they are now (a late
        event within the lateness limit: the numbers equal an in-order run's)."""
        counted = rec.wrap_cell is not None and rec.wrapped_ms is not None \
            and rec.pending_wrap is None and rec.answered_ms is not None
        before = wrap_parts(rec, rec.wrapped_ms) if counted else None  # type: ignore[arg-type]
        yield
        if before is not None:
            after = wrap_parts(rec, rec.wrapped_ms)  # type: ignore[arg-type]
            if after != before:
                delta = [0] * WIDTH["wrap"]
                for index, old, new in zip((Wrap.HANDLED, Wrap.HANDLE_MS, Wrap.TALK_MS,
                                            Wrap.HOLD_MS, Wrap.ACW_MS), before, after,
                                           strict=True):
                    delta[index] = new - old
                self._count("wrap", rec.wrap_cell, rec.wrapped_ms,  # type: ignore[arg-type]
                            tuple(delta))

    def holds_by_agent(self) -> dict[str, int]:
        """Per agent with an interaction on hold now, when the oldest of its holds began."""
        out: dict[str, int] = {}
        for agent, started in self.on_hold.values():
            if agent not in out or started < out[agent]:
                out[agent] = started
        return out

    def _team_only(self, agent_id: str, team: str | None, ts: int) -> None:
        """An event that names the agent's team and changes nothing else. Recorded whenever
        it names one, not only when it differs from the team now: compared with the latest
        team, a late event arriving around it left the wrong team in force after the rewind
        (found by the reordering property once schedules named teams)."""
        self.agent(agent_id)
        if team is not None:
            self._transition(agent_id, ts, Transition(TEAM, team))

    def _on_ended(self, ev: InteractionEnded, ts: int) -> None:
        rec = self._record(ev.interaction_id, ts)
        if rec.ended_ms is None and rec.wrapped_ms is None:
            rec.ended_ms = ts  # the usual order: nothing counted yet to correct
        elif rec.ended_ms is None:
            # wrapped before this arrived: counted as all talk, no ACW, holds to the wrap
            with self._wrap_corrected(rec):
                rec.ended_ms = ts
        self.on_hold.pop(ev.interaction_id, None)
        machine = self.agent(ev.agent_id)
        weight = self._weight(machine, rec.channel)
        self._transition(
            ev.agent_id, ts, Transition(ENDED, ev.team_id, rec.iid, weight=weight)
        )

    def _on_wrapped(self, ev: InteractionWrapped, ts: int) -> None:
        iid = ev.interaction_id
        # The record outlives the wrap (until expiry): its queued event may still be on its
        # way from another partition, and the wait can only be joined with it.
        rec = self._record(iid, ts)
        # the record's copy of the id, not the event's: the machine keeps its transitions of
        # the last minutes, and the event's copy was one more string each
        machine, _ = self._transition(ev.agent_id, ts, Transition(WRAPPED, ev.team_id, rec.iid))
        if rec.wrapped_ms is not None:
            return  # wrapped twice under different event ids: the outcome counts once
        rec.wrapped_ms = ts
        self.on_hold.pop(iid, None)
        handled, handle, talk, hold, acw = wrap_parts(rec, ts)
        emotional = 1 if ev.emotional else 0
        values = (  # in the order of Wrap
            1,
            handled,
            1 if ev.resolved else 0,
            1 if ev.sale else 0,
            1 if ev.request_captured else 0,
            1 if ev.escalated else 0,
            1 if ev.transferred else 0,
            0 if ev.sentiment is None else 1,
            0 if ev.qa_score is None else 1,
            emotional,
            emotional * handled,
            handle,
            talk,
            hold,
            acw,
            emotional * handle,
            ev.revenue or 0.0,
            ev.sentiment or 0.0,
            ev.qa_score or 0.0,
        )
        key = (
            ev.agent_id,
            self._team_at(machine, ts),
            rec.queue_id or UNKNOWN_QUEUE,
            rec.channel or UNKNOWN_CHANNEL,
        )
        rec.wrap_cell = self._count("wrap", key, ts, values)
        if not handled:
            rec.pending_wrap = values  # its answer may still be on its way
        self._freeze(rec)

    def _on_survey(self, ev: InteractionSurvey, ts: int) -> None:
        self._team_only(ev.agent_id, ev.team_id, ts)
        machine = self.agent(ev.agent_id)
        heard_n = 0 if ev.felt_heard is None else 1
        values = (ev.csat, 1, 1 if ev.csat >= 4 else 0, 1 if ev.felt_heard else 0, heard_n)
        self._count("survey", (ev.agent_id, self._team_at(machine, ts)), ts, values)


# A customer's contacts as one flat tuple, (ts, interaction, ts, interaction, ...): most
# customers have one contact, and a list of (ts, id) pairs cost a list (~88 bytes) and a
# tuple (56) per contact more than this (BENCHMARKS.md, issue 19, ninth round). Rebuilt on
# each contact, which is rare next to the lookups. A lone contact of an interaction held is
# its id alone: its time is in its record (``seen_ts``), and the tuple and int object were
# ~4 KiB per agent at steady state (twenty-second round); expiry writes its time down
# (last_contacts) as it drops the record.
History = tuple[int | str, ...] | str


def _contacts(history: History) -> list[tuple[int, str]]:
    return list(zip(history[::2], history[1::2], strict=True))  # type: ignore[arg-type]


def _flat(contacts: list[tuple[int, str]]) -> History:
    return tuple([part for contact in contacts for part in contact])


def _trimmed(history: History, horizon: int, live: dict[str, Interaction | Frozen],
             ) -> History:
    """``history`` without the contacts before ``horizon``, and of those whose interaction
    has expired only the newest (:func:`_compact`); ``history`` itself when that changes
    nothing, as for most customers (checked without unpacking: expiry visits them all).
    A lone contact of an interaction held (its id alone) is young: nothing to trim."""
    if type(history) is str or (history and history[0] >= horizon  # type: ignore[operator]
                                and history[1] in live):
        return history
    contacts = [contact for contact in _contacts(history) if contact[0] >= horizon]
    _compact(contacts, live)
    kept = _flat(contacts)
    return history if kept == history else kept


def _compact(history: list[tuple[int, str]], live: dict[str, Interaction | Frozen]) -> None:
    """Keep, of the contacts whose interaction has expired, only the newest as a time.

    An expired contact's status can no longer be corrected and only the contact right
    after it asks for its time (``_redecide`` looks at the predecessor alone), so a customer
    needs one such entry, without its id. The rest held a day of ids and tuples per customer:
    a quarter of a replica's memory at steady state (BENCHMARKS.md).
    """
    gone = 0
    while gone < len(history) and history[gone][1] not in live:
        gone += 1
    if gone:
        del history[:gone - 1]
        history[0] = (history[0][0], "")


def _drop_oldest(entries: dict, horizon: int, time_of: Callable[[Any], int],
                 ) -> list[tuple[Any, Any]]:
    """Drop entries older than ``horizon`` from a dict kept in (roughly) time order; returns
    them.

    Stops at the first young entry, so the cost is what expires, not the dict's size; an
    entry that arrived out of order lives a little longer, which is harmless.
    """
    expired = []
    for key, value in entries.items():
        if time_of(value) >= horizon:
            break
        expired.append((key, value))
    for key, _ in expired:
        del entries[key]
    return expired


_HANDLERS = {
    AgentLogin: KpiEngine._on_login,
    AgentAvailable: KpiEngine._on_available,
    AgentNotReady: KpiEngine._on_not_ready,
    AgentLogout: KpiEngine._on_logout,
    InteractionQueued: KpiEngine._on_queued,
    InteractionAbandoned: KpiEngine._on_abandoned,
    InteractionAnswered: KpiEngine._on_answered,
    HoldStarted: KpiEngine._on_hold_started,
    SchedulePublished: KpiEngine._on_schedule,
    HoldEnded: KpiEngine._on_hold_ended,
    InteractionEnded: KpiEngine._on_ended,
    InteractionWrapped: KpiEngine._on_wrapped,
    InteractionSurvey: KpiEngine._on_survey,
}
