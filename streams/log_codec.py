"""How an event is kept in the shared log: its bytes as sent, zstd-compressed against a fixed
dictionary of example events.

Most of an event's ~220 bytes of JSON are field names, event types and timestamp digits that
every event repeats. Compressed alone, one event gains little; compressed against a dictionary
that already holds one example of each event type of contract §1, an event keeps only what is
its own (ids, times, values): 70 bytes for the simulator's events, 95 with UUID event ids, at
about 3 µs per event to compress and under 1 µs to expand (BENCHMARKS.md). With the stream
entry's own overhead, the log holds about 95 bytes of Redis per event instead of 260.

The dictionary is part of the log's format: entries written with it can only be read with it.
It must never change; a better one would be stored under a new field name (``FIELD``) next to
this one, and read by its field, until the old entries are trimmed.
"""

from __future__ import annotations

import threading

import zstandard

FIELD = "z1"  # the log entry's field holding an event packed with this module's dictionary

# One example of each event type, every optional field present: the words events repeat.
_EXAMPLES = b"\n".join([
    b'{"event_id":"7d0f9c2e-5a61-4f0b-9a57-2c1e8b3d4f60","type":"agent.login",'
    b'"ts":"2026-11-23T08:00:07.603Z","agent_id":"agent-00006","team_id":"team-001",'
    b'"site_id":"site-01","capacity":{"voice":1,"chat":3,"email":2}}',
    b'{"event_id":"7d0f9c2e-5a61-4f0b-9a57-2c1e8b3d4f61","type":"agent.not_ready",'
    b'"ts":"2026-11-23T08:51:17.672Z","agent_id":"agent-00010","reason":"break"}',
    b'{"event_id":"7d0f9c2e-5a61-4f0b-9a57-2c1e8b3d4f62","type":"agent.logout",'
    b'"ts":"2026-11-23T08:34:45.844Z","agent_id":"agent-00014"}',
    b'{"event_id":"7d0f9c2e-5a61-4f0b-9a57-2c1e8b3d4f63","type":"interaction.queued",'
    b'"ts":"2026-11-23T08:00:00.859Z","interaction_id":"int-00001",'
    b'"queue_id":"billing-chat-001","channel":"chat","customer_id":"cust-0000374",'
    b'"category":"billing"}',
    b'{"event_id":"7d0f9c2e-5a61-4f0b-9a57-2c1e8b3d4f64","type":"interaction.abandoned",'
    b'"ts":"2026-11-23T08:00:38.879Z","interaction_id":"int-00003",'
    b'"queue_id":"support-email-001"}',
    b'{"event_id":"7d0f9c2e-5a61-4f0b-9a57-2c1e8b3d4f65","type":"interaction.hold_started",'
    b'"ts":"2026-11-23T08:07:37.839Z","interaction_id":"int-00078","agent_id":"agent-00005"}',
    b'{"event_id":"7d0f9c2e-5a61-4f0b-9a57-2c1e8b3d4f66","type":"interaction.hold_ended",'
    b'"ts":"2026-11-23T08:08:10.974Z","interaction_id":"int-00078","agent_id":"agent-00005"}',
    b'{"event_id":"7d0f9c2e-5a61-4f0b-9a57-2c1e8b3d4f67","type":"interaction.survey",'
    b'"ts":"2026-11-23T08:16:55.602Z","interaction_id":"int-00013","agent_id":"agent-00006",'
    b'"csat":4,"felt_heard":true}',
    b'{"event_id":"7d0f9c2e-5a61-4f0b-9a57-2c1e8b3d4f68","type":"interaction.wrapped",'
    b'"ts":"2026-11-23T08:03:13.566Z","interaction_id":"int-00013","agent_id":"agent-00006",'
    b'"resolved":true,"sale":false,"revenue":0.0,"request_captured":false,"escalated":false,'
    b'"transferred":false,"sentiment":0.217,"qa_score":78.7,"category":"account",'
    b'"emotional":false}',
    b'{"event_id":"7d0f9c2e-5a61-4f0b-9a57-2c1e8b3d4f69","type":"interaction.ended",'
    b'"ts":"2026-11-23T08:02:41.027Z","interaction_id":"int-00013","agent_id":"agent-00006"}',
    b'{"event_id":"7d0f9c2e-5a61-4f0b-9a57-2c1e8b3d4f6a","type":"agent.available",'
    b'"ts":"2026-11-23T08:00:34.058Z","agent_id":"agent-00010"}',
    b'{"event_id":"7d0f9c2e-5a61-4f0b-9a57-2c1e8b3d4f6b","type":"interaction.answered",'
    b'"ts":"2026-11-23T08:00:34.058Z","interaction_id":"int-00001","agent_id":"agent-00010",'
    b'"queue_id":"sales-voice-001","channel":"voice","customer_id":"cust-0000374",'
    b'"category":"technical"}',
])
DICTIONARY = zstandard.ZstdCompressionDict(_EXAMPLES, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
LEVEL = 3  # level 6 saves 4 more bytes an event at twice the time

# zstandard's compressor and decompressor objects must not be shared between threads (the
# worker commits from its event loop, the replica reads in a thread of its own).
_local = threading.local()


def pack(payload: bytes) -> bytes:
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(
            level=LEVEL, dict_data=DICTIONARY, write_checksum=False, write_dict_id=False)
    return compressor.compress(payload)


def unpack(packed: bytes) -> bytes:
    decompressor = getattr(_local, "decompressor", None)
    if decompressor is None:
        decompressor = _local.decompressor = zstandard.ZstdDecompressor(dict_data=DICTIONARY)
    return decompressor.decompress(packed)
