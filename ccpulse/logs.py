"""Structured logs for operators: one event a line, key=value or JSON, never payloads.

Call sites log an event name and fields (``log.warning("redis_unavailable",
extra={"fields": {...}})``); this formatter renders them. Event contents never go into a log
record: reasons and positions (topic, partition, offset, line) identify a bad message instead.
The same configuration is handed to faust, which otherwise installs its own handlers.
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any

import orjson

# Client libraries are chatty at INFO (every connection); operators need their warnings.
QUIET = ("kafka", "aiokafka", "faust", "mode")


class StructuredFormatter(logging.Formatter):
    def __init__(self, json: bool = False) -> None:
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


def logging_config(fmt: str = "text", level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for ccpulse (and faust's worker)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"ccpulse": {"()": StructuredFormatter, "json": fmt == "json"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "ccpulse",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {name: {"level": "WARNING"} for name in QUIET},
    }


def configure_logging(fmt: str = "text") -> None:
    logging.config.dictConfig(logging_config(fmt))
