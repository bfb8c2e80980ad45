"""The engine's overhead, whole processes against whole processes, start-up included.

Engine: `python -m benchmark train` on a one-cell grid (ERM on --task, --seeds seeds, one worker): what the
pipeline runs. Bare: a fresh Python process with a fast hand-written loop that computes the same headline
metrics on the same data (split, label noise, model): fused Adam, no host sync inside an epoch, validation
every epoch, the test set evaluated only where a metric needs it (the epoch validation picks, the last one).
Both sides one thread and the same pinned kernel path.
Target: engine / bare <= 1.10. Prints both times and the ratio (median of --repeats).

    python benchmarks/erm_vs_bare.py [--task noisy_digits_sym40] [--seeds 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmark.kernel import worker_env  # noqa: E402  (the same pinned kernel path on both sides)

BARE = r'''
import sys, time
import numpy as np, torch, torch.nn.functional as F
torch.set_num_threads(1)
from benchmark.data import load
from benchmark.families.noisy_labels import corrupt
from benchmark.models import build_model
from benchmark.seeding import data_streams, run_streams
from benchmark.tasks import load_task
from benchmark.train import limit, split_indices

task, seeds = sys.argv[1], int(sys.argv[2])
spec = load_task(task)
for seed in range(seeds):
    split_rng, noise_rng = data_streams(seed)
    data = limit(load(spec.data.source, **spec.data.options), spec.data.limit, split_rng)
    k = int(data.y.max()) + 1
    tr, va, te = split_indices(data.y, spec.split.val, spec.split.test, split_rng)
    noisy, flipped = corrupt(data.y[np.r_[tr, va]], data.x[np.r_[tr, va]], spec.noise, k, noise_rng)
    x, xv, xt = (torch.as_tensor(data.x[i]) for i in (tr, va, te))
    y, yv, yt = torch.as_tensor(noisy[:len(tr)]), torch.as_tensor(noisy[len(tr):]), torch.as_tensor(data.y[te])
    gen = run_streams(seed)
    model = build_model(spec.model.name, x.shape[1:], k, **spec.model.options)
    opt = torch.optim.Adam(model.parameters(), lr=spec.train.lr, weight_decay=spec.train.weight_decay, fused=True)
    best_val, best_test = -1.0, 0.0
    for epoch in range(spec.train.epochs):
        model.train()
        order = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), spec.train.batch_size):
            idx = order[i:i + spec.train.batch_size]
            loss = F.cross_entropy(model(x[idx]).logits, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val = (model(xv).logits.argmax(1) == yv).float().mean().item()
            if val > best_val:
                best_val, best_test = val, (model(xt).logits.argmax(1) == yt).float().mean().item()
    with torch.no_grad():
        last = (model(xt).logits.argmax(1) == yt).float().mean().item()
        fit = model(x).logits.argmax(1) == y
        flipped_train = torch.as_tensor(flipped[:len(tr)])
        memorization = fit[flipped_train].float().mean().item() if flipped_train.any() else 0.0
    print(f"seed {seed}: test_acc {best_test:.4f} last_acc {last:.4f} memorization {memorization:.4f}")
'''


def engine(task: str, seeds: int, work: Path) -> float:
    (work / "params.yaml").write_text(f"profile: default\nseeds: {list(range(seeds))}\njobs: 1\n")
    grid = subprocess.run([sys.executable, "-m", "benchmark", "grid", "--methods", "erm", "--tasks", task,
                           "--file", str(work / "grid.yaml")], cwd=ROOT, capture_output=True, text=True)
    assert grid.returncode == 0, grid.stderr
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "benchmark", "train", "--quiet", "--params", str(work / "params.yaml"),
                    "--grid", str(work / "grid.yaml"), "--records", str(work / "records")], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def bare(task: str, seeds: int) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", BARE, task, str(seeds)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   env={**worker_env(), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})  # the workers' kernels
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="noisy_digits_sym40")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    engine_t, bare_t = [], []
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            engine_t.append(engine(args.task, args.seeds, Path(tmp)))
        bare_t.append(bare(args.task, args.seeds))
        print(f"repeat {r}: engine {engine_t[-1]:.2f} s  bare {bare_t[-1]:.2f} s", flush=True)
    e, b = statistics.median(engine_t), statistics.median(bare_t)
    print(f"{args.task}, {args.seeds} seeds, whole processes: median engine {e:.2f} s  bare {b:.2f} s  "
          f"ratio {e / b:.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()
