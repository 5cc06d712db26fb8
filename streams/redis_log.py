"""The durable, shared record of applied events: a Redis Stream, written atomically with offsets.

Each worker validates a batch from Kafka and commits it with one Lua script: every event whose
``event_id`` is not yet in the dedup set of its hour of event time is appended to the stream
(its bytes as sent, compressed by :mod:`streams.log_codec`), the ids are remembered (24 h past
their hour's last new one), and the next Kafka offset of each partition is stored — all or
nothing. An id sent again with another time passes here and is refused by every replica's
engine, which remembers ids for 24 h whatever their time. A worker that crashes anywhere
either committed the batch or did not; after a restart it skips offsets below the stored
ones, so a redelivery changes nothing.

Every worker then tails the same stream into its own in-memory engine (:mod:`streams.replica`),
so all workers compute the same KPIs from the same ordered history, whatever partitions they
own. Keys share the ``{ccpulse}`` hash tag so the script stays on one Redis Cluster slot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ccpulse.streams.log_codec import FIELD, pack, unpack

KEY_PREFIX = "{ccpulse}"
DEDUP_TTL_S = 24 * 3600
DEDUP_BUCKET_MS = 3_600_000

# KEYS[1] stream, KEYS[2] offsets hash. ARGV[1] dedup ttl, ARGV[2] payload field, ARGV[3] n
# offsets, then n × (partition key, next offset), then m × (dedup set, event id, packed event).
_COMMIT = """
local ttl = tonumber(ARGV[1])
local field = ARGV[2]
local n = tonumber(ARGV[3])
local i = 4
for _ = 1, n do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local added = 0
local extended = {}
while i <= #ARGV do
  local ids = ARGV[i]
  if redis.call('SADD', ids, ARGV[i + 1]) == 1 then
    redis.call('XADD', KEYS[1], '*', field, ARGV[i + 2])
    added = added + 1
    if not extended[ids] then
      redis.call('EXPIRE', ids, ttl)
      extended[ids] = true
    end
  end
  i = i + 3
end
return added
"""


@dataclass(frozen=True)
class Accepted:
    """A valid event ready for the shared log."""

    event_id: str
    ts_ms: int  # its event time, which picks the set its id is remembered in
    payload: bytes


def log_key(prefix: str = KEY_PREFIX) -> str:
    """The Redis Stream every worker appends to and every replica tails."""
    return f"{prefix}:log"


def dedup_key(ts_ms: int, prefix: str = KEY_PREFIX) -> str:
    """The set of the event ids of one hour of event time. One set member costs Redis about
    two thirds of a key of its own with a TTL; a redelivery carries the same time as the
    original, so it meets its id in the same set. Each set lives 24 h after its last new id."""
    return f"{prefix}:eid:{ts_ms // DEDUP_BUCKET_MS}"


def partition_key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


class RedisEventLog:
    """Commit batches to, and read offsets and entries from, the shared event log."""

    def __init__(self, client: Any, group: str, prefix: str = KEY_PREFIX) -> None:
        self._client = client
        self.prefix = prefix
        self.stream_key = log_key(prefix)
        self.offsets_key = f"{prefix}:offsets:{group}"
        self._commit = client.register_script(_COMMIT)

    def commit_args(self, offsets: dict[str, int], events: Sequence[Accepted]) -> list[Any]:
        args: list[Any] = [DEDUP_TTL_S, FIELD, len(offsets)]
        for key, offset in offsets.items():
            args += [key, offset]
        for event in events:
            args += [dedup_key(event.ts_ms, self.prefix), event.event_id, pack(event.payload)]
        return args

    def commit(self, offsets: dict[str, int], events: Sequence[Accepted]) -> Any:
        """Atomically append new events and store offsets; returns how many were new.

        With a ``redis.asyncio`` client the result is awaitable.
        """
        return self._commit(keys=[self.stream_key, self.offsets_key],
                            args=self.commit_args(offsets, events))

    def known(self, events: Sequence[Accepted]) -> Any:
        """For each event, whether its id is in the log's dedup set of its hour already: one
        round trip. With a ``redis.asyncio`` client the result is awaitable."""
        pipe = self._client.pipeline(transaction=False)
        for event in events:
            pipe.sismember(dedup_key(event.ts_ms, self.prefix), event.event_id)
        return pipe.execute()

    def stored_offsets(self) -> Any:
        return self._client.hgetall(self.offsets_key)


def trim_log(client: Any, stream_key: str, keep_from_ms: int) -> int:
    """Drop the entries Redis appended before ``keep_from_ms`` (entry ids carry Redis's clock
    at append time) and return how many went: without it the log grows without end."""
    return int(client.xtrim(stream_key, minid=f"{keep_from_ms}-0", approximate=False))


def decode_offsets(raw: dict[bytes, bytes]) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in raw.items()}


def entries(response: Iterable[Any]) -> list[tuple[bytes, bytes]]:
    """Flatten an XREAD reply into (entry id, event as sent)."""
    field = FIELD.encode()
    return [(entry_id, unpack(fields[field]))
            for _stream, items in response or () for entry_id, fields in items]
