"""``ccpulse`` command line: demo, worker, replay, simulate, report, dashboards.

The composition root: settings are resolved here, adapters are built here, and the pure parts
(processors, alert rules) are handed their time by the command that owns the clock.
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import orjson
import psycopg
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TransferSpeedColumn

from ccpulse.alerts.notify import ConsoleNotifier, JsonLinesNotifier, Notifier
from ccpulse.dashboards import write_dashboards
from ccpulse.demo import DemoOptions, run_demo
from ccpulse.exporter import KpiCollector, exposition
from ccpulse.heap import release_free_heap
from ccpulse.history import (
    DAY_MS,
    INTERVAL_MS,
    WEEK_MS,
    HistoryStore,
    IntervalWriter,
    edge,
    period_kpis,
)
from ccpulse.logs import configure_logging
from ccpulse.processors.timefmt import format_ms, parse_ms
from ccpulse.report import build_report, history_report
from ccpulse.report_html import print_pdf, render
from ccpulse.runtime import Monitor, alert_evaluator, tune_gc
from ccpulse.schedule_import import import_csv
from ccpulse.settings import (
    CONFIG,
    LOG_FORMATS,
    OPTIONS,
    ConfigError,
    Settings,
    kafka_python_security,
    load_settings,
)
from ccpulse.streams.kafka_io import ensure_topics, make_producer, produce, realtime_pacer
from ccpulse.streams.pipeline import Pipeline
from ccpulse.streams.replay import BadLine, lines, replay, time_range
from ccpulse.streams.simulator import HOUR, SimConfig, Simulator
from ccpulse.web import agent_link


def _parse_time(text: str) -> int:
    try:
        return parse_ms(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time with an offset: {text!r}") from exc


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML or YAML file with thresholds, queues, teams "
                        "(env CCPULSE_CONFIG)")
    parser.add_argument("--log-format", choices=LOG_FORMATS,
                        help="log lines as key=value text or JSON (env CCPULSE_LOG_FORMAT, "
                        "default text)")


def _metrics_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metrics-port", type=int,
                        help="port for /metrics and /healthz (env CCPULSE_METRICS_PORT, "
                        "default 9464)")
    parser.add_argument("--metrics-host", help="address to bind (env CCPULSE_METRICS_HOST, "
                        "default 0.0.0.0; 127.0.0.1 keeps it on this machine)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ccpulse", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="simulated floor → live KPIs, /metrics, alerts")
    _common(demo)
    _metrics_flags(demo)
    demo.add_argument("--agents", type=int, default=120)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--speed", type=float, default=1.0,
                      help="simulated seconds per real second after the warm-up")
    demo.add_argument("--warmup", type=float, default=180,
                      help="minutes of history simulated at full speed before going live")
    demo.add_argument("--duration", type=float, default=None,
                      help="stop after this many real seconds (default: until Ctrl-C)")
    demo.add_argument("--no-live", action="store_true", help="no live table, only alert lines")

    work = commands.add_parser("worker", help="consume Kafka, keep state in Redis, serve /metrics")
    _common(work)
    _metrics_flags(work)
    _kafka_flags(work)
    work.add_argument("--redis", help="Redis URL (env CCPULSE_REDIS_URL, default "
                      "redis://localhost:6379/0); rediss:// for TLS, password in the URL")
    work.add_argument("--alertmanager", help="Alertmanager base URL (env "
                      "CCPULSE_ALERTMANAGER_URL)")
    work.add_argument("--data-dir", help="scratch directory, created if missing; nothing in it "
                      "is kept (env CCPULSE_DATA_DIR, default <temporary directory>/ccpulse)")
    work.add_argument("--ready-max-lag", type=int, help="/readyz answers 200 once at most this "
                      "many Kafka messages are left to read (env CCPULSE_READY_MAX_LAG, "
                      "default 1000)")
    work.add_argument("--partitions", type=int, default=8,
                      help="partitions for input topics this worker creates (existing kept)")
    work.add_argument("--batch-size", type=int,
                      help="messages per batch committed to Redis (env CCPULSE_BATCH_SIZE, "
                      "default 2000)")
    work.add_argument("--instance-id", help="Kafka static membership id, e.g. the pod name "
                      "of a StatefulSet (env CCPULSE_INSTANCE_ID; default none)")
    _history_flag(work)

    rep = commands.add_parser("replay", help="feed a JSONL file of events through the engine")
    _common(rep)
    rep.add_argument("events", type=Path)
    rep.add_argument("--kafka", help="send the file's lines to this Kafka instead of "
                     "computing locally (bootstrap servers)")
    rep.add_argument("--now", type=_parse_time, help="instant the windows end (RFC 3339); "
                     "default: the largest ts in the file")
    rep.add_argument("--metrics-out", help="write every KPI series at --now ('-' = stdout)")
    rep.add_argument("--alerts-out", type=Path, help="write alert transitions, JSON lines")
    _history_flag(rep)

    sim = commands.add_parser("simulate", help="write a simulated scenario as JSONL")
    sim.add_argument("--out", type=Path)
    sim.add_argument("--agents", type=int, default=120)
    sim.add_argument("--hours", type=float, default=8)
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--start", type=_parse_time, default=None,
                     help="simulated start time (RFC 3339); default 2026-11-23T08:00:00Z")
    sim.add_argument("--no-scenarios", action="store_true",
                     help="a steady floor, without the hot/idle/CSAT/SL scenario switches")
    sim.add_argument("--end-shift", action="store_true",
                     help="log every agent out at the end (numbers then stop changing)")
    sim.add_argument("--kafka", help="produce to this Kafka (bootstrap servers) instead of "
                     "--out; the simulated day ends now unless --realtime")
    sim.add_argument("--realtime", action="store_true",
                     help="with --kafka: start now and send each event at its time")
    sim.add_argument("--speed", type=float, default=1.0, help="with --realtime: time factor")
    sim.add_argument("--warmup", type=float, default=0,
                     help="with --realtime: start this many minutes in the past and send "
                     "that history at once, so dashboards have data from the first minute")

    sched = commands.add_parser("schedules", help="import a WFM schedule export (CSV: agent, "
                                "start, end, activity[, team]) as schedule.published events")
    _common(sched)
    sched.add_argument("action", choices=["import"])
    sched.add_argument("file", type=Path, help="CSV with a header row")
    sched.add_argument("--kafka", help="send them to this Kafka's schedule topic (env "
                       "CCPULSE_SCHEDULE_TOPIC, default cc.schedules)")
    sched.add_argument("--out", type=Path, help="or write them to this JSONL file")

    _report_parsers(commands)
    return parser


def _report_parsers(commands: argparse._SubParsersAction) -> None:
    """``report`` and ``dashboards``: what people read, rather than what runs."""
    rpt = commands.add_parser("report", help="coaching report (HTML, optionally PDF) of an "
                              "agent or a team over a period of an event log or of the "
                              "history store; --json for other tools")
    _common(rpt)
    rpt.add_argument("events", type=Path, nargs="?",
                     help="JSONL event log (as for replay); or give --history")
    _history_flag(rpt)
    who = rpt.add_mutually_exclusive_group(required=True)
    who.add_argument("--agent", help="agent id: the weekly 1:1 report")
    who.add_argument("--team", help="team id: the monthly strategy report")
    who.add_argument("--queue", help="queue id (with --history and --json)")
    rpt.add_argument("--from", dest="start", type=_parse_time,
                     help="period start (default: 7 days, or 30 for a team, before --to; "
                     "never before the first event)")
    rpt.add_argument("--to", dest="end", type=_parse_time,
                     help="period end (default: the last event in the file)")
    rpt.add_argument("--bucket", choices=("hour", "day", "week"),
                     help="trend resolution (default: day for an agent, week for a team; "
                     "hours for periods of two days or less)")
    rpt.add_argument("--out", type=Path, help="HTML file to write")
    rpt.add_argument("--json", type=Path, help="with --history: write the period's KPIs as "
                     "JSON (contract §7.5; '-' = stdout)")
    rpt.add_argument("--pdf", type=Path, help="also print it to this PDF (needs Chromium)")

    link = commands.add_parser("agent-link", help="print the link to one agent's own page "
                               "(signed with CCPULSE_WEB_SECRET, expiring)")
    _common(link)
    link.add_argument("agent", help="the agent id, as the producers send it")
    link.add_argument("--days", type=float, default=7, help="how long the link works "
                      "(default 7)")
    link.add_argument("--web-url", help="the address people open the pages at (env "
                      "CCPULSE_WEB_URL; default http://localhost:<metrics port>)")

    hist = commands.add_parser("history", help="the history store: delete one customer's "
                               "interaction records (a data-protection request), or purge "
                               "what is older than the retention now")
    _common(hist)
    _history_flag(hist)
    hist.add_argument("action", choices=["purge-customer", "purge"])
    hist.add_argument("customer", nargs="?", help="purge-customer: the customer pseudonym")

    dash = commands.add_parser("dashboards", help="write the Grafana dashboards as JSON, with "
                               "colour bands from the config's thresholds")
    _common(dash)
    dash.add_argument("--out", type=Path, default=Path("deploy/grafana/dashboards"))


def _history_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--history", help="history store URL: sqlite:///PATH or "
                        "postgresql://… (env CCPULSE_HISTORY_URL); replay and worker write "
                        "closed 15-minute intervals there, report reads them")


def _kafka_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kafka", help="bootstrap servers (env CCPULSE_KAFKA_BOOTSTRAP, "
                        "default localhost:9092)")
    parser.add_argument("--group", help="consumer group (env CCPULSE_GROUP, default ccpulse)")


def _settings(args: argparse.Namespace) -> Settings:
    """The flags a command has and the user gave, then the environment, file, defaults."""
    names = [CONFIG.name] + [option.name for option in OPTIONS if option.flag]
    return load_settings({name: getattr(args, name, None) for name in names})


def _history(settings: Settings, err: Console) -> HistoryStore | bool | None:
    """The configured history store, None without one, False (after saying why) if it
    cannot be opened. The URL is never printed: it may carry a password."""
    if not settings.history:
        return None
    try:
        return HistoryStore(settings.history).connect()
    except (ValueError, OSError, sqlite3.Error, psycopg.Error) as exc:
        err.print(f"[red]cannot open the history store ({type(exc).__name__}: "
                  f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}); check "
                  "--history or CCPULSE_HISTORY_URL[/]", highlight=False)
        return False


def _monitor(settings: Settings, notifiers: Sequence[Notifier], alerts: bool,
             history: IntervalWriter | None = None) -> Monitor:
    evaluator = alert_evaluator(settings) if alerts else None
    return Monitor(Pipeline(settings.engine), evaluator, notifiers, history=history)


def cmd_replay(args: argparse.Namespace) -> int:
    settings = _settings(args)
    err = Console(stderr=True)
    if not args.events.is_file():
        err.print(f"[red]cannot read {args.events}: no such file[/]")
        return 2
    if args.kafka:
        with args.events.open("rb") as stream:
            sent = _produce(settings, (raw for _, raw in lines(stream)), pace=None)
        err.print(f"sent {sent:,} lines to {settings.kafka}", highlight=False)
        return 0
    alerts_stream = args.alerts_out.open("wb") if args.alerts_out else None
    notifiers = [JsonLinesNotifier(alerts_stream)] if alerts_stream else []
    store = _history(settings, err)
    if store is False:
        return 2
    monitor = _monitor(settings, notifiers, alerts=alerts_stream is not None, history=(
        None if store is None  # a replay rewrites every interval it covers:
        else IntervalWriter(store, settings.engine.lateness_ms, resume=False)))  # type: ignore[arg-type]
    bad: list[BadLine] = []

    def on_bad(line: BadLine) -> None:
        bad.append(line)
        err.print(f"line {line.line}: {line.reason} ({line.detail})", highlight=False,
                  markup=False)

    size = args.events.stat().st_size
    progress = Progress(TextColumn("replay"), BarColumn(), TransferSpeedColumn(),
                        console=err, disable=not err.is_terminal, transient=True)
    try:
        with progress:
            task = progress.add_task("replay", total=size)
            applied = replay(
                args.events,
                monitor.pipeline,
                now_ms=args.now,
                on_bad_line=on_bad,
                before_event=monitor.before_event,
                on_progress=lambda n: progress.advance(task, n),
            )
        now = args.now if args.now is not None else monitor.pipeline.engine.max_ts
        if now is not None:
            monitor.advance(now, inclusive=True)
            if monitor.history is not None:  # the input is over: every ended interval is
                monitor.history.advance(monitor.pipeline, now, final=True)
    except OSError as exc:
        err.print(f"[red]cannot read {args.events}: {exc.strerror}[/]")
        return 2
    finally:
        if alerts_stream:
            alerts_stream.close()
        if isinstance(store, HistoryStore):
            store.close()
    if monitor.history is not None:
        err.print(f"wrote {monitor.history.written:,} intervals to the history store",
                  highlight=False)
    if args.metrics_out:
        _write_metrics(args.metrics_out, monitor, settings, now)
    err.print(f"replayed {applied:,} events, {len(bad):,} bad lines, "
              f"{monitor.pipeline.stats.duplicates:,} duplicates, "
              f"{monitor.transitions:,} alert transitions"
              + (f"; windows end at {format_ms(now)}" if now is not None else ""), highlight=False)
    return 0


def _write_metrics(out: str, monitor: Monitor, settings: Settings, now: int | None) -> None:
    """Every KPI series at ``now`` in the exposition format ('-' = stdout)."""
    text = b""
    if now is not None:
        text = exposition(KpiCollector(lambda: monitor.pipeline.snapshot(now),
                                       alerts=monitor.evaluator, scorecards=settings.scorecards,
                                       metrics=settings.metrics))
    if out == "-":
        sys.stdout.buffer.write(text)
    else:
        Path(out).write_bytes(text)


def _produce(settings: Settings, values: Iterable[bytes],
             pace: Callable[[int], None] | None) -> int:
    security = kafka_python_security(settings)
    ensure_topics(settings.kafka, [settings.agent_topic, settings.interaction_topic,
                                   settings.schedule_topic], partitions=8, **security)
    producer = make_producer(settings.kafka, **security)
    try:
        return produce(producer, values, agent_topic=settings.agent_topic,
                       interaction_topic=settings.interaction_topic,
                       schedule_topic=settings.schedule_topic, pace=pace)
    finally:
        producer.close()


def cmd_schedules(args: argparse.Namespace, settings: Settings) -> int:
    err = Console(stderr=True)
    if not args.kafka and not args.out:
        err.print("[red]give --kafka BOOTSTRAP or --out FILE.jsonl[/]")
        return 2
    try:
        with args.file.open(newline="", encoding="utf-8") as stream:
            imported = import_csv(stream, int(time.time() * 1000))
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"[red]cannot read {args.file}: {exc}[/]", highlight=False)
        return 2
    for line in imported.errors:
        err.print(line, highlight=False, markup=False)
    if imported.errors:
        err.print(f"[red]nothing imported: {len(imported.errors)} problems in {args.file}[/]",
                  highlight=False)
        return 2
    if args.out:
        args.out.write_bytes(b"".join(raw + b"\n" for raw in imported.events))
        err.print(f"wrote {len(imported.events):,} schedules to {args.out}", highlight=False)
        return 0
    sent = _produce(settings, imported.events, pace=None)
    err.print(f"sent {sent:,} schedules to {settings.kafka} ({settings.schedule_topic})",
              highlight=False)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    config = SimConfig(agents=args.agents, duration_ms=int(args.hours * HOUR), seed=args.seed,
                       end_shift=args.end_shift)
    now = int(time.time() * 1000)
    if args.start is not None:
        config.start_ms = args.start
    elif args.kafka:
        # Live consumers refuse events from the future: a fast run simulates the hours up to
        # now, a real-time run starts now.
        config.start_ms = now - round(args.warmup * 60_000) if args.realtime else (
            now - config.duration_ms)
    if args.no_scenarios:
        config.scenarios = []
    events = Simulator(config).events()
    if args.kafka:
        settings = _settings(args)
        pace = realtime_pacer(args.speed, anchor_ms=now) if args.realtime else None
        sent = _produce(settings, (orjson.dumps(e) for e in events), pace)
        Console(stderr=True).print(f"sent {sent:,} events to {settings.kafka}", highlight=False)
        return 0
    if args.out is None:
        Console(stderr=True).print("[red]give --out FILE.jsonl or --kafka BOOTSTRAP[/]")
        return 2
    count = 0
    with args.out.open("wb") as out:
        for event in events:
            out.write(orjson.dumps(event) + b"\n")
            count += 1
    Console(stderr=True).print(f"wrote {count:,} events for {args.agents} agents over "
                               f"{args.hours} h to {args.out}", highlight=False)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    settings = _settings(args)
    err = Console(stderr=True)
    if args.events is None:
        if not settings.history:
            err.print("[red]give an event log, or the history store with --history (or "
                      "CCPULSE_HISTORY_URL)[/]")
            return 2
        return _history_report(args, settings, err)
    if args.queue or args.json:
        err.print("[red]--queue and --json read the history store: give --history instead "
                  "of an event log[/]")
        return 2
    if args.out is None:
        err.print("[red]--out PAGE.html is required for a report of an event log[/]")
        return 2
    if not args.events.is_file():
        err.print(f"[red]cannot read {args.events}: no such file[/]")
        return 2
    first, last = time_range(args.events)
    if last is None:
        err.print(f"[red]{args.events} has no valid events[/]")
        return 2
    end = args.end if args.end is not None else last
    period = (30 if args.team else 7) * DAY_MS
    start = args.start if args.start is not None else max(end - period, first or end)
    if start >= end:
        err.print("[red]--from must be before --to[/]")
        return 2
    bucket = {"hour": 3_600_000, "day": DAY_MS, "week": WEEK_MS}[
        args.bucket or ("hour" if end - start <= 2 * DAY_MS else "week" if args.team and
                        end - start > 14 * DAY_MS else "day")]
    report = build_report(args.events, settings, subject="team" if args.team else "agent",
                          ident=args.team or args.agent, start_ms=start, end_ms=end,
                          bucket_ms=bucket)
    if not report.kpis:
        err.print(f"[yellow]no data for {report.subject} {report.ident} in the period[/]")
    args.out.write_text(render(report), encoding="utf-8")
    err.print(f"wrote {args.out}", highlight=False)
    if args.pdf:
        print_pdf(args.out, args.pdf)
        err.print(f"wrote {args.pdf}", highlight=False)
    return 0


def _history_report(args: argparse.Namespace, settings: Settings, err: Console) -> int:
    """``report --history``: a period of whole intervals from the store, in seconds."""
    store = _history(settings, err)
    if not isinstance(store, HistoryStore):
        return 2
    try:
        last = store.last_written()
        if last is None:
            err.print("[red]the history store has no intervals yet: run a worker or a replay "
                      "with --history first[/]")
            return 2
        end = edge(args.end) if args.end is not None else last + INTERVAL_MS
        days = 30 if args.team or args.queue else 7
        start = args.start if args.start is not None else end - days * DAY_MS
        start = -(-start // INTERVAL_MS) * INTERVAL_MS  # whole intervals: --from rounds up
        if start >= end:
            err.print("[red]--from must be at least one 15-minute interval before --to[/]")
            return 2
        scope = "agent" if args.agent else "team" if args.team else "queue"
        ident = args.agent or args.team or args.queue
        if args.json is None and args.out is None:
            err.print("[red]give --json FILE (or -) and/or --out PAGE.html[/]")
            return 2
        doc = period_kpis(store, scope, ident, start, end)
        written = doc["intervals"]
        if written["written"] < written["expected"]:
            err.print(f"[yellow]{written['written']:,} of the period's {written['expected']:,}"
                      " intervals are in the store[/]")
        if args.json is not None:
            text = orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"
            if str(args.json) == "-":
                sys.stdout.buffer.write(text)
            else:
                args.json.write_bytes(text)
                err.print(f"wrote {args.json}", highlight=False)
        if args.out is not None:
            if scope == "queue":
                err.print("[red]the HTML report is for an agent or a team[/]")
                return 2
            bucket = DAY_MS if scope == "agent" or end - start <= 14 * DAY_MS else WEEK_MS
            report = history_report(store, settings, subject=scope, ident=ident,
                                    start_ms=start, end_ms=end, bucket_ms=bucket)
            args.out.write_text(render(report), encoding="utf-8")
            err.print(f"wrote {args.out}", highlight=False)
            if args.pdf:
                print_pdf(args.out, args.pdf)
                err.print(f"wrote {args.pdf}", highlight=False)
    finally:
        store.close()
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    settings = _settings(args)
    err = Console(stderr=True)
    if not settings.history:
        err.print("[red]give the history store with --history (or CCPULSE_HISTORY_URL)[/]")
        return 2
    if args.action == "purge-customer" and not args.customer:
        err.print("[red]purge-customer needs the customer pseudonym[/]")
        return 2
    store = _history(settings, err)
    if not isinstance(store, HistoryStore):
        return 2
    try:
        if args.action == "purge-customer":
            deleted = store.purge_customer(args.customer)
            err.print(f"deleted {deleted:,} interaction records of that customer",
                      highlight=False)  # the pseudonym is not echoed: logs keep no ids
        else:
            now = int(time.time() * 1000)
            deleted = store.purge(edge(now - settings.history_retention_days * DAY_MS),
                                  edge(now - settings.history_records_days * DAY_MS))
            err.print(f"deleted {deleted:,} rows older than the retention", highlight=False)
    finally:
        store.close()
    return 0


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM (``docker stop``, a supervisor) stop the demo cleanly, also when a
    shell started it in the background with SIGINT ignored."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)


def cmd_demo(args: argparse.Namespace) -> int:
    _stop_on_signals()
    settings = _settings(args)
    console = Console()
    monitor = _monitor(settings, [ConsoleNotifier(console)], alerts=True)
    monitor.release_heap = release_free_heap  # the demo runs as long as it is left running
    options = DemoOptions(agents=args.agents, seed=args.seed, speed=args.speed,
                          warmup_minutes=args.warmup, duration_s=args.duration,
                          live_view=console.is_terminal and not args.no_live)
    return run_demo(monitor, settings, options, console)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ConfigError as exc:
        return _config_error(exc)
    configure_logging(settings.log_format)
    tune_gc()
    try:
        if args.command == "demo":
            return cmd_demo(args)
        if args.command == "replay":
            return cmd_replay(args)
        if args.command == "worker":
            from ccpulse.worker import run_worker  # noqa: PLC0415 - faust is slow to import

            return run_worker(settings, partitions=args.partitions)
        if args.command == "report":
            return cmd_report(args)
        if args.command == "history":
            return cmd_history(args)
        if args.command == "agent-link":
            try:
                chosen = replace(settings, web_url=args.web_url or settings.web_url)
                print(agent_link(chosen, args.agent, args.days))
            except ValueError as exc:
                Console(stderr=True).print(f"[red]{exc}[/]", highlight=False)
                return 2
            return 0
        if args.command == "schedules":
            return cmd_schedules(args, settings)
        if args.command == "dashboards":
            settings = _settings(args)
            for path in write_dashboards(settings.thresholds, args.out,
                                         settings.scorecards.default, settings.costs):
                Console(stderr=True).print(f"wrote {path}", highlight=False)
            return 0
        return cmd_simulate(args)
    except ConfigError as exc:
        return _config_error(exc)


def _config_error(exc: ConfigError) -> int:
    Console(stderr=True).print(f"[red]configuration error:[/] {exc}", highlight=False,
                               soft_wrap=True)  # one line, however narrow the terminal
    return 2


if __name__ == "__main__":
    sys.exit(main())
