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
