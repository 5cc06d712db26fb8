"""/api/v1/<scope>/<id>: one scope's every KPI in every window, hand-checked, behind auth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from prometheus_client import CollectorRegistry

from ccpulse.api import RecentSnapshot, api, scope_view
from ccpulse.http import MetricsServer
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
    """/metrics after an alert evaluation reuses its snapshot while it is under a second old,
    and never an older one or one from the future."""
    computed: list[int] = []
    clock = [10_500]
    evaluation: list[object] = [type("Snap", (), {"now": 10_000})()]

    def compute(now: int) -> object:
        computed.append(now)
        return type("Snap", (), {"now": now})()

    recent = RecentSnapshot(compute, lambda: clock[0],  # type: ignore[arg-type]
                            latest=lambda: evaluation[0])  # type: ignore[arg-type,return-value]
    assert recent().now == 10_000 and computed == []
    clock[0] = 11_000  # the evaluation's is a second old now
    assert recent().now == 11_000 and computed == [11_000]
    evaluation[0] = type("Snap", (), {"now": 11_600})()  # from the future of this clock
    clock[0] = 11_500
    assert recent().now == 11_000 and computed == [11_000]
