"""/api/v1/<scope>/<id>: one scope's every KPI in every window, hand-checked, behind auth."""

from __future__ import annotations

import gc
import json
import threading
import weakref
from collections.abc import Iterator
from itertools import pairwise
from urllib.parse import quote

import orjson
import pytest
from prometheus_client import CollectorRegistry

from ccpulse.api import AgentSnapshots, RecentSnapshot, api, scope_view
from ccpulse.http import MetricsServer
from ccpulse.processors.snapshot import Snapshot
from ccpulse.processors.timefmt import format_ms
from ccpulse.streams.pipeline import Pipeline
from tests.live import http_get
from tests.support import EventFactory, at, morning_pipeline

NOW = at("09:20:00")


@pytest.fixture
def pipeline() -> Pipeline:
    """tests.support.one_call_morning, and "a/b 1", whose id needs URL encoding."""
    ev = EventFactory()
    return morning_pipeline(ev, ev("agent.login", "09:00:00", agent_id="a/b 1", team_id="t1"))


def test_an_agent_document_has_every_kpi_in_every_window(pipeline: Pipeline) -> None:
    doc = scope_view(pipeline.snapshot(NOW), "agent", "a1")
    assert doc is not None
    assert (doc["scope"], doc["id"], doc["at"], doc["team"], doc["state"]) == (
        "agent", "a1", format_ms(NOW), "t1", "idle")
    for window in ("15m", "1h", "8h"):
        # 1h and 8h see the whole morning: busy 290 s handling + 60 s ACW of 1,200 s available
        kpis = doc["windows"][window]
        if window != "15m":
            assert kpis["occupancy_ratio"] == pytest.approx(350 / 1200)
            assert kpis["aht_seconds"] == 350 and kpis["talk_seconds"] == 290
            assert kpis["fcr_ratio"] == 1 and kpis["revenue_per_interaction"] == 20
            assert kpis["csat_score"] == 4
    # 15m = (09:05, 09:20]: 60 s of ACW, 840 s idle; the wrap at 09:06 is inside
    assert doc["windows"]["15m"]["occupancy_ratio"] == pytest.approx(60 / 900)
    assert "utilization_ratio" in doc["windows"]["15m"]  # beyond the /metrics budget
    assert doc["interactions_per_hour_by_channel"]["1h"] == {"voice": pytest.approx(3.0)}


def test_team_queue_and_unknown_ids(pipeline: Pipeline) -> None:
    snap = pipeline.snapshot(NOW)
    team = scope_view(snap, "team", "t1")
    assert team is not None and team["agents_by_state"] == {"idle": 1, "not_ready": 1}
    queue = scope_view(snap, "queue", "q1")
    assert queue is not None and queue["windows"]["1h"]["asa_seconds"] == 10
    assert queue["windows"]["1h"]["service_level_ratio"] == 1
    assert scope_view(snap, "agent", "nobody") is None
    assert scope_view(snap, "galaxy", "a1") is None
    assert scope_view(snap, "channel", "voice") is not None


@pytest.fixture
def server(pipeline: Pipeline) -> Iterator[MetricsServer]:
    snapshots = RecentSnapshot(pipeline.snapshot, lambda: NOW)
    running = MetricsServer(CollectorRegistry(), "127.0.0.1", 0, lambda: (True, "ok"),
                            ("prom", "s3cret"), api=api(snapshots)).start()
    yield running
    running.stop()


def get(server: MetricsServer, path: str, auth: tuple[str, str] | None = ("prom", "s3cret"),
        ) -> tuple[int, str]:
    return http_get(f"http://127.0.0.1:{server.port}{path}", auth)


def test_a_teams_states_and_a_queues_waits_are_of_the_request(pipeline: Pipeline) -> None:
    """As the boards: the KPIs are the shared snapshot's (``at``), a team's agents by state
    and a queue's waits are read when asked (``states_at``)."""
    served = pipeline.snapshot(NOW)
    ev = EventFactory("later")
    for event in (ev("interaction.queued", "09:20:05", interaction_id="i2", queue_id="q1",
                     channel="voice"),
                  ev("agent.not_ready", "09:20:06", agent_id="a1", reason="break")):
        pipeline.feed(orjson.dumps(event), None, now_ms=at("09:20:10"))
    answer = api(lambda: served, floor_now=lambda: pipeline.floor_now(at("09:20:10")))
    team, queue = answer("team", "t1"), answer("queue", "q1")
    assert team is not None and queue is not None
    assert team["agents_by_state"] == {"not_ready": 2}
    assert (queue["waiting_interactions"], queue["longest_wait_seconds"]) == (1, 5)
    assert team["at"] == queue["at"] == format_ms(NOW)
    assert team["states_at"] == queue["states_at"] == format_ms(at("09:20:10"))
    assert queue["windows"] == scope_view(served, "queue", "q1")["windows"]  # type: ignore[index]
    of_snapshot = api(lambda: served)("team", "t1")
    assert of_snapshot is not None and of_snapshot["states_at"] == format_ms(NOW)
    assert of_snapshot["agents_by_state"] == {"idle": 1, "not_ready": 1}


def test_the_api_asks_for_the_metrics_credentials(server: MetricsServer) -> None:
    assert get(server, "/api/v1/agent/a1", None)[0] == 401
    assert get(server, "/api/v1/agent/a1", ("prom", "wrong"))[0] == 401
    status, body = get(server, "/api/v1/agent/a1")
    assert status == 200 and json.loads(body)["state"] == "idle"


def test_ids_are_url_decoded_and_unknown_ones_are_404(server: MetricsServer) -> None:
    status, body = get(server, "/api/v1/agent/" + quote("a/b 1", safe=""))
    assert status == 200 and json.loads(body)["id"] == "a/b 1"
    assert get(server, "/api/v1/agent/nobody")[0] == 404
    assert get(server, "/api/v1/agent/")[0] == 404
    assert get(server, "/api/v1/")[0] == 404


def test_one_snapshot_serves_the_requests_of_one_moment() -> None:
    computed: list[int] = []
    clock = [1_000]

    def compute(now: int) -> object:
        computed.append(now)
        return type("Snap", (), {"now": now})()

    recent = RecentSnapshot(compute, lambda: clock[0], max_age_ms=1000)  # type: ignore[arg-type]
    recent()
    recent()
    clock[0] = 1_999
    recent()
    assert computed == [1_000]
    clock[0] = 2_000
    recent()
    assert computed == [1_000, 2_000]


def test_a_recent_snapshot_reuses_the_alert_evaluations() -> None:
    """/metrics after an alert evaluation reuses its snapshot while it is under a second old
    (nothing computed here yet to say a new one takes longer), never an older one or one
    from the future."""
    computed: list[int] = []
    clock = [10_500]
    evaluation: list[object] = [type("Snap", (), {"now": 10_000})()]
    asked: list[int] = []

    def compute(now: int) -> object:
        computed.append(now)
        return type("Snap", (), {"now": now})()

    def recent(since: int, _wait_s: float) -> object:
        asked.append(since)
        return evaluation[0]

    recent_snapshot = RecentSnapshot(compute, lambda: clock[0],  # type: ignore[arg-type]
                                     recent=recent)  # type: ignore[arg-type]
    assert recent_snapshot().now == 10_000 and computed == []
    assert asked == [9_501]  # of an instant within the last second
    clock[0] = 11_000  # the evaluation's is a second old now
    assert recent_snapshot().now == 11_000 and computed == [11_000]
    evaluation[0] = type("Snap", (), {"now": 11_600})()  # from the future of this clock
    clock[0] = 11_500
    assert recent_snapshot().now == 11_000 and computed == [11_000]


def test_a_snapshot_within_four_times_what_a_new_one_takes_is_taken() -> None:
    """A floor whose snapshot takes 3 s: one of an instant under 12 s ago is taken, the
    evaluation's when newer; from 12 s on a new one is computed (and timed again)."""
    clock = [100_000]
    computed: list[int] = []
    evaluation: list[object | None] = [None]

    def compute(now: int) -> object:
        computed.append(now)
        clock[0] += 3_000 if len(computed) == 1 else 2_000  # what computing it took
        return type("Snap", (), {"now": now})()

    recent = RecentSnapshot(compute, lambda: clock[0],  # type: ignore[arg-type]
                            recent=lambda since, _wait: evaluation[0])  # type: ignore[arg-type]
    assert recent().now == 100_000 and recent.max_age_ms() == 12_000
    clock[0] = 111_999
    assert recent().now == 100_000 and computed == [100_000]
    evaluation[0] = type("Snap", (), {"now": 101_000})()  # the alerts', newer, 11 s old
    assert recent().now == 101_000 and computed == [100_000]
    clock[0] = 113_000  # the evaluation's is 12 s old: four times what a new one takes
    assert recent().now == 113_000 and computed == [100_000, 113_000]
    assert recent.max_age_ms() == 8_000  # the last one took 2 s


def test_a_reader_asked_without_pause_computes_a_quarter_of_the_time_at_most() -> None:
    """Polled every 100 ms for ten minutes, with snapshots that take 1.5 s and no other
    reader's to take: one every 6 s, 100 of them, 150 of 600 seconds spent computing."""
    clock = [0]
    computed: list[int] = []

    def compute(now: int) -> object:
        computed.append(now)
        clock[0] += 1_500
        return type("Snap", (), {"now": now})()

    recent = RecentSnapshot(compute, lambda: clock[0])  # type: ignore[arg-type]
    while clock[0] < 600_000:
        recent()
        clock[0] += 100
    assert len(computed) == 100
    assert {later - earlier for earlier, later in pairwise(computed)} == {6_000}


def test_the_lease_holders_scrape_takes_the_evaluations_snapshot_of_a_large_floor() -> None:
    """The evaluation computes the floor at each 15 s instant and it takes 6 s: a scrape
    10 s after an instant takes that snapshot, where computing a new one (6 s) would have
    added a second floor to the holder's interval; 25 s after one (an evaluation missed,
    and more than four times 6 s), it computes its own."""
    clock = [0]
    computed: list[int] = []
    evaluations = {instant: type("Snap", (), {"now": instant})() for instant in (15_000, 30_000)}

    def newest(since: int, _wait_s: float) -> object | None:
        done = [at for at in evaluations if since <= at <= clock[0] - 6_000]
        return evaluations[max(done)] if done else None

    def compute(now: int) -> object:
        computed.append(now)
        return type("Snap", (), {"now": now})()

    recent = RecentSnapshot(compute, lambda: clock[0], recent=newest,  # type: ignore[arg-type]
                            cost_ms=lambda: 6_000)
    for scrape_at in (25_000, 40_000):
        clock[0] = scrape_at
        assert recent().now == scrape_at - 10_000
    assert not computed
    clock[0] = 55_000  # the 45 s evaluation has not run: the newest is 25 s old
    assert recent().now == 55_000 and computed == [55_000]



def test_a_reader_does_not_keep_the_pipelines_snapshot_alive(pipeline: Pipeline) -> None:
    """The evaluation's snapshot, taken by a request, is freed once the pipeline's next
    replaces it (a floor's is ~230 MB at 50,000 agents), and the reader then serves the
    next; one it computed itself it keeps (the pipeline keeps it too)."""
    clock = [NOW + 500]
    recent = RecentSnapshot(pipeline.snapshot, lambda: clock[0], recent=pipeline.recent_floor)
    taken = weakref.ref(pipeline.snapshot(NOW))
    assert recent() is taken()
    pipeline.snapshot(NOW + 1_000)  # the next evaluation's
    gc.collect()
    assert taken() is None
    clock[0] = NOW + 1_200
    assert recent().now == NOW + 1_000
    clock[0] = NOW + 60_000  # none recent: computed here, then served again
    mine = recent()
    assert mine.now == NOW + 60_000 and recent() is mine

def test_the_pipelines_snapshot_time_counts_before_this_reader_computed_any() -> None:
    """Its first request takes the evaluation's snapshot of 19 s ago when the pipeline's last
    floor snapshot took 5 s."""
    evaluation = type("Snap", (), {"now": 81_000})()
    computed: list[int] = []
    recent = RecentSnapshot(computed.append, lambda: 100_000,  # type: ignore[arg-type]
                            recent=lambda since, _wait: evaluation if since <= 81_000 else None,
                            cost_ms=lambda: 5_000)
    assert recent() is evaluation and not computed and recent.max_age_ms() == 20_000


def test_a_scrape_waits_for_the_evaluation_snapshot_under_way(pipeline: Pipeline) -> None:
    """The alert evaluation has read the engine at NOW and is finishing on its thread: a
    request 500 ms later takes that one when it is done (it arrives before a new one
    would) and computes nothing; a reading of an instant long past (an evaluation catching
    up after a restart) is not waited for."""
    computed: list[int] = []

    def compute(now: int) -> Snapshot:
        computed.append(now)
        return pipeline.snapshot(now)

    recent = RecentSnapshot(compute, lambda: NOW + 500, recent=pipeline.recent_floor)
    pending = pipeline.floor_reading(NOW)
    answer: list[Snapshot] = []
    request = threading.Thread(target=lambda: answer.append(recent()))
    request.start()
    request.join(0.3)
    assert request.is_alive() and not answer and not computed  # waiting for the evaluation's
    pipeline.floor_finished(pending)
    request.join(5)
    assert [snap.now for snap in answer] == [NOW] and not computed
    assert pipeline.floor_ms >= 300  # from its reading to its end: what a snapshot takes
    late = RecentSnapshot(compute, lambda: NOW + 500, recent=pipeline.recent_floor)
    pipeline.floor_reading(NOW - 600_000)  # ten minutes ago, never finished
    pipeline.latest = None
    assert late().now == NOW + 500 and computed == [NOW + 500]


def test_a_failed_evaluation_snapshot_lets_its_waiters_compute_their_own(
        pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    pending = pipeline.floor_reading(NOW)
    waited: list[Snapshot | None] = []
    waiter = threading.Thread(target=lambda: waited.append(pipeline.recent_floor(NOW, 30)))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive()  # waiting for it

    def fails(_pending: object) -> Snapshot:
        raise MemoryError

    monkeypatch.setattr(pipeline, "_finish", fails)
    with pytest.raises(MemoryError):
        pipeline.floor_finished(pending)
    waiter.join(5)
    assert waited == [None]  # woken at once, with nothing to take


def test_a_recent_floor_is_had_while_the_engine_is_being_read(pipeline: Pipeline) -> None:
    """A floor reading holds the engine for seconds at 50,000 agents: a scrape or one agent's
    answer asking for the last floor snapshot gets it meanwhile instead of waiting for the
    engine (the bookkeeping has a lock of its own)."""
    first = pipeline.snapshot(NOW)
    answers: list[Snapshot | None] = []
    agents = AgentSnapshots(RecentSnapshot(pipeline.snapshot, lambda: NOW + 500,
                                           recent=pipeline.recent_floor),
                            lambda *_: pytest.fail("no drill-down: a floor is recent"),
                            lambda: NOW + 500)
    with pipeline.lock:  # as a floor reading holds it
        asking = threading.Thread(target=lambda: answers.extend(
            (pipeline.recent_floor(NOW, 0), agents("a1"))))
        asking.start()
        asking.join(5)
        assert not asking.is_alive()
    assert answers == [first, first]
