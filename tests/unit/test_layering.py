"""The layering holds by test, not by discipline.

``processors/`` is the pure core: it imports nothing of ours but itself, no client of Kafka,
Redis or HTTP, no clock (time is passed in) and no I/O. ``streams/`` and ``alerts/`` are
adapters around it and may import only ``processors``; ``ccpulse/`` is the composition root
and may import anything. Imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"processors", "streams", "alerts", "ccpulse", "bench", "tests"}
MAY_IMPORT = {"processors": {"processors"}, "streams": {"processors", "streams"},
              "alerts": {"processors", "alerts"}}
# What the pure core must never reach for: the clock, the network, processes, the disk.
NOT_IN_THE_CORE = {"time", "socket", "ssl", "http", "urllib", "asyncio", "threading",
                   "multiprocessing", "subprocess", "os", "pathlib", "io", "shutil",
                   "tempfile", "logging", "random", "kafka", "aiokafka", "faust", "redis",
                   "prometheus_client", "requests", "httpx", "orjson"}
# Reading the clock through datetime is reading the clock too.
CLOCK_CALLS = {"now", "utcnow", "today"}


def layer(module: str) -> str:
    """The layer (or outside package) a module belongs to: ``ccpulse.processors.kpis`` is in
    ``processors``, ``ccpulse.cli`` in ``ccpulse``, ``time`` is ``time``."""
    parts = module.split(".")
    if parts[0] == "ccpulse" and len(parts) > 1 and parts[1] in MAY_IMPORT:
        return parts[1]
    return parts[0]


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, layer or top-level module) of every import in the file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, layer(alias.name)) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            out += [(node.lineno, layer(name)) for name in names]
    return out


def modules(package: str) -> list[Path]:
    found = sorted((ROOT / package).glob("*.py"))
    assert found, package
    return found


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_layer_imports_only_what_is_below_it(package: str) -> None:
    wrong = [f"{path.name}:{line} imports {name}" for path in modules(package)
             for line, name in imports(path)
             if name in OURS and name not in MAY_IMPORT[package]]
    assert not wrong, wrong


def test_the_core_has_no_clock_network_or_io() -> None:
    wrong = [f"{path.name}:{line} imports {name}" for path in modules("processors")
             for line, name in imports(path) if name in NOT_IN_THE_CORE]
    for path in modules("processors"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr in CLOCK_CALLS
                    and isinstance(node.value, ast.Name)
                    and node.value.id in ("datetime", "date")):
                wrong.append(f"{path.name}:{node.lineno} reads the clock ({node.attr})")
    assert not wrong, wrong


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    """The checker itself: a file that breaks the rules is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("import time\n\ndef f():\n    from ccpulse.streams.worker import build_app\n"
                   "    from ccpulse import streams, cli\n")
    assert imports(bad) == [(1, "time"), (4, "streams"), (5, "streams"), (5, "ccpulse")]
