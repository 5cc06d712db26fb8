"""The benchmark scripts keep working (their short mode); nothing here judges speed."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bench.__main__ import BENCHES

# These start their own Kafka and Redis and mostly wait on them and on their workers: each
# runs beside the other and beside the rest, which run one after the other (the test took
# two minutes on two cores run all in a row, 95 s with the two brokered ones in a row).
BROKERED = ("live", "scale")


def short_runs(names: list[str]) -> str:
    return "".join(subprocess.run([sys.executable, "-m", "bench", name, "--short"],
                                  capture_output=True, text=True, check=True,
                                  timeout=600).stdout for name in names)


def every_short_run() -> dict[str, dict]:
    chains = [[name] for name in BROKERED]
    chains.append([name for name in BENCHES if name not in BROKERED])
    with ThreadPoolExecutor(len(chains)) as pool:
        runs = [pool.submit(short_runs, chain) for chain in chains]
        out = "".join(run.result() for run in runs)
    return {r["bench"]: r for r in map(json.loads, out.splitlines())}


def check_served(served: dict[str, Any]) -> None:
    """Over HTTP at an interval, rendered ahead and not, asked for gzip and not."""
    for mode in (served["ahead"], served["every_scrape"], served["ahead_gzip"]):
        assert mode["scrape_s"] > 0 and mode["exposition_bytes"] > 0
        assert len(mode["scrapes_s"]) == 2 and mode["snapshot_age_s"] >= 0
    # rendered ahead, a scrape's numbers are of before it came; rendered by it, of then
    assert served["ahead"]["snapshot_age_s"] > served["every_scrape"]["snapshot_age_s"]
    plain, packed = served["ahead"], served["ahead_gzip"]  # the same floor, asked for gzip
    assert plain["sent_bytes"] == plain["exposition_bytes"] and plain["decompress_s"] == 0
    assert packed["sent_bytes"] < packed["exposition_bytes"] / 3


def check_floor_costs(results: dict) -> None:
    """One agent's answer and one evaluation of the floor, as bench/drill.py and
    bench/evaluation.py report them."""
    drill = results["drill"]  # each answer of the floor's and of the agent's own, equal
    assert drill["answers"] == 5 and drill["snapshots_by_kind"] == {"floor": 10, "drill": 10}
    evaluation = results["evaluation"]  # each part measured, none more than the whole
    assert evaluation["evaluations"] == 5 and evaluation["agents_tracked"] > 0
    assert 0 < evaluation["read_s"] <= evaluation["total_s"]
    assert evaluation["rules_s"] > 0 and evaluation["agents_s"] > 0


def test_bench_short_mode_reports_every_benchmark() -> None:
    results = every_short_run()
    assert set(results) == {"engine", "replay", "scrape", "served", "drill", "evaluation",
                            "memory", "live", "alerts", "scale", "history", "checkpoint",
                            "consumer"}
    check_served(results["served"])
    assert results["consumer"]["consumer_us_per_message"] > 0
    check_floor_costs(results)
    checkpoint = results["checkpoint"]  # written by a forked child, loaded back (it asserts)
    assert checkpoint["file_mib"] > 0 and checkpoint["child_peak_private_mib"] > 0
    alerts = results["alerts"]
    assert alerts["literal_v1"]["transitions"] and alerts["refined"]["transitions"]
    assert results["engine"]["events"] > 0 and results["engine"]["apply_per_s"] > 0
    assert results["replay"]["events_per_s"] > 0
    assert results["scrape"]["exposition_bytes"] > 0
    scrape = results["scrape"]
    assert 0 < scrape["series_per_agent"] <= 25 < scrape["every_series"]["series_per_agent"]
    shares = [w["agent_series_lines"] for w in scrape["per_worker"]]
    assert len(shares) == 2 and all(shares)  # two workers share the floor's agent series
    assert sum(shares) == pytest.approx(scrape["series_per_agent"] * scrape["agents"], abs=2)
    memory = results["memory"]
    assert memory["rss_per_agent_kib_by_hour"]  # one figure per hour of the run
    parts = memory["walked_kib_per_agent"]  # where the memory is, by part of the engine
    assert all(parts[name] > 0 for name in ("interactions", "cells", "timelines"))
    assert memory["walked_total_kib_per_agent"] == pytest.approx(sum(parts.values()), abs=0.5)
    live = results["live"]  # its own Kafka and Redis, a worker, a bare consumer, probes
    assert live["bare_aiokafka_per_s"] > 0 and live["worker_per_s"] > 0
    assert live["bare_confluent_kafka_per_s"] > 0
    assert live["recovery_s"] > 0 and live["latency_probes"] > 0
    assert live["serving_process_rss_mib"] > 0
    assert live["worker_rss_mib"] > live["serving_process_rss_mib"]  # all its processes
    scale = results["scale"]  # one worker, then two on the same backlog, real Kafka and Redis
    assert scale["one_worker"]["events_per_s"] > 0 and len(scale["n_workers"]["each"]) == 2
    assert all(w["agents"] for w in scale["n_workers"]["each"])  # both export agents
    # scraped as Prometheus scrapes, asking for gzip: a worker sends its text compressed
    assert all(w["sent_bytes"] < w["exposition_bytes"] / 3 for w in scale["n_workers"]["each"])
    # what their snapshots cost, from their own /metrics: the lease holder's floor
    assert all(w["snapshot_mean_s"].get("floor", 0) > 0
               for w in scale["n_workers"]["each"] if w["exports_floor"])
    assert scale["agents_split_exactly"]  # together the one worker's, each agent once
    assert sum(w["exports_floor"] for w in scale["n_workers"]["each"]) == 1  # the lease holder
    for run in (scale["one_worker"], scale["n_workers"]):  # probes seen, a worker recovered
        # polled, and as Prometheus gets it: scrapes at its rhythm, each with a recent probe
        assert (run["latency"]["probes"] > 0 and run["latency"]["to_metrics_p50_s"] > 0
                and run["latency"]["scrapes_at_rhythm"] > 0
                and run["latency"]["stale_at_scrape_p99_s"]
                >= run["latency"]["stale_at_scrape_p50_s"] >= 0
                # and the KPIs of a snapshot rendered ahead of the scrape
                and run["latency"]["scrapes_at_rhythm_with_kpis"] > 0
                and run["latency"]["kpis_stale_at_scrape_p99_s"]
                >= run["latency"]["kpis_stale_at_scrape_p50_s"] >= 0)
        assert run["recovery"]["backlog_events"] > 0 and run["recovery"]["ready_s"] > 0
        # from the checkpoint written before the kill, not by replaying the whole log
        assert run["recovery"]["resumed_from_checkpoint"]
        assert run["recovery"]["checkpoint_entries"] > 0
        # the lease holder's alert evaluations (a short run may end before its first one,
        # every 15 s of wall time) and, where there were some, how late they ran
        assert all((w["evaluations"] > 0) == ("mean_s" in w) for w in run["evaluation_delay"])
        assert all(w["after_backlog"]["evaluations"] <= w["evaluations"] and w["skipped"] >= 0
                   for w in run["evaluation_delay"])
    each = [scale["one_worker"], *scale["n_workers"]["each"]]
    # every worker answers for any agent (its own snapshot where no floor is recent)
    assert all(w["agent_answer_max_s"] >= w["agent_answer_s"] > 0 for w in each)
    assert all(w["snapshot_age_s"] is not None and w["snapshot_age_s"] >= 0 for w in each)
    # a worker reads its states apart, for each scrape: how old they were
    assert all(w["states_age_max_s"] >= w["states_age_s"] >= 0 for w in each)
    assert all(w["first_scrape_s"] > 0 and w["scrape_max_s"] >= w["scrape_s"] > 0 for w in each)
    history = results["history"]  # SQLite and a real PostgreSQL server
    assert history["rows_30d"] > 0 and history["history_writer_cost"] > 0
    for store in ("sqlite", "postgresql"):
        assert history[store]["team_30d_json_s"] > 0 and history[store]["team_30d_page_s"] > 0
    for result in results.values():
        assert result["machine"]["cpus"] >= 1 and result["date"]
