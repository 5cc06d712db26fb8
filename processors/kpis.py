"""KPI formulas of contract §2: ratios of window sums, absent where the denominator is zero.

Each function takes the summed measure vectors of one scope (an agent, a team, a queue, a
channel) over one window and returns only the KPIs that have a value, so "no denominator"
never becomes NaN or 0 downstream.
"""

from __future__ import annotations

from ccpulse.processors.measures import Abandon, Answer, Contact, QueueAnswer, Survey, Wrap
from ccpulse.processors.series import Vector
from ccpulse.processors.timeline import (
    ACW,
    HANDLING,
    IDLE,
    LOAD,
    MULTI_SLOT,
    NOT_READY_PRODUCTIVE,
)

MS_PER_HOUR = 3_600_000

Kpis = dict[str, float]


def _ratio(out: Kpis, name: str, numerator: float, denominator: float, scale: float = 1.0) -> None:
    if denominator > 0:
        out[name] = numerator / denominator * scale


def logged_in_ms(time: Vector) -> float:
    return sum(time[:LOAD])


def time_kpis(time: Vector) -> Kpis:
    """Occupancy, utilization and load from an agent's or team's time vector."""
    out: Kpis = {}
    busy = time[HANDLING] + time[ACW]
    available = busy + time[IDLE]
    _ratio(out, "occupancy", busy, available)
    _ratio(out, "utilization", busy + time[NOT_READY_PRODUCTIVE], logged_in_ms(time))
    _ratio(out, "load", time[LOAD], available)
    out["logged_in_seconds"] = logged_in_ms(time) / 1000
    # for the alert rules (contract §7.4), not exported: share of handling on multi-slot
    # channels, where load measures strain and occupancy does not
    _ratio(out, "multi_slot_share", time[MULTI_SLOT], time[HANDLING])
    return out


def wrap_kpis(wrap: Vector) -> Kpis:
    """AHT and its parts, and the outcome ratios of wrapped interactions."""
    out: Kpis = {"wrapped": wrap[Wrap.COUNT]}
    handled = wrap[Wrap.HANDLED]
    _ratio(out, "aht_seconds", wrap[Wrap.HANDLE_MS], handled, 0.001)
    _ratio(out, "talk_seconds", wrap[Wrap.TALK_MS], handled, 0.001)
    _ratio(out, "hold_seconds", wrap[Wrap.HOLD_MS], handled, 0.001)
    _ratio(out, "acw_seconds", wrap[Wrap.ACW_MS], handled, 0.001)
    _ratio(out, "acw_share", wrap[Wrap.ACW_MS], wrap[Wrap.HANDLE_MS])
    _ratio(
        out,
        "aht_non_emotional_seconds",
        wrap[Wrap.HANDLE_MS] - wrap[Wrap.EMOTIONAL_HANDLE_MS],
        handled - wrap[Wrap.EMOTIONAL_HANDLED],
        0.001,
    )
    _ratio(
        out,
        "aht_emotional_seconds",
        wrap[Wrap.EMOTIONAL_HANDLE_MS],
        wrap[Wrap.EMOTIONAL_HANDLED],
        0.001,
    )
    count = wrap[Wrap.COUNT]
    _ratio(out, "fcr", wrap[Wrap.RESOLVED], count)
    _ratio(out, "sales_conversion", wrap[Wrap.SALE], count)
    _ratio(out, "request_capture", wrap[Wrap.CAPTURED], count)
    _ratio(out, "revenue_per_interaction", wrap[Wrap.REVENUE], count)
    _ratio(out, "escalation", wrap[Wrap.ESCALATED], count)
    _ratio(out, "transfer", wrap[Wrap.TRANSFERRED], count)
    _ratio(out, "emotional", wrap[Wrap.EMOTIONAL], count)
    _ratio(out, "sentiment", wrap[Wrap.SENTIMENT_SUM], wrap[Wrap.SENTIMENT_N])
    _ratio(out, "qa_score", wrap[Wrap.QA_SUM], wrap[Wrap.QA_N])
    return out


def survey_kpis(survey: Vector) -> Kpis:
    out: Kpis = {"surveys": survey[Survey.COUNT]}
    _ratio(out, "csat", survey[Survey.CSAT_SUM], survey[Survey.COUNT])
    _ratio(out, "csat_top2", survey[Survey.TOP2], survey[Survey.COUNT])
    _ratio(out, "felt_heard", survey[Survey.FELT_HEARD], survey[Survey.FELT_HEARD_N])
    return out


def answer_kpis(answer: Vector) -> Kpis:
    out: Kpis = {"answered": answer[Answer.COUNT], "idle_between_samples": answer[Answer.GAP_N]}
    _ratio(out, "repeat_contact", answer[Answer.REPEAT], answer[Answer.WITH_CUSTOMER])
    _ratio(out, "idle_between_seconds", answer[Answer.GAP_MS], answer[Answer.GAP_N], 0.001)
    return out


def interactions_per_hour(wrapped: float, logged_in: float) -> float | None:
    return wrapped / logged_in * MS_PER_HOUR if logged_in > 0 else None


def queue_kpis(contact: Vector, abandon: Vector, answered: Vector) -> Kpis:
    """Service level, abandon rate, ASA and repeat contacts of a queue or a channel."""
    out: Kpis = {
        "queued": contact[Contact.QUEUED],
        "abandoned": abandon[Abandon.COUNT],
        "answered_from_queue": answered[QueueAnswer.COUNT],
    }
    _ratio(
        out,
        "service_level",
        answered[QueueAnswer.WITHIN],
        answered[QueueAnswer.COUNT] + abandon[Abandon.LONG],
    )
    _ratio(out, "abandon", abandon[Abandon.COUNT], contact[Contact.QUEUED])
    _ratio(out, "asa_seconds", answered[QueueAnswer.WAIT_MS], answered[QueueAnswer.COUNT], 0.001)
    _ratio(out, "repeat_contact", contact[Contact.REPEAT], contact[Contact.WITH_CUSTOMER])
    return out
