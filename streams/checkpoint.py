"""A replica's engine saved to disk now and then, so that a restarted worker replays only
the tail of the shared log.

A replica builds the floor by replaying the Redis log from its first entry, and the log keeps
~33 h: 1.3 M events of 5,000 agents × 8 h took 37–45 s to apply here, while loading the
same engine from a pickle took 2.6–3.1 s (``python -m bench checkpoint``; BENCHMARKS.md,
issue 19, eighth round). So every ``every_s`` the replica's thread forks, holding the
engine's lock for the fork alone; the child writes the engine — with the pipeline's
counters, the history writer's unwritten wraps and the id of the last log entry applied — to
a file in the worker's data directory and exits, while the parent goes straight on (a fork
copies page tables, not the heap; what the child reads stays shared until either side
writes it, as Redis' own BGSAVE does).

At start the worker loads the file if it still describes this log and this code: the same
engine code (a digest of ``processors/``' source), the same engine settings, the same log
key, and a log that still holds the entry it stopped at (trimmed since: it cannot resume
there). Anything else, or a file that does not load, means a full replay, with the reason
logged. Any worker of any group may load any worker's file: every replica holds the whole
log's floor, so they are interchangeable.

Trust: loading a pickle runs code. The file is created with mode 0600 in the worker's data
directory, which must be writable by the worker alone (as its code is).
"""

from __future__ import annotations

import functools
import gc
import hashlib
import logging
import os
import pickle
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccpulse import processors
from ccpulse.processors.config import EngineConfig

log = logging.getLogger("ccpulse.worker")

FORMAT = 1


@functools.cache
def code_digest() -> str:
    """Of the engine's source (and the Python version that pickles it): a file written by
    other code is never loaded, whatever its version number says."""
    digest = hashlib.sha256(f"{sys.version_info[:2]}".encode())
    for path in sorted(Path(processors.__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class Saved:
    """What a checkpoint restores: the engine and what was fed alongside it."""

    last_id: str  # the last log entry applied
    entries: int  # log entries the engine had applied (the replica's progress)
    state: Any  # the caller's: (engine, stats, history wraps) for a worker


class Checkpoints:
    """Writes a checkpoint every ``every_s`` seconds (in a forked child) and loads one."""

    def __init__(self, path: Path, every_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.every_s = every_s
        self._clock = clock
        self._next: float | None = None  # when the next one is due
        # (pid, started, header) of the one being written
        self._child: tuple[int, float, dict[str, Any]] | None = None
        # the last entry the file on disk holds ("0-0": none): an engine that applied nothing
        # since is not written again (an idle worker would rewrite the same file every_s)
        self._on_disk = "0-0"

    def tidy(self, stale_s: float = 600) -> None:
        """Remove what children killed while writing left behind (a writing child touches
        its file all the time: one untouched for ``stale_s`` is nobody's)."""
        cutoff = time.time() - stale_s
        for leftover in self.path.parent.glob(f"{self.path.name}.*.tmp"):
            try:
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
            except OSError:
                pass  # gone meanwhile, or not ours to remove: harmless

    def due(self, last_id: str) -> bool:
        """One is due for an engine at log entry ``last_id``: the interval has passed, none
        is being written (a finished child is reaped here), and the engine holds entries the
        file does not (:meth:`behind`) — it stays due until it has applied something new."""
        if self.every_s <= 0 or (self._child is not None and not self._reaped()):
            return False
        now = self._clock()
        if self._next is None:
            self._next = now + self.every_s  # the first a full interval after start
        return now >= self._next and self.behind(last_id)

    def behind(self, last_id: str) -> bool:
        """The file on disk (if any) does not hold everything up to ``last_id``: an engine at
        ``last_id`` is worth writing ("0-0", nothing applied, never is)."""
        return last_id not in (self._on_disk, "0-0")

    def save(self, header: dict[str, Any], state: Any) -> None:
        """Fork; the child pickles ``header`` then ``state`` to the file and exits. The caller
        holds whatever lock keeps ``state`` still: the fork is the only moment that matters."""
        self._next = self._clock() + self.every_s
        with warnings.catch_warnings():
            # Python 3.12+ warns of fork() in a process with threads: a child that needs a lock
            # another thread held would deadlock. This one takes none (no logging, no import,
            # no I/O but its own file), and a fork is what lets the parent go on at once.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: write, never return into the parent's code
            code = 1
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            try:
                # Not the parent's sockets: a child still writing after its parent died
                # must not keep the metrics port (or Kafka and Redis connections) open.
                os.closerange(3, os.sysconf("SC_OPEN_MAX"))
                gc.disable()  # it only reads: a collection would touch (and copy) every page
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as out:
                    pickle.dump(header, out, protocol=pickle.HIGHEST_PROTOCOL)
                    pickle.dump(state, out, protocol=pickle.HIGHEST_PROTOCOL)
                    out.flush()
                    os.fsync(out.fileno())
                tmp.replace(self.path)  # whole or not at all
                code = 0
            except BaseException:  # reported by the parent from the exit code
                tmp.unlink(missing_ok=True)
            finally:
                os._exit(code)
        self._child = (pid, self._clock(), header)

    def _reaped(self) -> bool:
        """The child has exited (logged), or is still writing (False)."""
        assert self._child is not None
        pid, started, written = self._child
        done, status = os.waitpid(pid, os.WNOHANG)
        if not done:
            return False
        self._child = None
        seconds = round(self._clock() - started, 1)
        if os.waitstatus_to_exitcode(status) == 0:
            self._on_disk = written["last_id"]
            log.info("replica_checkpoint_written", extra={"fields": {
                "path": str(self.path), "entries": written["entries"],
                "mib": round(self.path.stat().st_size / 2**20, 1), "seconds": seconds}})
        else:
            log.warning("replica_checkpoint_failed", extra={"fields": {
                "path": str(self.path), "exit": os.waitstatus_to_exitcode(status),
                "hint": "check that the data directory is writable and has room "
                        "(CCPULSE_DATA_DIR); restarts replay the whole log meanwhile"}})
        return True

    def writing(self) -> int | None:
        """The pid of the child writing a checkpoint now, if one is."""
        return None if self._child is None else self._child[0]

    def finished(self) -> bool:
        """No child is writing any more (the one that was is reaped and logged)."""
        return self._child is None or self._reaped()

    def wait(self) -> None:
        """Until the checkpoint being written is done, reaped and logged as :meth:`due`
        would (tests)."""
        while not self.finished():
            time.sleep(0.02)

    def load(self, header: dict[str, Any], holds: Callable[[str], bool]) -> Saved | None:
        """The saved state if its header matches ``header`` (all but ``last_id`` and
        ``entries``) and ``holds(last_id)``; else None, the reason logged. With checkpoints
        off (``every_s`` 0) none is loaded either: the whole log is replayed."""
        if self.every_s <= 0:
            return None
        try:
            with self.path.open("rb") as source:
                saved = pickle.load(source)
                why = _mismatch(saved, header)
                if why is None and not holds(saved["last_id"]):
                    why = "the log no longer holds the entry it stopped at (trimmed since)"
                if why is not None:
                    log.info("replica_checkpoint_skipped", extra={"fields": {
                        "path": str(self.path), "reason": why}})
                    return None
                started = time.monotonic()
                with _collections_paused():
                    state = pickle.load(source)
        except FileNotFoundError:
            return None
        except Exception as exc:  # a bad file means a full replay, not a crash
            log.warning("replica_checkpoint_unreadable", extra={"fields": {
                "path": str(self.path), "error": type(exc).__name__,
                "hint": "the whole log is replayed; the file is replaced by the next one"}})
            return None
        self._on_disk = saved["last_id"]
        log.info("replica_checkpoint_loaded", extra={"fields": {
            "path": str(self.path), "entries": saved["entries"],
            "seconds": round(time.monotonic() - started, 1)}})
        return Saved(saved["last_id"], saved["entries"], state)


@contextmanager
def _collections_paused() -> Iterator[None]:
    """No cyclic collection while a checkpoint loads: unpickling an engine makes millions of
    objects, none of them garbage, and each collection on the way would walk all made so
    far (BENCHMARKS.md, issue 19, fifteenth round, measures what that cost)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def header(stream_key: str, config: EngineConfig, last_id: str = "", entries: int = 0,
           ) -> dict[str, Any]:
    """What a checkpoint says of itself; two of them must agree on all but the position."""
    return {"format": FORMAT, "code": code_digest(), "stream": stream_key,
            "config": config, "last_id": last_id, "entries": entries}


def _mismatch(saved: Any, wanted: dict[str, Any]) -> str | None:
    if not isinstance(saved, dict) or saved.get("format") != wanted["format"]:
        return "written by another version of ccpulse"
    for key, why in (("code", "written by other engine code"),
                     ("stream", "of another log"),
                     ("config", "the engine settings have changed since")):
        if saved.get(key) != wanted[key]:
            return why
    return None
