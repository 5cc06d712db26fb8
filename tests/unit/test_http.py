"""/metrics, /healthz and /readyz: routing, optional basic auth, nothing secret on either."""

from __future__ import annotations

import base64
import gzip
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter

from ccpulse.http import MetricsServer, scrape_timeout_s
from ccpulse.serving import ConsumerReport, ConsumerView, readiness
from ccpulse.settings import ConfigError, load_settings
from ccpulse.sharding import AgentShards
from tests.live import http_get


def get(port: int, path: str, auth: tuple[str, str] | None = None) -> tuple[int, str]:
    return http_get(f"http://127.0.0.1:{port}{path}", auth)


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    registry = CollectorRegistry()
    Counter("ccpulse_test_things", "things", registry=registry).inc()
    running = MetricsServer(registry, "127.0.0.1", 0, lambda: (False, "catching up"),
                            ("prom", "s3cret")).start()
    yield running
    running.stop()


def test_metrics_need_the_credentials(server: MetricsServer) -> None:
    assert get(server.port, "/metrics")[0] == 401
    assert get(server.port, "/metrics", ("prom", "wrong"))[0] == 401
    status, body = get(server.port, "/metrics", ("prom", "s3cret"))
    assert status == 200 and "ccpulse_test_things_total 1.0" in body


def test_metrics_are_gzipped_for_a_scraper_that_asks(server: MetricsServer) -> None:
    """Prometheus sends ``Accept-Encoding: gzip``; curl without ``--compressed`` does not."""
    def scrape(accept: str | None) -> tuple[str | None, bytes]:
        request = urllib.request.Request(f"http://127.0.0.1:{server.port}/metrics")
        request.add_header("Authorization", "Basic " + base64.b64encode(b"prom:s3cret").decode())
        if accept is not None:
            request.add_header("Accept-Encoding", accept)
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.headers.get("Content-Encoding"), response.read()
    encoding, body = scrape("gzip")
    assert encoding == "gzip" and b"ccpulse_test_things_total 1.0" in gzip.decompress(body)
    for refused in (None, "identity", "gzip;q=0"):
        encoding, body = scrape(refused)
        assert encoding is None and b"ccpulse_test_things_total 1.0" in body


@pytest.mark.parametrize(("header", "seconds"), [
    ("10", 10.0), ("2.5", 2.5), (None, None), ("", None), ("soon", None), ("0", None),
    ("-3", None), ("inf", None), ("nan", None)])
def test_the_scrape_timeout_is_read_from_prometheus_header(
        header: str | None, seconds: float | None) -> None:
    assert scrape_timeout_s(header) == seconds


def test_the_scraper_s_timeout_reaches_what_writes_the_body() -> None:
    """Prometheus sends ``X-Prometheus-Scrape-Timeout-Seconds`` with every scrape."""
    asked: list[float | None] = []

    def body(_scraper: str, *, gzip: bool, timeout_s: float | None) -> bytes:
        asked.append(timeout_s)
        return b"ccpulse_test 1\n"
    running = MetricsServer(body, "127.0.0.1", 0, lambda: (True, "ok")).start()
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{running.port}/metrics")
        request.add_header("X-Prometheus-Scrape-Timeout-Seconds", "7.5")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.read() == b"ccpulse_test 1\n"
        assert get(running.port, "/metrics")[0] == 200  # curl: no header
    finally:
        running.stop()
    assert asked == [7.5, None]


def test_health_stays_open_and_says_nothing_secret(server: MetricsServer) -> None:
    assert get(server.port, "/healthz") == (503, "catching up\n")
    assert get(server.port, "/readyz") == (503, "catching up\n")  # none of its own: health's
    assert get(server.port, "/other")[0] == 404


def test_readiness_is_its_own_probe_and_open_too() -> None:
    running = MetricsServer(CollectorRegistry(), "127.0.0.1", 0, lambda: (True, "ok"),
                            ("prom", "s3cret"), ready=lambda: (False, "catching up: 7")).start()
    try:
        assert get(running.port, "/healthz") == (200, "ok\n")
        assert get(running.port, "/readyz") == (503, "catching up: 7\n")
    finally:
        running.stop()


def test_ready_means_healthy_assigned_and_within_the_lag_bound() -> None:
    consumer = ConsumerView(CollectorRegistry())
    assert readiness((False, "consumer starting"), consumer, 10) == (False, "consumer starting")
    consumer.update(ConsumerReport(lag={("t", 0): 5, ("t", 1): 8}))
    assert readiness((True, "ok"), consumer, 10) == (False, "waiting for partitions")
    consumer.update(ConsumerReport(lag={("t", 0): 5, ("t", 1): 8}, assigned=True))
    assert readiness((True, "ok"), consumer, 10) == (
        False, "catching up: 13 messages behind (ready at 10)")
    assert readiness((True, "ok"), consumer, 13) == (True, "ready")
    consumer.update(ConsumerReport(assigned=True))  # a member with no partitions is ready
    assert readiness((True, "ok"), consumer, 0) == (True, "ready")


def test_basic_auth_settings() -> None:
    settings = load_settings({}, {"CCPULSE_METRICS_USER": "prom",
                                  "CCPULSE_METRICS_PASSWORD": "s3cret"})
    assert settings.metrics_credentials == ("prom", "s3cret")
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.describe())
    with pytest.raises(ConfigError, match="CCPULSE_METRICS_PASSWORD"):
        load_settings({}, {"CCPULSE_METRICS_USER": "prom"})


def test_the_shard_hash_cache_stays_within_twice_the_floor() -> None:
    shards = AgentShards()
    shards.update(4, frozenset({0, 1, 2, 3}))
    assert all(shards.owns(f"a{n}") for n in range(10))
    shards.forget({"a1", "a2", "a3", "a4", "a5"})  # 10 <= 2 * 5: kept
    assert len(shards._hashes) == 10
    shards.forget({"a1", "a2"})  # expired agents go
    assert sorted(shards._hashes) == ["a1", "a2"]


def test_a_report_that_cannot_tell_the_partitions_keeps_the_last_known_ones() -> None:
    """A report sent while the consumer had no metadata for the topic (or no consumer) says
    nothing about ownership: the worker keeps exporting its agents instead of none. A
    rebalance that takes every partition away does empty it."""
    consumer = ConsumerView(CollectorRegistry())
    consumer.update(ConsumerReport(assigned=True, agent_partitions=4,
                                   owned_agent_partitions=frozenset({1, 3})))
    owned = {a for a in (f"a{n}" for n in range(40)) if consumer.shards.owns(a)}
    assert 0 < len(owned) < 40
    consumer.update(ConsumerReport(assigned=True))  # nothing known this time
    assert {a for a in (f"a{n}" for n in range(40)) if consumer.shards.owns(a)} == owned
    consumer.update(ConsumerReport(assigned=True, owned_agent_partitions=frozenset({1, 3})))
    assert consumer.shards.partitions == 4  # the count unknown, the set known
    consumer.update(ConsumerReport(assigned=True, agent_partitions=4,
                                   owned_agent_partitions=frozenset()))
    assert not any(consumer.shards.owns(f"a{n}") for n in range(40))
