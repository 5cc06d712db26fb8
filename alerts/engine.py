"""Alert life cycle: inactive → pending → firing → resolved, evaluated on a fixed interval.

"Held N min" means the condition was true at every evaluation for N minutes; one false
evaluation while pending starts over, so a flapping signal never fires. A firing alert
resolves at the first evaluation where its resolve condition no longer holds (hysteresis for
occupancy: fires above 0.85, resolves below 0.80), or where its scope has no value any more.
Pure: evaluation times are passed in (wall clock live, event time in a replay).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import msgspec

from ccpulse.alerts.rules import RULES, Finding, Rule, Thresholds
from ccpulse.processors.snapshot import Snapshot
from ccpulse.processors.timefmt import format_ms

DEFAULT_INTERVAL_MS = 15_000


def fingerprint(labels: dict[str, str]) -> str:
    """A stable key for an alert's label set (the ``cc.alerts`` message key)."""
    text = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Alert(msgspec.Struct, frozen=True, omit_defaults=True):
    """The Alertmanager v2 alert object plus a status (contract §4)."""

    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    startsAt: str  # noqa: N815 - Alertmanager's field name
    generatorURL: str  # noqa: N815
    endsAt: str | None = None  # noqa: N815

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)


class _SavedTrack(msgspec.Struct, frozen=True):
    rule: str
    labels: dict[str, str]
    pending_since: int | None
    firing_since: int | None
    last: Finding | None
    false_since: int | None = None  # saved by v1.1 on; absent in older saved states


class _SavedState(msgspec.Struct, frozen=True):
    next_due_ms: int | None
    tracks: list[_SavedTrack]


@dataclass
class _Track:
    rule: Rule
    pending_since: int | None = None
    firing_since: int | None = None
    last: Finding | None = None
    # firing, but its resolve condition false since then (resolves once keep_firing passed)
    false_since: int | None = None


@dataclass
class AlertEvaluator:
    """Evaluates the rules against snapshots and remembers each alert's state."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    rules: tuple[Rule, ...] = RULES
    interval_ms: int = DEFAULT_INTERVAL_MS
    generator_url: str = "http://localhost:9464/metrics"
    tracks: dict[tuple[str, tuple[tuple[str, str], ...]], _Track] = field(default_factory=dict)
    next_due_ms: int | None = None
    evaluated_ms: int | None = None  # the instant of the last evaluation (not saved)

    def due(self, until_ms: int, inclusive: bool) -> bool:
        """Is an evaluation due by ``until_ms``? (:meth:`due_times` without running them.)"""
        due = self.next_due_ms
        return due is None or due < until_ms or (inclusive and due == until_ms)

    def due_times(self, until_ms: int, inclusive: bool) -> list[int]:
        """Evaluation instants not yet run, up to ``until_ms``, aligned to the interval."""
        if self.next_due_ms is None:
            self.next_due_ms = -(-until_ms // self.interval_ms) * self.interval_ms
        times = []
        while self.next_due_ms < until_ms or (inclusive and self.next_due_ms == until_ms):
            times.append(self.next_due_ms)
            self.next_due_ms += self.interval_ms
        return times

    def evaluate(self, snap: Snapshot) -> list[Alert]:
        """One evaluation at ``snap.now``; returns the firing and resolved transitions."""
        now = self.evaluated_ms = snap.now
        transitions: list[Alert] = []
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        watched = self._watched()
        for rule in self.rules:
            hold = rule.hold_ms(self.thresholds)
            for finding in rule.find(snap, self.thresholds,
                                     watched.get(rule.alertname, frozenset())):
                key = (rule.alertname, tuple(sorted(finding.labels.items())))
                seen.add(key)
                track = self.tracks.get(key)
                if track is None:
                    if not finding.active:
                        continue
                    track = self.tracks[key] = _Track(rule)
                track.last = finding
                if track.firing_since is not None:
                    if finding.keep_firing:
                        track.false_since = None
                        continue
                    if track.false_since is None:
                        track.false_since = now
                    if now - track.false_since >= rule.keep_firing(self.thresholds):
                        transitions.append(self._alert(rule, track, "resolved", now))
                        del self.tracks[key]
                    continue
                if not finding.active:
                    del self.tracks[key]
                    continue
                if track.pending_since is None:
                    track.pending_since = now
                if now - track.pending_since >= hold:
                    track.firing_since = now
                    transitions.append(self._alert(rule, track, "firing", now))
        for key in [k for k in self.tracks if k not in seen]:
            track = self.tracks.pop(key)
            if track.firing_since is not None:
                transitions.append(self._alert(track.rule, track, "resolved", now))
        return transitions

    def _watched(self) -> dict[str, set[str]]:
        """alertname -> the agents it has a pending or firing alert for: a rule's findings
        of other agents matter only when active (:data:`~ccpulse.alerts.rules.Finder`)."""
        out: dict[str, set[str]] = {}
        for name, labels in self.tracks:
            for label, value in labels:
                if label == "agent":
                    out.setdefault(name, set()).add(value)
        return out

    def _alert(self, rule: Rule, track: _Track, status: str, now: int) -> Alert:
        finding = track.last
        assert finding is not None
        labels = {"alertname": rule.alertname, "severity": rule.severity,
                  "audience": rule.audience, **finding.labels}
        held = ""
        if track.pending_since is not None and rule.hold_ms(self.thresholds):
            held = f" for {(now - track.pending_since) // 60_000} min"
        annotations = {
            "summary": rule.summary,
            "description": finding.description + held,
            "runbook_url": rule.runbook_url(self.thresholds),
        }
        return Alert(
            status=status,
            labels=labels,
            annotations=annotations,
            startsAt=format_ms(track.firing_since or now),
            generatorURL=self.generator_url,
            endsAt=format_ms(now) if status == "resolved" else None,
        )

    def firing(self) -> list[Alert]:
        """Alerts firing now, as Alertmanager wants them re-sent while they last."""
        out = []
        # list(): other threads (the Alertmanager sender, a scrape) read while we evaluate
        for track in list(self.tracks.values()):
            if track.firing_since is not None:
                out.append(self._alert(track.rule, track, "firing", track.firing_since))
        return out

    def reconcile(self, delivered: Mapping[str, Alert], just_sent: set[str]) -> list[Alert]:
        """What brings receivers back to this state after a sender died between sending and
        saving: ``delivered`` is the last transition that may have reached them per
        fingerprint (firing, or resolved but not yet known to have arrived). The dead sender
        evaluated an instant on a log still filling; this evaluator re-evaluated it on a fuller
        one and may disagree. Alerts not firing here are resolved (again, if they were),
        alerts firing here that receivers may not have, or have with another ``startsAt``,
        fire; ``just_sent`` (this evaluation's transitions) already say where they stand."""
        now = self.evaluated_ms
        assert now is not None, "reconcile after an evaluation"
        firing = {alert.fingerprint: alert for alert in self.firing()}
        out = []
        for fp, alert in delivered.items():
            if fp not in firing and fp not in just_sent:
                out.append(msgspec.structs.replace(alert, status="resolved",
                                                   endsAt=format_ms(now)))
        for fp, alert in firing.items():
            sent = delivered.get(fp)
            if fp not in just_sent and (sent is None or sent.status != "firing"
                                        or sent.startsAt != alert.startsAt):
                out.append(alert)
        return out

    def dump(self) -> bytes:
        """Pending and firing alerts with their clocks: what a restart must not forget, or
        holds would start over and firing alerts would fire again with a new startsAt."""
        tracks = [_SavedTrack(t.rule.alertname, dict(labels), t.pending_since, t.firing_since,
                              t.last, t.false_since) for (_, labels), t in self.tracks.items()]
        return msgspec.json.encode(_SavedState(self.next_due_ms, tracks))

    def load(self, raw: bytes) -> None:
        state = msgspec.json.decode(raw, type=_SavedState)
        rules = {rule.alertname: rule for rule in self.rules}  # a saved state names its rules
        self.next_due_ms = state.next_due_ms
        self.tracks = {
            (t.rule, tuple(sorted(t.labels.items()))): _Track(rules[t.rule], t.pending_since,
                                                               t.firing_since, t.last,
                                                               t.false_since)
            for t in state.tracks if t.rule in rules
        }

    def firing_counts(self) -> Iterable[tuple[str, str, int]]:
        """(alertname, severity, count) for ``ccpulse_alerts_firing``; zero for quiet rules."""
        counts: Counter[str] = Counter(
            name for (name, _), track in list(self.tracks.items())
            if track.firing_since is not None
        )
        return [(rule.alertname, rule.severity, counts.get(rule.alertname, 0))
                for rule in self.rules]
