"""Tails the shared event log into this process's engine, so every worker knows every agent.

One thread per worker: XREAD from the last entry applied, feed each payload through the same
pipeline as the demo and replay, and tell the caller once it has caught up (so alerts are not
evaluated on half-loaded history). Redis errors are retried with backoff, never fatal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from streams.pipeline import Pipeline
from streams.redis_log import entries

log = logging.getLogger("ccpulse.replica")

READ_COUNT = 5000
BLOCK_MS = 250
MAX_BACKOFF_S = 10.0


class Replica(threading.Thread):
    def __init__(self, client: Any, stream_key: str, pipeline: Pipeline,
                 on_idle: Callable[[], None] | None = None) -> None:
        super().__init__(name="replica", daemon=True)
        self._client = client
        self._stream_key = stream_key
        self.pipeline = pipeline
        self._on_idle = on_idle
        self.last_id: bytes | str = "0-0"
        self.caught_up = threading.Event()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                batch = entries(self._client.xread({self._stream_key: self.last_id},
                                                   count=READ_COUNT, block=BLOCK_MS))
                backoff = 0.5
            except Exception as exc:
                log.warning("redis_read_failed", extra={"fields": {
                    "error": type(exc).__name__, "retry_in_s": backoff}})
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            for entry_id, payload in batch:
                self.pipeline.feed(payload, None, now_ms=None)  # topic from the event's type
                self.last_id = entry_id
            if len(batch) < READ_COUNT:
                self.caught_up.set()
                if self._on_idle is not None:
                    self._on_idle()
