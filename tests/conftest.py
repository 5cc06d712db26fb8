"""Session-wide real servers (Kafka, Redis) and factories for ccpulse worker processes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from tests.live import WorkerProcess
from tests.servers import (
    Server,
    external,
    free_port,
    start_kafka,
    start_postgres,
    start_redis,
)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = external("CCPULSE_TEST_KAFKA")
    if given:
        yield given
        return
    server = start_kafka(tmp_path_factory.mktemp("kafka"))
    try:
        yield f"127.0.0.1:{server.port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server | None]:
    if external("CCPULSE_TEST_REDIS"):
        yield None
        return
    server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: Server | None) -> str:
    """A Redis database emptied for this test."""
    url = external("CCPULSE_TEST_REDIS") or f"redis://127.0.0.1:{redis_server.port}/0"  # type: ignore[union-attr]
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_postgres(tmp_path_factory.mktemp("postgres"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def new_database(postgres_server: Server) -> Callable[[str], str]:
    """Makes an empty PostgreSQL database; returns its URL (a history store's)."""

    def make(name: str) -> str:
        name = "h_" + "".join(c if c.isalnum() else "_" for c in name)[:50].lower()
        admin = f"postgresql://ccpulse@127.0.0.1:{postgres_server.port}/ccpulse"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://ccpulse@127.0.0.1:{postgres_server.port}/{name}"

    return make


@pytest.fixture
def history_url(new_database: Callable[[str], str], request: pytest.FixtureRequest) -> str:
    """A PostgreSQL database of its own for this test (the history store's URL)."""
    return new_database(request.node.name)


@pytest.fixture
def topics(request: pytest.FixtureRequest) -> dict[str, str]:
    """Topic names and a consumer group unique to this test, as worker environment."""
    tag = f"{request.node.name.replace('[', '-').replace(']', '')}-{int(time.time())}"
    return {
        "CCPULSE_AGENT_TOPIC": f"agents-{tag}",
        "CCPULSE_INTERACTION_TOPIC": f"interactions-{tag}",
        "CCPULSE_SCHEDULE_TOPIC": f"schedules-{tag}",
        "CCPULSE_DEADLETTER_TOPIC": f"deadletter-{tag}",
        "CCPULSE_ALERTS_TOPIC": f"alerts-{tag}",
        "CCPULSE_GROUP": f"group-{tag}",
    }


@pytest.fixture
def worker_factory(kafka_bootstrap: str, redis_url: str, topics: dict[str, str],
                   tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(**extra: str) -> WorkerProcess:
        env = {**os.environ, **topics, "CCPULSE_KAFKA_BOOTSTRAP": kafka_bootstrap,
               "CCPULSE_REDIS_URL": redis_url, "CCPULSE_METRICS_HOST": "127.0.0.1",
               "CCPULSE_METRICS_PORT": str(free_port()), **extra}
        worker = WorkerProcess(env, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
