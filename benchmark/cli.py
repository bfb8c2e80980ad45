"""`python -m benchmark <command>`: run, list, grid, aggregate.

User mistakes print one line (`error: ...`) and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from benchmark import ROOT
from benchmark.errors import BenchmarkError


def _seeds(text: str) -> list[int]:
    """'0 1 2' or '0,1,2': distinct non-negative integers; an empty item ('0,,1') is a typo, not a gap."""
    items = [item.strip() for item in text.split(",")]
    expected = "expected distinct non-negative integers such as '0 1 2' or '0,1,2'"
    if len(items) > 1 and "" in items:
        raise BenchmarkError(f"--seeds {text!r}: empty item; {expected}")
    words = " ".join(items).split()
    try:
        seeds = [int(w) for w in words]
    except ValueError:
        bad = next(w for w in words if not w.lstrip("-").isdigit())
        raise BenchmarkError(f"--seeds {text!r}: {bad!r} is not an integer; {expected}") from None
    if any(s < 0 for s in seeds):
        raise BenchmarkError(f"--seeds {text!r}: {min(seeds)} is negative; {expected}")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise BenchmarkError(f"--seeds {text!r}: {repeated[0]} appears {seeds.count(repeated[0])} times; {expected}")
    return seeds


def _tasks_dir(args) -> None:
    if args.tasks_dir:  # read by benchmark.tasks.tasks_dir()
        os.environ["BENCHMARK_TASKS_DIR"] = str(Path(args.tasks_dir).resolve())


def cmd_run(args) -> None:
    if os.environ.get("BENCHMARK_NO_TRAINING"):  # the fan-out's aggregate job: cells come from the run cache
        raise BenchmarkError(f"training is forbidden here (BENCHMARK_NO_TRAINING is set): cell "
                             f"{args.task}--{args.method} was not restored from the DVC run cache; "
                             "rerun its shard")
    from benchmark.grid import load_params
    from benchmark.runner import run_cell

    _tasks_dir(args)
    params = load_params(Path(args.params)) if None in (args.seeds, args.profile, args.draws) else None
    seeds = args.seeds if args.seeds is not None else params.seeds
    profile = args.profile or params.profile
    draws = args.draws if args.draws is not None else params.hparam_draws
    path = run_cell(args.method, args.task, seeds, draws, profile, Path(args.out), progress=not args.quiet)
    print(f"wrote {path}")


def cmd_train(args) -> None:
    if os.environ.get("BENCHMARK_NO_TRAINING") and not args.dry_run:
        raise BenchmarkError("training is forbidden here (BENCHMARK_NO_TRAINING is set)")
    from benchmark.grid import load_params
    from benchmark.scheduler import train

    if args.jobs is not None and args.jobs < 0:
        raise BenchmarkError(f"--jobs {args.jobs}: expected a number of worker processes, 0 = one per core")
    status = train(load_params(Path(args.params)), Path(args.grid), Path(args.records), args.jobs,
                   args.dry_run, progress=not args.quiet)
    if status:
        raise SystemExit(status)


def cmd_calibrate(args) -> None:
    from benchmark.calibrate import main as calibrate

    _tasks_dir(args)
    status = calibrate(args.tasks, args.seeds, Path(args.records) if args.records else None)
    if status:
        raise SystemExit(status)


def cmd_verify(args) -> None:
    from benchmark.grid import load_params
    from benchmark.submission.verify import verify

    status = verify(load_params(Path(args.params)), Path(args.grid), Path(args.records), args.cells, args.method,
                    args.changed_since, args.stale, args.jobs)
    if status:
        raise SystemExit(status)


def cmd_list(args) -> None:
    from benchmark.families import protocol
    from benchmark.registry import METHODS
    from benchmark.tasks import load_task, task_names

    print("methods:")
    for name in METHODS.names():
        cls = METHODS.get(name)
        print(f"  {name:<24} {', '.join(cls.families):<60} {cls.source_file}")
    print("tasks:")
    specs = {t: load_task(t) for t in task_names()}
    for name, spec in specs.items():
        print(f"  {name:<32} {spec.family:<24} {spec.description}")
    print("which method applies to which task:")
    for name, spec in specs.items():
        family = protocol(spec.family)
        ok = [m for m in METHODS.names() if family.applies(METHODS.get(m), spec) is None]
        print(f"  {name:<32} {len(ok):>3} methods: {', '.join(ok)}")


def cmd_grid(args) -> None:
    from benchmark.grid import compute_cells, grid_drift, render

    _tasks_dir(args)
    grid_file = Path(args.file)
    if args.check:
        drift = grid_drift(grid_file)
        if drift:
            raise BenchmarkError(drift)
        print(f"{grid_file.name} matches the registry")
        return
    cells = compute_cells(args.methods, args.tasks)
    grid_file.write_text(render(cells))
    print(f"wrote {grid_file.name}: {len(cells)} cells")


def cmd_aggregate(args) -> None:
    from benchmark.grid import read_cells
    from benchmark.results.aggregate import aggregate
    from benchmark.results.catalog import write_catalog

    paths = aggregate(read_cells(Path(args.grid)), Path(args.records), Path(args.out))
    paths.append(write_catalog(Path(args.out)))
    print("wrote " + ", ".join(map(str, paths)))


def cmd_export(args) -> None:
    from benchmark.results.export import export

    text = export(Path(args.results), args.format, args.family, args.metric, Path(args.out) if args.out else None)
    print(f"wrote {args.out}" if args.out else text, end="\n" if args.out else "")


def cmd_report(args) -> None:
    from benchmark.results.report import report

    report(Path(args.results), Path(args.out))
    print(f"wrote {args.out}")


def cmd_new_method(args) -> None:
    from benchmark.submission.scaffold import new_method

    for path in new_method(args.name):
        print(f"wrote {path.relative_to(ROOT)}")
    print(f"next: edit both files, then `python -m pytest tests/methods/test_{args.name}.py`, "
          f"`python -m benchmark grid` and `python -m benchmark check {args.name}` (see CONTRIBUTING.md)")


def cmd_check(args) -> None:
    from benchmark.submission.check import FAIL, changed_files, check, load_methods, scope_line

    if not args.time_limit > 0:
        raise BenchmarkError(f"--time-limit {args.time_limit:g}: expected a number of seconds above 0")
    load_error = load_methods()
    scope = scope_line(args.names, changed_files(args.base), args.base) if args.base else None
    failed = []
    for name in args.names:
        print(f"check '{name}'", flush=True)
        counts = {}
        for line in check(name, args.time_limit, load_error, scope):
            print(f"  {line}", flush=True)
            counts[line.status] = counts.get(line.status, 0) + 1
        words = {"PASS": "passed", "FAIL": "failed", "SKIP": "skipped"}
        print(f"{name}: " + ", ".join(f"{n} {words[s]}" for s, n in counts.items()), flush=True)
        if counts.get(FAIL):
            failed.append(name)
    if failed:
        print(f"check failed for {', '.join(failed)}", file=sys.stderr)
        raise SystemExit(1)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmark", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train one method on one task for several seeds")
    run.add_argument("--method", required=True)
    run.add_argument("--task", required=True)
    run.add_argument("--seeds", type=_seeds, help="e.g. '0 1 2' (default: params.yaml)")
    run.add_argument("--draws", type=int, help="hyperparameter draws, 1 = defaults only (default: params.yaml)")
    run.add_argument("--profile", help="default or smoke (default: params.yaml)")
    run.add_argument("--out", default=str(ROOT / "results" / "records"))
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--params", default=str(ROOT / "params.yaml"), help="params file (real data: full/params.yaml)")
    run.add_argument("--tasks-dir", help="where the task files are (default tasks/, or $BENCHMARK_TASKS_DIR)")
    run.set_defaults(func=cmd_run)

    trn = sub.add_parser("train", help="train every stale run of grid.yaml on every core (the DVC train stage)")
    trn.add_argument("--jobs", type=int, help="worker processes (default: params.yaml jobs; 0 = one per core)")
    trn.add_argument("--dry-run", action="store_true", help="only say which cells are stale")
    trn.add_argument("--quiet", action="store_true", help="no progress bar")
    trn.add_argument("--params", default=str(ROOT / "params.yaml"))
    trn.add_argument("--grid", default=str(ROOT / "grid.yaml"))
    trn.add_argument("--records", default=str(ROOT / "results" / "records"))
    trn.set_defaults(func=cmd_train)

    ver = sub.add_parser("verify", help="re-run committed cells and compare them with their records")
    which = ver.add_mutually_exclusive_group()
    which.add_argument("--cells", nargs="+", metavar="TASK--METHOD", help="these cells")
    which.add_argument("--method", help="every cell of this method")
    which.add_argument("--changed-since", metavar="REV", help="cells whose inputs or records changed since REV")
    ver.add_argument("--stale", action="store_true", help="only list cells whose records no longer match their code")
    ver.add_argument("--jobs", type=int, help="worker processes (default: params.yaml jobs)")
    ver.add_argument("--params", default=str(ROOT / "params.yaml"))
    ver.add_argument("--grid", default=str(ROOT / "grid.yaml"))
    ver.add_argument("--records", default=str(ROOT / "results" / "records"))
    ver.set_defaults(func=cmd_verify)

    lst = sub.add_parser("list", help="methods, tasks and which method applies to which task")
    lst.set_defaults(func=cmd_list)

    grid = sub.add_parser("grid", help="regenerate grid.yaml from the registry and tasks/")
    grid.add_argument("--check", action="store_true", help="only say whether grid.yaml is up to date")
    grid.add_argument("--methods", nargs="*", help="restrict to these methods")
    grid.add_argument("--tasks", nargs="*", help="restrict to these tasks")
    grid.add_argument("--file", default=str(ROOT / "grid.yaml"),
                      help="the grid file to write or check (full/grid.yaml for --tasks-dir full/tasks)")
    grid.add_argument("--tasks-dir", help="where the task files are (default tasks/ or $BENCHMARK_TASKS_DIR)")
    grid.set_defaults(func=cmd_grid)

    agg = sub.add_parser("aggregate", help="run records -> runs.parquet and leaderboard.parquet")
    agg.add_argument("--grid", default=str(ROOT / "grid.yaml"))
    agg.add_argument("--records", default=str(ROOT / "results" / "records"))
    agg.add_argument("--out", default=str(ROOT / "results"))
    agg.set_defaults(func=cmd_aggregate)

    exp = sub.add_parser("export", help="the leaderboard with verdicts and intervals as md, csv or latex")
    exp.add_argument("--format", choices=["md", "csv", "latex"], default="md")
    exp.add_argument("--family", help="one family only")
    exp.add_argument("--metric", help="this metric instead of each task's headline")
    exp.add_argument("--out", help="write to this file instead of standard output")
    exp.add_argument("--results", default=str(ROOT / "results"), help="folder holding leaderboard.parquet")
    exp.set_defaults(func=cmd_export)

    rep = sub.add_parser("report", help="docs/results.md: what the leaderboard says, per family, from the parquet")
    rep.add_argument("--results", default=str(ROOT / "results"), help="folder holding the parquet files")
    rep.add_argument("--out", default=str(ROOT / "docs" / "results.md"))
    rep.set_defaults(func=cmd_report)

    new = sub.add_parser("new-method", help="write methods/NAME.py and its test from a commented template")
    new.add_argument("name", help="lowercase letters, digits and underscores, e.g. logit_squeezing")
    new.set_defaults(func=cmd_new_method)

    cal = sub.add_parser("calibrate", help="ERM's trouble measures per task against thresholds, and its cost")
    cal.add_argument("--tasks", nargs="*", help="these tasks only (default: every task)")
    cal.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    cal.add_argument("--records", help="read ERM records from this folder instead of training")
    cal.add_argument("--tasks-dir", help="where the task files are (default tasks/ or $BENCHMARK_TASKS_DIR)")
    cal.set_defaults(func=cmd_calibrate)

    chk = sub.add_parser("check", help="verify methods by re-running them, one line per check")
    chk.add_argument("names", nargs="+", metavar="NAME", help="method name(s)")
    chk.add_argument("--time-limit", type=float, default=60.0, help="seconds per training run (default 60)")
    chk.add_argument("--base", help="git revision: also check that nothing but the methods, their tests, "
                                    "both grid files and their records changed since it")
    chk.set_defaults(func=cmd_check)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)  # inside: a value's own check (--seeds) raises BenchmarkError
        args.func(args)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
