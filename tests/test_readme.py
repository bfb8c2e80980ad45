"""The README, the tests and CI never drift apart: CI runs exactly the README's test command."""

import re

from benchmark import ROOT


def code_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    test_command = next(b for b in code_blocks(readme) if "pytest" in b)
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci, f".ci/run must run the README's test command: {test_command}"


def test_readme_has_the_two_setup_commands():
    blocks = code_blocks((ROOT / "README.md").read_text())
    assert any(b.startswith("pip install") and "dvc repro" in b for b in blocks)
    assert any(b.startswith("pip install") and "pytest" in b for b in blocks)


def test_every_linked_doc_exists():
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), f"README links to missing {target}"


def test_readme_tells_cpu_only_users_to_take_the_cpu_wheel_first():
    blocks = code_blocks((ROOT / "README.md").read_text())
    cpu = [b for b in blocks if "--index-url https://download.pytorch.org/whl/cpu torch &&" in b]
    assert cpu and "pip install -c constraints.txt -e" in cpu[0], "the CPU wheel, then the project's own install"
