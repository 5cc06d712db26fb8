"""Coverage-guided fuzzing of the event decoder with atheris (libFuzzer), seeded with real
events. Whatever the bytes, ``decode`` returns a valid event or a rejection with one of the
documented reasons; it never raises, hangs or crashes the process.

    python -m tests.reliability.fuzz_decode -atheris_runs=200000
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris
import orjson

with atheris.instrument_imports():
    from ccpulse.processors.decode import REASONS, Decoded, Rejection, decode

SEEDS = [
    {"event_id": "e1", "type": "agent.login", "ts": "2026-11-22T09:00:00Z", "agent_id": "a1",
     "team_id": "t1", "capacity": {"voice": 1, "chat": 3}},
    {"event_id": "e2", "type": "interaction.wrapped", "ts": "2026-11-22T09:05:00.250+01:00",
     "interaction_id": "i1", "agent_id": "a1", "resolved": True, "revenue": 12.5,
     "sentiment": -0.4, "qa_score": 88, "emotional": False},
    {"event_id": "e3", "type": "interaction.survey", "ts": "2026-11-22T09:30:00Z",
     "interaction_id": "i1", "agent_id": "a1", "csat": 4, "felt_heard": True},
]


def test_one_input(data: bytes) -> None:
    result = decode(data, now_ms=1_795_420_800_000)
    if isinstance(result, Rejection):
        if result.reason not in REASONS:
            raise AssertionError(f"undocumented reason {result.reason!r}")
    elif not isinstance(result, Decoded):
        raise AssertionError(f"decode returned {type(result).__name__}")


def main() -> None:
    # libFuzzer starts from a corpus directory: the real events, written to a fresh one
    corpus = Path(tempfile.mkdtemp(prefix="ccpulse-fuzz-"))
    for i, seed in enumerate(SEEDS):
        (corpus / f"seed-{i}.json").write_bytes(orjson.dumps(seed))
    atheris.Setup([*sys.argv, str(corpus)], test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
