"""Hand-worked scenarios for every KPI of contract §2. Each expected number is worked out in
the comment above it from the rules, not read off the engine."""

from __future__ import annotations

import pytest

from ccpulse.processors.config import EngineConfig
from ccpulse.processors.decode import TOO_LATE, Rejection
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.last_contacts import digest
from ccpulse.processors.snapshot import snapshot
from tests.support import EventFactory, at, feed, one_call_morning, run

A = "agent.available"
NR = "agent.not_ready"
ANS = "interaction.answered"
END = "interaction.ended"
WRAP = "interaction.wrapped"


@pytest.fixture
def ev() -> EventFactory:
    return EventFactory()


def login(ev: EventFactory, ts: str, agent: str = "a1", team: str = "t1") -> list[dict]:
    return [ev("agent.login", ts, agent_id=agent, team_id=team), ev(A, ts, agent_id=agent)]


def call(ev: EventFactory, iid: str, answered: str, ended: str, wrapped: str, *,
         agent: str = "a1", channel: str = "voice", queue: str = "q1", **outcome) -> list[dict]:
    return [
        ev(ANS, answered, interaction_id=iid, agent_id=agent, queue_id=queue, channel=channel),
        ev(END, ended, interaction_id=iid, agent_id=agent),
        ev(WRAP, wrapped, interaction_id=iid, agent_id=agent, **outcome),
    ]


def test_a_full_shift_fragment(ev: EventFactory) -> None:
    events = [
        ev("agent.login", "09:00:00", agent_id="a1", team_id="t1"),
        ev(A, "09:01:00", agent_id="a1"),
        ev(ANS, "09:05:00", interaction_id="i1", agent_id="a1", queue_id="q1", channel="voice"),
        ev("interaction.hold_started", "09:10:00", interaction_id="i1", agent_id="a1"),
        ev("interaction.hold_ended", "09:11:00", interaction_id="i1", agent_id="a1"),
        ev(END, "09:15:00", interaction_id="i1", agent_id="a1"),
        ev(WRAP, "09:17:00", interaction_id="i1", agent_id="a1", resolved=True, revenue=10),
        ev(NR, "09:20:00", agent_id="a1", reason="training"),
        ev(A, "09:30:00", agent_id="a1"),
    ]
    snap = run(events, "09:40:00")
    h1 = snap.windows["1h"].agent["a1"]
    # logged in 40 min: handling 10 (09:05-09:15), acw 2, idle 4+3+10 = 17,
    # not-ready login 1 (unproductive), training 10 (productive)
    assert h1["logged_in_seconds"] == 2400
    assert h1["occupancy"] == pytest.approx(12 / 29)
    assert h1["utilization"] == pytest.approx((12 + 10) / 40)
    # handle 12 min; talk = 10 min - 1 min hold; acw 2 min
    assert h1["aht_seconds"] == 720
    assert h1["talk_seconds"] == 540
    assert h1["hold_seconds"] == 60
    assert h1["acw_seconds"] == 120
    assert h1["acw_share"] == pytest.approx(120 / 720)
    assert h1["fcr"] == 1.0
    assert h1["revenue_per_interaction"] == 10.0
    assert h1["interactions_per_hour"] == pytest.approx(1 / (40 / 60))
    # 15m = (09:25, 09:40]: training 5 min, idle 10 min, nothing wrapped
    m15 = snap.windows["15m"].agent["a1"]
    assert m15["occupancy"] == 0
    assert m15["utilization"] == pytest.approx(5 / 15)
    assert "aht_seconds" not in m15
    assert snap.agents["a1"].state == "idle"
    # one agent: the team is the agent
    assert snap.windows["1h"].team["t1"]["occupancy"] == pytest.approx(12 / 29)


def test_b_window_edge_splits_an_interval(ev: EventFactory) -> None:
    events = login(ev, "09:00:00") + call(ev, "i1", "09:40:00", "09:50:00", "09:52:00")
    snap = run(events, "10:00:00")
    # 15m = (09:45, 10:00]: handling 5 of its 10 min, acw 2, idle 8
    m15 = snap.windows["15m"].agent["a1"]
    assert m15["occupancy"] == pytest.approx(7 / 15)
    assert m15["logged_in_seconds"] == 900
    # AHT counts by the wrap time, whole handle time: 12 min
    assert m15["aht_seconds"] == 720
    # 1h = (09:00, 10:00]: idle 40 + 8, handling 10, acw 2
    assert snap.windows["1h"].agent["a1"]["occupancy"] == pytest.approx(12 / 60)


def test_b_event_on_the_window_start_is_outside(ev: EventFactory) -> None:
    events = (login(ev, "09:00:00")
              + call(ev, "i1", "09:40:00", "09:44:00", "09:45:00.000")
              + call(ev, "i2", "09:45:00.000", "09:45:00.000", "09:45:00.001"))
    snap = run(events, "10:00:00")
    # (09:45:00.000, 10:00] excludes the wrap at 09:45:00.000, includes the one 1 ms later
    assert snap.windows["15m"].agent["a1"]["wrapped"] == 1
    assert snap.windows["1h"].agent["a1"]["wrapped"] == 2
    # ... and an event exactly at now is inside
    snap = run(events, "09:45:00.001", engine=None)
    assert snap.windows["15m"].agent["a1"]["wrapped"] == 2


def test_c_open_call_counts_up_to_now(ev: EventFactory) -> None:
    events = login(ev, "09:00:00") + [
        ev(ANS, "09:50:00", interaction_id="i1", agent_id="a1", queue_id="q1", channel="voice")
    ]
    snap = run(events, "10:00:00")
    # 15m: idle 5 (09:45-09:50), handling 10 still open
    assert snap.windows["15m"].agent["a1"]["occupancy"] == pytest.approx(10 / 15)
    assert snap.agents["a1"].state == "handling"
    # a later now counts more of the same open call
    later = run(events, "10:05:00")
    assert later.windows["15m"].agent["a1"]["occupancy"] == pytest.approx(15 / 15)


def test_d_concurrent_chats_count_once_for_occupancy(ev: EventFactory) -> None:
    events = login(ev, "09:00:00") + [
        ev(ANS, "09:00:00", interaction_id="c1", agent_id="a1", queue_id="q", channel="chat"),
        ev(ANS, "09:10:00", interaction_id="c2", agent_id="a1", queue_id="q", channel="chat"),
        ev(END, "09:20:00", interaction_id="c1", agent_id="a1"),
        ev(WRAP, "09:25:00", interaction_id="c1", agent_id="a1"),
        ev(END, "09:30:00", interaction_id="c2", agent_id="a1"),
        ev(WRAP, "09:30:00", interaction_id="c2", agent_id="a1"),
    ]
    snap = run(events, "09:40:00")
    h1 = snap.windows["1h"].agent["a1"]
    # handling 09:00-09:30 (c1's ACW is hidden by c2's handling), idle 10 min
    assert h1["occupancy"] == pytest.approx(30 / 40)
    # slots: c1 active 25 min, c2 20 min, each 1/3 of capacity → 15 slot-min of 40
    assert h1["load"] == pytest.approx(15 / 40)
    # handle times 25 and 20 min; talk 20 and 20; acw 5 and 0
    assert h1["aht_seconds"] == 1350
    assert h1["talk_seconds"] == 1200
    assert h1["acw_seconds"] == 150
    assert snap.windows["1h"].agent_iph[("a1", "chat")] == pytest.approx(2 / (40 / 60))


def test_d_login_capacity_changes_load(ev: EventFactory) -> None:
    events = [ev("agent.login", "09:00:00", agent_id="a1", team_id="t1",
                 capacity={"chat": 2}), ev(A, "09:00:00", agent_id="a1")]
    events += call(ev, "c1", "09:00:00", "09:30:00", "09:30:00", channel="chat")
    snap = run(events, "09:40:00")
    # one chat of two slots for 30 of 40 available minutes
    assert snap.windows["1h"].agent["a1"]["load"] == pytest.approx(0.5 * 30 / 40)


def test_e_holds_add_up_and_close_at_end(ev: EventFactory) -> None:
    events = login(ev, "09:00:00") + [
        ev(ANS, "09:00:00", interaction_id="i1", agent_id="a1", queue_id="q1", channel="voice"),
        ev("interaction.hold_started", "09:02:00", interaction_id="i1", agent_id="a1"),
        ev("interaction.hold_ended", "09:04:00", interaction_id="i1", agent_id="a1"),
        ev("interaction.hold_started", "09:08:00", interaction_id="i1", agent_id="a1"),
        ev(END, "09:10:00", interaction_id="i1", agent_id="a1"),  # hold still open: closes
        ev(WRAP, "09:11:00", interaction_id="i1", agent_id="a1"),
    ]
    h1 = run(events, "09:30:00").windows["1h"].agent["a1"]
    assert h1["hold_seconds"] == 240
    assert h1["talk_seconds"] == 600 - 240
    assert h1["acw_seconds"] == 60
    assert h1["aht_seconds"] == 660
    # hold is part of handling: occupancy counts 09:00-09:11 as busy
    assert h1["occupancy"] == pytest.approx(11 / 30)


def test_f_login_mid_window_and_not_ready_reasons(ev: EventFactory) -> None:
    events = [
        ev("agent.login", "09:30:00", agent_id="a1", team_id="t1"),
        ev(A, "09:35:00", agent_id="a1"),
        ev(NR, "09:40:00", agent_id="a1", reason="coaching"),
        ev(NR, "09:50:00", agent_id="a1", reason="lunch"),
        ev(A, "09:55:00", agent_id="a1"),
    ]
    h1 = run(events, "10:00:00").windows["1h"].agent["a1"]
    # logged in 30 of the 60 min; productive not-ready (coaching) 10
    assert h1["logged_in_seconds"] == 1800
    assert h1["utilization"] == pytest.approx(10 / 30)
    assert h1["occupancy"] == 0  # idle 10 min, nothing handled
    assert h1["interactions_per_hour"] == 0
    logged_out = run(events + [ev("agent.logout", "09:58:00", agent_id="a1")], "10:00:00")
    assert logged_out.windows["1h"].agent["a1"]["logged_in_seconds"] == 28 * 60
    assert logged_out.agents["a1"].state == "logged_out"


def test_f_productive_reasons_are_configurable(ev: EventFactory) -> None:
    events = [ev("agent.login", "09:00:00", agent_id="a1", team_id="t1"),
              ev(NR, "09:00:00", agent_id="a1", reason="lunch")]
    engine = KpiEngine(EngineConfig(productive_reasons=frozenset({"lunch"})))
    assert run(events, "09:10:00", engine).windows["1h"].agent["a1"]["utilization"] == 1.0
    assert run(events, "09:10:00").windows["1h"].agent["a1"]["utilization"] == 0.0


def test_f_only_not_ready_has_no_occupancy(ev: EventFactory) -> None:
    events = [ev("agent.login", "09:00:00", agent_id="a1", team_id="t1")]
    h1 = run(events, "09:10:00").windows["1h"].agent["a1"]
    assert "occupancy" not in h1 and "load" not in h1  # no denominator: no value
    assert h1["utilization"] == 0


def test_g_service_level_short_abandons_and_asa(ev: EventFactory) -> None:
    def queued(iid: str, ts: str, queue: str = "q1") -> dict:
        return ev("interaction.queued", ts, interaction_id=iid, queue_id=queue, channel="voice")

    def answered(iid: str, ts: str, queue: str = "q1") -> dict:
        return ev(ANS, ts, interaction_id=iid, agent_id="a1", queue_id=queue, channel="voice")

    def abandoned(iid: str, ts: str) -> dict:
        return ev("interaction.abandoned", ts, interaction_id=iid, queue_id="q1")

    events = [
        queued("i1", "09:00:00"), answered("i1", "09:00:10"),  # wait 10: within 20 s
        queued("i2", "09:00:00"), answered("i2", "09:00:30"),  # wait 30: late
        queued("i3", "09:01:00"), abandoned("i3", "09:01:03"),  # 3 s: short, excluded
        queued("i4", "09:01:00"), abandoned("i4", "09:01:20"),  # counts against SL
        queued("i5", "09:01:00"), abandoned("i5", "09:01:05"),  # exactly 5 s: not short
        queued("i6", "09:02:00"), answered("i6", "09:02:20"),  # exactly 20 s: within
        queued("i7", "09:03:00", "q2"), answered("i7", "09:03:40", "q2"),  # q2 allows 60 s
    ]
    config = EngineConfig(queue_service_level_threshold_ms={"q2": 60_000})
    q = run(events, "09:10:00", KpiEngine(config)).windows["15m"].queue
    assert q["q1"]["service_level"] == pytest.approx(2 / (3 + 2))
    assert q["q1"]["abandon"] == pytest.approx(3 / 6)
    assert q["q1"]["asa_seconds"] == pytest.approx((10 + 30 + 20) / 3)
    assert q["q2"]["service_level"] == 1.0
    assert run(events, "09:10:00").windows["15m"].queue["q2"]["service_level"] == 0.0


def test_g_queue_events_count_by_their_own_time(ev: EventFactory) -> None:
    events = [
        ev("interaction.queued", "09:40:00", interaction_id="i1", queue_id="q1", channel="voice"),
        ev(ANS, "09:46:00", interaction_id="i1", agent_id="a1", queue_id="q1", channel="voice"),
    ]
    m15 = run(events, "10:00:00").windows["15m"].queue["q1"]
    # queued before the 15m window, answered inside it: SL/ASA count it, abandon rate has
    # no queued event in the window so no value
    assert m15["service_level"] == 0.0
    assert m15["asa_seconds"] == 360
    assert "abandon" not in m15


def test_g_answer_before_queued_still_joins(ev: EventFactory) -> None:
    events = [
        ev(ANS, "09:00:08", interaction_id="i1", agent_id="a1", queue_id="q1", channel="voice"),
        ev("interaction.queued", "09:00:00", interaction_id="i1", queue_id="q1", channel="voice"),
    ]
    q = run(events, "09:10:00").windows["15m"].queue["q1"]
    assert q["asa_seconds"] == 8
    assert q["service_level"] == 1.0


def test_g_direct_interactions_are_not_in_service_level(ev: EventFactory) -> None:
    events = login(ev, "09:00:00") + call(ev, "out1", "09:01:00", "09:02:00", "09:03:00")
    q = run(events, "09:10:00").windows["15m"].queue["q1"]
    assert "service_level" not in q and "asa_seconds" not in q
    assert q["wrapped"] == 1


def test_h_late_surveys_count_at_their_own_time_and_team(ev: EventFactory) -> None:
    events = login(ev, "09:00:00") + call(ev, "i1", "09:00:00", "09:05:00", "09:06:00")
    events += [
        ev(A, "10:00:00", agent_id="a1", team_id="t2"),  # moved to another team
        ev("interaction.survey", "10:50:00", interaction_id="i1", agent_id="a1", csat=5,
           felt_heard=True),
        ev("interaction.survey", "11:00:00", interaction_id="i1", agent_id="a1", csat=2),
    ]
    snap = run(events, "11:05:00")
    # 15m = (10:50, 11:05]: the survey at exactly 10:50 is outside
    assert snap.windows["15m"].agent["a1"]["csat"] == 2
    assert snap.windows["1h"].agent["a1"]["csat"] == 3.5
    assert snap.windows["1h"].agent["a1"]["csat_top2"] == 0.5
    assert snap.windows["1h"].agent["a1"]["felt_heard"] == 1.0  # only one answered it
    assert snap.windows["1h"].team["t2"]["csat"] == 3.5
    assert "csat" not in snap.windows["8h"].team.get("t1", {})


def test_i_duplicates_change_nothing(ev: EventFactory) -> None:
    events = login(ev, "09:00:00") + call(ev, "i1", "09:00:00", "09:05:00", "09:06:00",
                                          sale=True, revenue=30)
    engine = KpiEngine()
    once = run(events, "09:30:00", engine)
    again = feed(engine, events + [{**events[-1], "revenue": 999}])
    assert set(again) == {"duplicate"}
    assert snapshot(engine, at("09:30:00")) == once


def test_j_out_of_order_within_lateness_equals_in_order(ev: EventFactory) -> None:
    in_order = login(ev, "09:00:00") + call(ev, "i1", "09:02:00", "09:06:00", "09:07:00")
    in_order += [ev(NR, "09:08:00", agent_id="a1", reason="training"),
                 ev(A, "09:09:00", agent_id="a1")]
    shuffled = [in_order[i] for i in (0, 3, 1, 6, 2, 4, 5)]
    assert run(shuffled, "09:30:00") == run(in_order, "09:30:00")


def test_j_events_later_than_lateness_are_refused(ev: EventFactory) -> None:
    engine = KpiEngine()
    feed(engine, login(ev, "09:00:00") + [ev(NR, "09:30:00", agent_id="a1", reason="x")])
    late = feed(engine, [ev(A, "09:19:59", agent_id="a1")])[0]
    assert isinstance(late, Rejection) and late.reason == TOO_LATE
    ok = feed(engine, [ev(A, "09:20:00", agent_id="a1")])[0]
    assert ok == "applied"


def test_k_logout_stops_open_interactions(ev: EventFactory) -> None:
    events = [
        ev(ANS, "09:00:00", interaction_id="i1", agent_id="a1", queue_id="q1", channel="voice",
           team_id="t1"),
        ev("agent.logout", "09:10:00", agent_id="a1"),
        ev(END, "09:15:00", interaction_id="i1", agent_id="a1"),
        ev(WRAP, "09:20:00", interaction_id="i1", agent_id="a1"),
    ]
    snap = run(events, "09:30:00")
    h1 = snap.windows["1h"].agent["a1"]
    # no login seen: taken as logged in from the answer; time stops at logout
    assert h1["logged_in_seconds"] == 600
    assert h1["occupancy"] == 1.0
    assert h1["aht_seconds"] == 1200  # the wrap still counts: wrapped - answered
    assert snap.agents["a1"].state == "logged_out"
    assert snap.agents["a1"].team == "t1"


def test_l_team_values_are_ratios_of_sums(ev: EventFactory) -> None:
    events = login(ev, "09:00:00", "a1") + login(ev, "09:00:00", "a2")
    events += call(ev, "i1", "09:00:00", "09:30:00", "09:30:00", agent="a1")
    events += call(ev, "i2", "09:00:00", "09:10:00", "09:10:00", agent="a2")
    snap = run(events, "09:40:00")
    assert snap.windows["1h"].agent["a1"]["occupancy"] == pytest.approx(30 / 40)
    assert snap.windows["1h"].agent["a2"]["occupancy"] == pytest.approx(10 / 40)
    # (30 + 10) / (40 + 40), and the AHT is the mean over both calls, not of agent means
    assert snap.windows["1h"].team["t1"]["occupancy"] == pytest.approx(40 / 80)
    assert snap.windows["1h"].team["t1"]["aht_seconds"] == pytest.approx((1800 + 600) / 2)
    assert snap.team_states["t1"]["idle"] == 2


def test_m_repeat_contacts_within_24h(ev: EventFactory) -> None:
    def queued(iid: str, day_ts: int, customer: str | None) -> dict:
        extra = {"customer_id": customer} if customer else {}
        return ev("interaction.queued", day_ts, interaction_id=iid, queue_id="q1",
                  channel="voice", **extra)

    hour = 3_600_000
    t0 = at("09:00:00")
    events = [
        queued("old", t0 - 25 * hour, "c0"),  # 25 h before: too old to make i0 a repeat
        queued("i0", t0, "c0"),
        queued("i1", t0, "c1"),
        queued("i2", t0 + hour, "c1"),  # c1 again within 24 h: repeat
        queued("i3", t0 + hour, "c2"),
        queued("i4", t0 + hour, None),  # no customer: not in the ratio
    ]
    engine = KpiEngine(EngineConfig(lateness_ms=48 * hour))
    snap = run(events, t0 + hour + 60_000, engine)
    assert snap.windows["1h"].queue["q1"]["repeat_contact"] == pytest.approx(1 / 2)
    assert snap.windows["8h"].queue["q1"]["repeat_contact"] == pytest.approx(1 / 4)


def test_n_team_change_splits_team_time(ev: EventFactory) -> None:
    events = login(ev, "09:00:00") + [ev(A, "09:30:00", agent_id="a1", team_id="t2")]
    events += call(ev, "i1", "09:40:00", "09:50:00", "09:50:00")
    snap = run(events, "10:00:00")
    teams = snap.windows["1h"].team
    assert teams["t1"]["logged_in_seconds"] == 1800
    assert teams["t2"]["logged_in_seconds"] == 1800
    assert teams["t2"]["occupancy"] == pytest.approx(10 / 30)
    assert teams["t1"]["occupancy"] == 0
    assert teams["t2"]["wrapped"] == 1 and teams["t1"]["wrapped"] == 0
    # the agent's own value spans both teams
    assert snap.windows["1h"].agent["a1"]["occupancy"] == pytest.approx(10 / 60)
    assert snap.agents["a1"].team == "t2"


def test_o_outcome_ratios(ev: EventFactory) -> None:
    events = login(ev, "09:00:00")
    events += call(ev, "i1", "09:00:00", "09:05:00", "09:06:00", sale=True, revenue=100,
                   request_captured=True, sentiment=0.5, escalated=True, qa_score=80,
                   resolved=True)
    events += call(ev, "i2", "09:10:00", "09:15:00", "09:16:00", sale=False, sentiment=-0.1,
                   qa_score=90, transferred=True, emotional=True)
    h1 = run(events, "09:30:00").windows["1h"].agent["a1"]
    assert h1["sales_conversion"] == 0.5
    assert h1["revenue_per_interaction"] == 50
    assert h1["request_capture"] == 0.5
    assert h1["escalation"] == 0.5
    assert h1["transfer"] == 0.5
    assert h1["fcr"] == 0.5
    assert h1["sentiment"] == pytest.approx(0.2)
    assert h1["qa_score"] == 85
    assert h1["emotional"] == 0.5
    assert h1["aht_emotional_seconds"] == 360
    assert h1["aht_non_emotional_seconds"] == 360


def test_p_idle_between_interactions(ev: EventFactory) -> None:
    events = login(ev, "09:00:00")
    events += call(ev, "i1", "09:00:00", "09:05:00", "09:06:00")
    events += call(ev, "i2", "09:06:04", "09:10:00", "09:11:00")  # 4 s after the wrap
    events += call(ev, "i3", "09:11:10", "09:15:00", "09:16:00")  # 10 s after
    h1 = run(events, "09:30:00").windows["1h"].agent["a1"]
    assert h1["idle_between_seconds"] == 7  # (4 + 10) / 2; the first call has no predecessor


@pytest.mark.parametrize("answer_first", [False, True])
def test_g_wait_belongs_to_the_queue_it_was_spent_in(ev: EventFactory,
                                                     answer_first: bool) -> None:
    queued = ev("interaction.queued", "09:00:00", interaction_id="i1", queue_id="q0",
                channel="voice")
    answered = ev(ANS, "09:00:30", interaction_id="i1", agent_id="a1", queue_id="q1",
                  channel="voice")
    events = [answered, queued] if answer_first else [queued, answered]
    queues = run(events, "09:10:00").windows["15m"].queue
    assert queues["q0"]["asa_seconds"] == 30
    assert "asa_seconds" not in queues.get("q1", {})


@pytest.mark.parametrize("answer_first", [False, True])
def test_m_repeat_contacts_reach_agents_and_teams_in_any_order(ev: EventFactory,
                                                               answer_first: bool) -> None:
    def contact(iid: str, queued: str, answered: str) -> list[dict]:
        q = ev("interaction.queued", queued, interaction_id=iid, queue_id="q1",
               channel="voice", customer_id="c1")
        a = ev(ANS, answered, interaction_id=iid, agent_id="a1", queue_id="q1",
               channel="voice", customer_id="c1", team_id="t1")
        return [a, q] if answer_first else [q, a]

    events = contact("i1", "09:00:00", "09:00:05") + contact("i2", "09:30:00", "09:30:05")
    snap = run(events, "09:40:00")
    # i2 repeats i1 (same customer within 24 h): 1 of 2 contacts with a customer
    assert snap.windows["1h"].agent["a1"]["repeat_contact"] == 0.5
    assert snap.windows["1h"].team["t1"]["repeat_contact"] == 0.5
    queue = snap.windows["1h"].queue["q1"]
    assert queue["repeat_contact"] == 0.5
    assert queue["queued"] == 2


def test_g_queued_arriving_after_the_wrap_still_joins(ev: EventFactory) -> None:
    events = login(ev, "09:00:00") + [
        ev(ANS, "09:00:08", interaction_id="i1", agent_id="a1", queue_id="q1", channel="voice"),
        ev(END, "09:03:00", interaction_id="i1", agent_id="a1"),
        ev(WRAP, "09:04:00", interaction_id="i1", agent_id="a1", resolved=True),
        ev(WRAP, "09:04:30", interaction_id="i1", agent_id="a1", resolved=True),  # twice
        ev("interaction.queued", "09:00:00", interaction_id="i1", queue_id="q1",
           channel="voice"),
    ]
    snap = run(events, "09:10:00")
    assert snap.windows["15m"].queue["q1"]["asa_seconds"] == 8
    assert snap.waiting.get("q1", (0, 0))[0] == 0
    assert snap.windows["15m"].agent["a1"]["wrapped"] == 1


def test_e_ended_arriving_after_the_wrap_still_splits_talk_and_acw(ev: EventFactory) -> None:
    answered = ev(ANS, "09:00:00", interaction_id="i1", agent_id="a1", queue_id="q1",
                  channel="voice")
    ended = ev(END, "09:04:00", interaction_id="i1", agent_id="a1")
    wrapped = ev(WRAP, "09:05:00", interaction_id="i1", agent_id="a1")
    in_order = run([answered, ended, wrapped], "09:10:00").windows["15m"].agent["a1"]
    late_end = run([answered, wrapped, ended], "09:10:00").windows["15m"].agent["a1"]
    assert (late_end["talk_seconds"], late_end["acw_seconds"]) == (240, 60)
    assert late_end == in_order


def _two_calls(wrap_first: str, second_answer: str) -> list[dict]:
    """a1 answers i1 at 09:01, ends it at 09:05, wraps it at ``wrap_first``, answers i2 at
    ``second_answer`` and wraps it at 09:08 (ended the same millisecond)."""
    ev = EventFactory()
    return [
        ev("agent.login", "09:00:00", agent_id="a1", team_id="t1"),
        ev("agent.available", "09:00:00", agent_id="a1"),
        ev("interaction.answered", "09:01:00", interaction_id="i1", agent_id="a1",
           queue_id="q1", channel="voice"),
        ev("interaction.ended", "09:05:00", interaction_id="i1", agent_id="a1"),
        ev("interaction.wrapped", wrap_first, interaction_id="i1", agent_id="a1"),
        ev("interaction.answered", second_answer, interaction_id="i2", agent_id="a1",
           queue_id="q1", channel="voice"),
        ev("interaction.ended", "09:08:00", interaction_id="i2", agent_id="a1"),
        ev("interaction.wrapped", "09:08:00", interaction_id="i2", agent_id="a1"),
    ]


def test_idle_gap_is_the_same_when_the_wrap_arrives_after_the_next_answer() -> None:
    """Found by the reliability suite (reordering within lateness): the gap between wrapping
    one call and answering the next was only counted when the wrap arrived first."""
    events = _two_calls("09:06:00", "09:06:30")
    swapped = [*events[:4], events[5], events[4], *events[6:]]
    for order in (events, swapped):
        kpis = run(order, "09:10:00").windows["1h"].agent["a1"]
        assert kpis["idle_between_seconds"] == 30
        assert kpis["idle_between_samples"] == 1


def test_events_of_the_same_millisecond_give_the_same_numbers_in_any_order() -> None:
    """A wrap and the next answer in the same millisecond: idle gap 0, one sample, whichever
    arrives first (the simulator does this; a broker may deliver them either way)."""
    events = _two_calls("09:06:00", "09:06:00")
    orders = [events, [*events[:4], events[5], events[4], events[7], events[6]],
              [events[1], events[0], *events[2:]]]
    views = []
    for order in orders:
        kpis = run(order, "09:10:00").windows["1h"].agent["a1"]
        assert kpis["idle_between_seconds"] == 0
        assert kpis["idle_between_samples"] == 1
        views.append(kpis)
    assert views[0] == views[1] == views[2]


def test_repeat_contacts_follow_contact_time_whichever_event_arrives_first() -> None:
    """Customer c: A queued 09:00 (answered 09:02), B queued 09:01 (answered 09:01:30), so B
    is the repeat. When A's answer arrives before A's queued event, A first stands at 09:02,
    after B, and looked like the repeat; the late queued event must put it back (found by
    the kill -9 reliability runs, where the two topics' partitions deliver in any order)."""
    ev = EventFactory()
    login = [ev("agent.login", "08:59:00", agent_id=a, team_id="t1") for a in ("a1", "a2")]
    queued_a = ev("interaction.queued", "09:00:00", interaction_id="A", queue_id="q1",
                  channel="voice", customer_id="c")
    queued_b = ev("interaction.queued", "09:01:00", interaction_id="B", queue_id="q1",
                  channel="voice", customer_id="c")
    answered_b = ev("interaction.answered", "09:01:30", interaction_id="B", agent_id="a2",
                    queue_id="q1", channel="voice", customer_id="c")
    answered_a = ev("interaction.answered", "09:02:00", interaction_id="A", agent_id="a1",
                    queue_id="q1", channel="voice", customer_id="c")
    in_order = [*login, queued_a, queued_b, answered_b, answered_a]
    late_queued = [*login, answered_a, queued_b, answered_b, queued_a]
    views = []
    for order in (in_order, late_queued):
        w = run(order, "09:10:00").windows["1h"]
        views.append((w.queue["q1"]["repeat_contact"], w.channel["voice"]["repeat_contact"],
                      w.team["t1"]["repeat_contact"], w.agent["a2"]["repeat_contact"],
                      w.agent["a1"].get("repeat_contact")))
    assert views[0] == views[1] == (0.5, 0.5, 0.5, 1.0, 0.0)


def test_repeat_contacts_survive_expiry_of_their_interactions(ev: EventFactory) -> None:
    """Expiry keeps, per customer, only the newest contact whose interaction is gone (as a
    time): a contact 20 h later is still a repeat, one 25 h after the last is not, and the
    result equals an engine that never expired anything."""
    hour = 3_600_000
    t0 = at("00:30:00")

    def queued(iid: str, ts: int, customer: str) -> dict:
        return ev("interaction.queued", ts, interaction_id=iid, queue_id="q1",
                  channel="voice", customer_id=customer)

    early = [queued("a", t0, "c1"), queued("c", t0, "c2"), queued("b", t0 + hour, "c1")]
    late = [queued("d", t0 + 21 * hour, "c1"),  # 20 h after b: a repeat
            queued("e", t0 + 26 * hour, "c2")]  # 26 h after c: not one
    now = t0 + 26 * hour + 60_000
    expired = KpiEngine()
    feed(expired, early)
    expired.expire(t0 + 20 * hour)  # a, b and c's interactions expire (retention ~8 h)
    assert "a" not in expired.interactions and digest("c1") not in expired.customers
    assert expired.last_contacts.get(digest("c1")) == t0 + hour
    feed(expired, late)
    kept = KpiEngine()
    feed(kept, early + late)
    for engine in (expired, kept):
        queue = snapshot(engine, now).windows["8h"].queue["q1"]
        assert queue["repeat_contact"] == pytest.approx(1 / 2)


def test_an_engine_without_dedup_keeps_no_event_ids(ev: EventFactory) -> None:
    """A worker's replica reads a log deduplicated at commit: it keeps no ids."""
    engine = KpiEngine(dedup=False)
    feed(engine, one_call_morning(ev))
    assert engine.seen == {}
    assert snapshot(engine, at("09:30:00")).windows["1h"].agent["a1"]["csat"] == 4
