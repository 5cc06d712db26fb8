"""What the engine knows of one interaction, and the compact form it is kept in once settled.

An interaction's record is kept for the longest window after its last event: its queued
event may still arrive from another partition (a queue's lateness is judged against that
queue's own events), a late hold or end corrects its wrap, and a customer's later contact
re-decides its repeat status. After its wrap (or abandon) it is rarely touched again, yet a
floor holds ~59 records an agent — the largest part of a replica's memory at steady state
(BENCHMARKS.md, issue 19). A settled record is therefore kept *frozen*: its times and hold
marks as integers in one ``bytes``, the first in 8 bytes and the others as 4-byte differences
from it (a time equal to an earlier one, as the contact's and the queued time usually are, as
a one-byte code), instead of a 32-byte int object each and a list of tuples; its references
to cells, queue and channel as one tuple shared by every record of the same ones (an agent's
records name a handful of cells between them); its id is its key in the engine's dict, not
kept twice. :func:`thaw` gives back an equal :class:`Interaction`, so freezing loses nothing
and may happen at any point.
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


# A frozen record: (header, references, customer). The header is one code byte per time (0
# None, 1 the next integer, 2 + j equal to time j), one for the repeat status and one of
# flags (_MARKS, _WIDE), then those integers: the times, then the hold marks. The first
# integer takes 8 bytes, the others 4, as differences from it (a record's times lie within
# hours of each other: 16 bytes a record less, twenty-fourth round), or all 8 bytes, as they
# are, where a difference does not fit (_WIDE). The references are in _REFS order, one tuple
# shared by the records of equal ones (see Shapes).
Frozen = tuple

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
_MARKS, _WIDE = 1, 2  # flags: hold marks follow the times; every integer takes 8 bytes
_REPEAT_CODE = {None: 0, False: 1, True: 2}
_REPEAT = (None, False, True)

# The tuples of references frozen records share: each maps to itself. Its owner prunes it
# (shapes_of) as records expire; a tuple with a pending wrap is a record's own (its values
# are that wrap's) and is never put in.
Shapes = dict[tuple, tuple]


def freeze(rec: Interaction, shapes: Shapes) -> Frozen:
    """The compact form of ``rec`` (see the module's docstring), its references shared
    through ``shapes``; :func:`thaw` inverts it. Written for speed: it runs once for every
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
    codes[_CODES - 2] = _REPEAT_CODE[rec.repeat]
    marks = rec.hold_marks
    if marks is not None:
        codes[_CODES - 1] = _MARKS
    refs = _get_refs(rec)
    if rec.pending_wrap is None:
        refs = shapes.setdefault(refs, refs)
    try:  # numbers[0] is there: every record has a last touch
        packed = _integers(numbers, marks, numbers[0], _narrow)
    except struct_error:  # a difference past 4 bytes
        codes[_CODES - 1] |= _WIDE
        packed = _integers(numbers, marks, 0, _wide)
    return bytes(codes) + packed, refs, rec.customer_id


def _integers(times: list[int], marks: list[tuple[int, int]] | None, origin: int,
              layout: Callable[[int], Struct]) -> bytes:
    """The first time, then the other times and the hold marks from ``origin``; a mark
    (+1 start, -1 end) as 2 × (ts − origin) + (1 for a start)."""
    numbers = [times[0], *[t - origin for t in times[1:]]]
    if marks is not None:
        numbers.extend([2 * (ts - origin) + (kind > 0) for ts, kind in marks])
    return layout(len(numbers)).pack(*numbers)


def shapes_of(interactions: Iterable[Interaction | Frozen]) -> Shapes:
    """The shared tuples of references ``interactions`` use: what a :data:`Shapes` needs to
    hold once others have expired."""
    return {refs: refs for kept in interactions
            if type(kept) is tuple and (refs := kept[1])[-1] is None}


@cache
def _narrow(count: int) -> Struct:
    """An 8-byte integer and ``count`` − 1 4-byte ones, little-endian whatever the machine
    (as :func:`_time` reads them)."""
    return Struct(f"<q{count - 1}i")


@cache
def _wide(count: int) -> Struct:
    """``count`` 8-byte integers, little-endian."""
    return Struct(f"<{count}q")


def thaw(frozen: Frozen, iid: str) -> Interaction:
    """An :class:`Interaction` equal to the one frozen as interaction ``iid``."""
    header, refs, customer = frozen
    contact_cell, abandon_cell, answer_cell, wrap_cell, queue, channel, pending = refs
    flags = header[_CODES - 1]
    size = len(header) - _CODES
    numbers = (_wide(size // 8) if flags & _WIDE else _narrow((size - 4) // 4)
               ).unpack_from(header, _CODES)
    origin = 0 if flags & _WIDE else numbers[0]
    count = header.count(1, 0, _CODES - 2)  # the times the codes did not derive
    take = iter([numbers[0], *[origin + value for value in numbers[1:count]]]).__next__
    times: list[int | None] = []
    for code in header[:_CODES - 2]:
        times.append(None if code == 0 else take() if code == 1 else times[code - 2])
    queued, answered, abandoned, ended, wrapped, seen, contact, touched = times
    marks = None
    if flags & _MARKS:
        marks = [((mark >> 1) + origin, 1 if mark & 1 else -1) for mark in numbers[count:]]
    return Interaction(
        touched_ms=touched, iid=iid, queue_id=queue, channel=channel, customer_id=customer,
        queued_ms=queued, answered_ms=answered, abandoned_ms=abandoned, ended_ms=ended,
        wrapped_ms=wrapped, hold_marks=marks, repeat=_REPEAT[header[_CODES - 2]],
        seen_ts=seen, contact_ts=contact, contact_cell=contact_cell, abandon_cell=abandon_cell,
        answer_cell=answer_cell, wrap_cell=wrap_cell, pending_wrap=pending)


def _time(frozen: Frozen, index: int) -> int | None:
    """Time ``index`` (of :data:`_TIMES`) of a frozen record, without thawing it."""
    header = frozen[0]
    code = header[index]
    if code > 1:  # equal to an earlier time, itself the first of its value (code 1)
        index = code - 2
        code = header[index]
    if code == 0:
        return None
    before = header.count(1, 0, index)  # integers before this time's
    if before == 0 or header[_CODES - 1] & _WIDE:
        at = _CODES + 8 * before
        return int.from_bytes(header[at:at + 8], "little", signed=True)
    at = _CODES + 4 + 4 * before
    origin = int.from_bytes(header[_CODES:_CODES + 8], "little", signed=True)  # the first
    return origin + int.from_bytes(header[at:at + 4], "little", signed=True)


_SEEN, _TOUCHED = _TIMES.index("seen_ts"), _TIMES.index("touched_ms")
_CUSTOMER = 2  # in a frozen record, after its header and references


def record_of(kept: Interaction | Frozen, iid: str) -> Interaction:
    """The record of interaction ``iid`` kept, frozen or not, as an :class:`Interaction`
    (the one kept, if not)."""
    return kept if type(kept) is Interaction else thaw(kept, iid)


def contact_of(kept: Interaction | Frozen) -> tuple[str | None, int | None]:
    """(customer, where the contact stands in its history) of a record, frozen or not,
    without thawing it."""
    if isinstance(kept, Interaction):
        return kept.customer_id, kept.seen_ts
    return kept[_CUSTOMER], _time(kept, _SEEN)


def repeat_of(kept: Interaction | Frozen) -> bool | None:
    """The repeat status of a record, frozen or not, without thawing it."""
    return kept.repeat if isinstance(kept, Interaction) else _REPEAT[kept[0][_CODES - 2]]


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
