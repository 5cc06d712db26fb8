"""/metrics compressed for the scrapers that ask for it (ccpulse.gzip_body)."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccpulse.gzip_body import Packed, accepts_gzip, gzipped


@pytest.mark.parametrize(("header", "taken"), [
    ("gzip", True),  # Prometheus' own
    ("gzip, deflate", True),
    ("deflate, GZIP", True),
    ("br;q=1.0, gzip;q=0.8", True),
    ("gzip; q=0.001", True),
    ("gzip;q=0", False),  # refused in so many words
    ("gzip;q=0.000", False),
    ("gzip;q=nonsense", False),
    ("x-gzip", False),
    ("*", False),  # names no coding: the text as it is
    ("identity", False),
    ("", False),
])
def test_gzip_is_sent_only_to_a_client_that_takes_it(header: str, taken: bool) -> None:
    assert accepts_gzip(header) is taken


def one_stream(data: bytes) -> bytes:
    """What one gzip member holds; fails if ``data`` is not exactly one whole member."""
    reader = zlib.decompressobj(16 + zlib.MAX_WBITS)
    text = reader.decompress(data)
    assert reader.eof and reader.unused_data == b""
    return text


@given(st.binary(max_size=5_000), st.binary(max_size=500), st.binary(max_size=500))
def test_a_packed_text_ends_as_one_gzip_stream_with_any_tail(
        text: bytes, tail: bytes, other_tail: bytes) -> None:
    packed = Packed.of(text)
    assert one_stream(packed.ended(tail)) == text + tail
    assert one_stream(packed.ended(other_tail)) == text + other_tail  # the kept part again
    assert packed.text() == text
    assert one_stream(gzipped(text + tail)) == text + tail



@given(st.lists(st.binary(max_size=2_000), max_size=6), st.binary(max_size=300))
def test_a_text_packed_in_chunks_is_the_text_they_make(chunks: list[bytes], tail: bytes) -> None:
    packed = Packed.of_chunks(iter(chunks))
    text = b"".join(chunks)
    assert packed.text() == text
    assert one_stream(packed.ended(tail)) == text + tail

def test_an_exposition_is_kept_in_a_fraction_of_its_size() -> None:
    text = b"".join(b'ccpulse_agent_occupancy_ratio{agent="agent-%05d",team="team-%03d",'
                    b'window="1h"} 0.%d\n' % (n, n // 15, n) for n in range(20_000))
    packed = Packed.of(text)
    assert len(packed.head) < len(text) / 5
    assert gzip.decompress(packed.ended(b"ccpulse_snapshot_age_seconds 0.2\n")) == (
        text + b"ccpulse_snapshot_age_seconds 0.2\n")
