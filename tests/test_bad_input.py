"""Every user mistake: one line naming the file/field/value and what is expected, exit code 2."""

import textwrap

import pytest

from tests.helpers import cli, copy_project

GOOD_TASK = """\
family: noisy_labels
data: {source: digits}
model: {name: mlp}
train: {epochs: 1}
noise: {kind: symmetric, rate: 0.4}
"""


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def tasks_dir(tmp_path):
    d = tmp_path / "tasks"
    d.mkdir()
    return d


def run_task(tasks_dir, name, text, tmp_path):
    (tasks_dir / f"{name}.yaml").write_text(textwrap.dedent(text))
    return cli("run", "--method", "erm", "--task", name, "--seeds", "0", "--profile", "smoke",
               "--out", str(tmp_path / "out"), "--quiet", env={"BENCHMARK_TASKS_DIR": str(tasks_dir)})


def test_unknown_method_lists_known_ones():
    r = cli("run", "--method", "nope", "--task", "noisy_digits_sym40", "--seeds", "0")
    assert_one_line_error(r, "unknown method 'nope'", "erm", "elr")


def test_unknown_task_lists_known_ones():
    r = cli("run", "--method", "erm", "--task", "nope", "--seeds", "0")
    assert_one_line_error(r, "unknown task 'nope'", "noisy_digits_sym40")


def test_task_that_is_not_yaml(tasks_dir, tmp_path):
    r = run_task(tasks_dir, "broken", "family: noisy_labels\ndata: [unclosed\n", tmp_path)
    assert_one_line_error(r, "broken.yaml", "not valid YAML", "line")


def test_task_that_is_not_a_mapping(tasks_dir, tmp_path):
    r = run_task(tasks_dir, "alist", "- a\n- b\n", tmp_path)
    assert_one_line_error(r, "alist.yaml", "expected a mapping")


def test_unknown_key(tasks_dir, tmp_path):
    r = run_task(tasks_dir, "extra", GOOD_TASK + "colour: blue\n", tmp_path)
    assert_one_line_error(r, "extra.yaml", "unknown key 'colour'")


def test_wrong_type(tasks_dir, tmp_path):
    r = run_task(tasks_dir, "wrongtype", GOOD_TASK.replace("epochs: 1", "epochs: many"), tmp_path)
    assert_one_line_error(r, "wrongtype.yaml", "train.epochs", "'many'", "integer")


def test_noise_rate_out_of_range(tasks_dir, tmp_path):
    r = run_task(tasks_dir, "rate", GOOD_TASK.replace("rate: 0.4", "rate: 1.3"), tmp_path)
    assert_one_line_error(r, "rate.yaml", "noise.rate", "1.3", "less than 1")


def test_unknown_family(tasks_dir, tmp_path):
    r = run_task(tasks_dir, "fam", GOOD_TASK.replace("noisy_labels", "weather"), tmp_path)
    assert_one_line_error(r, "fam.yaml", "family", "weather", "noisy_labels")


def test_zero_seeds_on_the_command_line():
    r = cli("run", "--method", "erm", "--task", "noisy_digits_sym40", "--seeds", "")
    assert_one_line_error(r, "seeds", "at least one")


def test_zero_seeds_in_params(tmp_path):
    copy = copy_project(tmp_path / "copy")
    (copy / "params.yaml").write_text("profile: smoke\nseeds: []\n")
    r = cli("run", "--method", "erm", "--task", "noisy_digits_sym40", cwd=copy)
    assert_one_line_error(r, "params.yaml", "seeds", "at least 1")


def test_hparam_default_outside_its_space(tmp_path):
    copy = copy_project(tmp_path / "copy")
    (copy / "methods" / "bad_default.py").write_text(textwrap.dedent("""\
        from benchmark.hparams import HParam, Uniform
        from benchmark.method import Method
        from benchmark.registry import register_method

        @register_method("bad_default")
        class BadDefault(Method):
            hparams = {"strength": HParam(5.0, Uniform(0.0, 1.0))}
        """))
    r = cli("list", cwd=copy)
    assert_one_line_error(r, "methods/bad_default.py", "'strength'", "5.0", "outside its search space", "U(0, 1)")


def test_hparam_named_like_a_shared_training_knob(tmp_path):
    copy = copy_project(tmp_path / "copy")
    (copy / "methods" / "own_lr.py").write_text(textwrap.dedent("""\
        from benchmark.hparams import HParam, LogUniform
        from benchmark.method import Method
        from benchmark.registry import register_method

        @register_method("own_lr")
        class OwnLr(Method):
            hparams = {"lr_scale": HParam(1.0, LogUniform(-1, 1))}
        """))
    r = cli("list", cwd=copy)
    assert_one_line_error(r, "methods/own_lr.py", "'lr_scale'", "training knob", "expected another name")


def test_duplicate_method_name_names_both_files(tmp_path):
    copy = copy_project(tmp_path / "copy")
    erm = (copy / "methods" / "erm.py").read_text()
    (copy / "methods" / "zz_copy.py").write_text(erm.replace("class ERM", "class Other"))
    r = cli("list", cwd=copy)
    assert_one_line_error(r, "duplicate method name 'erm'", "methods/erm.py", "methods/zz_copy.py")


def test_run_directory_without_write_permission(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    r = cli("run", "--method", "erm", "--task", "noisy_digits_sym40", "--seeds", "0", "--profile", "smoke",
            "--out", str(blocker / "records"))
    assert_one_line_error(r, "run directory", "cannot write", "--out")


# -- configuration and input mistakes are errors, never a method's failed run ------------------------------
def assert_nothing_written(out):
    assert not [p for p in out.rglob("*") if p.is_file()], f"records written under {out}"


def run_in(tmp_path, *args, cwd=None, env=None):
    out = tmp_path / "out"
    r = cli("run", "--method", "erm", "--profile", "smoke", "--out", str(out), "--quiet", *args,
            **({"cwd": cwd} if cwd else {}), env=env)
    return r, out


@pytest.mark.parametrize("split, words", [
    ("{val: 0.5, test: 0.5}", ("split.yaml", "field 'split'", "val + test = 0.5 + 0.5 = 1", "below 1")),
])
def test_a_split_without_training_data(tasks_dir, tmp_path, split, words):
    (tasks_dir / "split.yaml").write_text(GOOD_TASK + f"split: {split}\n")
    r, out = run_in(tmp_path, "--task", "split", "--seeds", "0", env={"BENCHMARK_TASKS_DIR": str(tasks_dir)})
    assert_one_line_error(r, *words)
    assert_nothing_written(out)


@pytest.mark.parametrize("seeds, words", [
    ("0,,1", ("--seeds '0,,1'", "empty item")),
    ("0,0", ("--seeds '0,0'", "0 appears 2 times", "distinct")),
    ("-1", ("--seeds '-1'", "-1 is negative", "non-negative")),
])
def test_bad_seeds_on_the_command_line(tmp_path, seeds, words):
    r, out = run_in(tmp_path, "--task", "noisy_digits_sym40", "--seeds", seeds)
    assert_one_line_error(r, *words)
    assert_nothing_written(out)


@pytest.mark.parametrize("seeds, words", [
    ("[0, -1]", ("params.yaml", "seeds", "-1", "greater than or equal to 0")),
    ("[0, 1, 0]", ("params.yaml", "seeds", "seed 0 appears more than once")),
])
def test_bad_seeds_in_params(tmp_path, seeds, words):
    copy = copy_project(tmp_path / "copy")
    (copy / "params.yaml").write_text(f"profile: smoke\nseeds: {seeds}\n")
    r, out = run_in(tmp_path, "--task", "noisy_digits_sym40", cwd=copy)
    assert_one_line_error(r, *words)
    assert_nothing_written(out)


@pytest.mark.parametrize("field, text, words", [
    ("epochs", "epochs: true", ("train.epochs", "True", "valid integer")),
    ("lr", "epochs: 1, lr: '0.1'", ("train.lr", "'0.1'", "valid number")),
])
def test_the_task_schema_is_strict(tasks_dir, tmp_path, field, text, words):
    (tasks_dir / "strict.yaml").write_text(GOOD_TASK.replace("epochs: 1", text))
    r, out = run_in(tmp_path, "--task", "strict", "--seeds", "0", env={"BENCHMARK_TASKS_DIR": str(tasks_dir)})
    assert_one_line_error(r, "strict.yaml", *words)
    assert_nothing_written(out)


def test_a_key_given_twice_in_a_task(tasks_dir, tmp_path):
    (tasks_dir / "twice.yaml").write_text(GOOD_TASK.replace("train: {epochs: 1}", "train:\n  epochs: 1\n  epochs: 5"))
    r, out = run_in(tmp_path, "--task", "twice", "--seeds", "0", env={"BENCHMARK_TASKS_DIR": str(tasks_dir)})
    assert_one_line_error(r, "twice.yaml", "line 6", "duplicate key 'epochs' (first at line 5)")
    assert_nothing_written(out)


def test_a_key_given_twice_in_params(tmp_path):
    copy = copy_project(tmp_path / "copy")
    (copy / "params.yaml").write_text("profile: smoke\nseeds: [0]\nseeds: [0, 1, 2]\n")
    r, out = run_in(tmp_path, "--task", "noisy_digits_sym40", cwd=copy)
    assert_one_line_error(r, "params.yaml", "duplicate key 'seeds' (first at line 2)")
    assert_nothing_written(out)


LATIN1 = "# caf\xe9\n".encode("latin-1")


def test_a_task_file_that_is_not_utf8(tasks_dir, tmp_path):
    (tasks_dir / "latin.yaml").write_bytes(LATIN1 + GOOD_TASK.encode())
    r, out = run_in(tmp_path, "--task", "latin", "--seeds", "0", env={"BENCHMARK_TASKS_DIR": str(tasks_dir)})
    assert_one_line_error(r, "latin.yaml", "not UTF-8 text", "byte 0xe9 at offset 5")
    assert_nothing_written(out)


def test_a_params_file_that_is_not_utf8(tmp_path):
    copy = copy_project(tmp_path / "copy")
    (copy / "params.yaml").write_bytes(LATIN1 + b"profile: smoke\nseeds: [0]\n")
    r, out = run_in(tmp_path, "--task", "noisy_digits_sym40", cwd=copy)
    assert_one_line_error(r, "params.yaml", "not UTF-8 text", "0xe9")
    assert_nothing_written(out)


def test_a_grid_file_that_is_not_utf8(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_bytes(LATIN1 + b"cells: {}\n")
    r = cli("grid", "--check", "--file", str(grid))
    assert_one_line_error(r, "grid.yaml", "not UTF-8 text", "0xe9")


METHOD_HEADER = "from benchmark.method import Method\nfrom benchmark.registry import register_method\n"


@pytest.mark.parametrize("file, body, words", [
    ("nameless", '@register_method("")\nclass Nameless(Method):\n    pass\n',
     ("methods/nameless.py", "@register_method('')", "lowercase letters")),
    ("twice", '@register_method("twice")\nclass First(Method):\n    pass\n\n\n'
              '@register_method("twice")\nclass Second(Method):\n    pass\n',
     ("methods/twice.py", "method name 'twice' registered twice in one file (First and Second)")),
    ("exits", 'raise SystemExit(3)\n', ("methods/exits.py", "failed to import: SystemExit: 3")),
    ("escapes", 'class Escape(BaseException):\n    pass\n\n\nraise Escape("not an Exception")\n',
     ("methods/escapes.py", "failed to import: Escape: not an Exception")),
])
def test_a_broken_method_file_is_named(tmp_path, file, body, words):
    copy = copy_project(tmp_path / "copy")
    (copy / "methods" / f"{file}.py").write_text(METHOD_HEADER + body)
    r, out = run_in(tmp_path, "--task", "noisy_digits_sym40", "--seeds", "0", cwd=copy)
    assert_one_line_error(r, *words)
    assert_nothing_written(out)
