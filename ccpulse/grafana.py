"""Building blocks for Grafana dashboard JSON: panels, variables, colour bands, layout.

Dashboards are generated, not hand-kept: the colour bands come from the same thresholds the
alert rules use (so a deployment that moves its occupancy ceiling regenerates dashboards that
agree with its alerts), and the test suite can pull every PromQL expression out of the panels
and run it against a real Prometheus. ``ccpulse dashboards`` writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ccpulse.processors.catalogue import GREEN, RED, WINDOW_1H, WINDOWS, YELLOW, Band

DATASOURCE = {"type": "prometheus", "uid": "ccpulse-prometheus"}
# The history store's PostgreSQL (contract §7.5), Grafana's built-in data source
HISTORY_DATASOURCE = {"type": "grafana-postgresql-datasource", "uid": "ccpulse-history"}
Json = dict[str, Any]


@dataclass(frozen=True)
class Bands:
    """Colour steps: ``base`` below the first edge, then ``(edge, colour)`` upwards."""

    base: str
    steps: tuple[tuple[float, str], ...] = ()

    def json(self) -> Json:
        return {"mode": "absolute", "steps": [{"color": self.base, "value": None}]
                + [{"color": colour, "value": edge} for edge, colour in self.steps]}


def bands_of(band: Band) -> Bands:
    """A KPI band as Grafana's colour steps (each applies from its edge upwards): red below
    yellow's floor, yellow below green's, green, then yellow and red above the ceilings. Edge
    values take the colour above them, where the band's ranges are inclusive."""
    (green_low, green_high), (yellow_low, yellow_high) = band.green, band.yellow
    base = RED if yellow_low is not None else YELLOW if green_low is not None else GREEN
    steps: list[tuple[float, str]] = []
    if yellow_low is not None and green_low is not None:
        steps.append((yellow_low, YELLOW))
    if green_low is not None:
        steps.append((green_low, GREEN))
    if green_high is not None:
        steps.append((green_high, YELLOW))
    if yellow_high is not None:
        steps.append((yellow_high, RED))
    return Bands(base, tuple(steps))


@dataclass(frozen=True)
class Query:
    expr: str  # PromQL, or SQL where the panel's data source is the history store
    legend: str = ""
    # In a table: the value column's name (None hides it: the labels are the point), and
    # its own unit and colour bands.
    column: str | None = None
    unit: str | None = None
    bands: Bands | None = None


@dataclass
class Panel:
    kind: str  # timeseries, stat, table, bargauge
    title: str
    queries: Sequence[Query]
    description: str = ""
    unit: str = "none"
    bands: Bands | None = None
    width: int = 12
    height: int = 8
    min: float | None = None
    max: float | None = None
    stacked: bool = False
    extra: Json = field(default_factory=dict)
    datasource: Json = field(default_factory=lambda: DATASOURCE)

    def json(self, panel_id: int, x: int, y: int) -> Json:
        defaults: Json = {"unit": self.unit, "custom": {}}
        if self.min is not None:
            defaults["min"] = self.min
        if self.max is not None:
            defaults["max"] = self.max
        if self.bands is not None:
            defaults["thresholds"] = self.bands.json()
        out: Json = {
            "id": panel_id, "type": self.kind, "title": self.title,
            "description": self.description, "datasource": self.datasource,
            "gridPos": {"x": x, "y": y, "w": self.width, "h": self.height},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "targets": [self._target(i, q) for i, q in enumerate(self.queries)],
        }
        if self.kind == "timeseries":
            defaults["color"] = {"mode": "palette-classic"}
            defaults["custom"] = {
                "lineWidth": 2, "fillOpacity": 60 if self.stacked else 0,
                "stacking": {"mode": "normal" if self.stacked else "none"},
                # the bands as shaded areas behind the lines: the healthy range at a glance
                "thresholdsStyle": {"mode": "area" if self.bands else "off"},
            }
            out["options"] = {"legend": {"displayMode": "table", "placement": "right",
                                         "calcs": ["lastNotNull"]},
                              "tooltip": {"mode": "multi", "sort": "desc"}}
        elif self.kind in ("stat", "bargauge"):
            defaults["color"] = {"mode": "thresholds"}
            out["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "values": False},
                              "colorMode": "background", "graphMode": "none",
                              "orientation": "horizontal", "textMode": "value_and_name",
                              "displayMode": "basic", "showUnfilled": True}
        elif self.kind == "table":
            self._table(out)
        out.update(self.extra)
        return out

    def _table(self, out: Json) -> None:
        """Instant queries merged on their labels into one row per scope; each value column
        coloured by its own bands."""
        values = {f"Value #{_ref(i)}" if len(self.queries) > 1 else "Value": q
                  for i, q in enumerate(self.queries)}
        hidden = {"Time": True} | {name: True for name, q in values.items() if not q.column}
        out["transformations"] = [{"id": "merge", "options": {}}, {
            "id": "organize", "options": {
                "excludeByName": hidden,
                "renameByName": {name: q.column for name, q in values.items() if q.column},
            }}]
        overrides = out["fieldConfig"]["overrides"]
        for q in values.values():
            properties: list[Json] = []
            if q.unit:
                properties.append({"id": "unit", "value": q.unit})
            if q.bands:
                properties += [{"id": "thresholds", "value": q.bands.json()},
                               {"id": "custom.cellOptions",
                                "value": {"type": "color-background", "mode": "basic"}},
                               {"id": "color", "value": {"mode": "thresholds"}}]
            if q.column and properties:
                overrides.append({"matcher": {"id": "byName", "options": q.column},
                                  "properties": properties})
        out["options"] = {"showHeader": True, "cellHeight": "sm"}

    def _target(self, index: int, query: Query) -> Json:
        table = self.kind == "table"
        if self.datasource == HISTORY_DATASOURCE:  # SQL: the query names its columns
            return {"refId": _ref(index), "datasource": self.datasource, "rawSql": query.expr,
                    "rawQuery": True, "editorMode": "code",
                    "format": "table" if table else "time_series"}
        return {"refId": _ref(index), "datasource": DATASOURCE, "expr": query.expr,
                "legendFormat": query.legend or "__auto",
                "instant": table or self.kind in ("stat", "bargauge"), "range": not table,
                "format": "table" if table else "time_series"}


def _ref(index: int) -> str:
    return chr(ord("A") + index)


def query_variable(name: str, label: str, metric: str, *, multi: bool) -> Json:
    definition = f"label_values({metric}, {name})"
    return {"name": name, "label": label, "type": "query", "datasource": DATASOURCE,
            "query": {"query": definition, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "definition": definition, "refresh": 2, "sort": 1, "multi": multi,
            "includeAll": multi, "allValue": ".*" if multi else None, "current": {},
            "options": []}


def window_variable(default: str = WINDOW_1H) -> Json:
    values = tuple(WINDOWS)
    return {"name": "window", "label": "window", "type": "custom", "query": ",".join(values),
            "current": {"text": default, "value": default},
            "options": [{"text": v, "value": v, "selected": v == default} for v in values]}


def dashboard(uid: str, title: str, description: str, variables: Iterable[Json],
              rows: Iterable[tuple[str, Sequence[Panel]]]) -> Json:
    """A dashboard of titled rows; panels flow left to right, 24 columns a line."""
    panels: list[Json] = []
    y = 0
    next_id = 1
    for row_title, row_panels in rows:
        panels.append({"id": next_id, "type": "row", "title": row_title, "collapsed": False,
                       "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})
        next_id += 1
        y += 1
        x = 0
        line_height = 0
        for panel in row_panels:
            if x + panel.width > 24:
                x, y, line_height = 0, y + line_height, 0
            panels.append(panel.json(next_id, x, y))
            next_id += 1
            x += panel.width
            line_height = max(line_height, panel.height)
        y += line_height
    return {"uid": uid, "title": title, "description": description, "tags": ["ccpulse"],
            "timezone": "browser", "schemaVersion": 39, "version": 1, "editable": True,
            "refresh": "30s", "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": list(variables)}, "annotations": {"list": []},
            "panels": panels}


def expressions(board: Json) -> list[tuple[str, str]]:
    """(panel title, PromQL or SQL) of every query in a dashboard, variables included."""
    out = [(f"variable {v['name']}", v["definition"])
           for v in board["templating"]["list"] if v["type"] == "query"]
    out += [(panel["title"], target.get("expr") or target["rawSql"])
            for panel in board["panels"] for target in panel.get("targets", [])]
    return out


def sql_variable(name: str, label: str, sql: str) -> Json:
    """A multi-value variable filled by a query on the history store."""
    return {"name": name, "label": label, "type": "query", "datasource": HISTORY_DATASOURCE,
            "query": sql, "definition": sql, "refresh": 2, "sort": 1, "multi": True,
            "includeAll": True, "current": {}, "options": []}
