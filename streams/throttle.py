"""At most one log line every so often about something that may happen many times a second,
with how many times it happened since the last line: a flood (bad input, slow snapshots,
skipped alert evaluations) must not become a flood of log lines."""

from __future__ import annotations


class Throttle:
    """Counts occurrences and says when a line is due: the first at once, then at most one
    every ``every`` (in whatever unit the caller's clock gives, passed in)."""

    def __init__(self, every: float) -> None:
        self._every = every
        self._logged_at: float | None = None
        self._unlogged = 0

    def count(self, now: float, times: int = 1) -> int | None:
        """Count ``times`` more at ``now``: how many to report if a line is due now (those
        since the last line, these included), None if one was written less than ``every``
        ago."""
        self._unlogged += times
        if self._logged_at is not None and now - self._logged_at < self._every:
            return None
        self._logged_at, due, self._unlogged = now, self._unlogged, 0
        return due
