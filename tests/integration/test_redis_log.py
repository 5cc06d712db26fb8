"""The shared log's commit script on a real redis-server: dedup, offsets, the stored form."""

from __future__ import annotations

import redis

from ccpulse.streams.redis_log import (
    DEDUP_TTL_S,
    Accepted,
    RedisEventLog,
    decode_offsets,
    dedup_key,
    entries,
)

HOUR = 3_600_000
T = 1_790_000_000_000 - 1_790_000_000_000 % HOUR  # the start of an hour


def event(event_id: str, ts_ms: int) -> Accepted:
    return Accepted(event_id, ts_ms, b'{"event_id":"%s","ts_ms":%d}' % (event_id.encode(), ts_ms))


def test_a_commit_appends_each_new_event_once_and_stores_the_offsets(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    log = RedisEventLog(client, "group")
    first = [event("a", T), event("b", T + 1), event("a", T)]  # a redelivery inside the batch
    assert log.commit({"agents:0": 3}, first) == 2
    # the next batch: a redelivery of b, something new in the next hour
    assert log.commit({"agents:0": 5, "interactions:1": 7}, [event("b", T + 1),
                                                             event("c", T + HOUR)]) == 1
    stored = entries(client.xread({log.stream_key: "0-0"}))
    assert [payload for _, payload in stored] == [e.payload for e in
                                                  (first[0], first[1], event("c", T + HOUR))]
    assert decode_offsets(log.stored_offsets()) == {"agents:0": 5, "interactions:1": 7}


def test_ids_are_remembered_per_hour_of_event_time_for_a_day(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    log = RedisEventLog(client, "group")
    log.commit({}, [event("a", T), event("b", T + HOUR - 1), event("c", T + HOUR)])
    assert client.smembers(dedup_key(T)) == {b"a", b"b"}
    assert client.smembers(dedup_key(T + HOUR)) == {b"c"}
    assert DEDUP_TTL_S - 5 <= client.ttl(dedup_key(T)) <= DEDUP_TTL_S
    # the same id at another hour is the engine's to refuse (it remembers ids whatever their
    # time); the log's sets only catch redeliveries, which repeat the time too
    assert log.commit({}, [event("a", T + HOUR)]) == 1


def test_nothing_is_stored_when_the_batch_holds_only_redeliveries(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    log = RedisEventLog(client, "group")
    log.commit({"agents:0": 1}, [event("a", T)])
    before = client.xlen(log.stream_key)
    assert log.commit({"agents:0": 2}, [event("a", T)]) == 0
    assert client.xlen(log.stream_key) == before
    assert decode_offsets(log.stored_offsets()) == {"agents:0": 2}


def test_the_log_says_which_ids_it_knows_already(redis_url: str) -> None:
    """What the consumer asks before dead-lettering an event as too late (issue 17)."""
    log = RedisEventLog(redis.Redis.from_url(redis_url), "group")
    log.commit({}, [event("a", T), event("b", T + HOUR)])
    assert log.known([event("a", T), event("b", T + HOUR), event("c", T), event("b", T)]) == [
        True, True, False, False]
    assert log.known([]) == []
