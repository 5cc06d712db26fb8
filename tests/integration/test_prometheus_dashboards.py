"""A real Prometheus scrapes a real ccpulse worker: values equal ``ccpulse replay``, and every
PromQL expression of every dashboard panel, variable and rule returns data.

So a renamed metric, a typo in a label or a recording rule that no longer matches anything
breaks the build instead of leaving an empty panel on somebody's wallboard.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ccpulse.alerts.rules import Thresholds
from ccpulse.dashboards import all_dashboards
from ccpulse.grafana import expressions
from ccpulse.processors.catalogue import HOUR_MS
from ccpulse.processors.timefmt import format_ms
from tests.live import (
    WorkerProcess,
    assert_converges,
    ccpulse,
    log_length,
    recent_shift,
    send,
    wait_for,
)
from tests.servers import ROOT, Server, start_prometheus

RULES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
# Labels Prometheus adds to every scraped series.
TARGET_LABELS = ("instance", "job")


class PromApi:
    def __init__(self, server: Server) -> None:
        self.base = f"http://127.0.0.1:{server.port}/api/v1"

    def get(self, path: str, **params: str) -> Any:
        url = f"{self.base}/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=30) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        data = self.get("query", query=expr)
        return data["result"] if data["resultType"] == "vector" else [data["result"]]


def prometheus_config(*worker_ports: int) -> str:
    """The deploy/ configuration's rules, scraping the test's workers every second."""
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(path) for path in RULES]
    config.pop("alerting")
    config["scrape_configs"] = [{"job_name": "ccpulse",
                                 "static_configs": [{"targets": [
                                     f"127.0.0.1:{port}" for port in worker_ports]}]}]
    return yaml.safe_dump(config)


def rule_expressions() -> list[tuple[str, str]]:
    """Every rule's expression; an alert's threshold comparison is cut off, since a healthy
    system must not fire it, but the series it compares must exist."""
    out = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                name = rule.get("record") or rule["alert"]
                expr = re.sub(r"\s*(==|!=|>=|<=|>|<)\s*[\d.e+]+\s*$", "", rule["expr"].strip())
                out.append((name, expr))
                if "record" in rule:
                    out.append((f"recorded {name}", name))
    return out


def substitute(expr: str, team: str, agent: str) -> str:
    return (expr.replace('team="$team"', f'team="{team}"').replace("$team", ".*")
            .replace("$agent", agent)
            .replace("$queue", ".*").replace("$window", "1h")
            .replace("$__rate_interval", "1m"))


def eight_hour_series(samples: list[dict]) -> dict[tuple[str, frozenset], float]:
    out = {}
    for sample in samples:
        labels = {k: v for k, v in sample["metric"].items() if k not in TARGET_LABELS}
        name = labels.pop("__name__")
        out[(name, frozenset(labels.items()))] = float(sample["value"][1])
    return out


def test_prometheus_scrapes_ccpulse_and_every_dashboard_query_returns_data(
        worker_factory: Callable[..., WorkerProcess], kafka_bootstrap: str, redis_url: str,
        topics: dict[str, str], tmp_path: Path) -> None:
    # Shorter than the 15m window, so every window is constant once the shift is over.
    # A seed whose 12-minute shift has data for every panel: surveys and idle gaps on one
    # team, an agent with CSAT, QA and idle gaps (not every short shift does).
    events = recent_shift(tmp_path / "shift.jsonl", agents=60, minutes=12, seed=9)
    count = sum(1 for _ in events.open("rb"))
    # No hold on occupancy alerts, so they fire at the first evaluation and the supervisor's
    # alert table has rows to show.
    config = tmp_path / "ccpulse.toml"
    # With a threshold of 0 every agent who worked has one, so whichever team has the surveys
    # the CSAT panels need also has alerts for the alert table.
    config.write_text("[alerts]\noccupancy_hold_ms = 0\noccupancy_high = 0.0\n"
                      "occupancy_resolve = 0.0\n")
    worker = worker_factory(CCPULSE_CONFIG=str(config))
    worker.wait_healthy()
    prometheus = start_prometheus(tmp_path, prometheus_config(worker.port))
    try:
        api = PromApi(prometheus)
        send(events, kafka_bootstrap, topics)
        wait_for(lambda: log_length(redis_url) >= count, 90, "events in the Redis log")
        assert_converges(worker, events)
        wait_for(lambda: bool(api.query(f"sum(ccpulse_events_processed_total) == {count}"))
                 and bool(api.query("ccpulse:events_processed:rate1m")), 60,
                 "Prometheus to scrape the caught-up worker and evaluate the rules")

        # 1. The values Prometheus stored are ccpulse replay's. The 8h window is constant once
        # the shift is over, so it is compared whole: every scope, every KPI.
        want = eight_hour_series_of_replay(events)
        got = eight_hour_series(api.query('{__name__=~"ccpulse_.+", window="8h"}'))
        assert len(want) > 300
        assert got.keys() == want.keys()
        assert all(got[k] == pytest.approx(want[k], rel=1e-9, abs=1e-12) for k in want)

        # 2. Every expression returns data.
        # (alerts are evaluated every 15 s of wall-clock time)
        # a team with an alert firing (the supervisor's alert table), surveys (its CSAT
        # panels) and an agent with two interactions (idle between them): not every team of a
        # 12-minute shift has all three
        with_both = ('max by (team) (ccpulse_alert_firing_info{team!=""}) '
                     'and on (team) ccpulse_team_felt_heard_ratio{window="1h"} '
                     'and on (team) max by (team) '
                     '(ccpulse_agent_idle_between_interactions_seconds{window="1h"})')
        wait_for(lambda: bool(api.query(with_both)), 60,
                 "a team with alerts, surveys and idle gaps")
        team = api.query(with_both)[0]["metric"]["team"]
        # an agent who has worked enough of the short shift to have every KPI of the self-view
        busy = api.query('ccpulse_agent_csat_score{window="8h"} '
                         'and on (agent) ccpulse_agent_qa_score{window="8h"} '
                         'and on (agent) ccpulse_agent_idle_between_interactions_seconds'
                         '{window="1h"}')
        agent = busy[0]["metric"]["agent"]
        # The shift (and its schedules) ended before now; "my schedule now" needs one that
        # covers now: WFM publishes it on cc.schedules and it reaches Prometheus (§7.1 live)
        now = int(time.time() * 1000)
        republished = tmp_path / "schedule-now.jsonl"
        republished.write_bytes(orjson.dumps({
            "event_id": f"schedule-now-{agent}", "type": "schedule.published",
            "ts": format_ms(now), "agent_id": agent, "team_id": busy[0]["metric"]["team"],
            "segments": [{"start": format_ms(now - 60_000), "end": format_ms(now + HOUR_MS),
                          "activity": "work"}]}) + b"\n")
        send(republished, kafka_bootstrap, topics)
        wait_for(lambda: bool(api.query(
            f'ccpulse_agent_scheduled_activity{{agent="{agent}",activity="work"}}')), 60,
            "the schedule published on Kafka in Prometheus")
        checked = 0
        failures = []
        for board_name, board in all_dashboards(Thresholds()).items():
            for title, expr in expressions(board):
                promql = substitute(expr, team, agent)
                if title.startswith("variable "):
                    metric, label = re.fullmatch(r"label_values\((\w+), (\w+)\)", expr).groups()
                    result = api.get(f"label/{label}/values", **{"match[]": metric})
                else:
                    result = api.query(promql)
                checked += 1
                if not result:
                    failures.append(f"{board_name} / {title}: {promql}")
        for name, expr in rule_expressions():
            checked += 1
            if not api.query(expr):
                failures.append(f"rule {name}: {expr}")
        assert not failures, "\n".join(failures)
        assert checked > 50
    finally:
        prometheus.stop()


def eight_hour_series_of_replay(events: Path) -> dict[tuple[str, frozenset], float]:
    text = ccpulse("replay", str(events), "--metrics-out", "-")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.labels.get("window") == "8h"}
