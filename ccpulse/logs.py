"""Structured logs for operators: one event a line, key=value or JSON, never payloads.

Call sites log an event name and fields (``log.warning("kafka_unreachable",
extra={"fields": {...}})``); this formatter renders them. Event contents never go into a log
record: reasons and positions (topic, partition, offset, line) identify a bad message instead.
"""

from __future__ import annotations

import logging
import sys

import orjson


class _Formatter(logging.Formatter):
    def __init__(self, json: bool) -> None:
        super().__init__()
        self._json = json

    def format(self, record: logging.LogRecord) -> str:
        fields = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                  "logger": record.name, "event": record.getMessage(),
                  **getattr(record, "fields", {})}
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info)
        if self._json:
            return orjson.dumps(fields, default=str).decode()
        return " ".join(f"{k}={v}" if " " not in str(v) else f'{k}="{v}"'
                        for k, v in fields.items())


def configure_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(json=fmt == "json"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
