"""The built-in pages in headless Chromium (Debian's, installed by ``make setup``): the
wallboard renders, shows exactly the JSON view's numbers at the same instant, and a value
changes on the page — without a reload — when an event arrives. Screenshots of every page are
kept in ``artifacts/screenshots/`` (git-ignored) for people to look at."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry

from ccpulse.alerts.engine import AlertEvaluator
from ccpulse.alerts.rules import Thresholds
from ccpulse.bands import bands_in_force
from ccpulse.http import MetricsServer
from ccpulse.processors.scorecard import Scorecards
from ccpulse.processors.snapshot import Snapshot
from ccpulse.processors.timefmt import format_ms
from ccpulse.report_html import chromium
from ccpulse.runtime import Monitor
from ccpulse.streams.pipeline import Pipeline
from ccpulse.streams.simulator import HOUR, SimConfig, Simulator
from ccpulse.tokens import AgentLinks
from ccpulse.web import WebApp
from tests.live import WorkerProcess, http_get, recent_shift, send, wait_for
from tests.servers import ROOT

ARTIFACTS = ROOT / "artifacts" / "screenshots"
SECRET = "chromium-test-secret-0123456789"


class Cells(HTMLParser):
    """Rows marked ``data-queue`` / ``data-team`` / ``data-agent`` and their cells'
    ``data-value``; the ``#at`` instant; alert items."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, str], dict[str, str]] = {}
        self.at: str | None = None
        self.alerts = 0
        self._row: tuple[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for kind in ("queue", "team", "agent"):
            if tag == "tr" and f"data-{kind}" in a:
                self._row = (kind, str(a[f"data-{kind}"]))
                self.rows[self._row] = {}
        if tag == "td" and self._row and "data-value" in a:
            self.rows[self._row][str(a["data-field"])] = str(a["data-value"])
        if a.get("id") == "at":
            self.at = a.get("data-at")
        if tag == "li" and "data-alert" in a:
            self.alerts += 1


def browse(url: str, shot: Path | None = None, budget_ms: int = 3000) -> str:
    binary = chromium()
    assert binary, "run `make setup`: it installs Debian's chromium-headless-shell"
    args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--virtual-time-budget={budget_ms}", "--window-size=1500,1100", "--dump-dom"]
    if shot is not None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        args.append(f"--screenshot={shot}")
    result = subprocess.run([*args, url], capture_output=True, text=True, timeout=120,
                            check=True)
    return result.stdout


@pytest.fixture(scope="module")
def floor() -> tuple[Pipeline, Monitor, list[int]]:
    """Two simulated hours of 40 agents, alerts evaluated; the clock stands at the end."""
    config = SimConfig(agents=40, duration_ms=2 * HOUR, seed=5)
    monitor = Monitor(Pipeline(), AlertEvaluator(Thresholds()))
    for event in Simulator(config).events():
        raw = orjson.dumps(event)
        monitor.before_event(monitor.pipeline.engine.max_ts or config.start_ms)
        monitor.pipeline.feed(raw, None, None)
    now = monitor.pipeline.engine.max_ts or 0
    monitor.advance(now)
    return monitor.pipeline, monitor, [now]


@pytest.fixture
def serve(floor: tuple[Pipeline, Monitor, list[int]],
          ) -> Iterator[Callable[[Callable[[], Snapshot]], MetricsServer]]:
    pipeline, monitor, _ = floor
    started: list[MetricsServer] = []

    def start(snapshots: Callable[[], Snapshot]) -> MetricsServer:
        web = WebApp(snapshots, bands_in_force(Thresholds()), Scorecards(),
                     alerts=monitor.evaluator.firing,  # type: ignore[union-attr]
                     links=AgentLinks(SECRET), day=pipeline.agent_day)
        server = MetricsServer(CollectorRegistry(), "127.0.0.1", 0, lambda: (True, "ok"),
                               web=web).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_the_wallboard_shows_the_json_views_numbers(
        floor: tuple[Pipeline, Monitor, list[int]], serve: Callable) -> None:
    pipeline, _, clock = floor
    server = serve(lambda: pipeline.snapshot(clock[0]))  # one instant: page and JSON agree
    base = f"http://127.0.0.1:{server.port}"
    page = Cells()
    page.feed(browse(f"{base}/wallboard", ARTIFACTS / "wallboard.png"))
    status, body = http_get(f"{base}/api/v1/floor")
    assert status == 200
    view = orjson.loads(body)
    assert page.at == view["at"] == format_ms(clock[0])
    assert view["queues"] and view["teams"] and page.alerts == len(view["alerts"])
    compared = 0
    for queue in view["queues"]:
        cells = page.rows[("queue", queue["id"])]
        for field in ("waiting", "longest_wait_seconds", "service_level", "abandon",
                      "asa_seconds"):
            want = queue[field]["value"] if isinstance(queue[field], dict) else queue[field]
            if want is None:
                assert field not in cells
                continue
            assert float(cells[field]) == pytest.approx(want, rel=1e-12), (queue["id"], field)
            compared += 1
    for team in view["teams"]:
        cells = page.rows[("team", team["id"])]
        assert float(cells["occupancy"]) == pytest.approx(team["occupancy"]["value"])
        for state, count in team["agents"].items():
            assert int(cells[f"agents_{state}"]) == count
            compared += 1
    assert compared > 20  # every queue's five numbers and every team's agents by activity


def test_a_value_changes_on_the_page_when_an_event_arrives(
        floor: tuple[Pipeline, Monitor, list[int]], serve: Callable) -> None:
    """One page load: the script's first poll sees the floor; an event arrives; a later poll
    (2 s on) shows one more interaction waiting in that queue."""
    pipeline, _, clock = floor
    queue = pipeline.snapshot(clock[0]).windows["15m"].queue
    target = sorted(queue)[0]
    before = pipeline.snapshot(clock[0]).waiting.get(target, (0, 0.0))[0]
    polls: list[int] = []

    def snapshots() -> Snapshot:
        polls.append(1)
        if len(polls) == 2:  # after the first render: a call joins the queue
            clock[0] += 1000
            pipeline.feed(orjson.dumps({
                "event_id": "web-live-1", "type": "interaction.queued",
                "ts": format_ms(clock[0] - 500), "interaction_id": "web-live-call",
                "queue_id": target, "channel": "voice"}), None, None)
        return pipeline.snapshot(clock[0])

    server = serve(snapshots)
    page = Cells()
    page.feed(browse(f"http://127.0.0.1:{server.port}/wallboard",
                     ARTIFACTS / "wallboard-after-event.png", budget_ms=5000))
    assert len(polls) >= 2, "the page polled once only"
    assert int(page.rows[("queue", target)]["waiting"]) == before + 1


def test_team_staffing_and_agent_pages_render(
        floor: tuple[Pipeline, Monitor, list[int]], serve: Callable) -> None:
    pipeline, _, clock = floor
    server = serve(lambda: pipeline.snapshot(clock[0]))
    base = f"http://127.0.0.1:{server.port}"
    snap = pipeline.snapshot(clock[0])
    team = sorted(snap.team_states)[0]
    page = Cells()
    page.feed(browse(f"{base}/team/{team}", ARTIFACTS / "team.png"))
    members = {a for a, now in snap.agents.items() if now.team == team}
    assert {ident for kind, ident in page.rows if kind == "agent"} == members
    wfm = browse(f"{base}/wfm", ARTIFACTS / "wfm.png")
    assert 'data-field="gap_now"' in wfm
    agent = sorted(members)[0]
    token = AgentLinks(SECRET).token(agent)
    mine = browse(f"{base}/agent/{agent}?t={token}", ARTIFACTS / "agent.png")
    assert 'data-loaded="yes"' in mine and 'data-field="score"' in mine
    assert "Schedule against what happened" in mine
    others = members - {agent}
    assert not any(other in mine for other in others)  # an agent's page names no colleague


def test_a_workers_pages_and_an_agent_link_from_the_command_line(
        worker_factory: Callable[..., WorkerProcess], kafka_bootstrap: str,
        topics: dict[str, str], tmp_path: Path) -> None:
    """A real worker fed from Kafka serves the pages; `ccpulse agent-link` (same secret)
    prints a link Chromium opens on that agent's page, and the other agents' links are
    refused on it."""
    worker = worker_factory(CCPULSE_WEB_SECRET=SECRET)
    send(recent_shift(tmp_path / "shift.jsonl", agents=12, minutes=30, seed=4),
         kafka_bootstrap, topics)
    worker.wait_healthy()

    def floor_has_teams() -> bool:
        status, body = worker.get("/api/v1/floor")
        return status == 200 and bool(orjson.loads(body)["teams"])

    wait_for(floor_has_teams, 90, "teams on the wallboard")
    base = f"http://127.0.0.1:{worker.port}"
    env = {**os.environ, "CCPULSE_WEB_SECRET": SECRET, "CCPULSE_WEB_URL": base}
    link = subprocess.run([sys.executable, "-m", "ccpulse", "agent-link", "agent-00002"],
                          capture_output=True, text=True, check=True, env=env).stdout.strip()
    assert link.startswith(f"{base}/agent/agent-00002?t=")
    page = browse(link, ARTIFACTS / "worker-agent.png")
    assert 'data-loaded="yes"' in page and "agent-00002" in page
    other = link.replace("/agent/agent-00002?", "/agent/agent-00003?")
    assert worker.get(other.removeprefix(base))[0] == 403
    logged = worker.log.read_text()
    assert "/agent/" not in logged and link.split("t=")[1] not in logged  # no page request
