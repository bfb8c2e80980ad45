"""Shared test helpers: running the CLI as a user would, and copies of the project to break safely."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from benchmark import ROOT

PROJECT_FILES = ["benchmark", "methods", "tasks", "params.yaml", "grid.yaml", "dvc.yaml", ".dvcignore",
                 "pyproject.toml"]


def cli(*args: str, cwd: Path = ROOT, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """`python -m benchmark ARGS` in `cwd` (a copy's own package wins: `-m` puts cwd first on sys.path)."""
    return subprocess.run([sys.executable, "-m", "benchmark", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def copy_project(dest: Path, files=PROJECT_FILES) -> Path:
    """A copy of the project's code and declarations (no results, no caches) to modify in a test."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in files:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest
