"""Erlang C (M/M/c) queueing formulas for live staffing.

Written here rather than imported: the maintained Python packages either pull in pandas,
NumPy and OR-Tools for four formulas (pyworkforce; its current releases also need Python
3.12) or are unmaintained. The formulas are checked against published tables in
``tests/unit/test_erlang.py`` and against a simulated M/M/c queue.

The probability of waiting is computed through the Erlang B recursion
``B(n) = A·B(n−1) / (n + A·B(n−1))``, which never forms ``A^N / N!``, so it stays exact and
fast for thousands of agents where the textbook form overflows a float at about 170.
"""

from __future__ import annotations

import math


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of ``servers`` servers offered ``load`` Erlangs (Erlang B)."""
    blocking = 1.0
    for n in range(1, servers + 1):
        blocking = load * blocking / (n + load * blocking)
    return blocking


def probability_of_waiting(servers: int, load: float) -> float:
    """Erlang C: the share of arrivals that wait; 1 when the queue is unstable (load ≥ servers)."""
    if load <= 0:
        return 0.0
    if servers <= load:
        return 1.0
    blocking = erlang_b(servers, load)
    return servers * blocking / (servers - load * (1 - blocking))


def service_level(servers: int, load: float, aht_s: float, threshold_s: float) -> float:
    """Share of arrivals answered within ``threshold_s`` seconds: 1 − C·e^(−(N−A)·T/AHT)."""
    if load <= 0:
        return 1.0
    if servers <= load:
        return 0.0
    waiting = probability_of_waiting(servers, load)
    return 1 - waiting * math.exp(-(servers - load) * threshold_s / aht_s)


def average_speed_of_answer(servers: int, load: float, aht_s: float) -> float:
    """Mean wait of all arrivals, C·AHT / (N − A); infinite when the queue is unstable."""
    if load <= 0:
        return 0.0
    if servers <= load:
        return math.inf
    return probability_of_waiting(servers, load) * aht_s / (servers - load)


def required_servers(load: float, aht_s: float, threshold_s: float, target: float,
                     occupancy_cap: float) -> int:
    """Fewest servers that answer ``target`` of arrivals within ``threshold_s`` *and* keep
    occupancy (load / servers) at or below ``occupancy_cap``.

    The cap is the empathy guardrail of the staffing model: a plan that meets the service
    level at 95 % occupancy is a plan to burn agents out, so it is never recommended.
    """
    if load <= 0:
        return 0
    servers = max(math.floor(load) + 1, math.ceil(load / occupancy_cap - 1e-9))
    # Service level rises with every server and approaches 1, so the loop ends; each step is
    # O(servers) and the start is within a few servers of the answer (square-root staffing).
    while service_level(servers, load, aht_s, threshold_s) < target:
        servers += 1
    return servers
