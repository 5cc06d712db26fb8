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

# The measure layouts' indexes as plain ints: an IntEnum member costs ~60 ns a lookup, and
# these formulas run for every scope of every window of every snapshot (a third of
# wrap_kpis' time went to the lookups).
_AB_COUNT = int(Abandon.COUNT)
_AB_LONG = int(Abandon.LONG)
_A_COUNT = int(Answer.COUNT)
_A_GAP_MS = int(Answer.GAP_MS)
_A_GAP_N = int(Answer.GAP_N)
_A_REPEAT = int(Answer.REPEAT)
_A_WITH_CUSTOMER = int(Answer.WITH_CUSTOMER)
_C_QUEUED = int(Contact.QUEUED)
_C_REPEAT = int(Contact.REPEAT)
_C_WITH_CUSTOMER = int(Contact.WITH_CUSTOMER)
_QA_COUNT = int(QueueAnswer.COUNT)
_QA_WAIT_MS = int(QueueAnswer.WAIT_MS)
_QA_WITHIN = int(QueueAnswer.WITHIN)
_S_COUNT = int(Survey.COUNT)
_S_CSAT_SUM = int(Survey.CSAT_SUM)
_S_FELT_HEARD = int(Survey.FELT_HEARD)
_S_FELT_HEARD_N = int(Survey.FELT_HEARD_N)
_S_TOP2 = int(Survey.TOP2)
_W_ACW_MS = int(Wrap.ACW_MS)
_W_CAPTURED = int(Wrap.CAPTURED)
_W_COUNT = int(Wrap.COUNT)
_W_EMOTIONAL = int(Wrap.EMOTIONAL)
_W_EMOTIONAL_HANDLED = int(Wrap.EMOTIONAL_HANDLED)
_W_EMOTIONAL_HANDLE_MS = int(Wrap.EMOTIONAL_HANDLE_MS)
_W_ESCALATED = int(Wrap.ESCALATED)
_W_HANDLED = int(Wrap.HANDLED)
_W_HANDLE_MS = int(Wrap.HANDLE_MS)
_W_HOLD_MS = int(Wrap.HOLD_MS)
_W_QA_N = int(Wrap.QA_N)
_W_QA_SUM = int(Wrap.QA_SUM)
_W_RESOLVED = int(Wrap.RESOLVED)
_W_REVENUE = int(Wrap.REVENUE)
_W_SALE = int(Wrap.SALE)
_W_SENTIMENT_N = int(Wrap.SENTIMENT_N)
_W_SENTIMENT_SUM = int(Wrap.SENTIMENT_SUM)
_W_TALK_MS = int(Wrap.TALK_MS)
_W_TRANSFERRED = int(Wrap.TRANSFERRED)

# Counts are reported as floats, as every KPI is, whether their family keeps its totals in
# integers (processors/measures.py DOUBLES) or not, and when a scope has none in a window:
# a reader's JSON says 3.0 and 0.0, never 3 here and 3.0 there.
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
    # Written out rather than one _ratio call per KPI: this runs for every agent of every
    # window of every snapshot, and the calls were half of its cost.
    count, handled, handle = wrap[_W_COUNT], wrap[_W_HANDLED], wrap[_W_HANDLE_MS]
    out: Kpis = {"wrapped": float(count)}
    if handled > 0:
        out["aht_seconds"] = handle / handled * 0.001
        out["talk_seconds"] = wrap[_W_TALK_MS] / handled * 0.001
        out["hold_seconds"] = wrap[_W_HOLD_MS] / handled * 0.001
        out["acw_seconds"] = wrap[_W_ACW_MS] / handled * 0.001
    if handle > 0:
        out["acw_share"] = wrap[_W_ACW_MS] / handle
    emotional_handled = wrap[_W_EMOTIONAL_HANDLED]
    if handled - emotional_handled > 0:
        out["aht_non_emotional_seconds"] = ((handle - wrap[_W_EMOTIONAL_HANDLE_MS])
                                            / (handled - emotional_handled) * 0.001)
    if emotional_handled > 0:
        out["aht_emotional_seconds"] = wrap[_W_EMOTIONAL_HANDLE_MS] / emotional_handled * 0.001
    if count > 0:
        out["fcr"] = wrap[_W_RESOLVED] / count
        out["sales_conversion"] = wrap[_W_SALE] / count
        out["request_capture"] = wrap[_W_CAPTURED] / count
        out["revenue_per_interaction"] = wrap[_W_REVENUE] / count
        out["escalation"] = wrap[_W_ESCALATED] / count
        out["transfer"] = wrap[_W_TRANSFERRED] / count
        out["emotional"] = wrap[_W_EMOTIONAL] / count
    if wrap[_W_SENTIMENT_N] > 0:
        out["sentiment"] = wrap[_W_SENTIMENT_SUM] / wrap[_W_SENTIMENT_N]
    if wrap[_W_QA_N] > 0:
        out["qa_score"] = wrap[_W_QA_SUM] / wrap[_W_QA_N]
    return out


def survey_kpis(survey: Vector) -> Kpis:
    out: Kpis = {"surveys": float(survey[_S_COUNT])}
    _ratio(out, "csat", survey[_S_CSAT_SUM], survey[_S_COUNT])
    _ratio(out, "csat_top2", survey[_S_TOP2], survey[_S_COUNT])
    _ratio(out, "felt_heard", survey[_S_FELT_HEARD], survey[_S_FELT_HEARD_N])
    return out


def answer_kpis(answer: Vector) -> Kpis:
    out: Kpis = {"answered": float(answer[_A_COUNT]),
                 "idle_between_samples": float(answer[_A_GAP_N])}
    _ratio(out, "repeat_contact", answer[_A_REPEAT], answer[_A_WITH_CUSTOMER])
    _ratio(out, "idle_between_seconds", answer[_A_GAP_MS], answer[_A_GAP_N], 0.001)
    return out


def interactions_per_hour(wrapped: float, logged_in: float) -> float | None:
    return wrapped / logged_in * MS_PER_HOUR if logged_in > 0 else None


def queue_kpis(contact: Vector, abandon: Vector, answered: Vector) -> Kpis:
    """Service level, abandon rate, ASA and repeat contacts of a queue or a channel."""
    out: Kpis = {
        "queued": float(contact[_C_QUEUED]),
        "abandoned": float(abandon[_AB_COUNT]),
        "answered_from_queue": float(answered[_QA_COUNT]),
    }
    _ratio(
        out,
        "service_level",
        answered[_QA_WITHIN],
        answered[_QA_COUNT] + abandon[_AB_LONG],
    )
    _ratio(out, "abandon", abandon[_AB_COUNT], contact[_C_QUEUED])
    _ratio(out, "asa_seconds", answered[_QA_WAIT_MS], answered[_QA_COUNT], 0.001)
    _ratio(out, "repeat_contact", contact[_C_REPEAT], contact[_C_WITH_CUSTOMER])
    return out
