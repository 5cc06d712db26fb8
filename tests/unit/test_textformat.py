"""The fast text exposition writes exactly what prometheus-client's ``generate_latest`` does."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Enum,
    Gauge,
    Histogram,
    Info,
    Summary,
    generate_latest,
)
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric

from ccpulse import textformat
from ccpulse.exporter import KpiCollector, MetricsConfig
from ccpulse.processors import catalogue
from ccpulse.streams.pipeline import Pipeline
from ccpulse.streams.simulator import HOUR, SimConfig, Simulator
from ccpulse.textformat import Exposition, LabelledGauge, render

AWKWARD = ['plain', 'quote " in', 'back\\slash', 'new\nline', '"}', 'ünïcödé ✓', '', '{x="1"}']


def same(registry: CollectorRegistry) -> None:
    assert render(registry.collect()) == generate_latest(registry)


def test_every_metric_type_with_awkward_labels_and_values() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("g", "help with \\ and\nnewline", ["a", "b"], registry=registry)
    for i, value in enumerate(AWKWARD):
        gauge.labels(value, AWKWARD[-1 - i]).set(
            [0.0, -0.0, 1, 1e21, 123456789.0, float("inf"), float("-inf"), float("nan")][i])
    counter = Counter("c", "a counter", ["reason"], registry=registry)  # _total and _created
    counter.labels("x").inc(3)
    histogram = Histogram("h", "a histogram", registry=registry, buckets=(0.001, 1, 1e9))
    histogram.observe(0.5)
    Summary("s", "a summary", registry=registry).observe(2)
    Info("i", "an info", registry=registry).info({"version": "1.2", "odd": 'a"b'})
    Enum("e", "an enum", states=["up", "down"], registry=registry).state("down")

    class Custom:
        def collect(self) -> list[Metric]:
            stamped = GaugeMetricFamily("stamped", "with timestamps", labels=["k"])
            stamped.add_metric(["v"], 1.5, timestamp=1700000000.123)
            gauge_histogram = GaugeHistogramMetricFamily(
                "gh", "a gauge histogram", buckets=[("1", 2), ("+Inf", 3)], gsum_value=4)
            return [stamped, gauge_histogram, GaugeMetricFamily("empty", "no samples")]

    registry.register(Custom())  # type: ignore[arg-type]
    same(registry)


def test_a_simulated_floor_renders_the_same() -> None:
    pipeline = Pipeline()
    config = SimConfig(agents=40, duration_ms=2 * HOUR, seed=3)
    events = list(Simulator(config).events())
    for event in events:
        pipeline.feed(orjson.dumps(event), None, now_ms=None)
    registry = CollectorRegistry()
    every_series = MetricsConfig(agent_series=catalogue.agent_series("all"), agent_channels=True)
    registry.register(KpiCollector(  # type: ignore[arg-type]
        lambda: pipeline.snapshot(config.start_ms + 2 * HOUR), pipeline.stats,
        metrics=every_series))
    body = render(registry.collect())
    assert body.count(b"\n") > 2_000  # a real floor, not an empty exposition
    same(registry)



def test_a_floor_is_made_a_chunk_at_a_time_and_packed_as_it_is_made(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The text comes in pieces, each made once the families before it are collected, not
    after the last one is (a 50,000-agent floor's whole text and its lines were ~680 MB
    held at once); joined or packed, it is still generate_latest's text."""
    monkeypatch.setattr(textformat, "CHUNK_LINES", 50)
    registry = CollectorRegistry()
    collected: list[str] = []

    class Families:
        def collect(self) -> Iterator[Metric]:
            for n in range(8):
                collected.append(f"family {n}")
                family = LabelledGauge(f"kpi_{n}", "one KPI of every agent", labels=["agent"])
                for agent in range(60):
                    family.add_metric([f"a{agent}"], agent / (n + 1))
                yield family

    registry.register(Families())  # type: ignore[arg-type]
    exposition = Exposition()
    chunks = exposition.chunks(registry.collect())
    first = next(chunks)
    assert len(collected) == 1 and first.startswith(b"# HELP kpi_0 ")
    whole = first + b"".join(chunks)
    assert len(collected) == 8 and whole == generate_latest(registry)
    assert Exposition().render_packed(registry.collect()).text() == whole
    assert exposition.render(registry.collect()) == whole

@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12),
                          st.floats(allow_nan=True, allow_infinity=True)), max_size=30))
def test_any_label_values_and_floats(rows: list[tuple[str, str, float]]) -> None:
    registry = CollectorRegistry()

    class Rows:
        def collect(self) -> list[Metric]:
            family = GaugeMetricFamily("rows", "hypothesis rows", labels=["agent", "team"])
            # label names out of order: the text format sorts them
            labelled = LabelledGauge("labelled", "the same rows", labels=["team", "agent", "k"])
            for agent, team, value in rows:
                family.add_metric([agent, team], value)
                labelled.add_metric([team, agent, "v"], value)
            return [family, labelled]

    registry.register(Rows())  # type: ignore[arg-type]
    same(registry)


def test_a_labelled_gauge_refuses_rows_with_the_wrong_number_of_labels() -> None:
    gauge = LabelledGauge("g", "two labels", labels=["a", "b"])
    with pytest.raises(ValueError, match="has labels"):
        gauge.add_metric(["only one"], 1.0)
    assert gauge.rows == []


def test_kept_label_text_renders_scrape_after_scrape_the_same() -> None:
    """An Exposition keeps label text between scrapes: each scrape still equals a fresh
    render (values change, label sets come and go), and its caches are dropped once they
    hold more than twice a scrape's lines."""
    scrape = [0]

    class Churn:
        def collect(self) -> list[Metric]:
            gauge = LabelledGauge("churn", "agents come and go", labels=["agent", "window"])
            for agent in range(scrape[0] * 700, scrape[0] * 700 + 1000):
                gauge.add_metric([f"a{agent}", "1h"], agent / 7 + scrape[0])
            return [gauge]

    kept = Exposition()
    for scrape[0] in range(6):
        assert kept.render(Churn().collect()) == render(Churn().collect())
        assert kept._renderer.size() <= 2 * 1001 + 1000
