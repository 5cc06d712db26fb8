"""Decode and validate raw event bytes into typed records, or a dead-letter reason.

Nothing raised by the decoder escapes: every bad input of contract §1 becomes a
:class:`Rejection` with a stable reason code (the ``reason`` label of
``ccpulse_events_dead_lettered_total``) and a detail that names the field but never echoes
the payload, so it can go into logs and dead-letter headers safely.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import msgspec

from ccpulse.processors.events import MAX_SCHEDULE_SPAN_MS, AnyEvent, SchedulePublished
from ccpulse.processors.timefmt import datetime_ms

MAX_EVENT_BYTES = 64 * 1024
FUTURE_TOLERANCE_MS = 5 * 60 * 1000

# Reason codes. They are label values and part of the public surface: only ever add to them.
NOT_JSON = "not_json"
INVALID_UTF8 = "invalid_utf8"
TOO_DEEP = "too_deep"
NOT_OBJECT = "not_object"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
UNKNOWN_TYPE = "unknown_type"
INVALID_VALUE = "invalid_value"
FUTURE_TIMESTAMP = "future_timestamp"
TOO_LARGE = "too_large"
TOO_LATE = "too_late"
OVER_LIMIT = "over_limit"

REASONS: tuple[str, ...] = (
    NOT_JSON,
    INVALID_UTF8,
    TOO_DEEP,
    NOT_OBJECT,
    MISSING_FIELD,
    WRONG_TYPE,
    UNKNOWN_TYPE,
    INVALID_VALUE,
    FUTURE_TIMESTAMP,
    TOO_LARGE,
    TOO_LATE,
    OVER_LIMIT,
)


class Decoded(NamedTuple):
    """A valid event and its time in integer milliseconds since the epoch (exact arithmetic)."""

    event: AnyEvent
    ts_ms: int


class Rejection(NamedTuple):
    """Why an input was refused. ``detail`` is safe to log: it never contains payload values."""

    reason: str
    detail: str


_decoder = msgspec.json.Decoder(AnyEvent)
_QUOTED = re.compile(r"'[^']*'")


def too_late(ts: int, newest: int | None, lateness_ms: int) -> Rejection | None:
    """The lateness rule, for the engine and the worker's consumer alike: an event older than
    the newest event of its key (its agent, or its queue) by more than ``lateness_ms`` is
    refused. Known ids are checked before it: a late duplicate is a duplicate."""
    if newest is not None and ts < newest - lateness_ms:
        return Rejection(TOO_LATE, f"{newest - ts} ms older than the newest event of its key")
    return None


def _reason_for(message: str) -> str:
    if message.startswith("Object missing required field"):
        return MISSING_FIELD
    if message.endswith("- at `$.type`"):
        return UNKNOWN_TYPE  # a value we do not know, or not even a string
    if message.startswith("Expected `object`, got") and "- at" not in message:
        return NOT_OBJECT
    if message.startswith("Expected `") and ", got `" in message:
        return WRONG_TYPE
    return INVALID_VALUE


def to_ms(event: AnyEvent) -> int:
    """Event time in integer milliseconds; sub-millisecond digits are rounded."""
    return datetime_ms(event.ts)


def decode(raw: bytes, now_ms: int | None = None) -> Decoded | Rejection:
    """Decode one message value.

    ``now_ms`` is the instant against which a future timestamp is judged; ``None`` skips the
    check (a replay with no ``--now`` cannot have events after its own end).
    """
    if len(raw) > MAX_EVENT_BYTES:
        return Rejection(TOO_LARGE, f"{len(raw)} bytes > {MAX_EVENT_BYTES}")
    try:
        # msgspec skips unknown fields without looking at their bytes; the contract says
        # UTF-8 for the whole message, and a producer breaking it should hear about it.
        raw.decode()
    except UnicodeDecodeError:
        return Rejection(INVALID_UTF8, "payload is not valid UTF-8")
    try:
        event = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        message = str(exc)
        return Rejection(_reason_for(message), _QUOTED.sub("…", message))
    except msgspec.DecodeError as exc:
        return Rejection(NOT_JSON, str(exc))
    except RecursionError:
        return Rejection(TOO_DEEP, "JSON nested too deeply")
    ts_ms = to_ms(event)
    if now_ms is not None and ts_ms > now_ms + FUTURE_TOLERANCE_MS:
        return Rejection(FUTURE_TIMESTAMP, f"ts {ts_ms - now_ms} ms ahead of now")
    if isinstance(event, SchedulePublished):
        refused = _check_schedule(event)
        if refused is not None:
            return refused
    return Decoded(event, ts_ms)


def _check_schedule(event: SchedulePublished) -> Rejection | None:
    """Contract §7.1's bad schedules: a segment ending at or before its start, overlapping
    segments, a span over 48 h (the decoder already refused > 500 segments and unknown
    activities)."""
    spans = sorted((datetime_ms(s.start), datetime_ms(s.end)) for s in event.segments)
    for index, (start, end) in enumerate(spans):
        if end <= start:
            return Rejection(INVALID_VALUE, "a segment ends at or before its start")
        if index and start < spans[index - 1][1]:
            return Rejection(INVALID_VALUE, "segments overlap")
    if spans[-1][1] - spans[0][0] > MAX_SCHEDULE_SPAN_MS:
        return Rejection(INVALID_VALUE, "schedule spans more than 48 h")
    return None
