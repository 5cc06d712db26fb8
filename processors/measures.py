"""Layouts of the measure vectors kept in each family of windowed counters.

Each family is a :class:`~processors.series.PrefixSeries` per cell; the cell key says which
scopes (agent, team, queue, channel) a contribution belongs to, and the KPIs of contract §2 are
ratios of window sums of these measures. Durations are integer milliseconds, so sums are exact.
"""

from __future__ import annotations

from enum import IntEnum


class Wrap(IntEnum):
    """Outcomes of wrapped interactions, counted at the ``interaction.wrapped`` time.

    Cell: (agent, team at the wrap, queue, channel).
    """

    # counts, then milliseconds, then the measures that are not integers (COUNTS, DOUBLES)
    COUNT = 0
    HANDLED = 1  # wraps whose answer we saw, so whose handle time is known
    RESOLVED = 2
    SALE = 3
    CAPTURED = 4
    ESCALATED = 5
    TRANSFERRED = 6
    SENTIMENT_N = 7
    QA_N = 8
    EMOTIONAL = 9
    EMOTIONAL_HANDLED = 10
    HANDLE_MS = 11
    TALK_MS = 12
    HOLD_MS = 13
    ACW_MS = 14
    EMOTIONAL_HANDLE_MS = 15
    REVENUE = 16
    SENTIMENT_SUM = 17
    QA_SUM = 18


class Survey(IntEnum):
    """Surveys, counted at the survey's own time. Cell: (agent, team at the survey)."""

    CSAT_SUM = 0
    COUNT = 1
    TOP2 = 2  # answers of 4 or 5
    FELT_HEARD = 3
    FELT_HEARD_N = 4


class Answer(IntEnum):
    """Answers, counted at the answer time. Cell: (agent, team, queue, channel)."""

    COUNT = 0
    WITH_CUSTOMER = 1
    REPEAT = 2
    GAP_MS = 3  # idle time between the previous wrap and this answer
    GAP_N = 4


class Contact(IntEnum):
    """Arrivals: queued events, plus direct answers for repeat detection. Cell: (queue, channel)."""

    QUEUED = 0
    WITH_CUSTOMER = 1
    REPEAT = 2


class Abandon(IntEnum):
    """Abandons at the abandon time. Cell: (queue, channel)."""

    COUNT = 0
    LONG = 1  # waited at least the short-abandon threshold: counts against service level


class QueueAnswer(IntEnum):
    """Answers of queued interactions at the answer time. Cell: (queue, channel)."""

    COUNT = 0
    WITHIN = 1  # wait <= the queue's service-level threshold
    WAIT_MS = 2


WIDTH = {
    "wrap": len(Wrap),
    "survey": len(Survey),
    "answer": len(Answer),
    "contact": len(Contact),
    "abandon": len(Abandon),
    "queue_answer": len(QueueAnswer),
}

# How many of a family's measures, at the end of its vector, are not integers: the totals of
# the rest are kept in integers (processors/series.py). A wrap's revenue, sentiment and QA
# score are not; every other family's measures are counts and milliseconds.
DOUBLES = {"wrap": 3}
# How many of a family's first measures are counts (a survey's CSAT sum adds at most 5 a
# survey): their totals are kept in 2-byte integers where the series keeps them apart
# (processors/series.py series_for).
COUNTS = {"wrap": 11, "survey": len(Survey), "answer": 3, "contact": len(Contact),
          "abandon": len(Abandon), "queue_answer": 2}
