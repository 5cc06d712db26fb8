"""How a coaching report picks its focus areas and wins: rules a supervisor can check."""

from __future__ import annotations

import pytest

from ccpulse.processors.kpis import Kpis
from ccpulse.processors.scorecard import AHT, Scorecard, mark
from ccpulse.report import Bucket, Report, focus_areas, wins

GOOD: Kpis = {"occupancy": 0.80, AHT: 300.0, "fcr": 0.75, "qa_score": 90.0, "csat": 4.5,
              "felt_heard": 0.9, "idle_between_seconds": 40.0}


def report(kpis: Kpis, trend_scores: tuple[Kpis, ...] = ()) -> Report:
    card = Scorecard()
    team = {AHT: 300.0}
    trend = [Bucket(i, k, mark(k, card, 300.0)) for i, k in enumerate(trend_scores)]
    return Report("agent", "a1", "t1", 0, 1, 1, card, kpis, mark(kpis, card, 300.0), team,
                  trend)


@pytest.mark.parametrize(("changes", "titles"), [
    ({}, []),
    ({"csat": 3.6}, ["Tone"]),  # solved but not liked
    ({"csat": 3.6, "fcr": 0.5}, ["Resolution"]),  # not "tone" when FCR is not green either
    ({AHT: 390.0}, ["Handle time"]),
    ({AHT: 200.0}, ["Handle time"]),  # too fast is a finding too
    ({"qa_score": 72.0}, ["Quality"]),
    ({"idle_between_seconds": 4.0, "csat": 3.6}, ["Workload", "Tone"]),
    ({"occupancy": 0.95, "fcr": 0.5, "qa_score": 60.0}, ["Workload", "Resolution"]),  # 2 at most
])
def test_focus_areas(changes: Kpis, titles: list[str]) -> None:
    assert [f.title for f in focus_areas(report(GOOD | changes))] == titles


def test_workload_is_for_the_supervisor_and_says_why() -> None:
    (found,) = focus_areas(report(GOOD | {"idle_between_seconds": 4.0}))
    assert found.for_supervisor
    assert "4 s on average between contacts" in found.why
    fast = focus_areas(report(GOOD | {AHT: 200.0}))[0]
    assert "33% shorter" in fast.why and "rushed" in fast.suggestion


def test_wins_name_green_kpis_and_a_rising_score() -> None:
    early = GOOD | {"fcr": 0.5, "csat": 3.0}
    found = wins(report(GOOD, (early, GOOD)))
    # early: quality (0 + 1) / 2, empathy (0 + 1) / 2: 40 + 40 x 0.5 + 20 x 0.5 = 70
    assert found[0] == "scorecard up from 70 to 100 over the period"
    assert len(found) == 3
    assert all("breathing room" not in w for w in found)  # wellbeing is not a "win"
