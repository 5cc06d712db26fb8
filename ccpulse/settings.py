"""One settings object: flag, then ``CCPULSE_*`` variable, then config file, then default.

``OPTIONS`` is the one table of the top-level settings: each row names the setting (its
``Settings`` field and its config-file key), its variable, its flag and how a value is read.
Defaults are written once, on :class:`Settings` (and on the engine's, staffing's and alert
rules' own dataclasses for their tables); the config file's schema follows from the table.

The config file (TOML or YAML, ``--config`` / ``CCPULSE_CONFIG``) is validated strictly: an
unknown or mistyped key is an error that names the key, because a silently ignored threshold
is worse than a refused start. Secrets in URLs are masked whenever settings are shown.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
import yaml

from ccpulse.alerts.rules import Thresholds
from ccpulse.exporter import MetricsConfig
from ccpulse.processors.catalogue import agent_series
from ccpulse.processors.config import DEFAULT_CAPACITY, EngineConfig, StaffingConfig
from ccpulse.processors.scorecard import Scorecards
from ccpulse.scorecard_config import ScorecardFile, scorecards
from ccpulse.streams.pipeline import (
    AGENT_TOPIC,
    ALERTS_TOPIC,
    DEADLETTER_TOPIC,
    INTERACTION_TOPIC,
    SCHEDULE_TOPIC,
)

Seconds = Annotated[float, msgspec.Meta(ge=0)]
Share = Annotated[float, msgspec.Meta(ge=0, le=1)]
LOG_FORMATS = ("text", "json")


class ConfigError(Exception):
    """A setting is wrong; the message says which one and what to do."""


# The [engine] and [staffing] tables: a key left out keeps EngineConfig's / StaffingConfig's
# default (None here means "not given", so no default is written twice).
class _EngineFile(msgspec.Struct, forbid_unknown_fields=True):
    service_level_threshold_seconds: Seconds | None = None
    short_abandon_seconds: Seconds | None = None
    lateness_seconds: Seconds | None = None
    productive_reasons: list[str] | None = None
    # not_ready reasons labelled as themselves in time in state (beside the productive ones)
    state_reasons: list[str] | None = None
    capacity: dict[str, Annotated[int, msgspec.Meta(ge=1, le=100)]] = msgspec.field(
        default_factory=dict)
    max_agents: Annotated[int, msgspec.Meta(ge=1)] | None = None
    max_teams: Annotated[int, msgspec.Meta(ge=1)] | None = None
    max_queues: Annotated[int, msgspec.Meta(ge=1)] | None = None


class _StaffingFile(msgspec.Struct, forbid_unknown_fields=True):
    occupancy_cap: Annotated[float, msgspec.Meta(gt=0, le=1)] | None = None
    level_smoothing: Share | None = None
    trend_smoothing: Share | None = None
    trend_damping: Share | None = None


class _MetricsFile(msgspec.Struct, forbid_unknown_fields=True):
    agent_series: str | list[str] = "default"  # "default", "all" or ["KPI[:WINDOW]", …]
    agent_channels: bool = False
    shard_agents: bool = True
    render_ahead: bool = True
    states_at_scrape: bool = True


class Costs(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[costs]``: what an agent's logged-in hour costs (wage and overhead, one currency),
    with per-team overrides; the leader dashboard's cost per interaction and per resolved
    contact come from it."""

    agent_hour: Annotated[float, msgspec.Meta(ge=0)] = 25.0
    teams: dict[str, Annotated[float, msgspec.Meta(ge=0)]] = msgspec.field(default_factory=dict)


class _QueueFile(msgspec.Struct, forbid_unknown_fields=True):
    service_level_threshold_seconds: Seconds | None = None
    service_level_target: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None


@dataclass(frozen=True)
class Settings:
    kafka: str = "localhost:9092"
    group: str = "ccpulse"
    agent_topic: str = AGENT_TOPIC
    interaction_topic: str = INTERACTION_TOPIC
    schedule_topic: str = SCHEDULE_TOPIC
    deadletter_topic: str = DEADLETTER_TOPIC
    alerts_topic: str = ALERTS_TOPIC
    # PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; SASL mechanism PLAIN or SCRAM-SHA-256/512
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_username: str | None = None
    kafka_password: str | None = field(default=None, repr=False)  # secret: never shown
    kafka_ca_file: str | None = None
    # Kafka static membership: a restarted worker with the same id (e.g. a StatefulSet's pod
    # name) takes its partitions back at once instead of after the dead one's session.
    instance_id: str | None = None
    batch_size: int = 2000  # messages per batch committed to Redis
    redis: str = "redis://localhost:6379/0"
    metrics_port: int = 9464
    metrics_host: str = "0.0.0.0"
    # optional HTTP basic auth on /metrics; the password never appears in logs or reprs
    metrics_user: str | None = None
    metrics_password: str | None = field(default=None, repr=False)
    alertmanager: str | None = None
    # Taking the alert lease, a worker catches up the instants due at most this long ago,
    # one by one (a hand-over's alerts equal an uninterrupted run's); caught up, it skips
    # those it missed while busy, the newest always run. 0: every instant, however late, in
    # order (an overloaded holder falls behind without end). ccpulse.runtime.Monitor.
    alerts_max_late_s: int = 120
    # Scratch space the worker's Kafka library insists on, and where its replica's checkpoint
    # is written (the state is in Redis: the directory may be empty at any start). Under the
    # system's temporary directory unless set; created if missing.
    data_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "ccpulse")
    # How often the replica's engine is saved to data_dir, so that a restarted worker
    # replays the log's tail only (ccpulse.streams.checkpoint); 0: never, replay it all.
    checkpoint_every_s: int = 300
    # /readyz says "ready" once the consumer has at most this many messages left to read.
    ready_max_lag: int = 1000
    log_format: str = "text"  # key=value text, or json for log shippers
    # History store (contract §7.5): sqlite:///PATH or postgresql://…; the URL may hold a
    # password, so it is never shown. None: no intervals are written.
    history: str | None = field(default=None, repr=False)
    history_retention_days: int = 396  # 13 months of intervals, then purged
    history_records_days: int = 90  # interaction records (they name customer pseudonyms)
    # Signs agent links (ccpulse agent-link); never shown. None: agent pages are refused.
    web_secret: str | None = field(default=None, repr=False)
    # The address people open the pages at (agent-link prints links to it)
    web_url: str | None = None
    config_path: Path | None = None
    engine: EngineConfig = field(default_factory=EngineConfig)
    thresholds: Thresholds = field(default_factory=Thresholds)
    scorecards: Scorecards = field(default_factory=Scorecards)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    costs: Costs = field(default_factory=Costs)

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
            "instance_id": self.instance_id,
            "topics": [self.agent_topic, self.interaction_topic, self.schedule_topic,
                       self.deadletter_topic, self.alerts_topic],
            "redis": mask_url(self.redis),
            "metrics_port": self.metrics_port,
            "metrics_auth": "basic" if self.metrics_credentials else None,
            "alertmanager": mask_url(self.alertmanager) if self.alertmanager else None,
            "alerts_max_late_s": self.alerts_max_late_s,
            "config": str(self.config_path) if self.config_path else None,
            "data_dir": str(self.data_dir),
            "ready_max_lag": self.ready_max_lag,
            "checkpoint_every_s": self.checkpoint_every_s,
            "batch_size": self.batch_size,
            "history": mask_url(self.history) if self.history else None,
            "agent_links": "on" if self.web_secret else "off",
        }


def _count(minimum: int) -> Callable[[object], int]:
    def read(value: object) -> int:
        number = int(str(value))
        if number < minimum:
            raise ValueError(f"{number} is below {minimum}")
        return number
    return read


def _port(value: object) -> int:
    number = int(str(value))
    if not 0 <= number <= 65535:
        raise ValueError(f"{number} is not a port")
    return number


def _one_of(*choices: str) -> Callable[[object], str]:
    def read(value: object) -> str:
        text = str(value).lower()
        if text not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return text
    return read


def _upper(value: object) -> str:
    return str(value).upper()


@dataclass(frozen=True)
class Option:
    """A top-level setting: ``name`` is its ``Settings`` field and its config-file key."""

    name: str
    variable: str
    flag: str | None = None  # None: no flag (secrets never get one; topics need none)
    read: Callable[[object], Any] = str  # from a flag, variable or file value; ValueError

    def where(self) -> str:
        """How a user sets it, for error messages."""
        return " or ".join(filter(None, (self.flag, self.variable, f"the config key {self.name}")))


OPTIONS: tuple[Option, ...] = (
    Option("kafka", "CCPULSE_KAFKA_BOOTSTRAP", "--kafka"),
    Option("group", "CCPULSE_GROUP", "--group"),
    Option("agent_topic", "CCPULSE_AGENT_TOPIC"),
    Option("interaction_topic", "CCPULSE_INTERACTION_TOPIC"),
    Option("schedule_topic", "CCPULSE_SCHEDULE_TOPIC"),
    Option("deadletter_topic", "CCPULSE_DEADLETTER_TOPIC"),
    Option("alerts_topic", "CCPULSE_ALERTS_TOPIC"),
    Option("kafka_security_protocol", "CCPULSE_KAFKA_SECURITY_PROTOCOL", read=_upper),
    Option("kafka_sasl_mechanism", "CCPULSE_KAFKA_SASL_MECHANISM"),
    Option("kafka_username", "CCPULSE_KAFKA_USERNAME"),
    Option("kafka_password", "CCPULSE_KAFKA_PASSWORD"),
    Option("kafka_ca_file", "CCPULSE_KAFKA_CA_FILE"),
    Option("instance_id", "CCPULSE_INSTANCE_ID", "--instance-id"),
    Option("batch_size", "CCPULSE_BATCH_SIZE", "--batch-size", _count(1)),
    Option("redis", "CCPULSE_REDIS_URL", "--redis"),
    Option("metrics_port", "CCPULSE_METRICS_PORT", "--metrics-port", _port),
    Option("metrics_host", "CCPULSE_METRICS_HOST", "--metrics-host"),
    Option("metrics_user", "CCPULSE_METRICS_USER"),
    Option("metrics_password", "CCPULSE_METRICS_PASSWORD"),
    Option("alertmanager", "CCPULSE_ALERTMANAGER_URL", "--alertmanager"),
    Option("alerts_max_late_s", "CCPULSE_ALERTS_MAX_LATE_S", read=_count(0)),
    Option("data_dir", "CCPULSE_DATA_DIR", "--data-dir", lambda value: Path(str(value))),
    Option("ready_max_lag", "CCPULSE_READY_MAX_LAG", "--ready-max-lag", _count(0)),
    Option("checkpoint_every_s", "CCPULSE_CHECKPOINT_EVERY_S", read=_count(0)),
    Option("log_format", "CCPULSE_LOG_FORMAT", "--log-format", _one_of(*LOG_FORMATS)),
    Option("history", "CCPULSE_HISTORY_URL", "--history"),
    Option("history_retention_days", "CCPULSE_HISTORY_RETENTION_DAYS", read=_count(1)),
    Option("history_records_days", "CCPULSE_HISTORY_RECORDS_DAYS", read=_count(1)),
    Option("web_secret", "CCPULSE_WEB_SECRET"),
    Option("web_url", "CCPULSE_WEB_URL"),  # agent-link's --web-url overrides it
)
CONFIG = Option("config", "CCPULSE_CONFIG", "--config")

# The config file: a key per option (checked by its option's reader), and the tables.
_File = msgspec.defstruct(
    "_File",
    [(option.name, str | int | None, None) for option in OPTIONS] + [
        ("engine", _EngineFile, msgspec.field(default_factory=_EngineFile)),
        ("staffing", _StaffingFile, msgspec.field(default_factory=_StaffingFile)),
        ("metrics", _MetricsFile, msgspec.field(default_factory=_MetricsFile)),
        ("costs", Costs, msgspec.field(default_factory=Costs)),
        ("scorecard", ScorecardFile, msgspec.field(default_factory=ScorecardFile)),
        ("alerts", dict[str, float | int | bool | str | dict[str, float]],
         msgspec.field(default_factory=dict)),
        ("teams", dict[str, dict[str, float | int | bool]], msgspec.field(default_factory=dict)),
        ("queues", dict[str, _QueueFile], msgspec.field(default_factory=dict)),
    ],
    forbid_unknown_fields=True,
)


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


def _read_file(path: Path) -> Any:
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


def _given(struct: msgspec.Struct) -> dict[str, Any]:
    """The keys of a file table that were set."""
    return {k: v for k, v in msgspec.structs.asdict(struct).items() if v is not None}


def _engine_config(file: Any, thresholds: Thresholds) -> EngineConfig:
    eng = _given(file.engine)
    eng.pop("capacity")  # merged with the defaults below
    ms = {key.removesuffix("_seconds") + "_ms": round(eng.pop(key) * 1000)
          for key in ("service_level_threshold_seconds", "short_abandon_seconds",
                      "lateness_seconds") if key in eng}
    for reasons in ("productive_reasons", "state_reasons"):
        if reasons in eng:
            eng[reasons] = frozenset(eng[reasons])
    return replace(
        EngineConfig(),
        **eng,
        **ms,
        capacity={**DEFAULT_CAPACITY, **file.engine.capacity},
        queue_service_level_threshold_ms={
            queue: round(q.service_level_threshold_seconds * 1000)
            for queue, q in file.queues.items()
            if q.service_level_threshold_seconds is not None
        },
        staffing=replace(
            StaffingConfig(),
            # The configured value reaches both: one service-level target per queue for the
            # alert and the staffing plan.
            service_level_target=thresholds.service_level_target,
            queue_service_level_target=thresholds.queue_service_level_target,
            **_given(file.staffing),
        ),
    )


def _thresholds(file: Any, path: Path | None) -> Thresholds:
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
    config = flags.get(CONFIG.name) or env.get(CONFIG.variable)
    config_path = Path(str(config)) if config else None
    file = _read_file(config_path) if config_path else _File()
    chosen: dict[str, Any] = {}
    for option in OPTIONS:
        if option.name in flags:
            given, source = flags[option.name], option.flag
        elif option.variable in env:
            given, source = env[option.variable], option.variable
        elif getattr(file, option.name) is not None:
            given, source = getattr(file, option.name), f"config file {config_path}"
        else:
            continue  # the default, from Settings
        try:
            chosen[option.name] = option.read(given)
        except ValueError as exc:
            raise ConfigError(f"{option.name.replace('_', ' ')} from {source}: {exc} "
                              f"(set it with {option.where()})") from None
    if ("metrics_user" in chosen) != ("metrics_password" in chosen):
        raise ConfigError("basic auth on /metrics needs both CCPULSE_METRICS_USER and "
                          "CCPULSE_METRICS_PASSWORD (or neither)")
    thresholds = _thresholds(file, config_path)
    try:
        cards = scorecards(file.scorecard)
    except ValueError as exc:
        raise ConfigError(f"config file {config_path}: {exc}") from exc
    try:
        budget = agent_series(file.metrics.agent_series)
    except ValueError as exc:
        raise ConfigError(f"config file {config_path}: `metrics.agent_series`: {exc}") from exc
    return Settings(**chosen, config_path=config_path,
                    engine=_engine_config(file, thresholds), thresholds=thresholds,
                    scorecards=cards,
                    metrics=MetricsConfig(budget, file.metrics.agent_channels,
                                          file.metrics.shard_agents,
                                          file.metrics.render_ahead,
                                          file.metrics.states_at_scrape), costs=file.costs)
