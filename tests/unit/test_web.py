"""The built-in pages' access rules and views (issue 22), on a real HTTP server in-process:
every page and JSON route without credentials, with wrong or expired tokens, and with another
agent's token; no customer id on any page."""

from __future__ import annotations

import base64
import time
import urllib.request
from collections.abc import Iterator
from urllib.parse import quote

import orjson
import pytest
from prometheus_client import CollectorRegistry

from ccpulse.alerts.rules import Thresholds
from ccpulse.api import RecentSnapshot, api
from ccpulse.bands import bands_in_force
from ccpulse.http import MetricsServer
from ccpulse.processors.scorecard import Scorecards
from ccpulse.streams.pipeline import Pipeline
from ccpulse.tokens import AgentLinks
from ccpulse.web import WebApp, agent_view, floor_view, team_view, wfm_view
from tests.live import http_get
from tests.support import EventFactory, at, morning_pipeline

NOW = at("09:20:00")
SECRET = "a-secret-of-the-floor-0123456789"
CREDENTIALS = ("prom", "s3cret")
CUSTOMER = "cust-PRIVATE-42"


@pytest.fixture
def pipeline() -> Pipeline:
    ev = EventFactory()
    return morning_pipeline(ev, ev("agent.login", "09:00:00", agent_id="a2", team_id="t1"),
                            ev("agent.available", "09:00:00", agent_id="a2"),
                            ev("interaction.queued", "09:15:00", interaction_id="i9",
                               queue_id="q1", channel="voice", customer_id=CUSTOMER))


@pytest.fixture
def server(pipeline: Pipeline) -> Iterator[MetricsServer]:
    snapshots = RecentSnapshot(pipeline.snapshot, lambda: NOW)
    web = WebApp(snapshots, bands_in_force(Thresholds()), Scorecards(),
                 links=AgentLinks(SECRET), day=pipeline.agent_day)
    running = MetricsServer(CollectorRegistry(), "127.0.0.1", 0, lambda: (True, "ok"),
                            CREDENTIALS, api=api(snapshots), web=web).start()
    yield running
    running.stop()


def get(server: MetricsServer, path: str, auth: tuple[str, str] | None = None,
        ) -> tuple[int, str]:
    return http_get(f"http://127.0.0.1:{server.port}{path}", auth)


FLOOR_ROUTES = ["/wallboard", "/wfm", "/team/t1", "/api/v1/floor", "/api/v1/wfm",
                "/api/v1/board/t1", "/api/v1/agent/a1", "/metrics"]


@pytest.mark.parametrize("path", FLOOR_ROUTES)
def test_floor_pages_ask_for_the_metrics_credentials(server: MetricsServer, path: str) -> None:
    assert get(server, path)[0] == 401
    assert get(server, path, ("prom", "wrong"))[0] == 401
    assert get(server, path, CREDENTIALS)[0] == 200


def test_assets_are_served_by_ccpulse_itself_and_hold_no_data(server: MetricsServer) -> None:
    for path in ("/static/app.js", "/static/style.css"):
        status, body = get(server, path)
        assert status == 200 and "a1" not in body
    status, page = get(server, "/wallboard", CREDENTIALS)
    assert "http" not in page.replace("http-equiv", "")  # no CDN, no external asset


def _token(agent: str, days: float = 1, secret: str = SECRET, now_s: float | None = None,
           ) -> str:
    return AgentLinks(secret).token(agent, days, now_s)


@pytest.mark.parametrize("path", ["/agent/{}", "/api/v1/me/{}"])
def test_an_agent_page_opens_with_that_agents_link_only(server: MetricsServer,
                                                       path: str) -> None:
    mine = path.format("a1")
    assert get(server, f"{mine}?t={_token('a1')}")[0] == 200
    refused = {
        "no token": mine,
        "empty token": f"{mine}?t=",
        "another agent's token": f"{path.format('a2')}?t={_token('a1')}",
        "expired": f"{mine}?t={_token('a1', days=1, now_s=time.time() - 2 * 86_400)}",
        "another secret": f"{mine}?t={_token('a1', secret='some-other-secret-0123456')}",
        "tampered": f"{mine}?t={_token('a1')[:-2]}xx",
        "floor credentials instead": mine,
    }
    for why, url in refused.items():
        status, body = get(server, url, CREDENTIALS if why.startswith("floor") else None)
        assert status == 403, why
        assert "a2" not in body and "t1" not in body, why  # nothing of the page asked for


def test_agent_ids_are_url_encoded_in_links(server: MetricsServer, pipeline: Pipeline) -> None:
    ev = EventFactory("x")
    pipeline.feed(orjson.dumps(ev("agent.login", "09:00:00", agent_id="a/b 1",
                                  team_id="t1")), None, now_ms=NOW)
    status, body = get(server, f"/api/v1/me/{quote('a/b 1', safe='')}?t={_token('a/b 1')}")
    assert status == 200 and orjson.loads(body)["agent"] == "a/b 1"


def test_no_customer_id_on_any_page_or_view(server: MetricsServer) -> None:
    token = _token("a1")
    for path in [*FLOOR_ROUTES[:-1], f"/agent/a1?t={token}", f"/api/v1/me/a1?t={token}"]:
        status, body = get(server, path, CREDENTIALS)
        assert status == 200 and CUSTOMER not in body, path


def test_views_hold_the_snapshots_numbers(pipeline: Pipeline) -> None:
    snap = pipeline.snapshot(NOW)
    bands = bands_in_force(Thresholds())
    floor = floor_view(snap, [], bands)
    (queue,) = floor["queues"]
    assert (queue["id"], queue["waiting"], queue["longest_wait_seconds"]) == ("q1", 1, 300)
    (team,) = floor["teams"]
    assert team["agents"] == {"idle": 2} and team["occupancy"]["value"] == pytest.approx(
        snap.windows["1h"].team["t1"]["occupancy"])
    board = team_view(snap, "t1", [], bands)
    assert board is not None and [a["id"] for a in board["agents"]] == ["a1", "a2"]
    assert board["agents"][0]["aht_1h"]["value"] == 350 and board["agents"][0]["aht_usual"] == 350
    assert team_view(snap, "nobody", [], bands) is None
    assert wfm_view(snap)["queues"][0]["queue"] == "q1"
    mine = agent_view(snap, "a1", Scorecards(), bands, pipeline.agent_day)
    assert mine is not None and mine["team"] == "t1" and mine["kpis"]["csat_score"] == 4
    assert mine["day"]["actual"]  # the agent's activity over the last 8 h
    # how hard the floor works an agent is said apart from what they can work on
    assert not {"occupancy", "breathing room between contacts"} & set(mine["focus"])


def test_the_boards_show_states_and_waits_of_the_request_and_kpis_of_the_snapshot(
        pipeline: Pipeline) -> None:
    """The wallboard and a team's board read who is doing what and who waits at the
    request (a worker's or the demo's WebApp), while their KPIs are the snapshot's."""
    snap = pipeline.snapshot(NOW)
    ev = EventFactory("later")
    pipeline.feed(orjson.dumps(ev("interaction.answered", "09:20:20", interaction_id="i9",
                                  agent_id="a2", queue_id="q1", channel="voice")), None,
                  now_ms=at("09:20:30"))
    web = WebApp(lambda: snap, bands_in_force(Thresholds()), Scorecards(),
                 floor_now=lambda: pipeline.floor_now(at("09:20:30")))
    floor = orjson.loads(web.handle("/api/v1/floor", "").render().body)  # type: ignore[union-attr]
    (queue,) = floor["queues"]
    assert (queue["waiting"], queue["longest_wait_seconds"]) == (0, 0)
    (team,) = floor["teams"]
    assert team["agents"] == {"handling": 1, "idle": 1}
    assert team["occupancy"]["value"] == pytest.approx(snap.windows["1h"].team["t1"]["occupancy"])
    assert floor["at"] == "2026-11-22T09:20:00.000Z"
    assert floor["states_at"] == "2026-11-22T09:20:30.000Z"
    board = orjson.loads(web.handle("/api/v1/board/t1", "").render().body)  # type: ignore[union-attr]
    assert [(a["id"], a["state"], a["state_seconds"]) for a in board["agents"]] == [
        ("a1", "idle", 870.0), ("a2", "handling", 10.0)]
    assert floor_view(snap, [], bands_in_force(Thresholds()))["teams"][0]["agents"] == {
        "idle": 2}  # without a live reading: the snapshot's, as before


def test_pages_and_views_are_never_cached(server: MetricsServer) -> None:
    """They name agents: no shared proxy or browser cache keeps them."""
    token = _token("a1")
    for path, auth in (("/wallboard", True), ("/api/v1/floor", True),
                       (f"/agent/a1?t={token}", False), (f"/api/v1/me/a1?t={token}", False)):
        request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}")
        if auth:
            request.add_header("Authorization", "Basic " + base64.b64encode(
                ":".join(CREDENTIALS).encode()).decode())
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["Cache-Control"] == "no-store", path
