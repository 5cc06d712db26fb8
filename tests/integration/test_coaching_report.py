"""``ccpulse report``: its numbers are ``ccpulse replay``'s for the same period, and the page
renders in headless Chromium (Debian's chromium-headless-shell) and prints to PDF."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ccpulse.processors import catalogue
from ccpulse.processors.timefmt import format_ms, parse_ms
from ccpulse.report_html import chromium

START = "2026-11-23T08:00:00Z"
END = "2026-11-23T16:00:00Z"  # an 8 h period: replay's 8h window ending at --to
AGENT_KEYS = [kpi.key for kpi in catalogue.CATALOGUE
              if catalogue.AGENT in kpi.scopes and not kpi.by_channel]
SUFFIX = {kpi.key: kpi.metric for kpi in catalogue.CATALOGUE if not kpi.by_channel}


def ccpulse(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ccpulse", *args], capture_output=True,
                          text=True, check=True, timeout=300)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "day.jsonl"
    ccpulse("simulate", "--out", str(path), "--agents", "40", "--hours", "8.5", "--seed", "3",
            "--start", START)
    return path


@pytest.fixture(scope="module")
def replayed(day: Path) -> dict[tuple[str, frozenset], float]:
    """Every agent KPI in every window (not only the per-agent budget of /metrics)."""
    config = day.parent / "every-series.toml"
    config.write_text('[metrics]\nagent_series = "all"\n')
    text = ccpulse("replay", str(day), "--metrics-out", "-", "--now", END,
                   "--config", str(config)).stdout
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def report_data(page: Path) -> dict:
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>',
                      page.read_text(), re.S)
    assert found
    return json.loads(found.group(1).replace("<\\/", "</"))


def test_agent_report_numbers_equal_replay(day: Path, replayed: dict, tmp_path: Path) -> None:
    page = tmp_path / "agent.html"
    ccpulse("report", str(day), "--agent", "agent-00003", "--from", START, "--to", END,
            "--out", str(page))
    data = report_data(page)
    assert data["from"] == format_ms(parse_ms(START)) and data["bucket_seconds"] == 3600
    labels = {"agent": "agent-00003", "team": data["team"], "window": "8h"}
    compared = 0
    for key in AGENT_KEYS:
        metric = f"ccpulse_agent_{SUFFIX[key]}"
        want = replayed.get((metric, frozenset(labels.items())))
        assert data["kpis"].get(key) == pytest.approx(want, rel=1e-12), key
        compared += want is not None
    assert compared >= 10
    assert data["score"] == pytest.approx(
        replayed[("ccpulse_agent_scorecard_score", frozenset(labels.items()))])
    assert len(data["trend"]) == 8  # hourly buckets of an 8 h period


def test_team_report_numbers_equal_replay(day: Path, replayed: dict, tmp_path: Path) -> None:
    page = tmp_path / "team.html"
    ccpulse("report", str(day), "--team", "team-002", "--from", START, "--to", END,
            "--out", str(page))
    data = report_data(page)
    labels = frozenset({"team": "team-002", "window": "8h"}.items())
    compared = 0
    for key, value in data["kpis"].items():
        if key in SUFFIX:
            assert value == pytest.approx(replayed[(f"ccpulse_team_{SUFFIX[key]}", labels)],
                                          rel=1e-12), key
            compared += 1
    assert compared >= 25
    assert data["score"] == pytest.approx(replayed[("ccpulse_team_scorecard_score", labels)])
    for key, value in data["spread"].items():
        want = replayed[("ccpulse_team_kpi_spread_ratio",
                         frozenset({"team": "team-002", "window": "8h", "kpi": key}.items()))]
        assert value == pytest.approx(want, rel=1e-12)


def test_report_renders_in_headless_chromium_and_prints_to_pdf(day: Path, tmp_path: Path,
                                                               ) -> None:
    binary = chromium()
    assert binary, "run `make setup`: it installs Debian's chromium-headless-shell"
    page, pdf = tmp_path / "agent.html", tmp_path / "agent.pdf"
    ccpulse("report", str(day), "--agent", "agent-00003", "--from", START, "--to", END,
            "--out", str(page), "--pdf", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF-") and pdf.stat().st_size > 10_000
    shot = tmp_path / "agent.png"
    result = subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
         "--v=0", "--window-size=1000,2000", f"--screenshot={shot}", "--dump-dom",
         page.as_uri()], capture_output=True, text=True, timeout=120, check=True)
    dom = result.stdout
    assert "Coaching report — agent agent-00003" in dom
    assert dom.count("<svg") == 8  # the score and each of the 7 scorecard KPIs
    assert re.search(r'id="score">\d+<', dom)
    assert "Uncaught" not in result.stderr and "CONSOLE" not in result.stderr
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000
