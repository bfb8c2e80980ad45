"""`verify` re-runs committed cells: it passes honest records, catches one altered value and stale code; and the
pinned kernel path makes the numbers independent of the CPU capability a process would pick by itself."""

import json

import pytest

from tests.helpers import cli, copy_project

pytestmark = pytest.mark.slow
TASK = "noisy_digits_sym40"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    copy = copy_project(tmp_path_factory.mktemp("verify") / "project")
    (copy / "params.yaml").write_text("profile: smoke\nseeds: [0, 1]\njobs: 2\n")
    assert cli("grid", "--methods", "erm", "gce", "--tasks", TASK, cwd=copy).returncode == 0
    r = cli("train", "--quiet", cwd=copy)
    assert r.returncode == 0, r.stderr
    return copy


def test_honest_records_verify_exactly(trained):
    r = cli("verify", "--method", "gce", cwd=trained)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"exact: {TASK}--gce" in r.stdout and "0 differ" in r.stdout


def test_one_altered_value_is_caught(trained, tmp_path):
    records = tmp_path / "records"
    import shutil

    shutil.copytree(trained / "results" / "records", records)
    path = records / TASK / "erm.json"
    cell = json.loads(path.read_text())
    row = next(m for m in cell["records"][1]["metrics"] if m["metric"] == "test_acc")
    row["value"] += 0.05
    path.write_text(json.dumps(cell))
    r = cli("verify", "--cells", f"{TASK}--erm", "--records", str(records), cwd=trained)
    assert r.returncode == 1, r.stdout
    assert f"differs: {TASK}--erm" in r.stdout and "test_acc" in r.stdout and "1 differ" in r.stdout


def test_a_record_whose_method_changed_is_stale_without_rerunning(trained):
    gce = trained / "methods" / "gce.py"
    original = gce.read_text()
    try:
        gce.write_text(original + "\n# changed\n")
        r = cli("verify", "--stale", cwd=trained)
        assert r.returncode == 1
        assert f"stale: {TASK}--gce" in r.stdout and f"stale: {TASK}--erm" not in r.stdout
    finally:
        gce.write_text(original)
    assert cli("verify", "--stale", cwd=trained).returncode == 0


def test_pinned_kernel_path_equal_under_other_process_defaults(trained, tmp_path):
    """Another machine's CPU would pick other kernels; a process told ATEN_CPU_CAPABILITY=default (or avx512)
    is the closest stand-in here. The workers pin the path, so the records are bit-identical."""
    out = {}
    for capability in ("default", "avx512"):
        records = tmp_path / capability
        r = cli("train", "--quiet", "--records", str(records), cwd=trained, env={"ATEN_CPU_CAPABILITY": capability})
        assert r.returncode == 0, r.stderr
        cell = json.loads((records / TASK / "erm.json").read_text())["records"]
        out[capability] = [(m["metric"], m["value"]) for rec in cell for m in rec["metrics"]]
        assert all(rec["provenance"]["kernel"]["ATEN_CPU_CAPABILITY"] == "avx2" for rec in cell)
    committed = json.loads((trained / "results" / "records" / TASK / "erm.json").read_text())["records"]
    assert out["default"] == out["avx512"] == [(m["metric"], m["value"]) for rec in committed for m in rec["metrics"]]
