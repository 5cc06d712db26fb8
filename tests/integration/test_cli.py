"""The CLI as a user runs it: real processes, real files, a real promtool."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ccpulse.processors.timefmt import parse_ms
from tests import oracle
from tests.live import assert_states_read_at_request
from tests.servers import free_port

CCPULSE = [sys.executable, "-m", "ccpulse"]


def ccpulse(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CCPULSE, *args], capture_output=True, text=True, check=check,
                          timeout=300)


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "day.jsonl"
    ccpulse("simulate", "--out", str(path), "--agents", "60", "--hours", "3", "--seed", "5")
    return path


def test_replay_writes_the_exposition_that_matches_an_independent_calculation(
        day: Path, tmp_path: Path) -> None:
    out = tmp_path / "metrics.prom"
    result = ccpulse("replay", str(day), "--metrics-out", str(out))
    assert result.returncode == 0
    assert "0 bad lines" in result.stderr
    values = samples(out.read_text())
    events = [orjson.loads(line) for line in day.read_bytes().splitlines()]
    now = max(parse_ms(e["ts"]) for e in events)
    _, teams = oracle.agent_times(events, now - 3_600_000, now)
    assert teams
    for team, times in teams.items():
        expected = oracle.time_kpis(times)["occupancy"]
        got = values[("ccpulse_team_occupancy_ratio",
                      frozenset({"team": team, "window": "1h"}.items()))]
        assert got == pytest.approx(expected, rel=1e-9)
    for queue, expected in oracle.queue_kpis(events, now - 900_000, now).items():
        if "service_level" in expected:
            got = values[("ccpulse_queue_service_level_ratio",
                          frozenset({"queue": queue, "window": "15m"}.items()))]
            assert got == pytest.approx(expected["service_level"])


def test_replay_exposition_passes_promtool(day: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run `make setup` (installs Debian's prometheus)"
    exposition = ccpulse("replay", str(day), "--metrics-out", "-").stdout
    check = subprocess.run([promtool, "check", "metrics"], input=exposition,
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_replay_now_moves_the_windows(day: Path) -> None:
    late = samples(ccpulse("replay", str(day), "--metrics-out", "-").stdout)
    early = samples(ccpulse("replay", str(day), "--metrics-out", "-",
                            "--now", "2026-11-23T09:00:00Z").stdout)
    key = ("ccpulse_team_logged_in_seconds", frozenset({"team": "team-001",
                                                         "window": "8h"}.items()))
    assert early[key] < late[key]


def test_replay_reports_bad_lines_by_number_and_reason_only(tmp_path: Path) -> None:
    good = {"event_id": "e1", "type": "agent.login", "ts": "2026-11-23T08:00:00Z",
            "agent_id": "a1", "team_id": "t1"}
    lines = [
        orjson.dumps(good),
        b'{"event_id": "e2", "type": "agent.login", "agent_id": "SECRET-NAME"',  # truncated
        orjson.dumps({**good, "event_id": "e3", "type": "agent.sing"}),
        b"",
        orjson.dumps({**good, "event_id": "e4", "type": "interaction.survey",
                      "interaction_id": "i", "csat": 9}),
        orjson.dumps(good),  # duplicate
        orjson.dumps({**good, "event_id": "e5", "type": "agent.available"}),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = ccpulse("replay", str(path), "--metrics-out", "-")
    assert result.returncode == 0
    assert "line 2: not_json" in result.stderr
    assert "line 3: unknown_type" in result.stderr
    assert "line 5: invalid_value" in result.stderr
    assert "SECRET" not in result.stderr and "agent.sing" not in result.stderr
    assert "replayed 2 events, 3 bad lines, 1 duplicates" in result.stderr
    values = samples(result.stdout)
    assert values[("ccpulse_agent_state", frozenset(
        {"agent": "a1", "team": "t1", "state": "idle"}.items()))] == 1


def test_replay_of_a_missing_file_fails_with_a_message(tmp_path: Path) -> None:
    result = ccpulse("replay", str(tmp_path / "nope.jsonl"), check=False)
    assert result.returncode != 0
    assert "cannot read" in result.stderr


def test_replay_alerts_out_writes_contract_alert_objects(day: Path, tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    ccpulse("replay", str(day), "--alerts-out", str(out))
    alerts = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert alerts, "the simulated day's scenarios should raise alerts"
    for alert in alerts:
        assert alert["status"] in ("firing", "resolved")
        assert {"alertname", "severity", "audience"} <= alert["labels"].keys()
        assert {"summary", "description", "runbook_url"} <= alert["annotations"].keys()
        assert ("endsAt" in alert) == (alert["status"] == "resolved")
        assert alert["startsAt"].endswith("Z") and alert["generatorURL"]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_demo_serves_metrics_and_health_and_stops_on_ctrl_c() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [*CCPULSE, "demo", "--no-live", "--warmup", "30", "--agents", "45",
         "--metrics-port", str(port), "--metrics-host", "127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 60
        status = 0
        while time.time() < deadline:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
                if status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        assert status == 200 and body.strip() == "ok"
        time.sleep(2)
        status, text = _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        values = samples(text)
        names = {name for name, _ in values}
        assert "ccpulse_team_occupancy_ratio" in names
        assert "ccpulse_queue_service_level_ratio" in names
        processed = sum(v for (n, _), v in values.items() if n == "ccpulse_events_processed_total")
        assert processed > 300  # 30 min of warm-up history for 45 agents is ~700 events
        assert _get(f"http://127.0.0.1:{port}/nope")[0] == 404
        assert_states_read_at_request(lambda path: _get(f"http://127.0.0.1:{port}{path}"), text)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0
        assert "stopped:" in output
        assert "Traceback" not in output
    finally:
        if proc.poll() is None:
            proc.kill()


def test_replay_with_an_early_now_keeps_the_history_its_windows_need(tmp_path: Path) -> None:
    """Events after --now (+5 min) are refused as future, so nothing later can expire what
    the windows at --now still need: the numbers equal those of the file cut at --now."""
    day = tmp_path / "long.jsonl"
    ccpulse("simulate", "--out", str(day), "--agents", "20", "--hours", "20", "--seed", "3",
            "--no-scenarios")
    now = "2026-11-23T17:00:00Z"  # 11 h before the file ends
    whole = samples(ccpulse("replay", str(day), "--metrics-out", "-", "--now", now).stdout)
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"\n".join(line for line in day.read_bytes().splitlines()
                               if orjson.loads(line)["ts"] <= now) + b"\n")
    only_until_now = samples(ccpulse("replay", str(cut), "--metrics-out", "-",
                                     "--now", now).stdout)
    key = ("ccpulse_team_logged_in_seconds", frozenset({"team": "team-001",
                                                         "window": "8h"}.items()))
    assert whole[key] == only_until_now[key] > 0
