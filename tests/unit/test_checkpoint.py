"""The replica's checkpoint: written by a forked child, loaded only when it still fits."""

from __future__ import annotations

import dataclasses
import gc
import os
import stat
import time
from pathlib import Path
from typing import ClassVar

import orjson
import pytest

from ccpulse.processors.config import EngineConfig
from ccpulse.streams.checkpoint import Checkpoints, header
from ccpulse.streams.pipeline import Pipeline
from ccpulse.streams.simulator import SimConfig, Simulator

HOUR = 3_600_000
LOG = "{ccpulse}:log"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def events() -> list[bytes]:
    return [orjson.dumps(e) for e in Simulator(SimConfig(agents=40, duration_ms=2 * HOUR,
                                                         seed=5)).events()]


def fed(lines: list[bytes], pipeline: Pipeline | None = None) -> Pipeline:
    pipeline = pipeline or Pipeline(dedup=False)
    for line in lines:
        pipeline.feed(line, None, now_ms=None)
    return pipeline


def saved_after(path: Path, lines: list[bytes], config: EngineConfig | None = None,
                ) -> Checkpoints:
    clock = Clock()
    checkpoints = Checkpoints(path, every_s=60, clock=clock)
    pipeline = fed(lines)
    assert not checkpoints.due("7-0")  # the first one a whole interval after start
    clock.now = 60
    assert checkpoints.due("7-0")
    checkpoints.save(header(LOG, config or EngineConfig(), "7-0", len(lines)),
                     (pipeline.engine, pipeline.stats, None))
    checkpoints.wait()
    return checkpoints


def test_an_engine_resumed_from_a_checkpoint_ends_where_one_fed_everything_does(
        tmp_path: Path, events: list[bytes]) -> None:
    half = len(events) // 2
    checkpoints = saved_after(tmp_path / "replica.pickle", events[:half])
    assert stat.S_IMODE((tmp_path / "replica.pickle").stat().st_mode) == 0o600
    saved = checkpoints.load(header(LOG, EngineConfig()), holds=lambda entry: entry == "7-0")
    assert saved is not None and (saved.last_id, saved.entries) == ("7-0", half)
    resumed = Pipeline(dedup=False)
    resumed.engine, resumed.stats, unwritten = saved.state
    assert unwritten is None
    fed(events[half:], resumed)
    whole = fed(events)
    now = whole.engine.max_ts or 0
    assert resumed.snapshot(now) == whole.snapshot(now)
    assert resumed.stats == whole.stats
    assert not list(tmp_path.glob("*.tmp"))  # written whole, then renamed


@pytest.mark.parametrize(("change", "holds"), [
    ({"config": EngineConfig(lateness_ms=1)}, True),  # the engine settings changed
    ({"stream": "{other}:log"}, True),  # another log
    ({"code": "0" * 64}, True),  # other engine code
    ({"format": 0}, True),
    ({}, False),  # the log was trimmed past the entry it stopped at
])
def test_a_checkpoint_that_no_longer_fits_is_not_loaded(
        tmp_path: Path, events: list[bytes], change: dict, holds: bool) -> None:
    checkpoints = saved_after(tmp_path / "replica.pickle", events[:100])
    wanted = header(LOG, EngineConfig()) | change
    assert checkpoints.load(wanted, holds=lambda entry: holds) is None
    assert checkpoints.load(header(LOG, EngineConfig()), holds=lambda entry: True) is not None


def test_a_missing_or_broken_file_means_a_full_replay(tmp_path: Path,
                                                      events: list[bytes]) -> None:
    path = tmp_path / "replica.pickle"
    checkpoints = Checkpoints(path, every_s=60)
    assert checkpoints.load(header(LOG, EngineConfig()), holds=lambda entry: True) is None
    saved_after(path, events[:100])
    off = Checkpoints(path, every_s=0)  # checkpoints off: a file left there is not loaded
    assert off.load(header(LOG, EngineConfig()), holds=lambda entry: True) is None
    path.write_bytes(path.read_bytes()[:-50])  # cut short (a full disk, say)
    assert checkpoints.load(header(LOG, EngineConfig()), holds=lambda entry: True) is None


def test_none_is_due_when_off_or_while_one_is_being_written(tmp_path: Path) -> None:
    clock = Clock()
    off = Checkpoints(tmp_path / "off.pickle", every_s=0, clock=clock)
    clock.now = 10_000
    assert not off.due("1-0")
    checkpoints = Checkpoints(tmp_path / "on.pickle", every_s=5, clock=clock)
    assert not checkpoints.due("1-0")
    clock.now += 5
    assert checkpoints.due("1-0")
    # a child that takes its time: not due again until it has exited, then after every_s
    checkpoints.save(header(LOG, EngineConfig(), "1-0", 1), _Slow())
    clock.now += 10
    assert not checkpoints.due("2-0")
    checkpoints.wait()
    assert (tmp_path / "on.pickle").exists()
    assert checkpoints.due("2-0")


def test_an_engine_that_applied_nothing_new_is_not_written_again(
        tmp_path: Path, events: list[bytes]) -> None:
    path = tmp_path / "replica.pickle"
    clock = Clock()
    checkpoints = Checkpoints(path, every_s=5, clock=clock)
    state = (fed(events[:100]).engine, None, None)
    assert not checkpoints.due("7-0")
    clock.now = 5
    assert checkpoints.due("7-0")
    assert not checkpoints.due("0-0")  # none applied: nothing worth a file
    checkpoints.save(header(LOG, EngineConfig(), "7-0", 100), state)
    checkpoints.wait()
    clock.now += 5
    assert not checkpoints.due("7-0") and not checkpoints.behind("7-0")
    assert checkpoints.due("8-0")  # due again as soon as something new is applied
    assert checkpoints.behind("8-0")
    # a restarted worker's loaded file counts as written
    again = Checkpoints(path, every_s=5, clock=clock)
    assert again.behind("7-0")
    assert again.load(header(LOG, EngineConfig()), holds=lambda entry: True) is not None
    assert not again.behind("7-0") and again.behind("8-0")


class _Slow:
    """Pickles after half a second."""

    def __reduce__(self) -> tuple:
        time.sleep(0.5)
        return (dict, ())


def test_the_header_names_everything_a_resume_depends_on() -> None:
    fields = header(LOG, EngineConfig(), "1-0", 3)
    assert set(fields) == {"format", "code", "stream", "config", "last_id", "entries"}
    assert fields["config"] == dataclasses.replace(EngineConfig())


def test_files_left_by_a_child_killed_while_writing_are_removed_once_stale(
        tmp_path: Path) -> None:
    checkpoints = Checkpoints(tmp_path / "replica.pickle", every_s=60)
    stale, fresh = tmp_path / "replica.pickle.41.tmp", tmp_path / "replica.pickle.42.tmp"
    other = tmp_path / "other.pickle.43.tmp"
    for path in (stale, fresh, other):
        path.write_bytes(b"half")
    an_hour_ago = time.time() - 3600
    for path in (stale, other):
        os.utime(path, (an_hour_ago, an_hour_ago))
    checkpoints.tidy()
    assert not stale.exists() and fresh.exists() and other.exists()


class CollectionSeen:
    """Records, as it is unpickled, whether cyclic collection was on."""

    seen: ClassVar[list[bool]] = []

    def __init__(self) -> None:
        self.state = "held"  # something to unpickle: __setstate__ is called with it

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        CollectionSeen.seen.append(gc.isenabled())


def test_no_collection_runs_while_a_checkpoint_loads_and_it_is_on_again_after(
        tmp_path: Path) -> None:
    """Unpickling an engine makes millions of objects and none is garbage: a collection on
    the way walks all of them made so far, for nothing."""
    checkpoints = Checkpoints(tmp_path / "replica.pickle", every_s=60)
    checkpoints.save(header(LOG, EngineConfig(), "7-0", 1), (CollectionSeen(), None, None))
    checkpoints.wait()
    CollectionSeen.seen.clear()
    assert gc.isenabled()
    assert checkpoints.load(header(LOG, EngineConfig()), holds=lambda entry: True) is not None
    assert CollectionSeen.seen == [False] and gc.isenabled()
