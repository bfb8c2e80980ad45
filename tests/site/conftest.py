"""Fixtures of the site tests: synthetic result sets and an AppTest factory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SITE = Path(__file__).resolve().parents[2] / "site"
APP = SITE / "app.py"

# The site's modules are top-level modules of site/ (as under `streamlit run`); `site` itself is the stdlib's.
sys.path.insert(0, str(SITE))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import site_fixtures  # noqa: E402


@pytest.fixture(scope="session")
def results_root(tmp_path_factory) -> Path:
    """root/results (default set) and root/results/full (real-data runs: another profile, more methods)."""
    root = tmp_path_factory.mktemp("sets")
    site_fixtures.write_results(root / "results")
    site_fixtures.write_results(
        root / "results" / "full", methods_extra=2, profile="full", git_rev="9e8d7c6b5a41", legacy=True
    )
    return root


@pytest.fixture
def results(results_root, monkeypatch) -> Path:
    monkeypatch.setenv("BENCHMARK_RESULTS", str(results_root / "results"))
    return results_root / "results"


@pytest.fixture
def app(results):
    """app(page) -> an AppTest that has run `page` against the fixture results."""
    from streamlit.testing.v1 import AppTest

    def make(page: str = "overview", timeout: float = 60):
        at = AppTest.from_file(str(APP), default_timeout=timeout)
        if page != "overview":  # pages are named after their files, so no first run is needed to find them
            at.switch_page(f"views/{page}.py")
        return at.run()

    return make
