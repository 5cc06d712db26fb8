"""Tails the shared event log into this process's engine, so every worker knows every agent.

One thread per worker: XREAD from the last entry applied, feed each payload through the same
pipeline as the demo and replay, and tell the caller once it has caught up (so alerts are not
evaluated on half-loaded history). Redis errors are retried with backoff, never fatal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ccpulse.streams.pipeline import Pipeline
from ccpulse.streams.redis_log import entries
from ccpulse.streams.retry import retrying

READ_COUNT = 5000
BLOCK_MS = 250


class Replica(threading.Thread):
    def __init__(self, client: Any, stream_key: str, pipeline: Pipeline,
                 on_idle: Callable[[], None] | None = None) -> None:
        super().__init__(name="replica", daemon=True)
        self._client = client
        self._stream_key = stream_key
        self.pipeline = pipeline
        self._on_idle = on_idle
        self.last_id: bytes | str = "0-0"
        # log entries fed to the engine: since this process started, plus those of the
        # checkpoint it resumed from (:meth:`resume`)
        self.applied = 0
        self.caught_up = threading.Event()
        self._stop = threading.Event()

    def resume(self, last_id: str, applied: int) -> None:
        """Go on after ``last_id`` (a checkpoint's engine holds everything up to it)."""
        self.last_id = last_id
        self.applied = applied

    @property
    def position(self) -> str:
        """The id of the last entry applied ("0-0": none)."""
        return self.last_id.decode() if isinstance(self.last_id, bytes) else self.last_id

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        read = retrying("redis_read_failed", {"hint": "check CCPULSE_REDIS_URL"},
                        until=self._stop)
        while not self._stop.is_set():
            try:
                batch = read(self._read)
            except Exception:
                return  # stopped while Redis was away
            for entry_id, payload in batch:
                self.pipeline.feed(payload, None, now_ms=None)  # topic from the event's type
                self.last_id = entry_id
            self.applied += len(batch)
            if len(batch) < READ_COUNT:
                self.caught_up.set()
                if self._on_idle is not None:
                    self._on_idle()

    def _read(self) -> list[tuple[bytes, bytes]]:
        return entries(self._client.xread({self._stream_key: self.last_id},
                                          count=READ_COUNT, block=BLOCK_MS))
