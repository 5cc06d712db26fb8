"""Which agents' series a worker exports: those of the agent-topic partitions it owns.

Every worker holds the whole floor (each replays the shared log), so it could export every
agent; at 50,000 agents that is a scrape Prometheus times out on, repeated on every worker.
Instead, as kube-state-metrics shards objects across replicas, a worker exports an agent's
series only when ``murmur2(agent_id) mod P`` — the partition Kafka's default partitioner
sends the agent's events to, ``P`` partitions of the agent-state topic — is one the consumer
group assigned to it, and computes them from a snapshot of those agents alone. Teams, queues
and channels come from one worker, the holder of the alert lease, which computes the whole
floor for the alert rules anyway (``KpiCollector``'s ``floor``).

The union over workers is every agent exactly once whatever partitioner the producers use
(each partition index has one owner); with Kafka's default (murmur2) partitioner it is also
the worker that consumes the agent's events. A rebalance moves the series with the
partitions at the next scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from kafka.partitioner.default import murmur2

AgentFilter = Callable[[str], bool]


class AgentShards:
    """``owns(agent)`` for the partitions this worker holds now; hashes are remembered per
    agent (murmur2 in Python costs microseconds; a floor is scraped every 15 s)."""

    def __init__(self) -> None:
        self._hashes: dict[str, int] = {}
        self.partitions: int | None = None  # of the agent topic; None: not known yet
        self.owned: frozenset[int] = frozenset()

    def update(self, partitions: int | None, owned: frozenset[int] | None) -> None:
        """The consumer's latest view; ``None`` for what it could not tell this time, which
        keeps the last known value: a report sent while the consumer's metadata lacked the
        topic must not make this worker drop every agent's series until the next one."""
        if partitions:
            self.partitions = partitions
        if owned is not None:
            self.owned = owned

    def owns(self, agent: str) -> bool:
        if not self.partitions:
            return False  # before the first assignment: nobody's series, not everybody's
        hashed = self._hashes.get(agent)
        if hashed is None:
            hashed = self._hashes[agent] = murmur2(agent.encode()) & 0x7FFFFFFF
        return hashed % self.partitions in self.owned

    def forget(self, agents: Collection[str]) -> None:
        """Drop the remembered hashes of agents the engine no longer tracks, once they
        outnumber the tracked ones: the cache stays within twice the floor."""
        if len(self._hashes) <= 2 * len(agents):
            return
        for agent in [a for a in list(self._hashes) if a not in agents]:
            self._hashes.pop(agent, None)
