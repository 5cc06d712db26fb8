"""Every bad-input case of contract §1 gets its reason code; every event type decodes."""

from __future__ import annotations

import orjson
import pytest

from ccpulse.processors import decode as d
from ccpulse.processors.events import TYPE_NAMES, InteractionWrapped
from tests.support import EventFactory, at

NOW = at("10:00:00")
ev = EventFactory()

GOOD = [
    ev("agent.login", "09:00:00", agent_id="a1", team_id="t1", site_id="s1",
       capacity={"voice": 1, "chat": 2}),
    ev("agent.available", "09:00:00", agent_id="a1"),
    ev("agent.not_ready", "09:00:00", agent_id="a1", reason="training"),
    ev("agent.logout", "09:00:00", agent_id="a1"),
    ev("interaction.queued", "09:00:00", interaction_id="i", queue_id="q", channel="sms",
       customer_id="c", category="billing"),
    ev("interaction.abandoned", "09:00:00", interaction_id="i", queue_id="q"),
    ev("interaction.answered", "09:00:00", interaction_id="i", agent_id="a1", queue_id="q",
       channel="video", team_id="t1"),
    ev("interaction.hold_started", "09:00:00", interaction_id="i", agent_id="a1"),
    ev("interaction.hold_ended", "09:00:00", interaction_id="i", agent_id="a1"),
    ev("interaction.ended", "09:00:00", interaction_id="i", agent_id="a1"),
    ev("interaction.wrapped", "09:00:00", interaction_id="i", agent_id="a1", resolved=True,
       sale=False, revenue=0, request_captured=True, escalated=False, transferred=False,
       sentiment=-1, qa_score=100, category="x", emotional=True),
    ev("interaction.survey", "09:00:00", interaction_id="i", agent_id="a1", csat=1,
       felt_heard=False),
    ev("schedule.published", "09:00:00", agent_id="a1", team_id="t1", segments=[
        {"start": "2026-11-22T09:00:00Z", "end": "2026-11-22T12:00:00Z", "activity": "work"},
        {"start": "2026-11-22T12:00:00Z", "end": "2026-11-22T12:30:00+00:00",
         "activity": "lunch"}]),
]


def schedule(*segments: tuple[str, str, str]) -> bytes:
    return orjson.dumps(ev("schedule.published", "09:00:00", agent_id="a1", segments=[
        {"start": f"2026-11-22T{a}Z", "end": f"2026-11-22T{b}Z", "activity": act}
        for a, b, act in segments]))


@pytest.mark.parametrize(("segments", "detail"), [
    ([("10:00:00", "10:00:00", "work")], "ends at or before"),
    ([("10:00:00", "09:00:00", "work")], "ends at or before"),
    ([("09:00:00", "11:00:00", "work"), ("10:59:59", "12:00:00", "break")], "overlap"),
    ([("09:00:00", "10:00:00", "nap")], ""),  # unknown activity: the decoder's own message
    ([], ""),  # empty
])
def test_bad_schedules_are_invalid_values(segments: list, detail: str) -> None:
    """Contract §7.1: dead-lettered as invalid_value like any bad event."""
    result = d.decode(schedule(*segments), NOW)
    assert isinstance(result, d.Rejection) and result.reason == d.INVALID_VALUE
    assert detail in result.detail


def test_schedule_limits_500_segments_and_48_hours() -> None:
    hours = [(f"{h:02d}:00:00", f"{h:02d}:30:00", "work") for h in range(24)]
    assert isinstance(d.decode(schedule(*hours), NOW), d.Decoded)
    span = orjson.dumps(ev("schedule.published", "09:00:00", agent_id="a1", segments=[
        {"start": "2026-11-20T09:00:00Z", "end": "2026-11-22T09:00:01Z", "activity": "work"}]))
    refused = d.decode(span, NOW)
    assert isinstance(refused, d.Rejection) and "48 h" in refused.detail
    many = orjson.dumps(ev("schedule.published", "09:00:00", agent_id="a1", segments=[
        {"start": f"2026-11-22T09:{m // 60:02d}:{m % 60:02d}Z",
         "end": f"2026-11-22T09:{m // 60:02d}:{m % 60:02d}.500Z", "activity": "work"}
        for m in range(501)]))
    refused = d.decode(many, NOW)
    assert isinstance(refused, d.Rejection) and refused.reason == d.INVALID_VALUE


def test_every_event_type_is_covered() -> None:
    assert sorted(e["type"] for e in GOOD) == sorted(TYPE_NAMES)


@pytest.mark.parametrize("event", GOOD, ids=[e["type"] for e in GOOD])
def test_good_events_decode(event: dict) -> None:
    result = d.decode(orjson.dumps(event), NOW)
    assert isinstance(result, d.Decoded)
    assert result.ts_ms == at("09:00:00")


def test_unknown_fields_are_ignored_and_offsets_respected() -> None:
    raw = orjson.dumps({**GOOD[1], "ts": "2026-11-22T11:00:00.250+02:00", "extra": {"a": 1}})
    result = d.decode(raw, NOW)
    assert isinstance(result, d.Decoded) and result.ts_ms == at("09:00:00.250")


def bad(**changes: object) -> bytes:
    base = dict(GOOD[10])
    for key, value in changes.items():
        if value is ...:
            base.pop(key)
        else:
            base[key] = value
    return orjson.dumps(base)


CASES = [
    ("truncated", b'{"event_id": "x", "type": "agent.login"', d.NOT_JSON),
    ("trailing garbage", orjson.dumps(GOOD[1]) + b" x", d.NOT_JSON),
    ("empty", b"", d.NOT_JSON),
    ("NaN literal", bad(revenue=1).replace(b'"revenue":1', b'"revenue":NaN'), d.NOT_JSON),
    ("not utf-8", orjson.dumps(GOOD[1]).replace(b'"a1"', b'"a\xff"'), d.INVALID_UTF8),
    ("deeply nested", orjson.dumps(GOOD[1])[:-1] + b',"x":' + b"[" * 5000 + b"]" * 5000 + b"}",
     d.TOO_DEEP),
    ("array", b"[1, 2]", d.NOT_OBJECT),
    ("string", b'"agent.login"', d.NOT_OBJECT),
    ("missing type", bad(type=...), d.MISSING_FIELD),
    ("missing event_id", bad(event_id=...), d.MISSING_FIELD),
    ("missing ts", bad(ts=...), d.MISSING_FIELD),
    ("missing agent_id", bad(agent_id=...), d.MISSING_FIELD),
    ("unknown type", bad(type="agent.dance"), d.UNKNOWN_TYPE),
    ("type not a string", bad(type=3), d.UNKNOWN_TYPE),
    ("id wrong type", bad(agent_id=42), d.WRONG_TYPE),
    ("bool as string", bad(resolved="true"), d.WRONG_TYPE),
    ("revenue as string", bad(revenue="12.5"), d.WRONG_TYPE),
    ("negative revenue", bad(revenue=-1), d.INVALID_VALUE),
    ("huge revenue", bad(revenue=1).replace(b'"revenue":1', b'"revenue":1e999'),
     d.INVALID_VALUE),
    ("sentiment out of range", bad(sentiment=1.5), d.INVALID_VALUE),
    ("qa over 100", bad(qa_score=101), d.INVALID_VALUE),
    ("empty id", bad(agent_id=""), d.INVALID_VALUE),
    ("10 KB id", bad(agent_id="x" * 10_000), d.INVALID_VALUE),
    ("ts without offset", bad(ts="2026-11-22T09:00:00"), d.INVALID_VALUE),
    ("ts not a time", bad(ts="yesterday"), d.INVALID_VALUE),
    ("future ts", bad(ts="2026-11-22T10:05:00.001Z"), d.FUTURE_TIMESTAMP),
    ("too large", orjson.dumps({**GOOD[1], "pad": "x" * 70_000}), d.TOO_LARGE),
]


@pytest.mark.parametrize(("raw", "reason"), [(c[1], c[2]) for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_gets_its_reason(raw: bytes, reason: str) -> None:
    result = d.decode(raw, NOW)
    assert isinstance(result, d.Rejection)
    assert result.reason == reason
    assert result.reason in d.REASONS


@pytest.mark.parametrize(("event", "field", "value", "reason"), [
    (GOOD[11], "csat", 9, d.INVALID_VALUE),
    (GOOD[11], "csat", 0, d.INVALID_VALUE),
    (GOOD[11], "csat", 4.0, d.WRONG_TYPE),
    (GOOD[11], "csat", True, d.WRONG_TYPE),
    (GOOD[4], "channel", "fax", d.INVALID_VALUE),
    (GOOD[0], "capacity", {"fax": 1}, d.INVALID_VALUE),
    (GOOD[0], "capacity", {"chat": 0}, d.INVALID_VALUE),
    (GOOD[0], "team_id", None, d.WRONG_TYPE),
])
def test_field_rules(event: dict, field: str, value: object, reason: str) -> None:
    result = d.decode(orjson.dumps({**event, field: value}), NOW)
    assert isinstance(result, d.Rejection) and result.reason == reason


def test_exactly_five_minutes_ahead_is_accepted() -> None:
    assert isinstance(d.decode(bad(ts="2026-11-22T10:05:00Z"), NOW), d.Decoded)
    assert isinstance(d.decode(bad(ts="2030-01-01T00:00:00Z"), None), d.Decoded)


def test_rejection_details_never_echo_payload_values() -> None:
    secret = "Jane Doe +44 7700 900123"
    for raw in (bad(type=secret), bad(ts=secret), bad(resolved=secret), bad(agent_id=secret * 20)):
        result = d.decode(raw, NOW)
        assert isinstance(result, d.Rejection)
        assert secret not in result.detail and "Jane" not in result.detail


def test_decoded_records_are_immutable() -> None:
    result = d.decode(orjson.dumps(GOOD[10]), NOW)
    assert isinstance(result, d.Decoded) and isinstance(result.event, InteractionWrapped)
    with pytest.raises(AttributeError):
        result.event.revenue = 5  # type: ignore[misc]
