"""Staffing metrics (issue 9, contract additions to §3) for workforce managers.

Example exposition::

    ccpulse_queue_offered_load_erlangs{channel="voice",queue="billing",window="15m"} 5.0
    ccpulse_queue_required_agents{channel="voice",horizon="now",queue="billing"} 8.0
    ccpulse_queue_required_agents{channel="voice",horizon="60m",queue="billing"} 9.0
    ccpulse_queue_staffing_gap_agents{channel="voice",horizon="now",queue="billing"} 0.33
    ccpulse_queue_predicted_service_level_ratio{channel="voice",queue="billing"} 0.74
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from ccpulse.processors.snapshot import Snapshot

QC = ["queue", "channel"]


def staffing_metrics(snap: Snapshot) -> Iterator[Metric]:
    """One family per measure; queues without a known handle time have no samples."""
    load = GaugeMetricFamily("ccpulse_queue_offered_load_erlangs",
                             "arrivals per second x AHT over the window (slot-Erlangs on "
                             "concurrent channels)", labels=[*QC, "window"])
    arrivals = GaugeMetricFamily("ccpulse_queue_arrivals_per_hour",
                                 "queued arrivals per hour: measured over 15m ('now') or "
                                 "forecast at the horizon", labels=[*QC, "horizon"])
    required = GaugeMetricFamily("ccpulse_queue_required_agents",
                                 "agents needed to meet the service-level target at or below "
                                 "the occupancy ceiling (Erlang C)", labels=[*QC, "horizon"])
    gap = GaugeMetricFamily("ccpulse_queue_staffing_gap_agents",
                            "required - staffed agents: positive = add, negative = could release",
                            labels=[*QC, "horizon"])
    staffed = GaugeMetricFamily("ccpulse_queue_staffed_agents",
                                "agents in production now serving the queue, by their share "
                                "of its answers over the last hour", labels=QC)
    predicted_sl = GaugeMetricFamily("ccpulse_queue_predicted_service_level_ratio",
                                     "service level Erlang C predicts with the staffed agents",
                                     labels=QC)
    predicted_asa = GaugeMetricFamily("ccpulse_queue_predicted_asa_seconds",
                                      "ASA Erlang C predicts with the staffed agents (absent "
                                      "when they cannot keep up)", labels=QC)
    target = GaugeMetricFamily("ccpulse_queue_service_level_target_ratio",
                               "the queue's service-level target", labels=QC)
    for (queue, channel), plan in snap.staffing.items():
        ids = [queue, channel]
        for window, erlangs in plan.offered_load.items():
            load.add_metric([*ids, window], erlangs)
        for horizon, rate in plan.arrivals_per_hour.items():
            arrivals.add_metric([*ids, horizon], rate)
        for horizon, agents in plan.required_agents.items():
            required.add_metric([*ids, horizon], agents)
            gap.add_metric([*ids, horizon], plan.gap(horizon))
        staffed.add_metric(ids, plan.staffed_agents)
        predicted_sl.add_metric(ids, plan.predicted_service_level)
        if plan.predicted_asa_seconds is not None:
            predicted_asa.add_metric(ids, plan.predicted_asa_seconds)
        target.add_metric(ids, plan.service_level_target)
    yield from (load, arrivals, required, gap, staffed, predicted_sl, predicted_asa, target)
