"""A new-method submission simulated end to end in a temporary copy of the project, as CONTRIBUTING.md
says: scaffold it, implement the worked example, regenerate both grids, produce its records with
`python -m benchmark run` (smoke profile), `check --base` it, and its tests pass. The pull request then
holds exactly the files the scope check allows."""

import json
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from benchmark import ROOT
from benchmark.errors import BenchmarkError
from benchmark.submission.scaffold import new_method
from tests.helpers import cli
from tests.test_check import TASK, project, report

pytestmark = pytest.mark.slow
NAME = "logit_squeezing"


def worked_example() -> str:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    found = re.search(rf"<!-- worked example: methods/{NAME}.py -->\s*```python\n(.*?)```", text, re.S)
    assert found, f"CONTRIBUTING.md lost its worked example methods/{NAME}.py"
    return found.group(1)


def run(*args, cwd):
    r = subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout + r.stderr


def git(*args, cwd):
    r = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                       capture_output=True, text=True, check=True)
    return r.stdout


def documented_commands() -> list[str]:
    """The grid commands CONTRIBUTING.md's steps give, in order."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    step = text[text.index("**Regenerate both grids**"):text.index("**Check it**")]
    return re.findall(r"^\s*(python -m benchmark grid[^#\n]*?)\s*(?:#.*)?$", step, re.M)


def test_a_submission_from_scaffold_to_a_passing_check(tmp_path):
    copy = project(tmp_path / "project", {})
    shutil.copytree(ROOT / "full" / "tasks", copy / "full" / "tasks")
    shutil.copy2(ROOT / ".gitignore", copy / ".gitignore")
    params = yaml.safe_load((copy / "params.yaml").read_text())
    params.update(profile="smoke", seeds=[0], sweep="default", hparam_draws=1, search_seeds=[])
    (copy / "params.yaml").write_text(yaml.safe_dump(params))
    commands = documented_commands()
    assert commands == ["python -m benchmark grid",
                        "python -m benchmark grid --tasks-dir full/tasks --file full/grid.yaml"], commands
    for command in commands:  # the upstream state: ERM in both grids
        run(*command.split()[2:], cwd=copy)
    git("init", "-q", cwd=copy)
    git("add", ".", cwd=copy)
    git("commit", "-qm", "upstream", cwd=copy)
    git("tag", "upstream", cwd=copy)

    # The contributor's steps.
    run("benchmark", "new-method", NAME, cwd=copy)
    (copy / "methods" / f"{NAME}.py").write_text(worked_example())
    run("pytest", "-q", "-p", "no:cacheprovider", f"tests/methods/test_{NAME}.py", cwd=copy)
    for command in commands:
        run(*command.split()[2:], cwd=copy)
    run("benchmark", "run", "--method", NAME, "--task", TASK, "--quiet", cwd=copy)
    checked = cli("check", NAME, "--base", "upstream", cwd=copy, timeout=900)
    lines = report(checked.stdout)[NAME]
    assert checked.returncode == 0 and {s for s, _ in lines.values()} == {"PASS"}, checked.stdout
    assert len(lines) == 10 and "full/grid.yaml its" in lines["grid"][1]

    changed = set(git("status", "--porcelain", "--untracked-files=all", cwd=copy).split()[1::2])
    assert changed == {f"methods/{NAME}.py", f"tests/methods/test_{NAME}.py", "grid.yaml", "full/grid.yaml",
                       f"results/records/{TASK}/{NAME}.json"}, changed
    assert NAME in lines["scope"][1]
    cell = json.loads((copy / "results" / "records" / TASK / f"{NAME}.json").read_text())
    assert [r["status"] for r in cell["records"]] == ["ok"] and cell["method"] == NAME
    full_cells = yaml.safe_load((copy / "full" / "grid.yaml").read_text())["cells"]
    assert any(key.endswith(f"--{NAME}") for key in full_cells) and any(key.endswith("--erm") for key in full_cells)


@pytest.mark.parametrize("name, words", [
    ("LogitSqueezing", "expected lowercase letters, digits and underscores"),
    ("class", "expected lowercase letters, digits and underscores"),
    ("erm", "methods/erm.py already exists"),
])
def test_the_scaffold_refuses_names_it_cannot_use(name, words):
    with pytest.raises(BenchmarkError, match=re.escape(words)):
        new_method(name)


def test_the_scaffold_refuses_a_name_registered_in_another_file(tmp_path):
    (tmp_path / "methods").mkdir(parents=True)
    (tmp_path / "methods" / "other.py").write_text('@register_method("taken")\nclass Taken: ...\n')
    with pytest.raises(BenchmarkError, match=r"'taken' is already registered in methods/other.py"):
        new_method("taken", root=tmp_path)
    new_method("fresh", root=tmp_path)
    method = (tmp_path / "methods" / "fresh.py").read_text()
    test = (tmp_path / "tests" / "methods" / "test_fresh.py").read_text()
    assert '@register_method("fresh")' in method and "class Fresh(Method)" in method
    assert 'METHODS.get("fresh")' in test and "__NAME__" not in method + test
    for hook in ("def loss", "def setup", "def model_options", "def optimizer_options", "def forward",
                 "def step", "def on_epoch_end", "def on_experience_end", "def predict", "def score"):
        assert hook in method, f"the template does not explain {hook}"
