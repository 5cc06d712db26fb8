"""Hostile and broken input: fuzzed events, label injection, a flood of made-up ids.

The promise: no input crashes or stops the stream, each bad event is refused with the right
reason, no good event around it is lost, no label can be forged, and memory and series stay
bounded however many ids a producer invents.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from ccpulse.processors.config import EngineConfig
from ccpulse.processors.decode import REASONS, Decoded, Rejection, decode
from ccpulse.streams.pipeline import Pipeline
from tests.servers import require
from tests.support import EventFactory

EXAMPLES = int(os.environ.get("CCPULSE_HYPOTHESIS_EXAMPLES", "300"))
NOW = 1_795_420_800_000  # 2026-11-23T08:00:00Z
ev = EventFactory("good")
REAL = [
    ev("agent.login", NOW - 3_600_000, agent_id="a1", team_id="t1"),
    ev("agent.available", NOW - 3_590_000, agent_id="a1"),
    ev("interaction.queued", NOW - 3_000_000, interaction_id="i1", queue_id="q1",
       channel="voice", customer_id="c1"),
    ev("interaction.answered", NOW - 2_990_000, interaction_id="i1", agent_id="a1",
       queue_id="q1", channel="voice"),
    ev("interaction.ended", NOW - 2_800_000, interaction_id="i1", agent_id="a1"),
    ev("interaction.wrapped", NOW - 2_700_000, interaction_id="i1", agent_id="a1",
       resolved=True, revenue=10.0, sentiment=0.5, qa_score=90),
    ev("interaction.survey", NOW - 2_000_000, interaction_id="i1", agent_id="a1", csat=5),
]


def _set(event: dict, field: str, value: object) -> dict:
    return {**event, field: value}


# (how to break a real event, the reason it must be refused with)
MUTATIONS = {
    "truncated": (lambda e, n: orjson.dumps(e)[: max(1, n % len(orjson.dumps(e)))],
                  "not_json"),
    "missing field": (lambda e, n: orjson.dumps({k: v for k, v in e.items() if k != "ts"}),
                      "missing_field"),
    "wrong type": (lambda e, n: orjson.dumps(_set(e, "event_id", n)), "wrong_type"),
    "unknown type": (lambda e, n: orjson.dumps(_set(e, "type", f"agent.x{n}")), "unknown_type"),
    "invalid UTF-8": (lambda e, n: orjson.dumps(e)[:-1] + b',"note":"\xff\xfe"}',
                      "invalid_utf8"),
    # (an unknown field nested a few hundred deep is skipped: forward compatibility)
    "deep nesting": (lambda e, n: orjson.dumps(e)[:-1] + b',"x":' + b"[" * (5000 + n)
                     + b"]" * (5000 + n) + b"}", "too_deep"),
    "oversized": (lambda e, n: orjson.dumps(_set(e, "pad", "x" * (70_000 + n))), "too_large"),
    "control char in id": (lambda e, n: orjson.dumps(_set(e, "event_id", f"e\n{n}")),
                           "invalid_value"),
    "10 KB id": (lambda e, n: orjson.dumps(_set(e, "event_id", "e" * (10_000 + n))),
                 "invalid_value"),
    "far future": (lambda e, n: orjson.dumps(_set(e, "ts", "2099-01-01T00:00:00Z")),
                   "future_timestamp"),
    "huge number": (lambda e, n: orjson.dumps(e)[:-1] + b',"revenue":1e999}'
                    if e["type"] == "interaction.wrapped" else b"[1e999]", None),
    "NaN": (lambda e, n: orjson.dumps(e)[:-1] + b',"sentiment":NaN}', "not_json"),
}


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(sorted(MUTATIONS)), st.integers(0, 10_000),
                          st.integers(0, len(REAL) - 1)), max_size=12),
       st.randoms(use_true_random=False))
def test_mutated_events_get_their_reason_and_good_ones_around_them_survive(
        mutations: list, rnd: object) -> None:
    stream: list[tuple[bytes, str | None]] = [(orjson.dumps(e), None) for e in REAL]
    for name, n, index in mutations:
        mutate, reason = MUTATIONS[name]
        stream.insert(rnd.randrange(len(stream) + 1),  # type: ignore[attr-defined]
                      (mutate(REAL[index], n), reason))
    pipeline = Pipeline(EngineConfig())
    for raw, reason in stream:
        result = pipeline.feed(raw, topic=None, now_ms=NOW)
        if reason is None and isinstance(result, Rejection):
            assert result.reason in REASONS
        elif reason is not None:
            assert isinstance(result, Rejection), (raw[:80], result)
            assert result.reason == reason, (raw[:80], result)
    # every good event applied, in spite of the bad ones between them
    assert all(e["event_id"] in pipeline.engine.seen for e in REAL)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.binary(max_size=2048) | st.sampled_from([orjson.dumps(e) for e in REAL]).flatmap(
    lambda raw: st.binary(max_size=64).map(lambda junk: raw[: len(raw) // 2] + junk)))
def test_any_bytes_decode_to_an_event_or_a_documented_reason(raw: bytes) -> None:
    result = decode(raw, NOW)
    assert isinstance(result, Decoded) or (
        isinstance(result, Rejection) and result.reason in REASONS)


def test_atheris_finds_nothing(tmp_path: Path) -> None:
    """libFuzzer's coverage-guided mutations from real events; a crash or an undocumented
    reason fails the run with the input saved for a regression test."""
    runs = os.environ.get("CCPULSE_FUZZ_RUNS", "30000")
    result = subprocess.run([sys.executable, "-m", "tests.reliability.fuzz_decode",
                             f"-atheris_runs={runs}", f"-artifact_prefix={tmp_path}/"],
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Done {runs} in" in result.stderr


def _replay(tmp_path: Path, events: list[dict], config: str = "") -> tuple[str, str]:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    conf = tmp_path / "ccpulse.toml"
    conf.write_text(config)
    result = subprocess.run([sys.executable, "-m", "ccpulse", "replay", str(path), "--config",
                             str(conf), "--metrics-out", "-"], capture_output=True, text=True,
                            timeout=300, check=True)
    return result.stdout, result.stderr


@pytest.mark.parametrize("evil", [
    'a"} 1\n',  # refused: control character
    'agent"} 1 # {x="y',
    'back\\slash\\"quote',
    "{{agent}}",
    "Ω-ünïcode-\u200b",
])
def test_label_injection_is_impossible(tmp_path: Path, evil: str) -> None:
    events = [ev("agent.login", NOW - 600_000, agent_id=evil, team_id=evil),
              ev("agent.available", NOW - 590_000, agent_id=evil),
              ev("agent.login", NOW - 600_000, agent_id="plain", team_id="t")]
    text, _ = _replay(tmp_path, events)
    check = subprocess.run([require("promtool", "prometheus"), "check", "metrics"],
                           input=text, capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    agents = {s.labels["agent"] for f in text_string_to_metric_families(text)
              for s in f.samples if s.name == "ccpulse_agent_state"}
    if "\n" in evil:
        assert agents == {"plain"}  # refused at the door, never near a label
    else:
        assert agents == {evil, "plain"}  # escaped and read back exactly, nothing forged


def test_a_flood_of_made_up_agent_ids_is_capped_counted_and_bounded(tmp_path: Path) -> None:
    real = [ev("agent.login", NOW - 600_000, agent_id=f"real-{i}", team_id="t")
            for i in range(20)]
    flood = [ev("agent.available", NOW - 300_000 + i, agent_id=f"bogus-{i}") for i in range(3000)]
    later = [ev("agent.available", NOW - 1000, agent_id=f"real-{i}") for i in range(20)]
    text, err = _replay(tmp_path, real + flood + later, "[engine]\nmax_agents = 500\n")
    assert err.count("over_limit") == 2520  # each refused line reported by number
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("ccpulse_tracked_entities", (("scope", "agent"),))] == 500
    assert samples[("ccpulse_events_over_limit_total", (("scope", "agent"),))] == 2520
    # the real agents, known before the flood, keep working; the series count is bounded
    states = {dict(k[1])["agent"] for k in samples if k[0] == "ccpulse_agent_state"}
    assert {f"real-{i}" for i in range(20)} <= states and len(states) == 500
    assert sum(1 for k in samples if k[0].startswith("ccpulse_agent_")) < 500 * 60


def test_no_personal_data_in_labels_and_no_payload_in_stderr(tmp_path: Path) -> None:
    events = [*REAL, {"event_id": "bad", "type": "interaction.survey", "ts": "x",
                      "interaction_id": "i1", "agent_id": "a1", "csat": "PAYLOAD-MARKER"}]
    text, err = _replay(tmp_path, events)
    assert "c1" not in {v for f in text_string_to_metric_families(text) for s in f.samples
                        for v in s.labels.values()}  # customer ids never become labels
    assert "PAYLOAD-MARKER" not in err and "line 8" in err
