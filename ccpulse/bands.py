"""The bands in force: green/yellow/red for each KPI, as the console, the dashboards and the
reports colour it.

Three sources, each declared once: the KPI catalogue's defaults, the configured ``[scorecard]``
bands (which override them), and the alert thresholds, from which the queue bands follow —
a queue is red exactly where its alert fires, so a wallboard and an alert never disagree.
"""

from __future__ import annotations

from ccpulse.alerts.rules import Thresholds
from ccpulse.processors.catalogue import DEFAULT_BANDS, Band
from ccpulse.processors.config import EngineConfig
from ccpulse.processors.scorecard import Scorecard

# Above the service-level target by less than this: yellow, a thin margin.
SL_MARGIN = 0.05
# The last fifth below the abandon threshold: yellow, on the way to the alert.
ABANDON_WARNING_SHARE = 0.8


def bands_in_force(thresholds: Thresholds, card: Scorecard | None = None,
                   service_level_threshold_s: float | None = None) -> dict[str, Band]:
    """``card``: the floor's configured scorecard (its bands win over the catalogue's);
    ``service_level_threshold_s``: the answer-time threshold ASA is judged against."""
    out = dict(DEFAULT_BANDS) | dict((card or Scorecard()).bands)
    target = thresholds.service_level_target
    out["service_level"] = Band((target + SL_MARGIN, None), (target, None))
    high = thresholds.abandon_high
    out["abandon"] = Band((None, high * ABANDON_WARNING_SHARE), (None, high))
    threshold_s = (EngineConfig().service_level_threshold_ms / 1000
                   if service_level_threshold_s is None else service_level_threshold_s)
    out["asa_seconds"] = Band((None, threshold_s), (None, 2 * threshold_s))
    return out
