"""RFC 3339 <-> integer epoch milliseconds, the one time representation inside ccpulse."""

from __future__ import annotations

from datetime import UTC, datetime


def format_ms(ms: int) -> str:
    """``2026-11-22T09:15:03.250Z``: UTC, millisecond precision, as producers send it."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def datetime_ms(moment: datetime) -> int:
    """An aware datetime in integer epoch milliseconds; sub-millisecond digits are rounded."""
    return round(moment.timestamp() * 1000)


def parse_ms(text: str) -> int:
    """Parse RFC 3339 with an offset; raises ValueError without one (times must be absolute)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time needs an offset, e.g. {text}Z")
    return datetime_ms(moment)
