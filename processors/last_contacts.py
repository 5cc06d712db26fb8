"""When each customer last contacted us, for customers whose interactions have all expired.

A repeat-contact decision (contract §2, first-contact resolution) asks of such a customer
one thing only: the time of its newest contact, for 24 h (``KpiEngine._redecide`` compares
a contact with its predecessor alone). Held as a dict of the customers' ids, that was ~14 KiB
of a replica's ~120 KiB per agent at steady state (~100 such customers an agent a day, each
an id string, an int and a dict slot: BENCHMARKS.md, issue 19, seventh round). Here a
customer costs 16 bytes: a 64-bit digest of its id and the time, in sorted ``array``s.

Customers arrive in a dict for an hour (of the engine's expiry clock), then that hour's are
sorted into one *generation*; a generation is dropped whole once its newest time is past the
horizon, so at most ~25 are searched (a binary search each) and nothing is ever merged.
A customer met again and expired again is in two generations: the newer time is the answer.

The engine knows every customer by this digest, not only these: its dict of the customers
whose interactions it still holds is keyed by it too: a 36-byte int instead of the id's
string, ~60 bytes in the simulator and more for a UUID (~0.8 KiB an agent at steady state once
that dict is kept at its size, BENCHMARKS.md, issue 19, twenty-sixth round: a dict of keys
that are not all strings takes 8 bytes more an entry). The id itself stays in the
interaction's record, for the history's interaction records.

The digest is the one loss of exactness, stated: two customers held the same day whose ids
share 64 bits of BLAKE2b would be taken for one customer in repeat-contact decisions. With n
customers held that happens with probability about n²/2⁶⁵: ~7·10⁻⁷ a day for a 50,000-agent
floor (~5 M customers).
A time older than the horizon may outlive it until its generation goes; it changes no
decision, since the 24-hour rule is applied to the times themselves.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from hashlib import blake2b

from ccpulse.processors.config import HOUR_MS


def digest(customer: str) -> int:
    """The customer id's 64 bits (signed, as ``array('q')`` holds them); the same in every
    process (Python's own ``hash`` of a str is salted per process)."""
    return int.from_bytes(blake2b(customer.encode(), digest_size=8).digest(), "little",
                          signed=True)


class LastContacts:
    """customer -> newest contact time (ms), compactly; see the module's docstring."""

    __slots__ = ("_generations", "_opened", "_pending", "_period_ms")

    def __init__(self, period_ms: int = HOUR_MS) -> None:
        self._period_ms = period_ms
        self._pending: dict[int, int] = {}  # digest -> time: this period's customers
        self._opened: int | None = None  # expiry time at which the pending dict was opened
        # (digests sorted, their times, the newest time), oldest generation first
        self._generations: list[tuple[array[int], array[int], int]] = []

    def __len__(self) -> int:
        """Entries held (a customer held in two generations counts twice)."""
        return len(self._pending) + sum(len(keys) for keys, _, _ in self._generations)

    def put(self, key: int, ts: int) -> None:
        """``key``: the customer's :func:`digest`."""
        if ts > self._pending.get(key, ts - 1):
            self._pending[key] = ts

    def get(self, key: int) -> int | None:
        """The newest time put for the customer of digest ``key`` and still held, else None."""
        newest = self._pending.get(key)
        for keys, times, _ in self._generations:
            i = bisect_left(keys, key)
            if i < len(keys) and keys[i] == key and (newest is None or times[i] > newest):
                newest = times[i]
        return newest

    def expire(self, now: int, horizon: int) -> None:
        """Seal a period's customers into a generation once it is ``period_ms`` old (by the
        engine's expiry clock ``now``), and drop the generations wholly older than ``horizon``."""
        if self._pending:
            if self._opened is None:
                self._opened = now
            elif now - self._opened >= self._period_ms:
                keys = sorted(self._pending)
                times = array("q", map(self._pending.__getitem__, keys))
                self._generations.append((array("q", keys), times, max(times)))
                self._pending = {}
                self._opened = None
        self._generations = [g for g in self._generations if g[2] >= horizon]
