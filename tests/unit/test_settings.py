"""Flag > environment > config file > default; strict config files; secrets masked."""

from __future__ import annotations

import ast
import tempfile
from pathlib import Path

import pytest

from ccpulse.cli import build_parser
from ccpulse.processors.config import EngineConfig
from ccpulse.settings import (
    OPTIONS,
    ConfigError,
    kafka_python_security,
    load_settings,
    mask_url,
)


def test_defaults() -> None:
    s = load_settings({}, {})
    assert (s.metrics_port, s.kafka, s.redis, s.alertmanager) == (
        9464, "localhost:9092", "redis://localhost:6379/0", None)
    assert s.engine.service_level_threshold_ms == 20_000
    assert s.thresholds.occupancy_high == 0.85


def test_precedence_flag_env_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('metrics_port = 7000\nkafka = "file:9092"\n')
    env = {"CCPULSE_CONFIG": str(config), "CCPULSE_METRICS_PORT": "8000"}
    assert load_settings({}, env).metrics_port == 8000
    assert load_settings({}, env).kafka == "file:9092"
    assert load_settings({"metrics_port": 9000}, env).metrics_port == 9000
    assert load_settings({}, {"CCPULSE_CONFIG": str(config)}).metrics_port == 7000


def test_data_dir_and_readiness_bound_follow_the_same_order(tmp_path: Path) -> None:
    assert load_settings({}, {}).data_dir == Path(tempfile.gettempdir()) / "ccpulse"
    assert load_settings({}, {}).ready_max_lag == 1000
    config = tmp_path / "c.toml"
    config.write_text('data_dir = "/from/file"\nready_max_lag = 10\n')
    env = {"CCPULSE_CONFIG": str(config)}
    assert load_settings({}, env).data_dir == Path("/from/file")
    assert load_settings({}, env).ready_max_lag == 10
    env |= {"CCPULSE_DATA_DIR": "/from/env", "CCPULSE_READY_MAX_LAG": "20"}
    assert (load_settings({}, env).data_dir, load_settings({}, env).ready_max_lag) == (
        Path("/from/env"), 20)
    flags = {"data_dir": "/from/flag", "ready_max_lag": 30}
    assert (load_settings(flags, env).data_dir, load_settings(flags, env).ready_max_lag) == (
        Path("/from/flag"), 30)
    args = build_parser().parse_args(["worker", "--data-dir", "/d", "--ready-max-lag", "5"])
    assert (args.data_dir, args.ready_max_lag) == ("/d", 5)
    for bad in ("-1", "lots"):
        with pytest.raises(ConfigError, match="CCPULSE_READY_MAX_LAG"):
            load_settings({}, {"CCPULSE_READY_MAX_LAG": bad})


def test_config_file_sets_engine_alerts_and_queues(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "engine:\n  service_level_threshold_seconds: 30\n  productive_reasons: [lunch]\n"
        "  capacity: {chat: 2}\n"
        "alerts:\n  occupancy_high: 0.9\n  understaffed_gap: 1.5\n"
        "staffing:\n  occupancy_cap: 0.8\n"
        "queues:\n  q-email:\n    service_level_threshold_seconds: 3600\n"
        "    service_level_target: 0.95\n")
    s = load_settings({"config": str(config)}, {})
    assert s.engine.service_level_threshold_ms == 30_000
    assert s.engine.sl_threshold_ms("q-email") == 3_600_000
    assert s.engine.productive_reasons == frozenset({"lunch"})
    assert s.engine.capacity["chat"] == 2 and s.engine.capacity["voice"] == 1
    assert s.thresholds.occupancy_high == 0.9
    assert s.thresholds.sl_target("q-email") == 0.95
    assert s.thresholds.understaffed_gap == 1.5
    # the staffing plan aims at the same service-level targets as the alert
    assert s.engine.staffing.sl_target("q-email") == 0.95
    assert s.engine.staffing.sl_target("other") == 0.80
    assert s.engine.staffing.occupancy_cap == 0.8


@pytest.mark.parametrize(("text", "names"), [
    ("[engine]\nshort_abandon_secs = 5\n", "short_abandon_secs"),
    ("[alerts]\noccupancy_hgh = 0.9\n", "alerts.occupancy_hgh"),
    ("[alerts]\noccupancy_high = 'high'\n", "alerts"),
    ("[queues.q1]\nservice_level_target = 2\n", "service_level_target"),
    ("metrics_port = 'x'\n", "metrics_port"),
    ("[staffing]\noccupancy_cap = 1.2\n", "occupancy_cap"),
    ("[staffing]\noccupancy_ceiling = 0.8\n", "occupancy_ceiling"),
    ("not toml at all [", "not valid"),
    # issue 20's settings: state limits, schedule alerts, the literal switch
    ("[alerts]\nacw_limit_secs = 300\n", "alerts.acw_limit_secs"),
    ("[alerts]\nnot_ready_reason_limits_s = 15\n", "alerts"),
    ("[alerts]\nliteral_v1_rules = 'yes please'\n", "alerts"),
    ("[engine]\nstate_reasons = 'huddle'\n", "state_reasons"),
    ("[metrics]\nagent_series = ['ocupancy']\n", "agent_series"),
    ("schedule_topic = 3\nkafka = []\n", "kafka"),
])
def test_bad_config_names_the_key(tmp_path: Path, text: str, names: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=r"c\.toml") as error:
        load_settings({"config": str(config)}, {})
    assert names in str(error.value)


def test_missing_config_file_and_bad_port_are_clear() -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings({"config": "/nonexistent/ccpulse.toml"}, {})
    with pytest.raises(ConfigError, match="CCPULSE_METRICS_PORT"):
        load_settings({}, {"CCPULSE_METRICS_PORT": "ninety"})


def test_secrets_are_masked_when_described() -> None:
    s = load_settings({"redis": "redis://user:hunter2@cache:6380/1"}, {})
    assert "hunter2" not in str(s.describe())
    assert mask_url("rediss://:p%40ss@h:1/0") == "rediss://:***@h:1/0"
    assert mask_url("redis://localhost:6379/0") == "redis://localhost:6379/0"


def test_kafka_security_mapping_and_secret_masking() -> None:
    env = {"CCPULSE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "CCPULSE_KAFKA_USERNAME": "svc",
           "CCPULSE_KAFKA_PASSWORD": "s3cret!", "CCPULSE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
           "CCPULSE_KAFKA_CA_FILE": "/etc/ca.pem"}
    s = load_settings({}, env)
    assert kafka_python_security(s) == {
        "security_protocol": "SASL_SSL", "ssl_cafile": "/etc/ca.pem",
        "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "svc",
        "sasl_plain_password": "s3cret!"}
    assert "s3cret" not in str(s.describe()) and "s3cret" not in repr(s)
    assert kafka_python_security(load_settings({}, {})) == {}
    with pytest.raises(ConfigError, match="CCPULSE_KAFKA_PASSWORD"):
        kafka_python_security(load_settings({}, {"CCPULSE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}))
    with pytest.raises(ConfigError, match="not one of"):
        kafka_python_security(load_settings({}, {"CCPULSE_KAFKA_SECURITY_PROTOCOL": "TLS"}))


def test_help_output_offers_no_secret_flags() -> None:
    for command in ("worker", "demo", "replay", "simulate"):
        text = build_parser()._subparsers._group_actions[0].choices[command].format_help()
        assert "password" not in text.lower() or "in the URL" in text


def test_per_team_alert_thresholds_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[teams."team-7"]\noccupancy_high = 0.9\n')
    s = load_settings({"config": str(config)}, {})
    assert s.thresholds.for_team("team-7").occupancy_high == 0.9
    assert s.thresholds.for_team("team-1").occupancy_high == 0.85
    config.write_text('[teams."team-7"]\noccupancy_hihg = 0.9\n')
    with pytest.raises(ConfigError, match=r'teams\."team-7"\.occupancy_hihg'):
        load_settings({"config": str(config)}, {})


def test_every_option_has_one_path_flag_variable_file_default(tmp_path: Path) -> None:
    """Issue 18: each option resolves the same way; the worker's flags are the table's."""
    worker = build_parser()._subparsers._group_actions[0].choices["worker"]
    flags = {action.dest for action in worker._actions}
    for option in OPTIONS:
        assert option.variable == "CCPULSE_" + option.variable.removeprefix("CCPULSE_")
        if option.flag:
            assert option.name in flags, option.flag
    assert "password" not in " ".join(str(o.flag) for o in OPTIONS)  # secrets: no flag
    config = tmp_path / "c.toml"
    config.write_text('instance_id = "from-file"\nlog_format = "json"\nbatch_size = 50\n')
    s = load_settings({}, {"CCPULSE_CONFIG": str(config)})
    assert (s.instance_id, s.log_format, s.batch_size) == ("from-file", "json", 50)
    s = load_settings({"instance_id": "flag"}, {"CCPULSE_CONFIG": str(config),
                                                "CCPULSE_INSTANCE_ID": "env"})
    assert s.instance_id == "flag"
    assert load_settings({}, {"CCPULSE_INSTANCE_ID": "env"}).instance_id == "env"
    assert load_settings({}, {}).instance_id is None
    # how late an alert evaluation may run before older instants are skipped; 0: never
    assert load_settings({}, {}).alerts_max_late_s == 120
    assert load_settings({}, {"CCPULSE_ALERTS_MAX_LATE_S": "0"}).alerts_max_late_s == 0
    with pytest.raises(ConfigError, match="CCPULSE_ALERTS_MAX_LATE_S"):
        load_settings({}, {"CCPULSE_ALERTS_MAX_LATE_S": "-1"})


def test_state_reasons_are_configured_in_the_engine_table(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[engine]\nstate_reasons = ['huddle', 'break']\n")
    engine = load_settings({"config": str(config)}, {}).engine
    assert engine.state_reasons == {"huddle", "break"}
    assert engine.reason_label("huddle") == "huddle" and engine.reason_label("nap") == "other"


def test_engine_defaults_are_written_once() -> None:
    """A config file that leaves the engine and staffing tables out changes nothing."""
    assert load_settings({}, {}).engine == EngineConfig()


def test_only_the_settings_module_reads_the_environment() -> None:
    """Flags, environment, file and default go through load_settings; nothing else in the
    product reads CCPULSE_* variables itself (the worker read CCPULSE_INSTANCE_ID, the CLI
    two more, each in its own way)."""
    root = Path(__file__).resolve().parents[2]
    readers = []
    for package in ("ccpulse", "streams", "alerts", "processors"):
        for path in (root / package).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                    readers.append(path.name)
    assert set(readers) == {"settings.py"}


def test_the_per_agent_budget_is_configured_in_the_metrics_table(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[metrics]\nagent_series = ["occupancy:15m", "csat"]\n'
                      "agent_channels = true\nrender_ahead = false\n"
                      "states_at_scrape = false\n")
    metrics = load_settings({"config": str(config)}, {}).metrics
    assert metrics.agent_series["15m"] == {"occupancy", "csat"}
    assert metrics.agent_series["1h"] == {"csat"} and metrics.agent_channels
    assert not metrics.render_ahead and load_settings({}, {}).metrics.render_ahead
    assert not metrics.states_at_scrape and load_settings({}, {}).metrics.states_at_scrape
    assert load_settings({}, {}).metrics.series_per_agent() <= 16
    config.write_text('[metrics]\nagent_series = ["ocupancy"]\n')
    with pytest.raises(ConfigError, match=r"metrics\.agent_series.*ocupancy"):
        load_settings({"config": str(config)}, {})
