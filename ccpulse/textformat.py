"""The Prometheus text exposition, byte for byte what ``prometheus_client.generate_latest``
writes, at a fraction of its cost per sample.

A floor of 5,000 agents is a few hundred thousand samples per scrape, and most of them share
their label set with a dozen others (one agent, one window, every KPI). ``generate_latest``
sorts, escapes and formats every sample's labels afresh; here each distinct label set is
rendered once per scrape and each metric name once. The output is checked against
``generate_latest`` itself (``tests/unit/test_textformat.py``), so the two cannot drift.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import (
    UNDERSCORES,
    escape_label_name,
    escape_metric_name,
)
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from ccpulse.gzip_body import Packed

# Samples of these suffixes are OpenMetrics-only: the text format moves them to a gauge of
# their own after the family, as generate_latest does.
OPENMETRICS_SUFFIXES = ("_created", "_gsum", "_gcount")
# OpenMetrics types spelled the Prometheus way: (name suffix, type in the TYPE line).
_MUNGED = {"counter": ("_total", "counter"), "info": ("_info", "gauge"),
           "stateset": ("", "gauge"), "gaugehistogram": ("", "histogram"),
           "unknown": ("", "untyped")}


def _escape_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


_INF = math.inf


def _value(value: float) -> str:
    """``floatToGoString`` without its checks for the common case: a finite number below
    10⁶ (NaN fails the comparison) is Python's repr, exactly as there."""
    number = float(value)
    if -math.inf < number < 1e6:
        return repr(number)
    return floatToGoString(number)


class LabelledGauge(Metric):
    """``GaugeMetricFamily(name, help, labels=...)`` for the bulk of an exposition: one row per
    ``add_metric``, kept as label values instead of a ``Sample`` with a dict of labels each.
    :func:`render` then formats each distinct label set once per scrape (one agent's
    ``agent, team, window`` recurs in every KPI of the window) and writes the rows straight
    out; ``samples`` builds the usual Sample list for any other reader (``generate_latest``,
    tests)."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str]) -> None:
        super().__init__(name, documentation, "gauge")
        self.label_names = tuple(labels)
        self.rows: list[tuple[tuple[str, ...], float]] = []

    def add_metric(self, labels: Sequence[str], value: float) -> None:
        """Add a row. Passing one tuple of label values to several families (one agent's
        ``agent, team, window`` to each of its KPIs) stores it once."""
        values = tuple(labels)  # a tuple is kept as it is, not copied
        if len(values) != len(self.label_names):
            raise ValueError(f"{self.name} has labels {self.label_names}, got {len(values)} "
                             "values")
        self.rows.append((values, value))

    @property  # type: ignore[override]
    def samples(self) -> list[Sample]:
        names = self.label_names
        return [Sample(self.name, dict(zip(names, values, strict=True)), value, None, None)
                for values, value in self.rows]

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        """``Metric.__init__`` starts every family with an empty list; rows go through
        ``add_metric``."""
        if value:
            raise TypeError("add rows to a LabelledGauge with add_metric")


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


class _Renderer:
    """Caches of rendered label sets and escaped names."""

    def __init__(self) -> None:
        self._labels: dict[tuple[tuple[str, str], ...], str] = {}
        # label names -> label values -> rendered set: a row looks up its values alone
        self._sets: dict[tuple[str, ...], dict[tuple[str, ...], str]] = {}
        self._orders: dict[tuple[str, ...], list[int]] = {}  # label names -> sorted positions
        self._pairs: dict[tuple[str, str], str] = {}
        self._names: dict[str, str] = {}

    def size(self) -> int:
        """Rendered label sets and pairs held."""
        return (len(self._labels) + len(self._pairs)
                + sum(len(sets) for sets in self._sets.values()))

    def name(self, name: str) -> str:
        escaped = self._names.get(name)
        if escaped is None:
            escaped = self._names[name] = escape_metric_name(name, UNDERSCORES)
        return escaped

    def labels(self, labels: dict[str, str]) -> str:
        key = tuple(labels.items())
        text = self._labels.get(key)
        if text is None:
            text = self._labels[key] = "{" + ",".join(
                [self._pair(pair) for pair in sorted(key)]) + "}"
        return text

    def label_sets(self, names: tuple[str, ...]) -> dict[tuple[str, ...], str]:
        """The label sets of one family shape rendered so far, by their values."""
        sets = self._sets.get(names)
        if sets is None:
            sets = self._sets[names] = {}
        return sets

    def label_set(self, names: tuple[str, ...], values: tuple[str, ...]) -> str:
        """The same text as :meth:`labels` of ``dict(zip(names, values))`` without building
        a dict or sorting per label set: the pairs are joined in the names' sorted order,
        worked out once per family shape."""
        if not names:
            return ""
        order = self._orders.get(names)
        if order is None:
            order = self._orders[names] = sorted(range(len(names)), key=names.__getitem__)
        pair = self._pair
        return "{" + ",".join([pair((names[i], values[i])) for i in order]) + "}"

    def _pair(self, pair: tuple[str, str]) -> str:
        """``name="value"``: one agent's id recurs in every family and window."""
        text = self._pairs.get(pair)
        if text is None:
            name, value = pair
            text = self._pairs[pair] = (
                f'{escape_label_name(name, UNDERSCORES)}="{_escape_value(value)}"')
        return text

    def line(self, sample: Sample) -> str:
        stamp = ""
        if sample.timestamp is not None:
            stamp = f" {int(float(sample.timestamp) * 1000):d}"  # type: ignore[arg-type]
        labels = self.labels(sample.labels) if sample.labels else ""
        return f"{self.name(sample.name)}{labels} {_value(sample.value)}{stamp}\n"

    def family(self, metric: Metric, out: list[str]) -> None:
        suffix, kind = _MUNGED.get(metric.type, ("", metric.type))
        name = self.name(metric.name + suffix)
        help_text = _escape_help(metric.documentation)
        out.append(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n")
        if isinstance(metric, LabelledGauge):
            names = metric.label_names
            sets = self.label_sets(names)
            append, text_of, short, long = out.append, sets.get, repr, floatToGoString
            # the bulk of a scrape: _value inlined (a call per sample was a tenth of it)
            for values, value in metric.rows:
                text = text_of(values)
                if text is None:
                    text = sets[values] = self.label_set(names, values)
                number = float(value)
                append(f"{name}{text} {short(number) if -_INF < number < 1e6 else long(number)}\n")
            return
        special = {metric.name + s: s for s in OPENMETRICS_SUFFIXES}
        moved: dict[str, list[str]] = {}
        line = self.line
        for sample in metric.samples:
            moved_to = special.get(sample.name)
            if moved_to is None:
                out.append(line(sample))
            else:
                moved.setdefault(moved_to, []).append(line(sample))
        for moved_to, lines in sorted(moved.items()):
            gauge = self.name(metric.name + moved_to)
            out.append(f"# HELP {gauge} {help_text}\n# TYPE {gauge} gauge\n")
            out.extend(lines)


def render(metrics: Iterable[Metric]) -> bytes:
    """The text format (0.0.4) of ``metrics``, e.g. ``render(registry.collect())``."""
    return Exposition().render(metrics)


# Lines rendered before they are encoded (and compressed, where they are kept so): a family
# is rendered whole, so a chunk is about one family (a KPI of every agent in a window).
CHUNK_LINES = 10_000


class Exposition:
    """Renders scrape after scrape, keeping the rendered label sets between them: the same
    agents, teams and windows come back every 15 s, so a scrape formats only what is new
    (label text rendered once per series and kept, as issue 19 asked). The caches are
    dropped when they hold more than twice the lines of the last scrape, so agents who left
    do not accumulate. Not thread-safe: the server renders one scrape at a time.

    The text is made a chunk at a time (:meth:`chunks`): a list of every line, the string
    they joined into and its encoding were all alive at once, ~680 MB beside a 50,000-agent
    floor's 160 MB of text, where :meth:`render_packed` now holds the compressed text and one
    family's lines (BENCHMARKS.md, issue 19, twentieth round)."""

    def __init__(self) -> None:
        self._renderer = _Renderer()

    def chunks(self, metrics: Iterable[Metric]) -> Iterator[bytes]:
        """The text of ``metrics``, in pieces of about :data:`CHUNK_LINES` lines."""
        out: list[str] = []
        lines = 0
        for metric in metrics:
            self._renderer.family(metric, out)
            if len(out) >= CHUNK_LINES:
                lines += len(out)
                yield "".join(out).encode("utf-8")
                out.clear()
        lines += len(out)
        if self._renderer.size() > 2 * lines + 1000:
            self._renderer = _Renderer()
        yield "".join(out).encode("utf-8")

    def render(self, metrics: Iterable[Metric]) -> bytes:
        return b"".join(self.chunks(metrics))

    def render_packed(self, metrics: Iterable[Metric]) -> Packed:
        """:meth:`render` kept gzip-compressed, compressed as it is made."""
        return Packed.of_chunks(self.chunks(metrics))
