"""ccpulse benchmarks: ``python -m bench [all|engine|replay|scrape|served|drill|evaluation|memory|
live|alerts|scale|history|checkpoint|consumer] [--short]``.

Each benchmark simulates its floor with a fixed seed, measures, and prints one JSON line with
the machine, the command and the numbers, next to the bare-library baseline measured in the
same run where one exists (this machine is shared and noisy: ratios travel better than
absolute numbers). ``--short`` runs tiny sizes so CI keeps the scripts working; it asserts
nothing about speed. Results go into BENCHMARKS.md by hand, with the date.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import msgspec
import orjson

from bench.alerts import bench_alerts
from bench.checkpoint import bench_checkpoint
from bench.consumer import bench_consumer
from bench.drill import bench_drill
from bench.evaluation import bench_evaluation
from bench.footprint import footprint
from bench.history import bench_history
from bench.live import bench_live
from bench.procfs import rss_kib
from bench.scale import bench_scale
from bench.served import bench_served
from ccpulse.exporter import KpiCollector, MetricsConfig, exposition
from ccpulse.heap import release_free_heap
from ccpulse.processors.catalogue import agent_series
from ccpulse.processors.decode import decode
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.snapshot import read, snapshot
from ccpulse.runtime import EXPIRE_EVERY_MS, tune_gc
from ccpulse.sharding import AgentShards
from ccpulse.streams.simulator import HOUR, SimConfig, Simulator
from ccpulse.textformat import Exposition

SIZES = {"S": 500, "M": 5_000, "L": 50_000}
PARTITIONS = 8  # of the agent-state topic, for --workers (ccpulse worker's default)


def machine() -> dict[str, object]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}


def simulated_events(agents: int, hours: float, seed: int = 1) -> Iterator[bytes]:
    config = SimConfig(agents=agents, duration_ms=int(hours * HOUR), seed=seed)
    return (orjson.dumps(e) for e in Simulator(config).events())


def simulated(agents: int, hours: float, seed: int = 1) -> list[bytes]:
    return list(simulated_events(agents, hours, seed))


def rate(count: int, run: Callable[[], object]) -> tuple[float, float]:
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    return count / seconds, seconds


def bench_engine(agents: int, hours: float) -> dict[str, object]:
    """Decode + validate + apply on one core, against msgspec's bare JSON decode."""
    lines = simulated(agents, hours)
    tune_gc()  # as every ccpulse command does
    bare, _ = rate(len(lines), lambda: [msgspec.json.decode(line) for line in lines])
    validated, _ = rate(len(lines), lambda: [decode(line) for line in lines])
    decoded = [decode(line) for line in lines]
    engine = KpiEngine()
    applied, _ = rate(len(lines), lambda: [engine.apply(d) for d in decoded])  # type: ignore[arg-type]
    engine = KpiEngine()
    end_to_end, _ = rate(len(lines), lambda: [engine.apply(decode(line))  # type: ignore[arg-type]
                                              for line in lines])
    return {"events": len(lines), "bare_json_decode_per_s": round(bare),
            "decode_validate_per_s": round(validated), "apply_per_s": round(applied),
            "decode_validate_apply_per_s": round(end_to_end),
            "ratio_to_bare_decode": round(end_to_end / bare, 3)}


def bench_replay(agents: int, hours: float) -> dict[str, object]:
    """``ccpulse replay`` of a simulated day as a user runs it, process start included."""
    with tempfile.TemporaryDirectory() as tmp:
        day = Path(tmp) / "day.jsonl"
        subprocess.run([sys.executable, "-m", "ccpulse", "simulate", "--out", str(day),
                        "--agents", str(agents), "--hours", str(hours), "--seed", "1"],
                       check=True, capture_output=True)
        count = sum(1 for _ in day.open("rb"))
        command = [sys.executable, "-m", "ccpulse", "replay", str(day), "--metrics-out",
                   str(Path(tmp) / "m.prom")]
        per_s, seconds = rate(count, lambda: subprocess.run(command, check=True,
                                                              capture_output=True))
        return {"events": count, "seconds": round(seconds, 2), "events_per_s": round(per_s),
                "command": "ccpulse replay day.jsonl --metrics-out m.prom"}


def settled_rss_kib() -> int:
    """Resident memory once garbage that only a collection frees is gone."""
    gc.collect()
    return rss_kib()


def memory_figures(grown_kib: int, agents: int) -> dict[str, float]:
    return {"engine_rss_growth_mib": round(grown_kib / 1024, 1),
            "rss_per_agent_kib": round(grown_kib / agents, 1)}


def series_per_agent(body: bytes, agents: int) -> float:
    """Sample lines that carry an ``agent`` label, per agent."""
    return round(sum(1 for line in body.splitlines()
                     if b'agent="' in line and not line.startswith(b"#")) / agents, 1)


def applied_engine(lines: Iterable[bytes], *, dedup: bool = True) -> KpiEngine:
    """An engine that applied ``lines`` (a simulated shift), as a replay does."""
    engine = KpiEngine(dedup=dedup)
    for line in lines:
        engine.apply(decode(line))  # type: ignore[arg-type]
    return engine


def bench_scrape(agents: int, hours: float, workers: int = 1) -> dict[str, object]:
    """Computing the whole exposition at one instant, and the engine's memory: with the
    per-agent budget (the default), and with every KPI of every agent in every window (what
    /metrics held before the budget) as the same run's baseline. With ``workers`` > 1, also
    each worker's scrape when ``workers`` share 8 agent-topic partitions (the same
    exposition, filtered by ccpulse.sharding as a worker's is)."""
    lines = simulated(agents, hours)
    tune_gc()
    before = settled_rss_kib()
    engine = applied_engine(lines)
    grown_kib = settled_rss_kib() - before
    now = engine.max_ts or 0
    # the first snapshot after the replay pays for growing the heap; a worker's every
    # scrape after it is the steady state: the median of three more
    _, first_snap_s = rate(1, lambda: snapshot(engine, now))
    snap_s = statistics.median(rate(1, lambda: snapshot(engine, now))[1] for _ in range(3))
    # of which the engine is held still (the replica waits): the reading alone
    read_s = statistics.median(rate(1, lambda: read(engine, now))[1] for _ in range(3))

    def scrape(metrics: MetricsConfig, owns: Callable[[str], bool] | None = None,
               leading: bool = True) -> tuple[float, bytes]:
        body: list[bytes] = []
        _, seconds = rate(1, lambda: body.append(exposition(KpiCollector(
            lambda: snapshot(engine, now), metrics=metrics, owns_agent=owns,
            share=None if owns is None else lambda windows: snapshot(engine, now, owns, windows),
            floor=lambda: leading))))
        return seconds, body[0]

    scrape_s, body = scrape(MetricsConfig())
    # a worker's /metrics from its second scrape on: the label text of the first is kept
    kept = Exposition()
    kept.render(KpiCollector(lambda: snapshot(engine, now), metrics=MetricsConfig()).collect())
    kept_s = statistics.median(rate(1, lambda: kept.render(KpiCollector(
        lambda: snapshot(engine, now), metrics=MetricsConfig()).collect()))[1]
        for _ in range(3))
    every_s, every = scrape(MetricsConfig(agent_series("all"), agent_channels=True))
    sharded: dict[str, object] = {}
    if workers > 1:
        per_worker = []
        for index in range(workers):  # worker 0 holds the alert lease: it exports the floor
            shards = AgentShards()
            shards.update(PARTITIONS, frozenset(range(index, PARTITIONS, workers)))
            seconds, share = scrape(MetricsConfig(), shards.owns, leading=index == 0)
            per_worker.append({"leads": index == 0, "scrape_s": round(seconds, 3),
                               "exposition_bytes": len(share),
                               "agent_series_lines": round(series_per_agent(share, 1))})
        sharded = {"workers": workers, "per_worker": per_worker,
                   "leader_vs_one": round(float(per_worker[0]["scrape_s"]) / scrape_s, 2),
                   "slowest_follower_vs_one": round(
                       max(float(w["scrape_s"]) for w in per_worker[1:]) / scrape_s, 2)}
    return {"agents": agents, "first_snapshot_s": round(first_snap_s, 3),
            "snapshot_s": round(snap_s, 3), "snapshot_engine_held_s": round(read_s, 3),
            "scrape_s": round(scrape_s, 3),
            "scrape_kept_s": round(kept_s, 3),
            "exposition_bytes": len(body), "series_per_agent": series_per_agent(body, agents),
            "every_series": {"scrape_s": round(every_s, 3), "exposition_bytes": len(every),
                             "series_per_agent": series_per_agent(every, agents)},
            "scrape_vs_every_series": round(scrape_s / every_s, 2), **sharded,
            **memory_figures(grown_kib, agents)}


def replica_of(agents: int, hours: float) -> KpiEngine:
    """A worker's replica of a simulated shift, as the floor benchmarks serve it: the engine
    that applied it without event ids (a replica's log was deduplicated at commit), with
    ccpulse's collector settings. Applied as simulated: the lines of 8 h of 50,000 agents
    held beside the engine did not fit in this machine's 24 GiB."""
    tune_gc()
    return applied_engine(simulated_events(agents, hours), dedup=False)


def bench_served_floor(agents: int, hours: float, interval_s: float = 15.0,
                       reported: int = 4) -> dict[str, object]:
    """A single worker's /metrics over HTTP at Prometheus' interval, rendered ahead of the
    scrapes and not (bench/served.py)."""
    return bench_served(replica_of(agents, hours), interval_s, reported)


def bench_drill_floor(agents: int, hours: float) -> dict[str, object]:
    """One agent's answer over HTTP, its own snapshot against the floor's (bench/drill.py)."""
    return bench_drill(replica_of(agents, hours))


def bench_evaluation_floor(agents: int, hours: float) -> dict[str, object]:
    """One alert evaluation of the floor, part by part (bench/evaluation.py)."""
    return bench_evaluation(replica_of(agents, hours))


def bench_memory(agents: int, hours: float, dedup: bool = False) -> dict[str, object]:
    """The engine's resident memory hour by hour of a long run, expired every
    ``EXPIRE_EVERY_MS`` of event time as a worker does: it grows until the oldest history kept
    (24 h of each customer's contacts, and of event ids where the engine deduplicates; 8 h
    10 min of everything else) starts to expire, and is flat from then on. The steady state,
    not an 8-hour snapshot, is what a worker needs. ``dedup`` False is a worker's replica
    (its log is deduplicated at commit); True is the demo's and replay's engine."""
    lines = simulated(agents, hours)
    tune_gc()
    before = settled_rss_kib()
    engine = KpiEngine(dedup=dedup)
    next_expiry: int | None = None
    next_hour: int | None = None
    per_hour: list[float] = []  # KiB per agent at the end of each hour of event time
    for line in lines:
        decoded = decode(line)
        engine.apply(decoded)  # type: ignore[arg-type]
        ts = decoded.ts_ms  # type: ignore[union-attr]
        if next_expiry is None or ts >= next_expiry:
            engine.expire(ts)
            release_free_heap()  # as Monitor does after each expiry in a worker
            next_expiry = ts + EXPIRE_EVERY_MS
        if next_hour is None:
            next_hour = ts + HOUR
        elif ts >= next_hour:
            per_hour.append(round((settled_rss_kib() - before) / agents, 1))
            next_hour += HOUR
    grown_kib = settled_rss_kib() - before
    parts = {name: round(size / 1024 / agents, 1) for name, size in footprint(engine).items()}
    return {"agents": agents, "events": len(lines), "dedup": dedup,
            "rss_per_agent_kib_by_hour": per_hour,
            **memory_figures(grown_kib, agents),
            # where it is (bench/footprint.py); what the walk misses is the allocators' slack
            "walked_kib_per_agent": parts,
            "walked_total_kib_per_agent": round(sum(parts.values()), 1)}


BENCHES: dict[str, Callable[..., dict[str, object]]] = {
    "engine": bench_engine, "replay": bench_replay, "scrape": bench_scrape,
    "served": bench_served_floor, "drill": bench_drill_floor,
    "evaluation": bench_evaluation_floor, "memory": bench_memory,
    "live": bench_live, "alerts": bench_alerts, "scale": bench_scale,
    "history": bench_history, "checkpoint": bench_checkpoint, "consumer": bench_consumer,
}
FULL = {"engine": ("M", 1.0), "replay": ("M", 8.0), "scrape": ("M", 8.0), "served": ("M", 8.0),
        "drill": ("M", 8.0), "evaluation": ("M", 8.0),
        "memory": ("S", 30.0), "live": ("S", 8.0), "alerts": (300, 8.0), "scale": ("M", 1.0),
        "history": (300, 24.0), "checkpoint": ("M", 8.0), "consumer": ("S", 8.0)}
SHORT = {"engine": (50, 0.25), "replay": (50, 0.25), "scrape": (50, 0.25), "served": (50, 0.25),
         "drill": (50, 0.25), "evaluation": (50, 0.25),
         "memory": (50, 2.0), "live": (50, 0.5), "alerts": (50, 1.0), "scale": (50, 0.5),
         "history": (30, 2.0), "checkpoint": (50, 0.5), "consumer": (50, 0.5)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="?", default="all", choices=["all", *BENCHES])
    parser.add_argument("--short", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--agents", help="S, M, L or a number (default per benchmark)")
    parser.add_argument("--hours", type=float)
    parser.add_argument("--workers", type=int,
                        help="scrape: also each worker's scrape when N workers share the floor; "
                             "scale: how many workers to run beside one (default 4)")
    parser.add_argument("--rate", type=int,
                        help="live, scale: background events/s while latency is probed "
                             "(default 500)")
    parser.add_argument("--dedup", action="store_true",
                        help="memory: keep event ids as the demo and replay do (a worker's "
                             "replica does not)")
    args = parser.parse_args(argv)
    plan = SHORT if args.short else FULL
    for name in (BENCHES if args.which == "all" else [args.which]):
        size, hours = plan[name]
        if args.agents:
            size = args.agents
        agents = SIZES[size] if isinstance(size, str) and size in SIZES else int(size)
        options: dict[str, float] = {}
        if name in ("live", "scale") and args.rate:
            options["rate"] = args.rate
        if name == "memory" and args.dedup:
            options["dedup"] = True
        if name == "scrape" and (args.workers or args.short):
            options["workers"] = args.workers or 2
        if name == "served" and args.short:
            # just over the shortest interval a rhythm is told from (ccpulse.scrape_ahead)
            options |= {"interval_s": 2.1, "reported": 2}
        if name == "scale":
            options["workers"] = args.workers or (2 if args.short else 4)
        result = BENCHES[name](agents, args.hours or hours, **options)
        print(json.dumps({"bench": name, "agents": agents, "hours": args.hours or hours,
                          "date": time.strftime("%Y-%m-%d"), "machine": machine(),
                          **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
