"""The engine's overhead: the ERM cell against a bare hand-written PyTorch loop doing the same training.

Same data, split, noise, model initialization, optimizer, batch order and per-epoch evaluation.
Target: engine / bare <= 1.10. Prints both times and the ratio (median of --repeats).

    python benchmarks/erm_vs_bare.py [--task noisy_digits_sym40] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.data import load
from benchmark.families.noisy_labels import corrupt
from benchmark.models import build_model, seed_everything
from benchmark.runner import run_one
from benchmark.tasks import load_task
from benchmark.train import limit, split_indices


def bare(task: str, seed: int) -> tuple[float, float]:
    spec = load_task(task)
    rng = np.random.default_rng(seed)
    data = limit(load(spec.data.source, **spec.data.options), spec.data.limit, rng)
    k = int(data.y.max()) + 1
    tr, va, te = split_indices(data.y, spec.split.val, spec.split.test, rng)
    noisy, _ = corrupt(data.y[np.r_[tr, va]], data.x[np.r_[tr, va]], spec.noise, k, rng)
    x, xv, xt = (torch.as_tensor(data.x[i]) for i in (tr, va, te))
    y, yv, yt = torch.as_tensor(noisy[:len(tr)]), torch.as_tensor(noisy[len(tr):]), torch.as_tensor(data.y[te])

    start = time.perf_counter()
    gen = seed_everything(seed * 1000)
    model = build_model(spec.model.name, x.shape[1:], k, **spec.model.options)
    opt = torch.optim.Adam(model.parameters(), lr=spec.train.lr, weight_decay=spec.train.weight_decay)
    best_val, best_test = -1.0, 0.0
    for _ in range(spec.train.epochs):
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
            test = (model(xt).logits.argmax(1) == yt).float().mean().item()
        if val > best_val:
            best_val, best_test = val, test
    return time.perf_counter() - start, best_test


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="noisy_digits_sym40")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(1)  # as the runner does on CPU, for both sides
    run_one("erm", args.task, seed=0)  # warm the data cache and the allocator
    engine_t, bare_t = [], []
    for r in range(args.repeats):
        record = run_one("erm", args.task, seed=r)
        engine_t.append(record["provenance"]["wall_seconds"])
        seconds, bare_acc = bare(args.task, r)
        bare_t.append(seconds)
        engine_acc = next(m.value for m in record["metrics"] if m.metric == "test_acc")
        print(f"seed {r}: engine {engine_t[-1]:.3f}s (test_acc {engine_acc:.4f})   "
              f"bare {bare_t[-1]:.3f}s (test_acc {bare_acc:.4f})")
    e, b = statistics.median(engine_t), statistics.median(bare_t)
    print(f"median engine {e:.3f}s  bare {b:.3f}s  ratio {e / b:.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()
