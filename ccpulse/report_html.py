"""A coaching report as one self-contained HTML page: inline CSS and SVG, no scripts, no
fonts or images from the network, so it opens anywhere, prints to PDF and can be mailed.

The numbers are also embedded as JSON (``<script type="application/json" id="report-data">``),
which is what the tests read back and what other tools can reuse.
"""

from __future__ import annotations

import html
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import orjson

from ccpulse.processors.catalogue import Band
from ccpulse.processors.scorecard import AHT, POINTS
from ccpulse.processors.timefmt import format_ms
from ccpulse.report import Bucket, Report, label

RATIOS = {"occupancy", "utilization", "fcr", "felt_heard", "sales_conversion",
          "request_capture", "repeat_contact", "escalation", "acw_share"}
COLOURS = {"green": "#2e7d32", "yellow": "#f9a825", "red": "#c62828"}
CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:960px;color:#1d1d1f;padding:0 1rem}
h1{font-size:1.6rem;margin:0}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
.sub{color:#666}.score{font-size:3rem;font-weight:700}
table{border-collapse:collapse;width:100%}td,th{padding:.35rem .5rem;text-align:left;
border-bottom:1px solid #eee}th{font-weight:600;color:#444}
.chip{display:inline-block;width:.9rem;height:.9rem;border-radius:50%;vertical-align:middle}
.focus{border-left:4px solid #f9a825;padding:.5rem 1rem;margin:.5rem 0;background:#fffbea}
.focus.sup{border-color:#1565c0;background:#eef4fc}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:1rem}
.chart h3{font-size:.95rem;margin:.2rem 0}
footer{margin-top:2rem;color:#666;font-size:.85rem}
@media print{body{margin:0}h2{break-after:avoid}.chart{break-inside:avoid}}
"""


def fmt(key: str, value: float | None) -> str:
    if value is None:
        return "–"
    if key in RATIOS:
        return f"{value:.0%}"
    if key.endswith("seconds"):
        return f"{value:.0f} s"
    if key == "csat":
        return f"{value:.2f}"
    return f"{value:.1f}" if abs(value) < 10 else f"{value:.0f}"


def _chip(colour: str) -> str:
    return f'<span class="chip" style="background:{COLOURS[colour]}" title="{colour}"></span>'


def chart(title: str, buckets: Sequence[Bucket], key: str, band: Band | None,
          scale: float = 1.0) -> str:
    """A small line chart of ``key`` per bucket, the green band shaded behind it."""
    hourly = len(buckets) > 1 and buckets[1].end_ms - buckets[0].end_ms < 86_400_000
    when = slice(11, 16) if hourly else slice(5, 10)
    points = [(i, b.kpis.get(key) if key != "score" else b.card.score)
              for i, b in enumerate(buckets)]
    values = [v for _, v in points if v is not None]
    if not values:
        return ""
    w, h, pad = 300, 120, 24
    edges = [e * scale for e in (band.green if band else ()) if e is not None]
    low, high = min(values + edges), max(values + edges)
    if high == low:
        low, high = low - 1, high + 1
    x_step = (w - 2 * pad) / max(1, len(buckets) - 1)

    def y(v: float) -> float:
        return h - pad - (v - low) / (high - low) * (h - 2 * pad)

    parts = [f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" '
             f'aria-label="{html.escape(title)}">']
    if band is not None:
        g_low, g_high = band.green
        top = y(min(high, g_high * scale)) if g_high is not None else pad / 2
        bottom = y(max(low, g_low * scale)) if g_low is not None else h - pad / 2
        parts.append(f'<rect x="{pad}" y="{top:.1f}" width="{w - 2 * pad}" '
                     f'height="{max(0.0, bottom - top):.1f}" fill="#e8f5e9"/>')
    line = " ".join(f"{pad + i * x_step:.1f},{y(v):.1f}" for i, v in points if v is not None)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#1565c0" stroke-width="2"/>')
    for i, v in points:
        if v is not None:
            parts.append(f'<circle cx="{pad + i * x_step:.1f}" cy="{y(v):.1f}" r="3" '
                         f'fill="#1565c0"><title>{fmt(key, v)}</title></circle>')
    for i, b in enumerate(buckets):
        if i in (0, len(buckets) - 1):
            parts.append(f'<text x="{pad + i * x_step:.1f}" y="{h - 4}" font-size="10" '
                         f'text-anchor="middle">{format_ms(b.end_ms)[when]}</text>')
    last = values[-1]
    parts.append(f'<text x="{w - 2}" y="12" font-size="11" text-anchor="end">'
                 f'latest {html.escape(fmt(key, last))}</text></svg>')
    return f'<div class="chart"><h3>{html.escape(title)}</h3>{"".join(parts)}</div>'


def _scorecard_table(report: Report) -> str:
    rows = []
    by_key = {m.key: m for m in report.card.marks}
    for key, group in report.card_definition.kpis:
        m = by_key.get(key)
        value = report.kpis.get(key)
        extra = ""
        if key == AHT and m is not None:
            extra = f" ({m.judged:.0%} of target)"
        rows.append(
            f"<tr><td>{group}</td><td>{html.escape(label(key))}</td>"
            f'<td data-kpi="{key}">{fmt(key, value)}{extra}</td>'
            f"<td>{_chip(m.colour) + ' ' + m.colour if m else '–'}</td>"
            f"<td>{m.points if m else '–'}</td></tr>")
    return ("<table><tr><th>group</th><th>KPI</th><th>value</th><th>band</th><th>points</th>"
            "</tr>" + "".join(rows) + "</table>")


def _team_tables(report: Report) -> str:
    keys = [k for k, _ in report.card_definition.kpis]
    head = "".join(f"<th>{html.escape(label(k))}</th>" for k in keys)
    rows = []
    for agent, (kpis, card) in report.agents.items():
        marks = {m.key: m for m in card.marks}
        cells = "".join(
            f"<td>{_chip(marks[k].colour) if k in marks else ''} {fmt(k, kpis.get(k))}</td>"
            for k in keys)
        score = "–" if card.score is None else f"{card.score:.0f}"
        rows.append(f"<tr><td>{html.escape(agent)}</td><td>{score}</td>{cells}</tr>")
    spread = "".join(f"<tr><td>{html.escape(label(k))}</td><td>{v:.0%}</td>"
                     f"<td>{report.bucket_variance.get(k, 0):.3g}</td></tr>"
                     for k, v in sorted(report.spread.items()))
    return (f"<h2>Agents</h2><table><tr><th>agent</th><th>score</th>{head}</tr>"
            + "".join(rows) + "</table><h2>Consistency</h2><p>Spread = standard deviation "
            "/ mean of the agents' values (higher: more uneven team). Variance between "
            "periods = how much the team's value moved from one bucket to the next.</p>"
            "<table><tr><th>KPI</th><th>spread across agents</th>"
            f"<th>variance between buckets</th></tr>{spread}</table>")


def data(report: Report) -> dict:
    return {
        "subject": report.subject, "id": report.ident, "team": report.team,
        "from": format_ms(report.start_ms), "to": format_ms(report.end_ms),
        "bucket_seconds": report.bucket_ms // 1000, "kpis": report.kpis,
        "score": report.card.score,
        "marks": [{"kpi": m.key, "group": m.group, "value": m.value, "colour": m.colour,
                   "points": POINTS[m.colour]} for m in report.card.marks],
        "trend": [{"to": format_ms(b.end_ms), "kpis": b.kpis, "score": b.card.score}
                  for b in report.trend],
        "wins": report.wins, "focus": [f.title for f in report.focus],
        "spread": report.spread,
    }


def render(report: Report) -> str:
    who = (f"agent {report.ident} (team {report.team})" if report.subject == "agent"
           else f"team {report.ident}")
    score = "–" if report.card.score is None else f"{report.card.score:.0f}"
    focus = "".join(
        f'<div class="focus{" sup" if f.for_supervisor else ""}"><b>{html.escape(f.title)}'
        f'{" — for the supervisor" if f.for_supervisor else ""}</b>: {html.escape(f.why)}.'
        f"<br>{html.escape(f.suggestion)}</div>" for f in report.focus) or (
        "<p>No focus area stands out: keep doing what works.</p>")
    wins = "".join(f"<li>{html.escape(w)}</li>" for w in report.wins) or "<li>–</li>"
    bands = report.card_definition.bands
    charts = [chart("Scorecard (0-100)", report.trend, "score", None)]
    for key, _ in report.card_definition.kpis:
        scale = report.team_kpis.get(AHT, 0) if key == AHT else 1.0
        band = bands.get(key) if (key != AHT or scale) else None
        charts.append(chart(label(key), report.trend, key, band, scale or 1.0))
    payload = orjson.dumps(data(report)).decode().replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>ccpulse coaching report — {html.escape(who)}</title><style>{CSS}</style></head>
<body><header><h1>Coaching report — {html.escape(who)}</h1>
<div class="sub">{format_ms(report.start_ms)} to {format_ms(report.end_ms)}</div></header>
<h2>Balanced scorecard</h2><div class="score" id="score">{score}</div>
{_scorecard_table(report)}
<h2>Focus</h2>{focus}
<h2>Wins</h2><ul>{wins}</ul>
<h2>Trends</h2><div class="charts">{"".join(charts)}</div>
{_team_tables(report) if report.subject == "team" else ""}
<footer>Green 1 point, yellow ½, red 0; groups weighted
{", ".join(f"{g} {w:g}" for g, w in report.card_definition.weights.items())}. AHT leaves
emotional interactions out and is judged against
{"the configured target" if report.card_definition.aht_target_seconds else "the team's AHT"}.
Every number is what <code>ccpulse replay</code> computes for the same events and period.</footer>
<script type="application/json" id="report-data">{payload}</script>
</body></html>
"""


def chromium() -> str | None:
    for name in ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def print_pdf(page: Path, pdf: Path) -> None:
    """Print the page with headless Chromium (Debian ``chromium-headless-shell``)."""
    binary = chromium()
    if binary is None:
        raise RuntimeError("PDF output needs Chromium: apt-get install chromium-headless-shell")
    subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu",
                    "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.resolve().as_uri()],
                   check=True, capture_output=True, timeout=120)
