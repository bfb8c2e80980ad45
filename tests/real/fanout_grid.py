"""Shared by the fan-out tests: a tiny copy of full/dvc.yaml's grid in its own git repository, with a
local-directory DVC remote.

The grid is full/dvc.yaml itself over a tiny embedded task (one seed) and three cells;
the method `wobbly` crashes its process when FANOUT_FAIL is set, or only on the first attempt when
FANOUT_FAIL_ONCE names a marker file that does not exist yet, as a killed or preempted job would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark import ROOT

NO_DVC = subprocess.run([sys.executable, "-c", "import dvc"], capture_output=True).returncode != 0
NEEDS = pytest.mark.skipif(NO_DVC or shutil.which("git") is None or shutil.which("bash") is None,
                           reason="the fan-out needs dvc, git and bash")

TASK = "noisy_tiny"
METHODS = ("erm", "gce", "wobbly")
WOBBLY = '''"""ERM whose process dies when FANOUT_FAIL is set, or once when FANOUT_FAIL_ONCE is: a killed job."""
import os

from benchmark.method import Method
from benchmark.registry import register_method


@register_method("wobbly")
class Wobbly(Method):
    families = ("noisy_labels",)

    def setup(self):
        once = os.environ.get("FANOUT_FAIL_ONCE")
        if once and not os.path.exists(once):
            open(once, "w").close()
            os._exit(3)
        if os.environ.get("FANOUT_FAIL"):
            os._exit(3)
'''

DVC = [sys.executable, "-m", "dvc"]
ENV = {"DVC": f"{sys.executable} -m dvc", "PYTHON": sys.executable, "BENCHMARK_DEVICE": "cpu",
       "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def sh(*cmd, cwd, env=None, check=True, timeout=300) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, **(env or {})})
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def make_origin(tmp: Path) -> tuple[Path, str]:
    """The grid's repository at tmp/origin (default DVC remote: tmp/remote); returns it and its commit."""
    from benchmark.grid import render

    origin = tmp / "origin"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("benchmark", "methods", "scripts"):
        shutil.copytree(ROOT / name, origin / name, ignore=ignore)
    for name in ("pyproject.toml", ".gitignore", ".dvcignore", "full/dvc.yaml", "full/checksums/README.md",
                 "full/.dvcignore", "full/.dvc/config", "full/.dvc/.gitignore"):
        (origin / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, origin / name)
    (origin / "methods" / "wobbly.py").write_text(WOBBLY)
    (origin / "full" / "tasks").mkdir()
    (origin / "full" / "tasks" / f"{TASK}.yaml").write_text(
        "family: noisy_labels\ndata: {source: digits, limit: 120}\nmodel: {name: mlp, options: {width: 16}}\n"
        "train: {epochs: 1, batch_size: 32}\nnoise: {kind: symmetric, rate: 0.2}\n")
    (origin / "full" / "params.yaml").write_text("profile: default\nseeds: [0]\nhparam_draws: 1\n")
    cells = {f"{TASK}--{m}": {"task": TASK, "method": m, "family": "noisy_labels"} for m in METHODS}
    (origin / "full" / "grid.yaml").write_text(render(cells))
    sh("git", "init", "-q", cwd=origin)
    sh("git", "config", "user.email", "fanout@test", cwd=origin)
    sh("git", "config", "user.name", "fanout test", cwd=origin)
    sh(*DVC, "init", "-q", cwd=origin)
    for project in (origin, origin / "full"):  # full/ is a DVC project of its own
        sh(*DVC, "remote", "add", "-d", "shared", tmp / "remote", cwd=project)
    sh("git", "add", "-A", cwd=origin)
    sh("git", "commit", "-qm", "grid", cwd=origin)
    return origin, sh("git", "rev-parse", "HEAD", cwd=origin).stdout.strip()


def target(method: str) -> str:
    return f"full/dvc.yaml:train@{TASK}--{method}"


def records(clone: Path) -> dict[str, bytes]:
    folder = clone / "full" / "results" / "records" / TASK
    return {p.stem: p.read_bytes() for p in sorted(folder.glob("*.json"))}
