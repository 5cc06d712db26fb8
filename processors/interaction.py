"""What the engine knows of one interaction, and the compact form it is kept in once settled.

An interaction's record is kept for the longest window after its last event: its queued
event may still arrive from another partition (a queue's lateness is judged against that
queue's own events), a late hold or end corrects its wrap, and a customer's later contact
re-decides its repeat status. After its wrap (or abandon) it is rarely touched again, yet a
floor holds ~59 records an agent — the largest part of a replica's memory at steady state
(BENCHMARKS.md, issue 19). A settled record is therefore kept *frozen*, as one ``bytes``: its
times and hold marks as integers, the first in 8 bytes and the others as 4-byte differences
from it (a time equal to an earlier one, as the contact's and the queued time usually are, as
a one-byte code), instead of a 32-byte int object each and a list of tuples; its references
to cells, queue and channel as the number of one tuple shared by every record of the same
ones (an agent's records name a handful of cells between them); its customer's id in UTF-8;
its id is its key in the engine's dict, not kept twice. :func:`thaw` gives back an equal
:class:`Interaction`, so freezing loses nothing and may happen at any point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from operator import attrgetter
from struct import Struct
from struct import error as struct_error

from ccpulse.processors.series import Cell, Vector


@dataclass(slots=True)
class Interaction:
    """What we know of one interaction; its events may arrive on different partitions."""

    touched_ms: int
    # its id as first seen: the key it keeps in KpiEngine.interactions and the one its
    # customer's history holds (each event decodes its own copy of the id: sharing one
    # saved ~60 bytes a held contact, BENCHMARKS.md, issue 19, seventh round)
    iid: str
    queue_id: str | None = None
    channel: str | None = None
    customer_id: str | None = None
    queued_ms: int | None = None
    answered_ms: int | None = None
    abandoned_ms: int | None = None
    ended_ms: int | None = None
    wrapped_ms: int | None = None
    # Hold starts (+1) and ends (-1) in time order, whatever order they arrived in: the hold
    # time of the interaction follows from them (see hold_ms), so a late one corrects it.
    hold_marks: list[tuple[int, int]] | None = None
    repeat: bool | None = None  # repeat contact? re-decided when an earlier contact turns up
    seen_ts: int | None = None  # where the contact stands in its customer's history
    # Where the interaction was counted, to correct those counts later: the cell and, for the
    # contact, its time (the answer and the wrap are counted at answered_ms and wrapped_ms).
    # Fields, not (ts, cell) tuples: a tuple each cost 56 bytes an interaction.
    contact_ts: int | None = None
    contact_cell: Cell | None = None  # (queue, channel)
    abandon_cell: Cell | None = None  # (queue, channel) the abandon was counted in
    answer_cell: Cell | None = None  # (agent, team, queue, channel)
    wrap_cell: Cell | None = None  # (agent, team, queue, channel)
    # A wrap counted before its answer arrived: its vector, to count it again as handled in
    # the queue and channel the answer names (kept for those wraps only: they are rare).
    pending_wrap: Vector | None = None


# A frozen record is one ``bytes``:
# - one code byte per time (0 None, 1 the next integer, 2 + j equal to time j), one for the
#   repeat status and one of flags (_MARKS, _WIDE, _CUSTOMER, _WIDE_SHAPE);
# - the number of its references' tuple in the engine's Shapes: 2 bytes, or 4 (_WIDE_SHAPE);
# - its customer's id, if it has one (_CUSTOMER), in UTF-8 after its length: 1 byte, or 255
#   and 2 bytes for 255 bytes or more (an id is at most 256 characters);
# - the integers: the times, then the hold marks. The first takes 8 bytes, the others 4, as
#   differences from it (a record's times lie within hours of each other: 16 bytes a record
#   less, twenty-fourth round), or all 8 bytes, as they are, where a difference does not fit
#   (_WIDE).
# One object, not a tuple of a header, a tuple of references and a customer: the tuple was
# 64 of a record's ~290 bytes (BENCHMARKS.md, issue 19, twenty-fifth round).
Frozen = bytes

# Times in an order where the usual equalities point back: seen and contact times are the
# queued (or answer) time, the last touch is usually the wrap.
_TIMES = ("queued_ms", "answered_ms", "abandoned_ms", "ended_ms", "wrapped_ms", "seen_ts",
          "contact_ts", "touched_ms")
_get_times = attrgetter(*_TIMES)
# References, kept as they are: deriving the usual equal ones (the wrap's cell is the
# answer's, the queue and channel a cell's) saved 2.2 KiB an agent at steady state and took
# a freeze from 1.8 to 3.2 µs (BENCHMARKS.md, issue 19, twenty-second round); sharing the
# tuple of them saves it as well, for a dict lookup (twenty-fourth round). The customer is
# not one of them: it is nearly every record's own.
_REFS = ("contact_cell", "abandon_cell", "answer_cell", "wrap_cell", "queue_id", "channel",
         "pending_wrap")
_get_refs = attrgetter(*_REFS)
_CODES = len(_TIMES) + 2  # and the repeat status, and the flags
_REPEAT_AT, _FLAGS_AT = _CODES - 2, _CODES - 1
# flags: hold marks follow the times; every integer takes 8 bytes; a customer's id is kept;
# the shape's number takes 4 bytes
_MARKS, _WIDE, _CUSTOMER, _WIDE_SHAPE = 1, 2, 4, 8
_LONG = 255  # a customer id's length from which it is written in 2 bytes, after this one
_REPEAT_CODE = {None: 0, False: 1, True: 2}
_REPEAT = (None, False, True)


class Shapes:
    """The tuples of references frozen records share, each kept once and known to records by
    its number (an agent's records name a handful of cells between them: 528 tuples for the
    500 agents of S × 30 h). Numbers of tuples no record uses any more are given again,
    lowest first, so that they stay under 65,536 (2 bytes a record) on any floor whose
    records name fewer."""

    __slots__ = ("_free", "_numbers", "_pruned", "_tuples")

    def __init__(self) -> None:
        self._numbers: dict[tuple, int] = {}
        self._tuples: list[tuple | None] = []  # number -> tuple (None: free)
        self._free: list[int] = []  # numbers to give again, highest first
        self._pruned = 0  # tuples held after the last pruning

    def __len__(self) -> int:
        return len(self._numbers)

    def __getitem__(self, number: int) -> tuple:
        return self._tuples[number]  # type: ignore[return-value]

    def number(self, refs: tuple) -> int:
        """The number of ``refs``, given one if it has none."""
        number = self._numbers.get(refs)
        if number is None:
            if self._free:
                number = self._free.pop()
                self._tuples[number] = refs
            else:
                number = len(self._tuples)
                self._tuples.append(refs)
            self._numbers[refs] = number
        return number

    def prune(self, kept: Iterable[Interaction | Frozen]) -> None:
        """Forget the tuples no frozen record of ``kept`` uses, once they are twice as many
        as after the last pruning (a pass over the records: as agents and queues come and go
        in numbers, not at every expiry)."""
        if len(self._numbers) <= 2 * self._pruned + 64:
            return
        used = {_layout(frozen)[0] for frozen in kept if type(frozen) is bytes}
        for refs, number in [item for item in self._numbers.items() if item[1] not in used]:
            del self._numbers[refs]
            self._tuples[number] = None
            self._free.append(number)
        self._free.sort(reverse=True)
        self._pruned = len(self._numbers)


def freeze(rec: Interaction, shapes: Shapes) -> Frozen:
    """The compact form of ``rec`` (see :data:`Frozen`), its references numbered by
    ``shapes``; :func:`thaw` inverts it. Written for speed: it runs once for every
    interaction a floor handles."""
    codes = bytearray(_CODES)
    numbers: list[int] = []
    times = _get_times(rec)
    find = times.index  # the first equal time: a C loop
    for i, value in enumerate(times):
        if value is not None:
            j = find(value)
            if j == i:
                codes[i] = 1
                numbers.append(value)
            else:
                codes[i] = 2 + j
    codes[_REPEAT_AT] = _REPEAT_CODE[rec.repeat]
    marks = rec.hold_marks
    flags = 0 if marks is None else _MARKS
    number = shapes.number(_get_refs(rec))
    if number > 0xFFFF:
        flags |= _WIDE_SHAPE
        parts = [codes, number.to_bytes(4, "little")]
    else:
        parts = [codes, number.to_bytes(2, "little")]
    customer = rec.customer_id
    if customer is not None:
        flags |= _CUSTOMER
        raw = customer.encode()
        size = len(raw)
        parts.append(bytes((size,)) if size < _LONG
                     else bytes((_LONG, size & 0xFF, size >> 8)))
        parts.append(raw)
    try:  # numbers[0] is there: every record has a last touch
        parts.append(_integers(numbers, marks, numbers[0], _narrow))
    except struct_error:  # a difference past 4 bytes
        flags |= _WIDE
        parts.append(_integers(numbers, marks, 0, _wide))
    codes[_FLAGS_AT] = flags
    return b"".join(parts)


def _layout(frozen: Frozen) -> tuple[int, int, int]:
    """(its references' number, where its customer's id starts, where its integers start)."""
    flags = frozen[_FLAGS_AT]
    if flags & _WIDE_SHAPE:
        number, at = int.from_bytes(frozen[_CODES:_CODES + 4], "little"), _CODES + 4
    else:
        number, at = frozen[_CODES] | frozen[_CODES + 1] << 8, _CODES + 2
    if not flags & _CUSTOMER:
        return number, at, at
    size = frozen[at]
    if size == _LONG:
        size = frozen[at + 1] | frozen[at + 2] << 8
        at += 2
    return number, at + 1, at + 1 + size


def _customer(frozen: Frozen, start: int, end: int) -> str | None:
    return frozen[start:end].decode() if frozen[_FLAGS_AT] & _CUSTOMER else None


def _integers(times: list[int], marks: list[tuple[int, int]] | None, origin: int,
              layout: Callable[[int], Struct]) -> bytes:
    """The first time, then the other times and the hold marks from ``origin``; a mark
    (+1 start, -1 end) as 2 × (ts − origin) + (1 for a start)."""
    numbers = [times[0], *[t - origin for t in times[1:]]]
    if marks is not None:
        numbers.extend([2 * (ts - origin) + (kind > 0) for ts, kind in marks])
    return layout(len(numbers)).pack(*numbers)


@cache
def _narrow(count: int) -> Struct:
    """An 8-byte integer and ``count`` − 1 4-byte ones, little-endian whatever the machine
    (as :func:`_time` reads them)."""
    return Struct(f"<q{count - 1}i")


@cache
def _wide(count: int) -> Struct:
    """``count`` 8-byte integers, little-endian."""
    return Struct(f"<{count}q")


def thaw(frozen: Frozen, iid: str, shapes: Shapes) -> Interaction:
    """An :class:`Interaction` equal to the one frozen as interaction ``iid`` with
    ``shapes``."""
    number, start, at = _layout(frozen)
    contact_cell, abandon_cell, answer_cell, wrap_cell, queue, channel, pending = shapes[number]
    flags = frozen[_FLAGS_AT]
    size = len(frozen) - at
    numbers = (_wide(size // 8) if flags & _WIDE else _narrow((size - 4) // 4)
               ).unpack_from(frozen, at)
    origin = 0 if flags & _WIDE else numbers[0]
    count = frozen.count(1, 0, _REPEAT_AT)  # the times the codes did not derive
    take = iter([numbers[0], *[origin + value for value in numbers[1:count]]]).__next__
    times: list[int | None] = []
    for code in frozen[:_REPEAT_AT]:
        times.append(None if code == 0 else take() if code == 1 else times[code - 2])
    queued, answered, abandoned, ended, wrapped, seen, contact, touched = times
    marks = None
    if flags & _MARKS:
        marks = [((mark >> 1) + origin, 1 if mark & 1 else -1) for mark in numbers[count:]]
    return Interaction(
        touched_ms=touched, iid=iid, queue_id=queue, channel=channel,
        customer_id=_customer(frozen, start, at), queued_ms=queued, answered_ms=answered,
        abandoned_ms=abandoned, ended_ms=ended, wrapped_ms=wrapped, hold_marks=marks,
        repeat=_REPEAT[frozen[_REPEAT_AT]], seen_ts=seen, contact_ts=contact,
        contact_cell=contact_cell, abandon_cell=abandon_cell, answer_cell=answer_cell,
        wrap_cell=wrap_cell, pending_wrap=pending)


def _time(frozen: Frozen, index: int, at: int | None = None) -> int | None:
    """Time ``index`` (of :data:`_TIMES`) of a frozen record, without thawing it; ``at``
    where its integers start, if known."""
    code = frozen[index]
    if code > 1:  # equal to an earlier time, itself the first of its value (code 1)
        index = code - 2
        code = frozen[index]
    if code == 0:
        return None
    if at is None:
        at = _layout(frozen)[2]
    before = frozen.count(1, 0, index)  # integers before this time's
    if before == 0 or frozen[_FLAGS_AT] & _WIDE:
        at += 8 * before
        return int.from_bytes(frozen[at:at + 8], "little", signed=True)
    origin = int.from_bytes(frozen[at:at + 8], "little", signed=True)  # the first
    at += 4 + 4 * before
    return origin + int.from_bytes(frozen[at:at + 4], "little", signed=True)


_SEEN, _TOUCHED = _TIMES.index("seen_ts"), _TIMES.index("touched_ms")


def record_of(kept: Interaction | Frozen, iid: str, shapes: Shapes) -> Interaction:
    """The record of interaction ``iid`` kept, frozen with ``shapes`` or not, as an
    :class:`Interaction` (the one kept, if not)."""
    return kept if type(kept) is Interaction else thaw(kept, iid, shapes)  # type: ignore[arg-type]


def contact_of(kept: Interaction | Frozen) -> tuple[str | None, int | None]:
    """(customer, where the contact stands in its history) of a record, frozen or not,
    without thawing it."""
    if isinstance(kept, Interaction):
        return kept.customer_id, kept.seen_ts
    _, start, at = _layout(kept)
    return _customer(kept, start, at), _time(kept, _SEEN, at)


def repeat_of(kept: Interaction | Frozen) -> bool | None:
    """The repeat status of a record, frozen or not, without thawing it."""
    return kept.repeat if isinstance(kept, Interaction) else _REPEAT[kept[_REPEAT_AT]]


def touched_ms(kept: Interaction | Frozen) -> int:
    """The last touch of a record, frozen or not (what expiry orders by)."""
    return kept.touched_ms if isinstance(kept, Interaction) else _time(kept, _TOUCHED)  # type: ignore[return-value]


def _holds(rec: Interaction, stop: int | None) -> tuple[int, int | None]:
    """Walk the hold marks in time order up to ``stop`` (None: all of them): the time of the
    holds that ended by then, and when the hold still going on began (None if none is)."""
    total, opened = 0, None
    for ts, kind in rec.hold_marks or ():
        if stop is not None and ts > stop:
            break
        if kind > 0 and opened is None:
            opened = ts
        elif kind < 0 and opened is not None:
            total += ts - opened
            opened = None
    return total, opened


def open_hold(rec: Interaction) -> int | None:
    """When the hold going on began (None if none is)."""
    return _holds(rec, None)[1]


def hold_ms(rec: Interaction, stop: int) -> int:
    """Time on hold up to ``stop`` (the end, else the wrap); a hold with no end yet lasts to
    ``stop``."""
    total, opened = _holds(rec, stop)
    return total + (stop - opened if opened is not None else 0)


def wrap_parts(rec: Interaction, wrapped: int) -> tuple[int, int, int, int, int]:
    """(handled, handle, talk, hold, after-call work) of a wrap at ``wrapped``, from what is
    known of the interaction now; zeros without an answer (no handle time is known)."""
    answered = rec.answered_ms
    if answered is None:
        return 0, 0, 0, 0, 0
    ended = rec.ended_ms if rec.ended_ms is not None else wrapped
    hold = hold_ms(rec, ended)
    return 1, wrapped - answered, ended - answered - hold, hold, wrapped - ended
