"""deploy/ and docker-compose.yml: checked by the real tools, and against the repository.

No Docker engine here, so ``docker compose config`` cannot run; the compose file is checked
for what would break ``docker compose up`` on a user's machine: build contexts, bind-mounted
files, variables without a value in .env.example, dependencies, volumes, ports.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml

from ccpulse.alerts.rules import Thresholds
from ccpulse.dashboards import all_dashboards
from ccpulse.history_dashboards import history_dashboards
from tests.servers import ROOT, require

DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_promtool_checks_the_config_and_rules_and_runs_the_rule_tests() -> None:
    promtool = require("promtool", "prometheus")
    config = DEPLOY / "prometheus" / "prometheus.yml"
    assert "SUCCESS" in run(promtool, "check", "config", str(config))
    rules = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
    assert len(rules) >= 2
    run(promtool, "check", "rules", *map(str, rules))
    for test in sorted((DEPLOY / "prometheus" / "tests").glob("*.yml")):
        assert "SUCCESS" in run(promtool, "test", "rules", str(test))


@pytest.mark.parametrize(("audience", "receivers"), [
    ("supervisor", "supervisor"),
    ("wfm", "wfm"),
    ("operations", "operations"),
    ("supervisor,wfm", "supervisor,wfm"),  # TeamOccupancyHigh reaches both
    ("operations,wfm", "wfm,operations"),
    ("", "operations"),  # no audience: the floor's operations get it
])
def test_alertmanager_config_routes_by_audience(audience: str, receivers: str) -> None:
    amtool = require("amtool", "prometheus-alertmanager")
    config = str(DEPLOY / "alertmanager" / "alertmanager.yml")
    run(amtool, "check-config", config)
    out = run(amtool, "config", "routes", "test", f"--config.file={config}",
              f"audience={audience}", "alertname=X")
    assert out.splitlines()[0].strip() == receivers


def test_committed_dashboards_are_the_generated_ones() -> None:
    """Edit ccpulse/dashboards.py and run `ccpulse dashboards`; never the JSON by hand."""
    boards = all_dashboards(Thresholds()) | history_dashboards(Thresholds())
    for name, board in boards.items():
        committed = orjson.loads((DEPLOY / "grafana" / "dashboards" / f"{name}.json").read_bytes())
        assert committed == orjson.loads(orjson.dumps(board)), f"run `ccpulse dashboards` ({name})"


def test_dashboards_are_well_formed_for_grafana() -> None:
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    uids = set()
    for board in all_dashboards(Thresholds()).values():
        uids.add(board["uid"])
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids))
        names = {v["name"] for v in board["templating"]["list"]}
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, panel["title"]
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == uid
            assert panel["description"], f"{panel['title']}: say what it shows and how to read it"
            for target in panel["targets"]:
                used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval"}
                assert used <= names, (panel["title"], used - names)
            steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
            edges = [s["value"] for s in steps[1:]]
            assert edges == sorted(edges), panel["title"]
    assert len(uids) == 4


def test_history_dashboards_are_well_formed_for_grafana() -> None:
    """The leader and intraday boards read the provisioned PostgreSQL data source and use
    only their own variables and Grafana's range (their SQL runs in
    test_history_postgres.py against a real server)."""
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "history.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    for board in history_dashboards(Thresholds()).values():
        names = {v["name"] for v in board["templating"]["list"]} | {"__from", "__to"}
        panels = [p for p in board["panels"] if p["type"] != "row"]
        assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
        for panel in panels:
            assert panel["datasource"]["uid"] == uid and panel["description"], panel["title"]
            for target in panel["targets"]:
                used = set(re.findall(r"\$(\w+)", target["rawSql"]))
                assert used <= names, (panel["title"], used - names)


def test_occupancy_bands_follow_the_configured_thresholds() -> None:
    board = all_dashboards(Thresholds(occupancy_high=0.9, overstaffed_below=0.5))["wfm"]
    panel = next(p for p in board["panels"] if p["title"].startswith("Occupancy vs"))
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(s["color"], s["value"]) for s in steps] == [
        ("orange", None), ("yellow", 0.5), ("green", 0.75), ("red", 0.9)]


def _bind_mounts() -> list[tuple[str, str]]:
    out = []
    for name, service in COMPOSE["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                out.append((name, source))
    return out


def test_compose_services_build_and_mount_what_the_repository_has() -> None:
    services = COMPOSE["services"]
    assert {"kafka", "redis", "worker", "simulator", "prometheus", "alertmanager",
            "grafana"} <= set(services)
    for name, service in services.items():
        assert ("image" in service) != ("build" in service), name
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").exists(), name
        else:
            assert not service["image"].endswith(":latest") and ":" in service["image"], name
        for dependency in service.get("depends_on", []):
            assert dependency in services, (name, dependency)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in COMPOSE["volumes"], (name, source)
    for name, source in _bind_mounts():
        assert (ROOT / source).exists(), (name, source)
    published = [p.split(":")[0] for s in services.values() for p in s.get("ports", [])]
    assert len(published) == len(set(published))


def test_compose_mounts_put_the_configs_where_the_servers_read_them() -> None:
    services = COMPOSE["services"]
    prometheus = " ".join(services["prometheus"]["command"])
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    assert "./deploy/alertmanager:/etc/alertmanager:ro" in services["alertmanager"]["volumes"]
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "ccpulse.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in services["grafana"]["volumes"]
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    scrape = config["scrape_configs"][0]["dns_sd_configs"][0]
    assert scrape["names"] == ["worker"] and scrape["port"] == 9464
    am = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert am == ["alertmanager:9093"]
    assert services["worker"]["environment"]["CCPULSE_ALERTMANAGER_URL"] == (
        "http://alertmanager:9093")


def test_compose_secrets_come_from_the_env_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    example = dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    used = set(re.findall(r"\$\{(\w+)", text))
    assert used == set(example), "every variable the compose file uses is in .env.example"
    assert "PASSWORD" in " ".join(used)
    for variable in used:
        assert "change-me" in example[variable]
    assert (ROOT / ".gitignore").read_text().count(".env") >= 1


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
            for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_image_runs_the_worker_as_a_non_root_user_with_a_data_directory_it_owns() -> None:
    """No Docker engine here: the Dockerfile is read the way the builder would (issue 17)."""
    steps = dockerfile_instructions()
    users = [args for op, args in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    user = users[-1]
    user_at = max(i for i, (op, _) in enumerate(steps) if op == "USER")
    envs = dict(re.findall(r"(\w+)=(\S+)", " ".join(a for op, a in steps if op == "ENV")))
    data_dir = envs.get("CCPULSE_DATA_DIR")
    assert data_dir, "the image sets CCPULSE_DATA_DIR to the directory the worker writes"
    made = [args for op, args in steps[:user_at] if op == "RUN" and data_dir in args]
    assert made, f"no RUN before USER creates {data_dir}"
    owned = re.search(rf"install\s+-d\s+(?:-\S+\s+\S+\s+)*?-o\s+{user}\b[^&]*{data_dir}",
                      made[0]) or re.search(rf"chown\s+(-R\s+)?{user}\S*\s+{data_dir}", made[0])
    assert owned, f"{data_dir} is not made owned by {user}"
    assert re.search(rf"useradd\b[^&]*\b{user}\b", " ".join(a for op, a in steps if op == "RUN"))
    cmd = [args for op, args in steps if op == "CMD"][-1]
    assert "worker" in cmd


def test_dashboards_follow_the_configured_scorecard_bands_and_weights(tmp_path: Path) -> None:
    """Issue 18: `[scorecard]` bands and weights reach the generated dashboards."""
    config = tmp_path / "c.toml"
    config.write_text("[scorecard]\nweights = { efficiency = 50, quality = 30, empathy = 20 }\n"
                      "[scorecard.bands.csat]\ngreen_min = 4.4\nyellow_min = 4.1\n")
    out = tmp_path / "dashboards"
    run(sys.executable, "-m", "ccpulse", "dashboards", "--config", str(config), "--out", str(out))
    board = orjson.loads((out / "supervisor.json").read_bytes())
    panels = [p for p in board["panels"] if p.get("title") == "Empathy · CSAT 8h"]
    steps = panels[0]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(s["color"], s["value"]) for s in steps] == [
        ("red", None), ("yellow", 4.1), ("green", 4.4)]
    score = next(p for p in board["panels"] if p.get("title") == "Scorecard (shift)")
    assert "efficiency 50, quality 30, empathy 20" in score["description"]
