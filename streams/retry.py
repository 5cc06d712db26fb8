"""Call until a server answers, with the policy of :mod:`processors.backoff` (tenacity).

``retrying``/``async_retrying`` call a function until it succeeds and log each failure as one
structured line with the operator's hint; loops that do more between attempts (the
Alertmanager sender) take the same delays from :func:`processors.backoff.backoff_s`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import tenacity

from ccpulse.processors.backoff import CAP_S, FIRST_S

log = logging.getLogger("ccpulse.retry")

Errors = type[BaseException] | tuple[type[BaseException], ...]


def _log_failure(event: str, fields: Mapping[str, object], level: int,
                 ) -> Callable[[tenacity.RetryCallState], None]:
    def before_sleep(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        sleep = state.next_action.sleep if state.next_action else 0.0
        log.log(level, event, extra={"fields": {
            **fields, "error": type(error).__name__, "retry_in_s": sleep}})
    return before_sleep


def _options(event: str, fields: Mapping[str, object], errors: Errors, level: int,
             cap_s: float) -> dict[str, Any]:
    return {"wait": tenacity.wait_exponential(multiplier=FIRST_S, max=cap_s),
            "retry": tenacity.retry_if_exception_type(errors),
            "before_sleep": _log_failure(event, fields, level), "reraise": True}


def retrying(event: str, fields: Mapping[str, object], errors: Errors = Exception, *,
             level: int = logging.WARNING, cap_s: float = CAP_S,
             until: threading.Event | None = None) -> tenacity.Retrying:
    """``retrying(...)(fn)`` calls ``fn`` until it stops raising ``errors``. With ``until``,
    setting that event ends the waiting at once (the last error is raised): a stopping
    thread does not sleep out its backoff."""
    options = _options(event, fields, errors, level, cap_s)
    if until is None:
        return tenacity.Retrying(sleep=time.sleep, **options)
    return tenacity.Retrying(sleep=until.wait, stop=tenacity.stop_when_event_set(until),
                             **options)


def async_retrying(event: str, fields: Mapping[str, object], errors: Errors = Exception, *,
                   level: int = logging.WARNING, cap_s: float = CAP_S,
                   ) -> tenacity.AsyncRetrying:
    """As :func:`retrying`, for a coroutine function, sleeping with asyncio."""
    return tenacity.AsyncRetrying(**_options(event, fields, errors, level, cap_s))
