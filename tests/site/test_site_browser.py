"""The real site in a real browser: `streamlit run site/app.py` on localhost, headless Debian Chromium.

Each page is opened by its URL at a desktop (1500 px) and a phone (420 px) width, and the test waits (never
a fixed sleep) until the page is drawn: its title, its Altair charts (vega-embed), its tables (data grid),
the script finished. It checks that no page shows an exception, that the leaderboards lead with the
verdict column and name ERM as the reference in table and chart, that the Deploy button is gone, that the
URL carries the view, and that no request leaves localhost. Screenshots and warm load times go to
$SITE_SCREENS (default: the test's tmp dir).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STREAMLIT = [sys.executable, "-m", "streamlit", "run", str(ROOT / "site" / "app.py")]  # .streamlit/config.toml
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--metrics-recording-only",
    "--no-first-run",
]
FAMILY_PAGES = {"noisy_labels", "domain_generalization", "continual", "ood"}
# url path -> (title, charts at least, tables at least)
PAGES = {
    "": ("Does it make the network more robust?", 2, 4),
    "noisy_labels": ("Noisy labels", 5, 4),
    "domain_generalization": ("Domain generalization", 4, 2),
    "continual": ("Continual learning", 5, 3),
    "ood": ("OOD detection", 5, 2),
    "method": ("erm", 1, 2),
    "compare": ("Compare methods", 1, 2),
    "runs": ("Runs explorer", 0, 1),
    "about": ("About this benchmark", 0, 1),
}
WIDTHS = {"desktop": 1500, "phone": 420}
LOCAL = {"127.0.0.1", "localhost"}
# drawn: the title is there, nothing stale or running or loading, and the page's charts and tables are drawn
DRAWN = """([title, charts, tables]) => {
  const h = document.querySelector('h1'), n = s => document.querySelectorAll(s).length;
  return h && h.innerText.trim() === title && !n('[data-stale=true]') && !n('[data-testid=stStatusWidget]')
    && !n('[data-testid=stSkeleton]') && n('.vega-embed svg') >= charts
    && n('[data-testid=stDataFrame] [data-testid=data-grid-canvas]') >= tables;
}"""

VERDICTS = {"▲ better", "≈ not separable", "▼ worse"}
VERDICTS_SHOWN = """(verdicts) => {
  const t = s => [...document.querySelectorAll('[data-testid=stDataFrame] ' + s)].map(e => e.textContent.trim());
  return t('[role=columnheader]').includes('vs ERM') && t('[role=gridcell]').some(c => verdicts.includes(c));
}"""

if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed (expected /usr/bin/chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(results_root, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    results = os.environ.get("SITE_BROWSER_RESULTS") or str(results_root / "results")
    env = {**os.environ, "BENCHMARK_RESULTS": results}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*STREAMLIT, "--server.port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the health endpoint answers once the server listens
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.25)
    else:
        proc.kill()
        pytest.fail(f"streamlit did not start: {log.read_text()[-2000:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


def _open(page, url: str, title: str, charts: int, tables: int) -> float:
    """Seconds from navigation until the page is drawn."""
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_function(DRAWN, arg=[title, charts, tables], timeout=60_000)
    return time.perf_counter() - start


def _screenshot(page, path: Path, width: int) -> None:
    """The whole page: Streamlit scrolls inside its main block, so the viewport grows to hold it."""
    main = "document.querySelector('[data-testid=stMain]')"
    tall = page.evaluate(f"(m => {{ m.scrollTo(0, 0); return m.scrollHeight; }})({main})")  # from the top
    page.set_viewport_size({"width": width, "height": min(max(tall, 1000), 7000)})
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": width, "height": 1000})


def _wait_for_verdicts(page) -> None:
    """The data grid fills its accessible cells after drawing its canvas: wait for the first leaderboard's
    header and verdict cells (scrolled into view), or go on and let the assertions say what is missing."""
    page.locator('[data-testid="stDataFrame"]').first.scroll_into_view_if_needed()
    try:
        page.wait_for_function(VERDICTS_SHOWN, arg=sorted(VERDICTS), timeout=30_000)
    except sync_api.TimeoutError:
        pass


def _texts(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent.trim())")


def test_every_page_in_chromium(server, browser, tmp_path):
    screens = Path(os.environ.get("SITE_SCREENS") or tmp_path)
    screens.mkdir(parents=True, exist_ok=True)
    outside, times = [], {}
    for width in WIDTHS.values():
        context = browser.new_context(viewport={"width": width, "height": 1000})
        page = context.new_page()
        page.on(
            "request",
            lambda r: (
                outside.append(r.url)
                if urllib.parse.urlsplit(r.url).hostname not in LOCAL and not r.url.startswith(("data:", "blob:"))
                else None
            ),
        )
        for path, (title, charts, tables) in PAGES.items():
            name = path or "overview"
            url = f"{server}/{path}"
            _open(page, url, title, charts, tables)  # first load: the server reads and derives
            times[f"{name}@{width}"] = round(_open(page, url, title, charts, tables), 2)  # warm
            assert page.locator('[data-testid="stException"]').count() == 0, name
            body = page.inner_text("body")
            assert "could not be drawn" not in body and "Deploy" not in body, name
            if path in FAMILY_PAGES:  # read before the screenshot: its resize makes the grids redraw
                _wait_for_verdicts(page)
                headers = _texts(page, '[data-testid="stDataFrame"] [role="columnheader"]')
                cells = _texts(page, '[data-testid="stDataFrame"] [role="gridcell"]')
                assert "vs ERM" in headers and headers.index("vs ERM") < headers.index("method"), name
                assert VERDICTS & set(cells), name
                # ERM is named in every chart; its table row may sit below the rows the grid draws
                assert "erm (reference)" in _texts(page, ".vega-embed svg text"), name
            _screenshot(page, screens / f"{name}_{width}.png", width)
        context.close()
    (screens / "load_times.json").write_text(json.dumps(times, indent=1))
    assert not outside, f"requests left localhost: {sorted(set(outside))[:5]}"
    slow = {k: v for k, v in times.items() if v > 20}  # a guard against hangs on a shared machine; goal 2 s
    assert not slow, slow


def test_view_lives_in_the_url(server, browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    _open(page, f"{server}/method?method=elr", "elr", 1, 2)
    page.get_by_test_id("stSidebarNav").get_by_text("Noisy labels", exact=True).click()
    page.wait_for_function(DRAWN, arg=["Noisy labels", 5, 4], timeout=60_000)
    _open(page, f"{server}/noisy_labels?noisy_labels_metric=memorization", "Noisy labels", 5, 4)
    metric = page.locator("[data-testid=stMain] [data-testid=stSelectbox] input").first
    assert metric.input_value() == "memorization"
    assert "lower is better" in " ".join(_texts(page, ".vega-embed svg text"))
    context.close()
