"""Where an engine's memory is, by part (``python -m bench memory`` reports it per agent).

Each part is walked from its root through dicts, sequences, sets and slotted or plain
objects, adding ``sys.getsizeof`` of every object reached once. An object shared between
parts (an interaction's id held by its record and its customer's history, a team name held
by every segment) is counted in the first part that reaches it, in the order of ``PARTS``.
Classes, functions and modules are not followed. What the walk misses — the allocators'
slack, freed memory not given back, interpreter caches — is the difference between the
resident growth and the walk's total.
"""

from __future__ import annotations

import sys
import types
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from ccpulse.processors.engine import KpiEngine

# not counted, not followed: code and modules, not state
_NOT_STATE = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
              types.ModuleType)
# counted, nothing inside to follow (an array's size includes its buffer)
_LEAVES = (str, bytes, int, float, bool, array, type(None))


def _children(obj: object) -> Iterator[object]:
    if isinstance(obj, _LEAVES):
        return
    if isinstance(obj, dict):
        yield from obj.keys()
        yield from obj.values()
    elif isinstance(obj, list | tuple | set | frozenset | deque):
        yield from obj
    else:
        for cls in type(obj).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                value = getattr(obj, slot, None)
                if value is not None:
                    yield value
        if hasattr(obj, "__dict__"):
            yield obj.__dict__


def deep_size(root: object, seen: set[int]) -> int:
    """Bytes of ``root`` and everything it reaches that is not in ``seen`` (then added)."""
    total, stack = 0, [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _NOT_STATE):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(_children(obj))
    return total


PARTS: dict[str, Callable[[KpiEngine], Any]] = {
    "interactions": lambda e: (e.interactions, e.shapes),  # and the references they share
    "customers": lambda e: e.customers,
    "last_contacts": lambda e: e.last_contacts,
    "cells": lambda e: e.families,
    "timelines": lambda e: [machine.timeline for machine in e.agents.values()],
    "agents_other": lambda e: e.agents,  # the machines without their timelines
    "schedules": lambda e: e.schedules,
    "event_ids": lambda e: e.seen,
    "rest": lambda e: e,  # waiting queues, holds going on, names, counters
}


def footprint(engine: KpiEngine) -> dict[str, int]:
    """Bytes per part of ``engine`` (see the module's docstring for what is counted where)."""
    seen: set[int] = {id(engine.config)}  # settings, not state
    return {name: deep_size(root(engine), seen) for name, root in PARTS.items()}
