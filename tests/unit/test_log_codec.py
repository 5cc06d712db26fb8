"""The shared log's event encoding: lossless, compact, and frozen."""

from __future__ import annotations

import hashlib

import orjson
from hypothesis import given
from hypothesis import strategies as st

from ccpulse.streams.log_codec import DICTIONARY, pack, unpack
from ccpulse.streams.simulator import HOUR, SimConfig, Simulator


@given(st.binary(max_size=4096))
def test_any_bytes_come_back_unchanged(payload: bytes) -> None:
    assert unpack(pack(payload)) == payload


def test_simulated_events_come_back_unchanged_in_well_under_half_the_bytes() -> None:
    events = [orjson.dumps(e) for e in
              Simulator(SimConfig(agents=30, duration_ms=HOUR, seed=11)).events()]
    packed = [pack(e) for e in events]
    assert [unpack(p) for p in packed] == events
    assert sum(map(len, packed)) < 0.4 * sum(map(len, events))


def test_the_dictionary_never_changes() -> None:
    """Entries in a running floor's Redis were packed with it: a different dictionary cannot
    read them. A new dictionary needs a new log field (``log_codec.FIELD``), not an edit."""
    digest = hashlib.sha256(DICTIONARY.as_bytes()).hexdigest()
    assert digest == "12865e94167709837b5eb37ff31cc82e4c49a8290525584fc121c4f5b9a395ef"
