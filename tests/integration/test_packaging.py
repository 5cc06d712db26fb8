"""What a user's ``pip install`` gets: one import namespace, our own distribution name.

The wheel once installed the top-level modules ``processors``, ``streams`` and ``alerts``
(``processors`` and ``alerts`` are unrelated distributions on PyPI: one would overwrite or
shadow the other) under the distribution name ``ccpulse``, which is somebody else's on PyPI.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from tests.servers import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # from a copy: setuptools writes build/ and *.egg-info into the tree it builds
    source = tmp_path_factory.mktemp("source") / "ccpulse"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".cache", "build", "*.egg-info", "__pycache__", ".*_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(out), str(source)],
                   check=True, capture_output=True, timeout=300)
    (found,) = out.glob("*.whl")
    return found


def test_the_wheel_installs_one_namespace_under_its_own_name(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        top = {name.split("/")[0] for name in names}
        info = next(n for n in top if n.endswith(".dist-info"))
        metadata = Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert top == {"ccpulse", info}
    assert metadata["Name"] == "ccpulse-monitor"
    assert metadata["License-Expression"] == "Apache-2.0"
    assert any(name.endswith("/licenses/LICENSE") for name in names)
    for layer in ("processors", "streams", "alerts"):
        assert f"ccpulse/{layer}/__init__.py" in names
    assert "ccpulse/processors/catalogue.py" in names
    assert {"ccpulse/static/app.js", "ccpulse/static/style.css"} <= set(names)  # the pages
    assert "ccpulse = ccpulse.cli:main" in entry_points
    requires = metadata.get_all("Requires-Dist") or []
    prometheus = next(r for r in requires if r.startswith("prometheus-client"))
    assert "<" in prometheus  # textformat.py uses helpers outside its public API


def test_the_unpacked_wheel_runs_from_its_own_files(wheel: Path, tmp_path: Path) -> None:
    """Imported from the wheel's files alone (not the checkout), every layer resolves inside
    the one namespace and the command line starts."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "site")
    probe = ("import ccpulse.cli, ccpulse.processors.engine, ccpulse.streams.worker, "
             "ccpulse.alerts.rules as r; print(r.__file__)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                            text=True, check=True, timeout=120,
                            env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"})
    assert result.stdout.strip().startswith(str(tmp_path / "site" / "ccpulse" / "alerts"))
