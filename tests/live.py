"""Helpers for tests against real servers: ccpulse worker processes, simulated recent shifts,
and the comparison of a worker's numbers with ``ccpulse replay`` of the same events."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from kafka import KafkaConsumer
from prometheus_client.parser import text_string_to_metric_families

from ccpulse.processors import catalogue
from ccpulse.processors.timefmt import format_ms
from ccpulse.streams.kafka_io import ensure_topics, make_producer, produce
from ccpulse.streams.redis_log import log_key

# Series that depend on the process or on the instant, not on the events.
NOT_KPIS = ("ccpulse_events_", "ccpulse_event_lag", "ccpulse_alerts_firing", "ccpulse_alert_firing",
            "ccpulse_queue_longest_wait_seconds", "ccpulse_redis_commit", "ccpulse_consumer_lag",
            "ccpulse_agent_shard_", "ccpulse_agent_state_seconds", "ccpulse_replica_",
            "ccpulse_snapshot_", "ccpulse_states_age", "ccpulse_alert_evaluation_")


def ccpulse(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "ccpulse", *args], capture_output=True,
                            text=True, check=True, timeout=300, env=env)
    return result.stdout


def recent_shift(path: Path, *, agents: int, minutes: float, seed: int) -> Path:
    start = int(time.time() * 1000) - int((minutes + 0.5) * 60_000)
    ccpulse("simulate", "--out", str(path), "--agents", str(agents), "--hours",
            str(minutes / 60), "--seed", str(seed), "--start", format_ms(start), "--end-shift")
    return path


def kpis(text: str) -> dict[tuple[str, frozenset], float]:
    # Forecast horizons come from 5-minute bins ending at the scrape instant: they move with
    # it even when nothing else does; the "now" horizon is compared.
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if not s.name.startswith(NOT_KPIS) and s.labels.get("horizon", "now") == "now"}


def firing(text: str) -> dict[tuple[str, frozenset], float]:
    """The alerts firing now, one entry per alert (its labels), in the same shape as kpis."""
    return {("firing", frozenset(s.labels.items())): 1.0
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == "ccpulse_alert_firing_info"}


def expected_kpis(path: Path, config: Path | None = None, *, alerts: bool = False,
                  ) -> dict[tuple[str, frozenset], float]:
    """``ccpulse replay``'s numbers for the file now; with ``alerts``, its firing alerts too
    (comparable with a live worker only when no rule has a hold: see HOLDLESS)."""
    extra = ["--config", str(config)] if config else []
    if alerts:
        extra += ["--alerts-out", os.devnull]  # replay evaluates the rules only when asked
    text = ccpulse("replay", str(path), "--metrics-out", "-", *extra,
                   "--now", format_ms(int(time.time() * 1000)))
    return kpis(text) | (firing(text) if alerts else {})


# With no hold and no hysteresis, whether an alert fires is a function of the KPIs at that
# instant alone, so a worker that crashed and restarted must show exactly the firing alerts a
# replay shows. (Holds and hysteresis depend on the instants evaluated on the way, which
# differ between a replay and a live catch-up; their logic has its own tests.)
HOLDLESS = ("[alerts]\noccupancy_hold_ms = 0\noverstaffed_hold_ms = 0\n"
            "understaffed_hold_ms = 0\noccupancy_resolve = 0.8500000000000001\n"
            "divergence_hold_ms = 0\nburnout_hold_ms = 0\nkeep_firing_ms = 0\n")


def send(path: Path, bootstrap: str, topics: dict[str, str]) -> None:
    ccpulse("replay", str(path), "--kafka", bootstrap, env={**os.environ, **topics})


def api_differences(worker: WorkerProcess, path: Path, agents: int = 5) -> list[str]:
    """The worker's /api/v1 documents of some agents and teams against ``ccpulse replay`` of
    the same file with every series of every agent (``[metrics] agent_series = "all"``)."""
    config = path.with_suffix(".every-series.toml")
    config.write_text('[metrics]\nagent_series = "all"\n')
    want = expected_kpis(path, config)
    kpi_metrics = {f"ccpulse_agent_{kpi.metric}" for kpi in catalogue.CATALOGUE
                   if catalogue.AGENT in kpi.scopes and not kpi.by_channel}
    found: dict[tuple[str, frozenset], float] = {}
    compared: dict[tuple[str, frozenset], float] = {}
    agent_ids = sorted({dict(labels)["agent"] for (name, labels) in want
                        if name.startswith("ccpulse_agent_") and "agent" in dict(labels)})
    for agent in agent_ids[:agents]:
        status, body = worker.get(f"/api/v1/agent/{agent}")
        assert status == 200, (agent, status)
        doc = json.loads(body)
        for window, kpis in doc["windows"].items():
            for metric, value in kpis.items():
                key = (f"ccpulse_agent_{metric}", frozenset(
                    {"agent": agent, "team": doc["team"], "window": window}.items()))
                if key[0] in kpi_metrics:
                    found[key] = value
        compared |= {k: v for k, v in want.items()
                     if k[0] in kpi_metrics and dict(k[1]).get("agent") == agent}
    if len(compared) < 20 * agents:  # a real comparison, not an empty one
        return [f"only {len(compared)} values compared"]
    return differences(found, compared)


def assert_states_read_at_request(get: Callable[[str], tuple[int, str]], text: str) -> None:
    """A team's and a queue's /api/v1 documents (ids from the ``/metrics`` ``text``) give
    their states and waits as read at the request (``states_at``), not at the KPIs' snapshot
    (``at``), which is shared between requests for a while: the wiring of ``floor_now``."""
    labels = [dict(s.labels) for f in text_string_to_metric_families(text) for s in f.samples
              if s.name in ("ccpulse_team_occupancy_ratio", "ccpulse_queue_service_level_ratio")]
    team = next(label["team"] for label in labels if "team" in label)
    queue = next(label["queue"] for label in labels if "queue" in label)
    for path in (f"/api/v1/team/{team}", f"/api/v1/queue/{queue}"):
        later = []
        for _ in range(5):
            status, body = get(path)
            assert status == 200, (path, status)
            doc = json.loads(body)
            assert doc["states_at"] >= doc["at"], doc  # one format: as strings, as times
            later.append(doc["states_at"] > doc["at"])
        assert any(later), path  # equal at every request: read with the snapshot


def union_differences(workers: list[WorkerProcess], path: Path) -> list[str]:
    """Sharded exposition (issue 19): each agent's series come from exactly one worker, and
    every team, queue and channel series from one worker too (the alert lease holder); their
    union is replay's. Empty when all holds."""
    want = expected_kpis(path)
    union: dict[tuple[str, frozenset], float] = {}
    owner: dict[str, int] = {}
    floor: set[int] = set()
    out = []
    for index, worker in enumerate(workers):
        status, text = worker.get("/metrics")
        if status != 200:
            return [f"worker {index}: /metrics {status}"]
        for key, value in kpis(text).items():
            agent = dict(key[1]).get("agent")
            if agent is None:
                floor.add(index)
            elif owner.setdefault(agent, index) != index:
                out.append(f"agent {agent} on workers {owner[agent]} and {index}")
            union[key] = value
    if len(floor) != 1:
        out.append(f"team, queue and channel series from workers {sorted(floor)}")
    return out + differences(union, want)


def assert_union_converges(workers: list[WorkerProcess], path: Path, timeout_s: float = 90,
                           ) -> None:
    deadline = time.monotonic() + timeout_s
    diff = ["never compared"]
    while time.monotonic() < deadline:
        diff = union_differences(workers, path)
        if not diff:
            return
        time.sleep(1)
    raise AssertionError(f"{len(diff)} differences, e.g. {diff[:: max(1, len(diff) // 8)]}")


def differences(got: dict, want: dict) -> list[str]:
    out = [f"missing {k}" for k in want.keys() - got.keys()]
    out += [f"unexpected {k}" for k in got.keys() - want.keys()]
    out += [f"{k}: {got[k]} != {want[k]}" for k in want.keys() & got.keys()
            if got[k] != pytest.approx(want[k], rel=1e-9, abs=1e-9)]
    return out


def remaining_differences(worker: WorkerProcess, path: Path, timeout_s: float = 90, *,
                          config: Path | None = None, alerts: bool = False) -> list[str]:
    """Scrape the worker until it reports what replay reports; the differences left when
    ``timeout_s`` runs out (none: converged). Alerts are evaluated every 15 s, so with
    ``alerts`` allow for one more evaluation."""
    want = expected_kpis(path, config, alerts=alerts)
    assert len(want) > 200
    deadline = time.monotonic() + timeout_s
    diff: list[str] = ["never scraped"]
    while time.monotonic() < deadline:
        status, text = worker.get("/metrics")
        if status == 200:
            got = kpis(text) | (firing(text) if alerts else {})
            diff = differences(got, want)
            if not diff:
                return []
        time.sleep(1)
    return diff


def assert_converges(worker: WorkerProcess, path: Path, timeout_s: float = 90, **kw: Any,
                     ) -> None:
    diff = remaining_differences(worker, path, timeout_s, **kw)
    assert not diff, f"{len(diff)} differences, e.g. {sorted(diff)[:: max(1, len(diff) // 8)]}"


def log_length(redis_url: str) -> int:
    return int(redis.Redis.from_url(redis_url).xlen(log_key()))


def wait_for_log(redis_url: str, count: int, timeout_s: float, *workers: WorkerProcess,
                 ) -> None:
    """Wait until ``count`` events are in the Redis log; on timeout say how far it got and
    show the end of each worker's log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log_length(redis_url) >= count:
            return
        time.sleep(0.2)
    tails = "\n".join(f"--- {w.log.name}:\n" + "\n".join(w.log.read_text().splitlines()[-15:])
                      + "\n" + _consumer_state(w) for w in workers)
    client = redis.Redis.from_url(redis_url)
    stored = {key.decode(): dict(sorted(client.hgetall(key).items()))
              for key in client.scan_iter(match="{ccpulse}:offsets:*")}
    raise TimeoutError(f"{log_length(redis_url)} of {count} events in the Redis log after "
                       f"{timeout_s:.0f} s\noffsets in Redis: {stored}\n{tails}")


def _consumer_state(worker: WorkerProcess) -> str:
    """What a stalled worker says of its partitions: the messages left to read in each."""
    if worker.proc.poll() is not None:
        return "(not running)"
    try:
        text = worker.get("/metrics")[1]
    except OSError as exc:
        return f"(/metrics: {exc})"
    return "\n".join(line for line in text.splitlines()
                     if line.startswith("ccpulse_consumer_lag"))


SHARD = re.compile(r'^ccpulse_agent_shard_partitions\{([^}]*)\}', re.M)
LABEL = re.compile(r'(\w+)="([^"]*)"')


def owned_partitions(text: str) -> tuple[list[int], int | None]:
    """The agent-topic partitions a worker's exposition says it owns, and of how many."""
    found = [dict(LABEL.findall(labels)) for labels in SHARD.findall(text)]
    return [int(f["partition"]) for f in found], (int(found[0]["of"]) if found else None)


def shares(workers: list[WorkerProcess]) -> list[tuple[list[int], int | None]]:
    """Each worker's :func:`owned_partitions`, in the order of ``workers``."""
    return [owned_partitions(w.get("/metrics")[1]) for w in workers]


def settled(workers: list[WorkerProcess]) -> bool:
    """The group has given each partition of the agent topic to exactly one of ``workers``:
    ready alone can be a member a rebalance is about to change. (Not that each has some: the
    assignor balances all the input topics' partitions together, so a worker can hold none of
    the agent topic's.) Cheap while the engines are small (it scrapes each)."""
    found = shares(workers)
    counts = {of for _, of in found}
    if len(counts) != 1 or None in counts:
        return False
    [of] = counts
    owned = sorted(p for share, _ in found for p in share)
    return owned == list(range(of))


def wait_settled(workers: list[WorkerProcess], timeout_s: float) -> None:
    """Wait for :func:`settled`; a timeout says what each worker owned last."""
    try:
        wait_for(lambda: settled(workers), timeout_s, "the consumer group to settle")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}: partitions (owned, of) by worker {shares(workers)}; "
                           "see the workers' logs") from exc


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(what)


BAD_LINES = [
    b'{"event_id": "bad-1", "type": "agent.login", "agent_id": "x"',
    b'{"event_id": "bad-2", "type": "agent.teleport", "ts": "2026-11-22T09:00:00Z"}',
    b'{"event_id": "bad-3", "type": "interaction.survey", "ts": "2026-11-22T09:00:00Z", '
    b'"interaction_id": "i", "agent_id": "a", "csat": 9}',
    b'{"event_id": "bad-4", "type": "agent.available", "ts": "2026-11-22T09:00:00Z"}',
    b"[1, 2, 3]",
    b'{"event_id": "bad-6", "type": "agent.available", "agent_id": "a", "ts": "'
    + b"2099-01-01T00:00:00Z" + b'"}',
    b'{"pad": "' + b"x" * 70_000 + b'"}',
]
BAD_REASONS = {"not_json": 1, "unknown_type": 1, "invalid_value": 1, "missing_field": 1,
               "not_object": 1, "future_timestamp": 1, "too_large": 1}


def with_noise(clean: Path, out: Path, seed: int) -> tuple[Path, int]:
    """The clean file plus duplicates (redeliveries) and bad lines scattered through it."""
    rng = random.Random(seed)
    lines = clean.read_bytes().splitlines()
    noisy = list(lines)
    for line in rng.sample(lines, 40):  # a redelivery comes after the original
        noisy.insert(rng.randrange(noisy.index(line) + 1, len(noisy) + 1), line)
    for line in BAD_LINES:
        noisy.insert(rng.randrange(len(noisy) + 1), line)
    out.write_bytes(b"\n".join(noisy) + b"\n")
    return out, len(lines)



def dead_letters(bootstrap: str, topic: str) -> list[tuple[tuple[str, int, int], bytes]]:
    """Every message on the dead-letter topic as (its source position, payload). The position
    (source topic, partition, offset headers) is the key a consumer deduplicates by:
    dead-lettering is at least once (README, guarantees)."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=5000)
    out = []
    for message in consumer:
        headers = dict(message.headers)
        out.append(((headers["ccpulse-source-topic"].decode(),
                     int(headers["ccpulse-source-partition"]),
                     int(headers["ccpulse-source-offset"])), message.value))
    consumer.close()
    return out


def produce_slowly(path: Path, bootstrap: str, topics: dict[str, str],
                   seconds: float, partitions: int = 4) -> threading.Thread:
    """Send the file's lines evenly over ``seconds`` from a background thread."""
    lines = path.read_bytes().splitlines()
    pause = seconds / len(lines)
    ensure_topics(bootstrap, [topics["CCPULSE_AGENT_TOPIC"], topics["CCPULSE_INTERACTION_TOPIC"],
                              topics["CCPULSE_SCHEDULE_TOPIC"]], partitions=partitions)

    def run() -> None:
        producer = make_producer(bootstrap)
        for i in range(0, len(lines), 20):
            produce(producer, lines[i:i + 20], agent_topic=topics["CCPULSE_AGENT_TOPIC"],
                    interaction_topic=topics["CCPULSE_INTERACTION_TOPIC"],
                    schedule_topic=topics["CCPULSE_SCHEDULE_TOPIC"])
            time.sleep(pause * 20)
        producer.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread



def http_get(url: str, auth: tuple[str, str] | None = None, timeout_s: float = 10,
             ) -> tuple[int, str]:
    """(status, body) of a GET, with HTTP basic auth when given; errors are answers too."""
    request = urllib.request.Request(url)
    if auth is not None:
        token = base64.b64encode(":".join(auth).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class WorkerProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = int(env["CCPULSE_METRICS_PORT"])
        self.log = log
        self.auth: tuple[str, str] | None = None  # basic auth for /metrics, when set
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ccpulse", "worker", "--partitions", "4"],
            env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)

    def get(self, path: str, timeout_s: float = 10) -> tuple[int, str]:
        return http_get(f"http://127.0.0.1:{self.port}{path}", self.auth, timeout_s)

    def wait_healthy(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text()[-3000:]}")
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"worker not healthy: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def children(self) -> list[int]:
        """Pids of the worker's child processes: its serving process and multiprocessing's
        resource tracker."""
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def serving_pid(self) -> int:
        """The child that runs the replica, /metrics and alerts (multiprocessing's spawn)."""
        (pid,) = [pid for pid in self.children()
                  if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        return pid

    def kill(self) -> None:
        """SIGKILL: no chance to flush or commit anything. Returns once the worker's child
        processes have noticed and gone too (their pipes close with the worker)."""
        children = self.children()
        self.proc.kill()
        self.proc.wait()
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in children):
            if time.monotonic() > deadline:
                raise AssertionError(f"child processes {children} outlived their worker")
            time.sleep(0.05)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True



def active_alerts(port: int) -> list[dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/alerts?active=true",
                                timeout=5) as response:
        return json.load(response)


def wait_for_alerts(port: int, predicate, timeout_s: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    alerts: list[dict] = []
    while time.monotonic() < deadline:
        try:
            alerts = active_alerts(port)
            if predicate(alerts):
                return alerts
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"Alertmanager never showed the expected alerts: {alerts}")


