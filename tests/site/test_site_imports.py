"""The site reads parquet only: it imports neither torch nor the benchmark package."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SITE = Path(__file__).resolve().parents[2] / "site"
ALLOWED = {
    "__future__",
    "dataclasses",
    "datetime",
    "io",
    "json",
    "math",
    "statistics",
    "subprocess",
    "os",
    "pathlib",
    "altair",
    "numpy",
    "pandas",
    "pyarrow",
    "streamlit",
}


def test_site_imports_only_light_modules():
    local = {p.stem for p in SITE.glob("*.py")}
    for path in SITE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            )
            for name in names:
                top = name.split(".")[0]
                assert top in ALLOWED | local, f"{path.relative_to(SITE)} imports {name}"


def test_loading_the_site_modules_pulls_in_no_torch():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import catalog, charts, data, details, family, tables, ui\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'benchmark', 'methods'))\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(SITE)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
