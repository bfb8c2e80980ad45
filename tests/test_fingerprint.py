"""A cell's fingerprint covers every engine module a training run imports, and nothing that cannot move its
numbers: an engine change reruns the cells it affects, an edit to the aggregation or the CLI reruns none."""

import subprocess
import sys
from pathlib import Path

from benchmark import FAMILIES, ROOT
from benchmark.fingerprint import cell_fingerprint, engine_files, method_files

PROBE = """
import sys
from benchmark.registry import METHODS
from benchmark.runner import run_one
from benchmark.tasks import load_task, task_names
METHODS.names()
for family in ("noisy_labels", "domain_generalization", "continual", "ood"):
    task = next(t for t in task_names() if load_task(t).family == family)
    run_one("erm", task, 0, profile="smoke")
print("\\n".join(sorted(m.__file__ for m in list(sys.modules.values())
                        if m.__name__.split(".")[0] == "benchmark" and getattr(m, "__file__", None))))
"""


def test_fingerprint_covers_every_engine_module_a_run_imports():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    imported = {str(Path(p).resolve().relative_to(ROOT)) for p in out.stdout.splitlines() if p.endswith(".py")}
    methods = [method_files(p) for p in (ROOT / "methods").glob("*.py")]
    covered = set().union(*(engine_files(f) for f in FAMILIES), *methods)
    # the CLI only dispatches; the real-data adapters register on import but no embedded task reads them
    ignore = ("benchmark/cli.py", "benchmark/__main__.py")
    missing = sorted(p for p in imported - covered if p not in ignore and not p.startswith("benchmark/data/real/"))
    assert not missing, f"benchmark/fingerprint.py misses modules a run imports: {missing}"


def test_other_families_and_non_training_code_are_left_out():
    noisy = set(engine_files("noisy_labels"))
    assert "benchmark/families/noisy_labels.py" in noisy and "benchmark/families/ood.py" not in noisy
    outside = {"benchmark/results/aggregate.py", "benchmark/cli.py", "benchmark/results/stats.py",
               "benchmark/scheduler.py", "benchmark/submission/verify.py"}
    assert not noisy & outside
    assert "methods/erm.py" in method_files(ROOT / "methods" / "erm.py")
    assert "benchmark/memory.py" in method_files(ROOT / "methods" / "replay.py")
    assert "benchmark/memory.py" not in method_files(ROOT / "methods" / "erm.py")


def test_the_fingerprint_moves_with_each_input(tmp_path):
    method, task = tmp_path / "m.py", tmp_path / "t.yaml"
    method.write_text("x = 1\n")
    task.write_text("family: ood\n")
    base = cell_fingerprint(method, "ood", task, {"profile": "default"})
    assert base == cell_fingerprint(method, "ood", task, {"profile": "default"})
    assert base != cell_fingerprint(method, "ood", task, {"profile": "smoke"})
    assert base != cell_fingerprint(method, "continual", task, {"profile": "default"})
    task.write_text("family: ood  # edited\n")
    assert base != cell_fingerprint(method, "ood", task, {"profile": "default"})
