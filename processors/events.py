"""Typed, immutable event records of contract §1.

Events are decoded once at the boundary (see :mod:`processors.decode`) into these frozen
``msgspec`` structs; everything further in works with typed records, never with dicts.
The ``type`` field is msgspec's union tag, so an unknown type is rejected by the decoder itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Channel = Literal["voice", "chat", "email", "social", "sms", "video"]

# Ids are the producer's opaque ids. The bounds are ours, not the contract's: an id of
# kilobytes is not an id but an attack on label cardinality and memory, and control characters
# (newlines, escapes, NUL) only ever serve to break a log line, a terminal or a label parser;
# both are dead-lettered as invalid_value.
PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]*\Z"  # \Z: "$" would let a final newline through
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=PRINTABLE)]
Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]
Capacity = dict[Channel, Annotated[int, msgspec.Meta(ge=1, le=100)]]
Unit = Annotated[float, msgspec.Meta(ge=-1.0, le=1.0)]


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Fields every event has; ``team_id`` may ride on any event and the latest one wins."""

    event_id: Id
    ts: Timestamp
    team_id: Id | None = None


class AgentLogin(Event, frozen=True, tag="agent.login"):
    agent_id: Id
    team_id: Id
    site_id: Id | None = None
    capacity: Capacity | None = None


class AgentAvailable(Event, frozen=True, tag="agent.available"):
    agent_id: Id


class AgentNotReady(Event, frozen=True, tag="agent.not_ready"):
    agent_id: Id
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=PRINTABLE)]


class AgentLogout(Event, frozen=True, tag="agent.logout"):
    agent_id: Id


class InteractionQueued(Event, frozen=True, tag="interaction.queued"):
    interaction_id: Id
    queue_id: Id
    channel: Channel
    customer_id: Id | None = None
    category: Id | None = None


class InteractionAbandoned(Event, frozen=True, tag="interaction.abandoned"):
    interaction_id: Id
    queue_id: Id


class InteractionAnswered(Event, frozen=True, tag="interaction.answered"):
    interaction_id: Id
    agent_id: Id
    queue_id: Id
    channel: Channel
    category: Id | None = None
    customer_id: Id | None = None


class HoldStarted(Event, frozen=True, tag="interaction.hold_started"):
    interaction_id: Id
    agent_id: Id


class HoldEnded(Event, frozen=True, tag="interaction.hold_ended"):
    interaction_id: Id
    agent_id: Id


class InteractionEnded(Event, frozen=True, tag="interaction.ended"):
    interaction_id: Id
    agent_id: Id


class InteractionWrapped(Event, frozen=True, tag="interaction.wrapped"):
    interaction_id: Id
    agent_id: Id
    resolved: bool | None = None
    sale: bool | None = None
    revenue: Annotated[float, msgspec.Meta(ge=0.0)] | None = None
    request_captured: bool | None = None
    escalated: bool | None = None
    transferred: bool | None = None
    sentiment: Unit | None = None
    qa_score: Annotated[float, msgspec.Meta(ge=0.0, le=100.0)] | None = None
    category: Id | None = None
    emotional: bool | None = None


class InteractionSurvey(Event, frozen=True, tag="interaction.survey"):
    interaction_id: Id
    agent_id: Id
    csat: Annotated[int, msgspec.Meta(ge=1, le=5)]
    felt_heard: bool | None = None


# Contract §7.1. The activities a schedule can plan; time inside a publication's span that no
# segment covers is "offline".
Activity = Literal["work", "break", "lunch", "training", "meeting", "coaching", "offline"]
MAX_SEGMENTS = 500
MAX_SCHEDULE_SPAN_MS = 48 * 3_600_000


class ScheduleSegment(msgspec.Struct, frozen=True):
    start: Timestamp
    end: Timestamp
    activity: Activity


class SchedulePublished(Event, frozen=True, tag="schedule.published"):
    """Replaces the agent's schedule from its earliest start to its latest end (§7.1);
    overlaps, ``end <= start`` and spans over 48 h are refused by the decoder."""

    agent_id: Id
    segments: Annotated[tuple[ScheduleSegment, ...],
                        msgspec.Meta(min_length=1, max_length=MAX_SEGMENTS)]


AgentEvent = AgentLogin | AgentAvailable | AgentNotReady | AgentLogout
InteractionEvent = (
    InteractionQueued
    | InteractionAbandoned
    | InteractionAnswered
    | HoldStarted
    | HoldEnded
    | InteractionEnded
    | InteractionWrapped
    | InteractionSurvey
)
AnyEvent = AgentEvent | InteractionEvent | SchedulePublished

EVENT_TYPES: tuple[type[Event], ...] = (
    AgentLogin,
    AgentAvailable,
    AgentNotReady,
    AgentLogout,
    InteractionQueued,
    InteractionAbandoned,
    InteractionAnswered,
    HoldStarted,
    HoldEnded,
    InteractionEnded,
    InteractionWrapped,
    InteractionSurvey,
    SchedulePublished,
)
TYPE_NAMES: tuple[str, ...] = tuple(t.__struct_config__.tag for t in EVENT_TYPES)  # type: ignore[misc]
