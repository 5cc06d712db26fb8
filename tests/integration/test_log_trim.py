"""The shared event log is trimmed to what a replica needs (real redis-server)."""

from __future__ import annotations

import time

import redis

from ccpulse.processors.config import EngineConfig
from ccpulse.serving import TRIM_EVERY_MS, TRIM_SLACK_MS, LogTrimmer
from ccpulse.streams.log_codec import FIELD, pack

HOUR = 3_600_000


def test_the_horizon_is_the_windows_then_a_day_of_contacts_and_ids() -> None:
    assert EngineConfig().log_horizon_ms == 8 * HOUR + 10 * 60_000 + 24 * HOUR


def test_the_log_keeps_what_a_replica_needs_and_drops_the_rest(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    key = f"{{ccpulse}}:trim-test-{time.time_ns()}"
    horizon = EngineConfig().log_horizon_ms
    keep = horizon + TRIM_SLACK_MS
    now = int(time.time() * 1000)
    for age in (keep + HOUR, keep + 1, keep - 1, 60_000):  # ids in append order
        client.xadd(key, {FIELD: pack(b"{}")}, id=f"{now - age}-0")
    trim = LogTrimmer(client, key, horizon)

    def times() -> list[int]:
        return [int(entry_id.split(b"-")[0]) for entry_id, _ in client.xrange(key)]

    trim(now)
    assert times() == [now - keep + 1, now - 60_000]
    trim(now + 2)  # the oldest is due now, but the trimmer runs every 10 minutes
    assert times() == [now - keep + 1, now - 60_000]
    trim(now + TRIM_EVERY_MS)
    assert times() == [now - 60_000]
    client.delete(key)
