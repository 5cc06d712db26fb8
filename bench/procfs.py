"""Resident memory of a process, from ``/proc`` (Linux), for the memory figures."""

from __future__ import annotations

from pathlib import Path


def rss_kib(pid: int | str = "self") -> int:
    """``VmRSS`` now (not the peak: a benchmark's set-up peak is not the worker's), 0 for a
    process that has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def private_kib(pid: int | str = "self") -> int:
    """Memory only this process holds (its private pages, clean and dirty): what a forked
    child has copied of its parent so far. 0 for a process that has gone."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return sum(int(line.split()[1]) for line in rollup.splitlines()
               if line.startswith(("Private_Clean:", "Private_Dirty:")))
