"""``/metrics`` compressed with gzip for the scrapers that ask for it (Prometheus does).

A floor's exposition is mostly the same label text again and again, so gzip at its fastest
level shrinks it about nine times (17.5 MB to 1.95 MB at 5,000 agents × 8 h, 158 MB to 16
at 50,000 × 1 h): a worker keeps the smaller text between scrapes, and writes a tenth of
the bytes at each. Level 1 compresses at about 240 MB/s here, off the interpreter lock; level 6
is 1.2 times smaller again at 2.5 times the time (BENCHMARKS.md, issue 19, fifteenth round).

A rendering kept compressed is one gzip stream flushed to a byte boundary and not yet
ended (:class:`Packed`): a scrape copies the compressor, adds its live series (the age of
the numbers, the alerts, the counters) and ends the stream — one gzip member, as any
client reads, without compressing the kept part again.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

LEVEL = 1  # gzip's fastest: see above
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around the deflate stream


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header takes gzip (RFC 9110: a coding with ``q=0`` is
    refused; names are case-insensitive). A wildcard is not taken as gzip: a client that
    names no coding gets the text as it is."""
    for coding in accept_encoding.split(","):
        name, _, params = coding.partition(";")
        if name.strip().lower() != "gzip":
            continue
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


def _compressor() -> zlib._Compress:
    return zlib.compressobj(LEVEL, zlib.DEFLATED, _GZIP_WBITS)


def gzipped(text: bytes) -> bytes:
    """``text`` as one whole gzip stream."""
    compressor = _compressor()
    return compressor.compress(text) + compressor.flush()


@dataclass(frozen=True)
class Packed:
    """Text compressed to a flush point: ``head`` holds all of it; the stream is ended
    by :meth:`ended`, any number of times."""

    head: bytes
    _compressor: zlib._Compress  # zlib names no public type for it

    @classmethod
    def of(cls, text: bytes) -> Packed:
        return cls.of_chunks((text,))

    @classmethod
    def of_chunks(cls, chunks: Iterable[bytes]) -> Packed:
        """The text that is ``chunks`` one after the other, each compressed as it comes (the
        whole text is never held)."""
        compressor = _compressor()
        head = [compressor.compress(chunk) for chunk in chunks]
        head.append(compressor.flush(zlib.Z_SYNC_FLUSH))
        return cls(b"".join(head), compressor)

    def ended(self, tail: bytes) -> bytes:
        """One gzip stream of the kept text followed by ``tail``."""
        compressor = self._compressor.copy()
        return self.head + compressor.compress(tail) + compressor.flush()

    def text(self) -> bytes:
        """The kept text, for a client that takes no gzip."""
        return zlib.decompressobj(_GZIP_WBITS).decompress(self.head)
