"""A WFM export (CSV) into schedule.published events: one per agent, all or nothing."""

from __future__ import annotations

from pathlib import Path

import orjson

from ccpulse.cli import main
from ccpulse.processors.decode import Decoded, decode
from ccpulse.schedule_import import import_csv
from tests.support import at

NOW = at("08:00:00")
GOOD = """agent_id,Team,start,end,activity
a1,t1,2026-11-22T09:00:00Z,2026-11-22T12:00:00Z,work
a2,t2,2026-11-22T09:00:00+01:00,2026-11-22T17:00:00+01:00,work
a1,t1,2026-11-22T12:00:00Z,2026-11-22T12:30:00Z,Lunch

"""


def test_rows_become_one_publication_per_agent_checked_by_the_decoder() -> None:
    imported = import_csv(GOOD.splitlines(), NOW)
    assert imported.errors == []
    events = [orjson.loads(raw) for raw in imported.events]
    assert [e["agent_id"] for e in events] == ["a1", "a2"]
    assert events[0]["team_id"] == "t1" and events[0]["type"] == "schedule.published"
    assert [s["activity"] for s in events[0]["segments"]] == ["work", "lunch"]
    assert events[1]["segments"][0]["start"] == "2026-11-22T08:00:00.000Z"  # offsets kept
    assert all(isinstance(decode(raw, NOW), Decoded) for raw in imported.events)
    assert len({e["event_id"] for e in events}) == 2


def test_bad_rows_name_their_lines_and_nothing_is_imported(tmp_path: Path) -> None:
    bad = ("agent,start,end,activity\n"
           "a1,2026-11-22T09:00:00Z,2026-11-22T12:00:00Z,work\n"
           "a1,2026-11-22T11:00:00Z,2026-11-22T12:30:00Z,lunch\n"  # overlaps line 2
           "a2,9 o'clock,2026-11-22T12:00:00Z,work\n"
           "a3,2026-11-22T09:00:00Z,2026-11-22T10:00:00Z,nap\n")
    imported = import_csv(bad.splitlines(), NOW)
    assert imported.errors == [
        "line 4: needs an agent and RFC 3339 start and end times",
        "lines 2, 3 (one agent's schedule): invalid_value: segments overlap",
        imported.errors[2]]
    assert imported.errors[2].startswith("lines 5 (one agent's schedule): invalid_value")
    assert "nap" not in " ".join(imported.errors)  # reasons name the field, never the value
    assert import_csv(["agent,start,activity"], NOW).errors == [
        "line 1: no column end in the header"]
    source, out = tmp_path / "bad.csv", tmp_path / "out.jsonl"
    source.write_text(bad)
    assert main(["schedules", "import", str(source), "--out", str(out)]) == 2
    assert not out.exists()


def test_the_command_writes_the_events(tmp_path: Path) -> None:
    source, out = tmp_path / "wfm.csv", tmp_path / "schedules.jsonl"
    source.write_text(GOOD)
    assert main(["schedules", "import", str(source), "--out", str(out)]) == 0
    assert len(out.read_bytes().splitlines()) == 2
