"""One settings object: flag, then ``CCPULSE_*`` variable, then config file, then default.

The config file (TOML or YAML, ``--config`` / ``CCPULSE_CONFIG``) is validated strictly: an
unknown or mistyped key is an error that names the key, because a silently ignored threshold
is worse than a refused start. Secrets in URLs are masked whenever settings are shown.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
import yaml

from alerts.rules import Thresholds
from ccpulse.scorecard_config import ScorecardFile, scorecards
from processors.config import (
    DEFAULT_CAPACITY,
    DEFAULT_PRODUCTIVE_REASONS,
    EngineConfig,
    StaffingConfig,
)
from processors.scorecard import Scorecards
from streams.pipeline import AGENT_TOPIC, ALERTS_TOPIC, DEADLETTER_TOPIC, INTERACTION_TOPIC

Seconds = Annotated[float, msgspec.Meta(ge=0)]


class ConfigError(Exception):
    """A setting is wrong; the message says which one and what to do."""


class _QueueFile(msgspec.Struct, forbid_unknown_fields=True):
    service_level_threshold_seconds: Seconds | None = None
    service_level_target: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None


class _EngineFile(msgspec.Struct, forbid_unknown_fields=True):
    service_level_threshold_seconds: Seconds = 20
    short_abandon_seconds: Seconds = 5
    lateness_seconds: Seconds = 600
    productive_reasons: list[str] = msgspec.field(
        default_factory=lambda: sorted(DEFAULT_PRODUCTIVE_REASONS))
    capacity: dict[str, Annotated[int, msgspec.Meta(ge=1, le=100)]] = msgspec.field(
        default_factory=dict)
    max_agents: Annotated[int, msgspec.Meta(ge=1)] = 100_000
    max_teams: Annotated[int, msgspec.Meta(ge=1)] = 10_000
    max_queues: Annotated[int, msgspec.Meta(ge=1)] = 10_000


Share = Annotated[float, msgspec.Meta(ge=0, le=1)]


class _StaffingFile(msgspec.Struct, forbid_unknown_fields=True):
    occupancy_cap: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.85
    level_smoothing: Share = 0.3
    trend_smoothing: Share = 0.1
    trend_damping: Share = 0.9


class _File(msgspec.Struct, forbid_unknown_fields=True):
    kafka: str | None = None
    group: str | None = None
    agent_topic: str | None = None
    interaction_topic: str | None = None
    deadletter_topic: str | None = None
    alerts_topic: str | None = None
    kafka_security_protocol: str | None = None
    kafka_sasl_mechanism: str | None = None
    kafka_username: str | None = None
    kafka_password: str | None = None
    kafka_ca_file: str | None = None
    redis: str | None = None
    metrics_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] | None = None
    metrics_host: str | None = None
    metrics_user: str | None = None
    metrics_password: str | None = None
    alertmanager: str | None = None
    data_dir: str | None = None
    ready_max_lag: Annotated[int, msgspec.Meta(ge=0)] | None = None
    engine: _EngineFile = msgspec.field(default_factory=_EngineFile)
    staffing: _StaffingFile = msgspec.field(default_factory=_StaffingFile)
    scorecard: ScorecardFile = msgspec.field(default_factory=ScorecardFile)
    alerts: dict[str, float | int | bool | str] = msgspec.field(default_factory=dict)
    teams: dict[str, dict[str, float | int | bool]] = msgspec.field(default_factory=dict)
    queues: dict[str, _QueueFile] = msgspec.field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    kafka: str = "localhost:9092"
    group: str = "ccpulse"
    agent_topic: str = AGENT_TOPIC
    interaction_topic: str = INTERACTION_TOPIC
    deadletter_topic: str = DEADLETTER_TOPIC
    alerts_topic: str = ALERTS_TOPIC
    # PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; SASL mechanism PLAIN or SCRAM-SHA-256/512
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_username: str | None = None
    kafka_password: str | None = field(default=None, repr=False)  # secret: never shown
    kafka_ca_file: str | None = None
    redis: str = "redis://localhost:6379/0"
    metrics_port: int = 9464
    metrics_host: str = "0.0.0.0"
    # optional HTTP basic auth on /metrics; the password never appears in logs or reprs
    metrics_user: str | None = None
    metrics_password: str | None = field(default=None, repr=False)
    alertmanager: str | None = None
    # Scratch space the worker's Kafka library insists on (nothing in it is kept: the state
    # is in Redis). Under the system's temporary directory unless set; created if missing.
    data_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "ccpulse")
    # /readyz says "ready" once the consumer has at most this many messages left to read.
    ready_max_lag: int = 1000
    config_path: Path | None = None
    engine: EngineConfig = field(default_factory=EngineConfig)
    thresholds: Thresholds = field(default_factory=Thresholds)
    scorecards: Scorecards = field(default_factory=Scorecards)

    @property
    def metrics_credentials(self) -> tuple[str, str] | None:
        if self.metrics_user is None or self.metrics_password is None:
            return None
        return self.metrics_user, self.metrics_password

    def describe(self) -> dict[str, object]:
        """Settings as safe to log: passwords in URLs are masked."""
        return {
            "kafka": self.kafka,
            "kafka_security_protocol": self.kafka_security_protocol,
            "kafka_username": self.kafka_username,
            "kafka_password": "***" if self.kafka_password else None,
            "group": self.group,
            "topics": [self.agent_topic, self.interaction_topic, self.deadletter_topic,
                       self.alerts_topic],
            "redis": mask_url(self.redis),
            "metrics_port": self.metrics_port,
            "metrics_auth": "basic" if self.metrics_credentials else None,
            "alertmanager": mask_url(self.alertmanager) if self.alertmanager else None,
            "config": str(self.config_path) if self.config_path else None,
            "data_dir": str(self.data_dir),
            "ready_max_lag": self.ready_max_lag,
        }


def mask_url(url: str) -> str:
    """``redis://:secret@host`` → ``redis://:***@host``; URLs without a password unchanged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


def kafka_python_security(settings: Settings) -> dict[str, Any]:
    """kafka-python keyword arguments for the configured security (empty for PLAINTEXT)."""
    protocol = settings.kafka_security_protocol
    if protocol not in SECURITY_PROTOCOLS:
        raise ConfigError(f"kafka security protocol {protocol!r} is not one of "
                          f"{', '.join(SECURITY_PROTOCOLS)} (CCPULSE_KAFKA_SECURITY_PROTOCOL)")
    if protocol == "PLAINTEXT":
        return {}
    out: dict[str, Any] = {"security_protocol": protocol}
    if settings.kafka_ca_file:
        out["ssl_cafile"] = settings.kafka_ca_file
    if protocol.startswith("SASL"):
        if not (settings.kafka_username and settings.kafka_password):
            raise ConfigError("SASL needs CCPULSE_KAFKA_USERNAME and CCPULSE_KAFKA_PASSWORD")
        out |= {"sasl_mechanism": settings.kafka_sasl_mechanism or "PLAIN",
                "sasl_plain_username": settings.kafka_username,
                "sasl_plain_password": settings.kafka_password}
    return out


def _read_file(path: Path) -> _File:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        raw: Any = (yaml.safe_load(text) if path.suffix in (".yaml", ".yml")
                    else tomllib.loads(text.decode()))
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML/YAML: {exc}") from exc
    try:
        return msgspec.convert(raw or {}, _File)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"config file {path}: {exc}") from exc


def _engine_config(file: _File, thresholds: Thresholds) -> EngineConfig:
    eng = file.engine
    return EngineConfig(
        capacity={**DEFAULT_CAPACITY, **eng.capacity},
        productive_reasons=frozenset(eng.productive_reasons),
        service_level_threshold_ms=round(eng.service_level_threshold_seconds * 1000),
        queue_service_level_threshold_ms={
            queue: round(q.service_level_threshold_seconds * 1000)
            for queue, q in file.queues.items()
            if q.service_level_threshold_seconds is not None
        },
        short_abandon_ms=round(eng.short_abandon_seconds * 1000),
        lateness_ms=round(eng.lateness_seconds * 1000),
        max_agents=eng.max_agents,
        max_teams=eng.max_teams,
        max_queues=eng.max_queues,
        staffing=StaffingConfig(
            # One service-level target per queue for both the alert and the staffing plan.
            service_level_target=thresholds.service_level_target,
            queue_service_level_target=thresholds.queue_service_level_target,
            **msgspec.structs.asdict(file.staffing),
        ),
    )


def _thresholds(file: _File, path: Path | None) -> Thresholds:
    """The ``[alerts]`` table overrides :class:`Thresholds` fields by name."""
    known = {f.name for f in fields(Thresholds)} - {"queue_service_level_target", "teams"}
    tables = [("alerts", file.alerts)] + [(f'teams."{team}"', overrides)
                                          for team, overrides in file.teams.items()]
    for table, values in tables:
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"config file {path}: unknown key `{table}.{unknown[0]}` "
                              f"(known: {', '.join(sorted(known))})")
    targets = {q: spec.service_level_target for q, spec in file.queues.items()
               if spec.service_level_target is not None}
    try:
        for overrides in file.teams.values():  # each team's table must be valid alone
            msgspec.convert({**file.alerts, **overrides}, Thresholds, strict=False)
        return msgspec.convert({**file.alerts, "queue_service_level_target": targets,
                                "teams": file.teams}, Thresholds, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"config file {path}: {exc} (in the alerts table)") from exc


def load_settings(flags: Mapping[str, object] | None = None,
                  env: Mapping[str, str] | None = None) -> Settings:
    """Resolve settings. ``flags`` holds only the flags the user gave (None = not given)."""
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    env = os.environ if env is None else env
    config = flags.get("config") or env.get("CCPULSE_CONFIG")
    config_path = Path(str(config)) if config else None
    file = _read_file(config_path) if config_path else _File()
    defaults = Settings()

    def pick(name: str, variable: str, default: object) -> object:
        if name in flags:
            return flags[name]
        if variable in env:
            return env[variable]
        from_file = getattr(file, name)
        return default if from_file is None else from_file

    port = pick("metrics_port", "CCPULSE_METRICS_PORT", defaults.metrics_port)
    try:
        metrics_port = int(str(port))
    except ValueError as exc:
        raise ConfigError(f"metrics port must be a number, got {port!r} "
                          "(--metrics-port or CCPULSE_METRICS_PORT)") from exc
    lag = pick("ready_max_lag", "CCPULSE_READY_MAX_LAG", defaults.ready_max_lag)
    try:
        ready_max_lag = int(str(lag))
        if ready_max_lag < 0:
            raise ValueError(lag)
    except ValueError as exc:
        raise ConfigError(f"ready max lag must be a whole number of messages, got {lag!r} "
                          "(--ready-max-lag or CCPULSE_READY_MAX_LAG)") from exc
    metrics_user = pick("metrics_user", "CCPULSE_METRICS_USER", None)
    metrics_password = pick("metrics_password", "CCPULSE_METRICS_PASSWORD", None)
    if (metrics_user is None) != (metrics_password is None):
        raise ConfigError("basic auth on /metrics needs both CCPULSE_METRICS_USER and "
                          "CCPULSE_METRICS_PASSWORD (or neither)")
    thresholds = _thresholds(file, config_path)
    try:
        cards = scorecards(file.scorecard)
    except ValueError as exc:
        raise ConfigError(f"config file {config_path}: {exc}") from exc
    return Settings(
        kafka=str(pick("kafka", "CCPULSE_KAFKA_BOOTSTRAP", defaults.kafka)),
        group=str(pick("group", "CCPULSE_GROUP", defaults.group)),
        agent_topic=str(pick("agent_topic", "CCPULSE_AGENT_TOPIC", defaults.agent_topic)),
        interaction_topic=str(pick("interaction_topic", "CCPULSE_INTERACTION_TOPIC",
                                   defaults.interaction_topic)),
        deadletter_topic=str(pick("deadletter_topic", "CCPULSE_DEADLETTER_TOPIC",
                                  defaults.deadletter_topic)),
        alerts_topic=str(pick("alerts_topic", "CCPULSE_ALERTS_TOPIC", defaults.alerts_topic)),
        kafka_security_protocol=str(pick("kafka_security_protocol",
                                         "CCPULSE_KAFKA_SECURITY_PROTOCOL",
                                         defaults.kafka_security_protocol)).upper(),
        kafka_sasl_mechanism=pick("kafka_sasl_mechanism", "CCPULSE_KAFKA_SASL_MECHANISM",
                                  None),  # type: ignore[arg-type]
        kafka_username=pick("kafka_username", "CCPULSE_KAFKA_USERNAME", None),  # type: ignore[arg-type]
        kafka_password=pick("kafka_password", "CCPULSE_KAFKA_PASSWORD", None),  # type: ignore[arg-type]
        kafka_ca_file=pick("kafka_ca_file", "CCPULSE_KAFKA_CA_FILE", None),  # type: ignore[arg-type]
        redis=str(pick("redis", "CCPULSE_REDIS_URL", defaults.redis)),
        metrics_port=metrics_port,
        metrics_host=str(pick("metrics_host", "CCPULSE_METRICS_HOST", defaults.metrics_host)),
        metrics_user=metrics_user,
        metrics_password=metrics_password,
        alertmanager=pick("alertmanager", "CCPULSE_ALERTMANAGER_URL", None),  # type: ignore[arg-type]
        data_dir=Path(str(pick("data_dir", "CCPULSE_DATA_DIR", defaults.data_dir))),
        ready_max_lag=ready_max_lag,
        config_path=config_path,
        engine=_engine_config(file, thresholds),
        thresholds=thresholds,
        scorecards=cards,
    )
