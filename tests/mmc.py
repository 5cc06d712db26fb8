"""An M/M/c queue written as contract events: the independent check of the staffing model.

Poisson arrivals, exponential handle times, ``agents`` identical agents answering first come
first served, nobody abandons: exactly the assumptions of Erlang C, so the service level and
ASA that ccpulse *measures* on these events must agree with what Erlang C *predicts*.
"""

from __future__ import annotations

import heapq
import random
from typing import Any

from tests.support import EventFactory


def mmc_events(agents: int, arrivals_per_hour: float, aht_s: float, *, hours: float,
               start_ms: int, queue: str = "q-mmc", seed: int = 1) -> list[dict[str, Any]]:
    """Events of one queue served by ``agents`` agents for ``hours``; the handle time is all
    talk (``ended`` and ``wrapped`` at the same instant)."""
    rng = random.Random(seed)
    ev = EventFactory("mmc")
    events: list[dict[str, Any]] = []
    for i in range(agents):
        events.append(ev("agent.login", start_ms, agent_id=f"a{i}", team_id="mmc"))
        events.append(ev("agent.available", start_ms, agent_id=f"a{i}"))
    free_at = [(start_ms, f"a{i}") for i in range(agents)]  # heap: when each agent is free
    heapq.heapify(free_at)
    end_ms = start_ms + int(hours * 3_600_000)
    t = float(start_ms)
    n = 0
    while True:
        t += rng.expovariate(arrivals_per_hour / 3_600_000)
        if t > end_ms:
            break
        arrival = int(t)
        free, agent = heapq.heappop(free_at)
        answer = max(arrival, free)
        done = answer + max(1, int(rng.expovariate(1 / aht_s) * 1000))
        heapq.heappush(free_at, (done, agent))
        iid = f"c{n}"
        n += 1
        events.append(ev("interaction.queued", arrival, interaction_id=iid, queue_id=queue,
                         channel="voice"))
        events.append(ev("interaction.answered", answer, interaction_id=iid, agent_id=agent,
                         queue_id=queue, channel="voice"))
        events.append(ev("interaction.ended", done, interaction_id=iid, agent_id=agent))
        events.append(ev("interaction.wrapped", done, interaction_id=iid, agent_id=agent))
    # The engine takes events in time order per entity, as a broker would deliver them.
    events.sort(key=lambda e: e["ts"])
    return events
