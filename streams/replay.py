"""Offline replay of a JSONL file of events through the same pipeline (contract §5).

Lines are fed in file order, exactly as Kafka message values; a bad line is reported with its
number and reason, never its content, and skipped. ``on_event`` lets the caller act between
events on event time (the alert rules are evaluated that way).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ccpulse.processors.decode import Decoded, Rejection, decode
from ccpulse.streams.pipeline import Pipeline

# A progress bar redrawn per line costs more than decoding the line.
PROGRESS_EVERY_BYTES = 1 << 20


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str
    detail: str


def lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Numbered non-blank lines, without their line ending."""
    for number, line in enumerate(stream, start=1):
        value = line.rstrip(b"\r\n")
        if value.strip():
            yield number, value


def time_range(path: Path) -> tuple[int | None, int | None]:
    """(earliest, latest) event time of the valid events of a file."""
    first = last = None
    with path.open("rb") as stream:
        for _, raw in lines(stream):
            result = decode(raw)
            if isinstance(result, Decoded):
                first = result.ts_ms if first is None else min(first, result.ts_ms)
                last = result.ts_ms if last is None else max(last, result.ts_ms)
    return first, last


def replay(
    path: Path,
    pipeline: Pipeline,
    now_ms: int | None = None,
    *,
    on_bad_line: Callable[[BadLine], None] | None = None,
    before_event: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Feed every line of ``path``; returns the number of lines applied.

    ``before_event(ts_ms)`` runs before each valid event is applied, so time-driven work
    (alert evaluation every 15 s of event time) sees the state just before that instant.
    """
    applied = 0
    unreported = 0
    with path.open("rb") as stream:
        for number, raw in lines(stream):
            unreported += len(raw) + 1
            if on_progress is not None and unreported >= PROGRESS_EVERY_BYTES:
                on_progress(unreported)
                unreported = 0
            result = pipeline.feed(raw, topic=None, now_ms=now_ms, before_apply=before_event)
            if isinstance(result, Rejection):
                if on_bad_line is not None:
                    on_bad_line(BadLine(number, result.reason, result.detail))
            elif isinstance(result, Decoded):
                applied += 1
    if on_progress is not None and unreported:
        on_progress(unreported)
    return applied
