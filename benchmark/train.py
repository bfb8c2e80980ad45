"""The training machinery every family protocol shares: tensors on the device, batches, fitting, evaluation."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import Tensor

from benchmark import training_options
from benchmark.data import Arrays
from benchmark.errors import BenchmarkError
from benchmark.method import Batch, Context, Method, Output
from benchmark.metrics.calibration import calibration, probabilities
from benchmark.models import build_model
from benchmark.seeding import child_generator
from benchmark.spec import TaskSpec


class TrainingFailed(RuntimeError):
    """The method broke (NaN loss, an exception in a hook): its cell is marked failed, others go on."""


def pick_device() -> torch.device:
    """BENCHMARK_DEVICE if set, else CUDA when present, else CPU."""
    wanted = os.environ.get("BENCHMARK_DEVICE")
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class TensorSet:
    """A split resident on the device: no data-loader processes, batches are index slices."""

    x: Tensor
    y: Tensor
    domain: Tensor
    experience: Tensor

    @classmethod
    def of(cls, arrays: Arrays, device: torch.device, domain=None, experience=None) -> TensorSet:
        n = len(arrays)
        as_long = lambda v: torch.as_tensor(np.broadcast_to(0 if v is None else v, (n,)).copy(), device=device)
        return cls(
            x=torch.as_tensor(arrays.x, device=device),
            y=torch.as_tensor(arrays.y, device=device),
            domain=as_long(domain).long(),
            experience=as_long(experience).long(),
        )

    def __len__(self) -> int:
        return len(self.y)

    def batches(self, batch_size: int, generator: torch.Generator | None = None,
                logit_mask: Tensor | None = None) -> Iterator[Batch]:
        """Shuffled minibatches when a generator is given, in order otherwise."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        order = order.to(self.x.device)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            yield Batch(x=self.x[idx], y=self.y[idx], index=idx, domain=self.domain[idx],
                        experience=self.experience[idx], logit_mask=logit_mask)


def make_context(spec: TaskSpec, family: str, num_classes: int, input_shape: tuple[int, ...],
                 num_train: int, generator: torch.Generator, device: torch.device, **extra) -> Context:
    def make_optimizer(params, **overrides):
        t = spec.train.model_copy(update=overrides)
        params = [p for p in params if p.requires_grad]
        if t.optimizer == "sgd":
            optimizer = torch.optim.SGD(params, lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)
        else:
            optimizer = torch.optim.Adam(params, lr=t.lr, weight_decay=t.weight_decay)
        # clipping and schedule (benchmark/training_options.py); the run's steps: every epoch of every experience
        return training_options.attach(optimizer, params, t, ctx.epochs * ctx.steps_per_epoch * ctx.num_experiences)

    def make_model(**options):
        merged = {**spec.model.options, **options}
        return build_model(spec.model.name, input_shape, num_classes, **merged).to(device)

    known = {"num_domains", "num_experiences"}
    ctx = Context(
        family=family, num_classes=num_classes, input_shape=tuple(input_shape), num_train=num_train,
        epochs=spec.train.epochs, steps_per_epoch=math.ceil(num_train / spec.train.batch_size),
        # The method's own stream, hashed from the batch order's (benchmark/seeding.py): its draws never
        # shift the data order, so every method sees ERM's batches for a seed (paired comparisons stay
        # paired), and its seed reveals neither the order nor the split.
        generator=child_generator(generator, "method"),
        device=device, build_model=make_model, make_optimizer=make_optimizer,
        **{k: v for k, v in extra.items() if k in known},
        extra={k: v for k, v in extra.items() if k not in known},
    )
    return ctx


def autocast(device: torch.device):
    """Mixed precision, off by default: BENCHMARK_AMP=bf16 runs forward passes in bfloat16 where safe
    (torch.autocast). bfloat16 keeps float32's range, so no loss scaling touches the method's step."""
    mode = os.environ.get("BENCHMARK_AMP", "off").lower()
    if mode in ("", "0", "off", "none"):
        return contextlib.nullcontext()
    if mode != "bf16":
        raise BenchmarkError(f"BENCHMARK_AMP = {mode!r}: expected 'bf16' or 'off'")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


SYNC_EVERY = 50
"""On a GPU the losses are read back every SYNC_EVERY steps, not every step: reading one waits for the
device, and a wait per step would leave the GPU idle while the host queues the next step."""


def fit_epoch(method: Method, batches) -> float:
    """One pass of `method.step` over `batches`; mean loss. A non-finite loss fails the run."""
    total, count, pending = 0.0, 0, []

    def drain() -> None:
        nonlocal total, count
        for value in torch.stack(pending).tolist():
            total += value
            count += 1
            if not math.isfinite(total):
                raise TrainingFailed(f"non-finite loss ({total}) at step {count}")
        pending.clear()

    for batch in batches:
        with autocast(batch.x.device):
            loss = method.step(batch)["loss"]
        pending.append(torch.as_tensor(loss).detach().float().reshape(()))
        if len(pending) >= (SYNC_EVERY if batch.x.device.type == "cuda" else 1):
            drain()
    if pending:
        drain()
    return total / max(count, 1)


@torch.no_grad()
def predict(method: Method, x: Tensor, batch_size: int = 1024, logit_mask: Tensor | None = None) -> Output:
    """The method's evaluation-time outputs on `x`, in chunks."""
    with autocast(x.device):
        outs = [method.predict(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    logits = torch.cat([o.logits for o in outs]).float()
    features = torch.cat([o.features for o in outs]).float()
    if not (torch.isfinite(logits).all() and torch.isfinite(features).all()):  # never score a broken model
        raise TrainingFailed("non-finite logits or features at evaluation: the trained model outputs NaN or inf")
    if logit_mask is not None:
        logits = logits.masked_fill(~logit_mask, float("-inf"))
    return Output(logits=logits, features=features)


def accuracy(method: Method, data: TensorSet) -> float:
    return float((predict(method, data.x).logits.argmax(1) == data.y).float().mean())


def evaluate(method: Method, data: TensorSet, logit_mask: Tensor | None = None) -> dict[str, float]:
    """Accuracy ("acc") and calibration (ece, nll, brier; benchmark/metrics/calibration.py) on `data`,
    from one pass. `logit_mask` [N, num_classes] rules out classes per sample (task-incremental heads)."""
    logits = predict(method, data.x).logits
    if logit_mask is not None:
        logits = logits.masked_fill(~logit_mask, float("-inf"))
    acc = float((logits.argmax(1) == data.y).float().mean())
    return {"acc": acc, **calibration(probabilities(logits), data.y.cpu().numpy())}


def split_indices(labels: np.ndarray, val: float, test: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """A seeded train/val/test partition of range(len(labels)): round(n * test) test and round(n * val)
    validation samples, each stratified by label (every split keeps the class proportions)."""
    labels = np.asarray(labels)
    n = len(labels)
    rest, test_i = split_off(np.arange(n), labels, round(n * test), rng)
    train_i, val_i = split_off(rest, labels[rest], round(n * val), rng)
    return train_i, val_i, test_i


def split_off(indices: np.ndarray, labels: np.ndarray, size: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held out): `size` of `indices` held out at random, stratified by `labels`
    (sklearn's train_test_split). When stratifying cannot work -- a class with a single sample, or fewer
    slots on a side than classes -- the draw is a plain seeded random one. One draw from `rng` either way."""
    seed = int(rng.integers(2**32))
    if size <= 0 or size >= len(indices):
        order = np.random.default_rng(seed).permutation(indices)
        return order[size:], order[:size]
    classes, counts = np.unique(labels, return_counts=True)
    stratify = labels if counts.min() >= 2 and min(size, len(indices) - size) >= len(classes) else None
    kept, held_out = train_test_split(indices, test_size=size, stratify=stratify, random_state=seed)
    return kept, held_out


def limit(arrays: Arrays, max_items: int | None, rng: np.random.Generator) -> Arrays:
    if max_items is None or len(arrays) <= max_items:
        return arrays
    return arrays.take(np.sort(rng.choice(len(arrays), max_items, replace=False)))
