"""GPU profile of the full profile's training paths: throughput, busy share, memory, CPU/GPU agreement, grid.

On synthetic CIFAR-shaped images drawn on the device (no download), in one go:
  throughput  ResNet-18 at 32 px and ResNet-50 at 224 px: training images/s of ERM (fp32 and bf16) and of
              the costliest method of each family (SAM; Fishr, Fish; replay, A-GEM; Outlier Exposure), each
              the registered method on its family's batching (benchmarks/gpu_profile_train.py); GPU busy
              share as kernel time / wall (profiler) and NVML samples (when pynvml is installed); peak memory.
  scorers     the OOD protocol's sweep of every post-hoc scorer on the OE-trained ResNet-18 (the OOD tasks'
              model), seconds each.
  cells       one embedded cell per family (run_one, seed 0, seconds each) on CPU and on the GPU, bf16 off
              and on: every metric must agree within |gpu - cpu| <= atol + rtol * |cpu| (TOLERANCE).
  grid        the embedded grid's runs on the GPU with k worker processes vs one CPU core
              (benchmarks/gpu_profile_grid.py, in a child process).
Targets: busy share >= 70% on ResNet-18 ERM (fp32); grid throughput on one GPU >= 10x one CPU core.
Without a GPU every path runs on the CPU and the CUDA-only numbers read n/a; --tiny shrinks everything
(narrow models, a few steps, the smoke profile) so that check takes seconds.

    python benchmarks/gpu_profile.py [--json PATH] [--seconds 2] [--only throughput,scorers,cells,grid] [--tiny]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import torch  # noqa: E402

from benchmark.metrics import DIAGNOSTICS  # noqa: E402
from benchmark.runner import prepare_process, run_one  # noqa: E402
from benchmark.train import pick_device  # noqa: E402
from benchmarks.gpu_profile_train import ROWS, profile_row, scorer_sweep, setups  # noqa: E402

# A CPU and a GPU sum in other orders, so the weights of the same seed drift apart by rounding, and over a
# few hundred steps the drift moves a prediction here and there: an accuracy by a sample or two (1/360 of
# the digits test split each), a threshold statistic (fpr95 on 100-input OOD sets) by more. bf16 rounds
# every activation to 8 bits of mantissa, hence the wider band. The diagnostics (Hessian eigenvalue,
# spectral norms, effective rank) amplify drift and are reported by their worst relative gap, not judged.
TOLERANCE = {"off": {"atol": 0.03, "rtol": 0.05}, "bf16": {"atol": 0.1, "rtol": 0.1}}
# task:method:profile -- a cell of each family, one with a step of its own (SAM), real-length runs of seconds
CELLS = ("noisy_digits_sym40:erm:default", "dg_colored_digits:sam:default", "cl_split_digits_class:replay:default",
         "ood_digits_near:outlier_exposure:default")
TINY_CELLS = ("noisy_digits_sym40:erm:smoke",)
PARTS = ("throughput", "scorers", "cells", "grid")


def throughput(device: torch.device, tiny: bool, seconds: float) -> tuple[list[dict], object]:
    rows, oe = [], None
    for setup in setups(tiny):
        for name, family, amp in ROWS:
            row = profile_row(setup, name, family, amp, device, seconds, warmup=1 if tiny else 3)
            method = row.pop("_method", None)
            if name == "outlier_exposure" and setup.model == "resnet18":
                oe = (method, setup)
            rows.append(row)
            print(f"  {setup.model} {name} {amp}: {row.get('images_per_s', row.get('error'))}", flush=True)
    return rows, oe


def agreement(reference: dict, other: dict, amp: str) -> dict:
    """Every metric of `other` against the CPU fp32 `reference`: agree when all are within the tolerance."""
    def values(record):
        found = {}
        for m in record["metrics"]:
            m = m if isinstance(m, dict) else vars(m)
            found[(m["metric"], m["selection"], m["scorer"], m["domain"])] = m["value"]
        return found

    ref, got, tol = values(reference), values(other), TOLERANCE[amp]
    judged = [k for k in ref if k in got and k[0] not in DIAGNOSTICS]
    excess = {k: abs(got[k] - ref[k]) - (tol["atol"] + tol["rtol"] * abs(ref[k])) for k in judged}
    worst = max(excess, key=excess.get) if excess else None
    rel = [abs(got[k] - ref[k]) / max(abs(ref[k]), 1e-12) for k in ref if k in got and k[0] in DIAGNOSTICS]
    default = reference["details"].get("default_scorer", "")  # OOD: the primary metric is per scorer
    primary = next((k for k in judged if k[0] == reference["primary"] and k[2] in ("", default)
                    and k[3] in ("", "mean")), None)
    return {"status": [reference["status"], other["status"]], "metrics": len(judged), **tol,
            "outside": sum(e > 0 for e in excess.values()),
            "agree": reference["status"] == other["status"] == "ok" and set(ref) == set(got)
            and bool(excess) and max(excess.values()) <= 0,
            "worst": "/".join(filter(None, worst)) if worst else None,
            "worst_diff": round(abs(got[worst] - ref[worst]), 4) if worst else None,
            "primary": "/".join(filter(None, primary)) if primary else None,
            "primary_cpu": round(ref[primary], 4) if primary else None,
            "primary_other": round(got[primary], 4) if primary else None,
            "diagnostics_worst_rel": round(max(rel), 3) if rel else None}


def cells(device: torch.device, names: list[str]) -> list[dict]:
    """Each cell on the CPU (fp32, the reference), then on `device` fp32 and bf16 (CPU bf16 without a GPU)."""
    cpu = torch.device("cpu")
    variants = [(device, "off"), (device, "bf16")] if device.type == "cuda" else [(cpu, "bf16")]
    rows = []
    for cell in names:
        task, method, profile = cell.split(":")
        os.environ["BENCHMARK_AMP"] = "off"
        reference = run_one(method, task, 0, profile=profile, device=cpu)
        for dev, amp in variants:
            os.environ["BENCHMARK_AMP"] = amp
            try:
                other = run_one(method, task, 0, profile=profile, device=dev)
            finally:
                os.environ["BENCHMARK_AMP"] = "off"
            rows.append({"cell": cell, "against": f"{dev.type} {'bf16' if amp == 'bf16' else 'fp32'}",
                         "seconds": [round(r["provenance"]["wall_seconds"], 2) for r in (reference, other)],
                         **agreement(reference, other, amp)})
    return rows


def grid(device: torch.device, tiny: bool, workers: str) -> dict:
    """benchmarks/gpu_profile_grid.py in a child process: its workers must not inherit this one's torch."""
    args = ["--device", str(device), "--workers", "1" if tiny else workers]
    if tiny:
        args += ["--profile", "smoke", "--jobs-per-worker", "1",
                 "--cells", "noisy_digits_sym40:erm,cl_split_digits_class:agem"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "grid.json"
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_profile_grid.py"), *args, "--json", str(out)],
                       check=True, cwd=ROOT)
        return json.loads(out.read_text())


def fmt(value, spec: str = "") -> str:
    return "n/a" if value is None else format(value, spec)


def report(result: dict) -> None:
    cuda = result["device"] != "cpu"
    print(f"\ndevice: {result['device']}   settings: {result['settings']}")
    if result.get("throughput"):
        print(f"\n{'model':<9}{'px':>4}{'batch':>6} {'method':<17}{'amp':<5}{'img/s':>9}{'ms/step':>9}"
              f"{'busy(kernel)':>13}{'busy(nvml)':>11}{'peak GiB':>9}")
        for r in result["throughput"]:
            head = f"{r['model']:<9}{r['px']:>4}{r['batch']:>6} {r['method']:<17}{r['amp']:<5}"
            print(head + (f"  {r['error']}" if "error" in r else
                          f"{r['images_per_s']:>9.1f}{r['step_ms']:>9.2f}{fmt(r['busy_kernel'], '.0%'):>13}"
                          f"{fmt(r['busy_nvml'], '.0%'):>11}{fmt(r['peak_gib'], '.2f'):>9}"))
    if result.get("scorers"):
        print("\nOOD scorer sweeps (ResNet-18, tune_and_score): " + ", ".join(
            f"{s['scorer']} {s['seconds']:.2f}s/{s['settings']}" for s in result["scorers"]))
    for c in result.get("cells", []):
        print(f"cell {c['cell']} cpu fp32 vs {c['against']}: {'agree' if c['agree'] else 'DIFFER'} "
              f"({c['outside']} of {c['metrics']} metrics outside |d| <= {c['atol']} + {c['rtol']}|cpu|; "
              f"closest {c['worst']} d={c['worst_diff']}; {c['primary']} {c['primary_cpu']} vs "
              f"{c['primary_other']}; diagnostics worst rel {c['diagnostics_worst_rel']}; "
              f"{c['seconds'][0]}s vs {c['seconds'][1]}s)")
    if result.get("grid"):
        g = result["grid"]
        for p in [g["cpu_one_core"], *g["device_pools"]]:
            print(f"grid {p['device']} x{p['workers']}: {p['runs_per_s']:.2f} runs/s ({p['ok']}/{p['runs']} ok, "
                  f"{p['seconds']}s; {p['wall_with_start_up_s']}s with start-up) {'; '.join(p['problems'])}")
    print("\ntargets:")
    for name, t in result["targets"].items():
        print(f"  {name}: {fmt(t['value'], '.3g')} (target {t['target']}) -> "
              f"{'met' if t['met'] else 'NOT met' if t['met'] is False else 'n/a'}")
    for name, error in result.get("errors", {}).items():
        print(f"{name} FAILED: {error}")
    if not cuda:
        print("no GPU here: CUDA-only numbers (busy share, peak memory, GPU agreement) are not available")


def targets(result: dict, cuda: bool) -> dict:
    erm = next((r for r in result.get("throughput", []) if r["model"] == "resnet18" and r["method"] == "erm"
                and r["amp"] == "off" and "error" not in r), {})
    busy = erm.get("busy_nvml") or erm.get("busy_kernel")
    speedup = result["grid"]["speedup_vs_one_core"] if result.get("grid") and cuda else None
    return {"resnet18_erm_gpu_busy": {"value": busy, "target": ">= 0.70", "met": None if busy is None else busy >= 0.7},
            "grid_gpu_vs_one_cpu_core": {"value": speedup, "target": ">= 10",
                                         "met": None if speedup is None else speedup >= 10}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=2.0, help="timed seconds per throughput row")
    p.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of {PARTS}")
    p.add_argument("--cells", default=",".join(CELLS), help="task:method:profile cells for the CPU/GPU check")
    p.add_argument("--grid-workers", default="1,8,16", help="worker processes sharing the GPU, per pool")
    p.add_argument("--tiny", action="store_true", help="tiny models and runs: a CPU check of every path")
    p.add_argument("--json", help="write every number here")
    args = p.parse_args()
    parts = args.only.split(",")
    started = time.perf_counter()
    device = pick_device()
    prepare_process(device)  # the runner's flags: deterministic algorithms on GPU, one thread on CPU
    cuda = device.type == "cuda"
    seconds = 0.1 if args.tiny else args.seconds
    result = {"device": torch.cuda.get_device_name(device) if cuda else "cpu", "torch": torch.__version__,
              "settings": {"tiny": args.tiny, "seconds_per_row": seconds, "deterministic": True,
                           "data": "synthetic, drawn on the device", "tolerance": TOLERANCE},
              "part_seconds": {}}
    state = {"clock": time.perf_counter(), "oe": None}

    def part(name: str, measure) -> None:
        """One part; a failure is recorded and the others still run. The JSON is rewritten after each
        part, so a run stopped by a time limit keeps what it measured."""
        try:
            result[name] = measure()
        except Exception as exc:
            result.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"[:500]
            print(f"{name} failed: {result['errors'][name]}", flush=True)
        result["part_seconds"][name] = round(time.perf_counter() - state["clock"], 1)
        state["clock"] = time.perf_counter()
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1, default=str))

    def rows():
        found, state["oe"] = throughput(device, args.tiny, seconds)
        return found

    if "throughput" in parts or "scorers" in parts:  # the scorers score the OE-trained ResNet-18
        part("throughput", rows)
    if "scorers" in parts and state["oe"] and state["oe"][0] is not None:
        n_train, n_eval = (48, 16) if args.tiny else (10_000, 1_000)  # the OOD tasks' set limit: 1,000
        part("scorers", lambda: scorer_sweep(*state["oe"], device, n_train, n_eval))
    state["oe"] = None  # frees the model before the cells and the grid share the GPU
    if "cells" in parts:
        names = TINY_CELLS if args.tiny and args.cells == ",".join(CELLS) else args.cells.split(",")
        part("cells", lambda: cells(device, names))
    if "grid" in parts:
        part("grid", lambda: grid(device, args.tiny, args.grid_workers))
    result["targets"] = targets(result, cuda)
    result["seconds_total"] = round(time.perf_counter() - started, 1)
    report(result)
    print(f"seconds: {result['part_seconds']}, total {result['seconds_total']} after imports")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))

if __name__ == "__main__":
    main()
