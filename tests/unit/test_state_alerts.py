"""AgentStateTooLong (contract §7.3), hand-worked: a long hold, a long ACW, an overrun break.

Events are applied in time order and the rules evaluated every 15 s, as a live worker does;
each alert fires at the first evaluation past its limit (no hold) and resolves at the first
evaluation after the activity (or the hold) ended.
"""

from __future__ import annotations

from pathlib import Path

from ccpulse.alerts.engine import AlertEvaluator
from ccpulse.alerts.rules import RULES, Thresholds
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.snapshot import snapshot
from ccpulse.processors.timefmt import format_ms
from tests.support import EventFactory, at, feed

ev = EventFactory()
DAY = [
    ev("agent.login", "09:00:00", agent_id="a1", team_id="t1"),
    ev("agent.available", "09:01:00", agent_id="a1"),
    ev("interaction.answered", "09:02:00", interaction_id="i1", agent_id="a1", queue_id="q",
       channel="voice"),
    ev("interaction.hold_started", "09:03:00", interaction_id="i1", agent_id="a1"),
    ev("interaction.hold_ended", "09:07:00", interaction_id="i1", agent_id="a1"),
    ev("interaction.ended", "09:08:00", interaction_id="i1", agent_id="a1"),
    ev("interaction.wrapped", "09:15:00", interaction_id="i1", agent_id="a1"),
    ev("agent.not_ready", "09:16:00", agent_id="a1", reason="break"),
    ev("agent.available", "09:32:00", agent_id="a1"),
    ev("agent.not_ready", "09:33:00", agent_id="a1", reason="lunch"),
]


def transitions(thresholds: Thresholds) -> list[tuple[str, str, str, str]]:
    """(instant, status, state, reason) of every AgentStateTooLong transition, 09:00-09:40."""
    engine, evaluator = KpiEngine(), AlertEvaluator(thresholds)
    pending = sorted(DAY, key=lambda e: e["ts"])
    out = []
    for now in range(at("09:00:00"), at("09:40:00") + 1, 15_000):
        while pending and pending[0]["ts"] <= format_ms(now):
            feed(engine, [pending.pop(0)])
        for alert in evaluator.evaluate(snapshot(engine, now)):
            if alert.labels["alertname"] == "AgentStateTooLong":
                assert alert.labels["agent"] == "a1" and alert.labels["team"] == "t1"
                assert alert.labels["audience"] == "supervisor"
                out.append((format_ms(now)[11:19], alert.status, alert.labels["state"],
                            alert.labels.get("reason", "")))
    return out


def test_each_long_activity_fires_past_its_limit_and_resolves_when_it_ends() -> None:
    assert transitions(Thresholds()) == [
        ("09:06:15", "firing", "hold", ""),  # 180 s at 09:06:00 is not past 3 min
        ("09:07:00", "resolved", "hold", ""),
        ("09:13:15", "firing", "acw", ""),  # ACW since 09:08:00, 5 min
        ("09:15:00", "resolved", "acw", ""),
        ("09:31:15", "firing", "not_ready", "break"),  # break since 09:16:00, 15 min
        ("09:32:00", "resolved", "not_ready", "break"),
        # lunch since 09:33 has an hour; the login's not_ready lasted a minute
    ]


def test_limits_are_configurable_per_team_and_per_reason() -> None:
    relaxed = Thresholds(teams={"t1": {"acw_limit_s": 600, "hold_limit_s": 300}},
                         not_ready_reason_limits_s={"break": 900, "lunch": 300})
    assert transitions(relaxed) == [
        ("09:31:15", "firing", "not_ready", "break"),
        ("09:32:00", "resolved", "not_ready", "break"),
        ("09:38:15", "firing", "not_ready", "lunch"),
    ]


def test_the_description_says_what_and_how_long() -> None:
    engine = KpiEngine()
    feed(engine, DAY[:6])
    alerts = AlertEvaluator().evaluate(snapshot(engine, at("09:14:00")))
    (acw,) = [a for a in alerts if a.labels["alertname"] == "AgentStateTooLong"]
    assert acw.annotations["description"] == "acw for 6.0 min (limit 5.0 min)"
    assert acw.annotations["runbook_url"].endswith("#agentstatetoolong")


def test_every_rule_has_its_runbook_section() -> None:
    runbooks = (Path(__file__).resolve().parents[2] / "docs" / "runbooks.md").read_text()
    assert [r.alertname for r in RULES if f"## {r.alertname}\n" not in runbooks] == []


def firing_after_an_hour(thresholds: Thresholds) -> dict[tuple[str, str], str]:
    """(alertname, agent or team) -> description of what fires by 10:15 on a floor of one
    chat agent with one chat open all hour, one with three, and a voice agent on calls."""
    engine, evaluator = KpiEngine(), AlertEvaluator(thresholds)
    events = []
    for agent, team in (("c1", "chat-one"), ("c3", "chat-three"), ("v1", "voice")):
        events += [ev("agent.login", "09:00:00", agent_id=agent, team_id=team),
                   ev("agent.available", "09:00:00", agent_id=agent)]
    events.append(ev("interaction.answered", "09:00:00", interaction_id="x1", agent_id="c1",
                     queue_id="q", channel="chat"))
    events += [ev("interaction.answered", "09:00:00", interaction_id=f"y{n}", agent_id="c3",
                  queue_id="q", channel="chat") for n in (1, 2, 3)]
    for minute in range(0, 75, 5):  # back-to-back calls, 4 min talk and 1 min ACW each
        start = at("09:00:00") + minute * 60_000
        events += [ev("interaction.answered", start, interaction_id=f"v{minute}",
                      agent_id="v1", queue_id="q", channel="voice"),
                   ev("interaction.ended", start + 240_000, interaction_id=f"v{minute}",
                      agent_id="v1"),
                   ev("interaction.wrapped", start + 300_000, interaction_id=f"v{minute}",
                      agent_id="v1")]
    feed(engine, sorted(events, key=lambda e: e["ts"]))
    for now in range(at("09:00:00"), at("10:15:00") + 1, 15_000):
        evaluator.evaluate(snapshot(engine, now))
    return {(a.labels["alertname"], a.labels.get("agent") or a.labels["team"]):
            a.annotations["description"] for a in evaluator.firing()
            if "Occupancy" in a.labels["alertname"]}


def test_one_open_chat_is_not_overload_three_chats_all_hour_are() -> None:
    """Contract §7.4: before, every chat agent and chat team was "occupied" and alerted all
    day; after, load decides for multi-slot work, and a really full chat agent still fires."""
    literal = firing_after_an_hour(Thresholds(literal_v1_rules=True))
    assert set(literal) == {("AgentOccupancyHigh", "c1"), ("AgentOccupancyHigh", "c3"),
                            ("AgentOccupancyHigh", "v1"), ("TeamOccupancyHigh", "chat-one"),
                            ("TeamOccupancyHigh", "chat-three"), ("TeamOccupancyHigh", "voice")}
    refined = firing_after_an_hour(Thresholds())
    assert set(refined) == {("AgentOccupancyHigh", "c3"), ("AgentOccupancyHigh", "v1"),
                            ("TeamOccupancyHigh", "chat-three"), ("TeamOccupancyHigh", "voice")}
    assert refined[("AgentOccupancyHigh", "c3")].startswith("load 1h 1.00")  # says which
    assert refined[("AgentOccupancyHigh", "v1")].startswith("occupancy 1h 1.00")
    assert refined[("TeamOccupancyHigh", "chat-three")].startswith("team load 1h")
