"""Continual learning: experiences arrive one after another; the model must learn each without
forgetting the earlier ones.

Scenarios (`scenario.kind`):
  class_incremental   each experience holds a disjoint set of classes (`scenario.classes`); one shared
                      head over all classes; nothing tells the model the experience at test time.
  task_incremental    the same splits; a head per experience: training and test logits are restricted to
                      the experience's classes (Batch.logit_mask), i.e. the task id is given at test time.
  domain_incremental  every experience holds all classes, its inputs shuffled by a fixed random feature
                      permutation of its own (`scenario.permutations` experiences, drawn with the seed).

Protocol: one train / validation / test partition of the data (seeded), then split per experience.
Experiences are trained in order, `train.epochs` epochs each, by one method object (one model, one
optimizer, never reset); `on_epoch_end(epoch)` counts epochs within the experience. After each
experience the method's `on_experience_end(k, data)` hook sees that experience's training batches
only, and the model is evaluated on every experience's test split: row k of the accuracy matrix R.
The untrained model is evaluated once first (b, for forward transfer). Test inputs of all experiences
go through the model in one pass; in task-incremental runs the per-experience head is applied to the
logits afterwards, so no task id ever reaches the model in the other scenarios.

Metrics (formulas in benchmark/metrics/continual.py; forgetting is Chaudhry's max-based definition)
  acc         final average test accuracy over experiences (primary)
  forgetting  mean drop from each experience's best accuracy to its final one (lower is better)
  bwt, fwt    backward and forward transfer
  acc[exp<j>] final test accuracy on experience j
  val_acc     final average validation accuracy over the experiences (all seen by then): draw selection
  ece, nll, brier  calibration after the last experience on the test data of every experience, pooled
              (task-incremental: each sample's own head; benchmark/metrics/calibration.py)
Diagnostics of the final model (benchmark/diagnostics.py, selection "last"): hessian_top_eig,
feature_effective_rank, spectral_norm_product, on the training inputs of all experiences.
Details: acc_matrix R, untrained_acc b, experience classes, per-experience training-loss curves.

A replay budget (`scenario.replay_budget`, samples kept across experiences) is declared by the task,
the same for every method that keeps a memory; methods read it as ctx.extra["replay_budget"].
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator
from torch import Tensor

from benchmark import diagnostics
from benchmark.data import Arrays, load
from benchmark.errors import BenchmarkError
from benchmark.method import Batch
from benchmark.metrics import continual as cl_metrics
from benchmark.metrics.calibration import NAMES as CALIBRATION
from benchmark.records import Metric, Result, search_result
from benchmark.seeding import data_streams
from benchmark.shifts import class_split, permutations
from benchmark.spec import Strict, TaskSpec
from benchmark.train import TensorSet, evaluate, fit_epoch, limit, make_context, predict, split_indices

FAMILY = "continual"
PRIMARY = "acc"


class ScenarioSpec(Strict):
    kind: Literal["class_incremental", "task_incremental", "domain_incremental"]
    classes: list[list[int]] | None = Field(
        default=None, description="class/task-incremental: the classes of each experience, in order")
    permutations: int | None = Field(
        default=None, ge=2, le=100,
        description="domain-incremental: number of experiences (one permutation each)")
    replay_budget: int = Field(default=200, ge=1, description="samples a memory-based method may keep in all")

    @field_validator("classes")
    @classmethod
    def _structure(cls, classes):
        if classes is None:
            return classes
        if len(classes) < 2:
            raise ValueError(f"{len(classes)} experience(s); expected at least 2")
        problem = class_split.partition_problem(classes)
        if problem:
            raise ValueError(problem)
        return classes

    @model_validator(mode="after")
    def _fields_match_kind(self):
        if self.kind == "domain_incremental":
            if self.permutations is None or self.classes is not None:
                raise ValueError("domain_incremental takes 'permutations' (number of experiences), "
                                 "not 'classes'")
        elif self.classes is None or self.permutations is not None:
            raise ValueError(f"{self.kind} takes 'classes' (a list of class lists), not 'permutations'")
        return self

    @property
    def num_experiences(self) -> int:
        return self.permutations if self.kind == "domain_incremental" else len(self.classes)


class Spec(TaskSpec):
    family: Literal["continual"]
    scenario: ScenarioSpec


def applies(method_cls, spec: Spec) -> str | None:
    if FAMILY not in method_cls.families:
        return f"method '{method_cls.name}' does not declare the {FAMILY} family"
    if method_cls.needs_domains:
        return (f"method '{method_cls.name}' needs several training domains at once; "
                "experiences come one at a time")
    return None


@dataclass
class Stream:
    """The experiences of one run: each split as one array set, with every sample's experience id."""

    train: Arrays
    val: Arrays
    test: Arrays
    train_exp: np.ndarray
    val_exp: np.ndarray
    test_exp: np.ndarray
    classes: list[list[int]]
    num_classes: int


def build_stream(data: Arrays, scenario: ScenarioSpec, val: float, test: float, source: str,
                 rng: np.random.Generator, shift_rng: np.random.Generator | None = None) -> Stream:
    num_classes = int(data.y.max()) + 1
    splits = [data.take(i) for i in split_indices(data.y, val, test, rng)]
    parts: list[list[Arrays]] = [[], [], []]  # train, val, test pieces, experience by experience
    if scenario.kind == "domain_incremental":
        shift_rng = rng if shift_rng is None else shift_rng  # the permutations' own stream
        orders = [permutations.permutation(data.x.shape[1:], shift_rng) for _ in range(scenario.permutations)]
        classes = [list(range(num_classes))] * len(orders)
        for order in orders:
            for piece, split in zip(parts, splits, strict=True):
                piece.append(Arrays(permutations.permute(split.x, order), split.y))
    else:
        problem = class_split.partition_problem(scenario.classes, num_classes)
        if problem:
            raise BenchmarkError(f"scenario.classes = {scenario.classes} (data '{source}'): {problem}")
        classes = scenario.classes
        for exp_classes in classes:
            for piece, split in zip(parts, splits, strict=True):
                piece.append(split.take(class_split.members(split.y, exp_classes)))
    for name, pieces in zip(("training", "validation", "test"), parts, strict=True):
        empty = [k for k, p in enumerate(pieces) if len(p) == 0]
        if empty:
            raise BenchmarkError(f"scenario.classes: experience {empty[0]} ({classes[empty[0]]}) has no "
                                 f"{name} samples in data '{source}'; expected every experience to have some")
    joined = [Arrays(np.concatenate([p.x for p in ps]), np.concatenate([p.y for p in ps])) for ps in parts]
    exp_ids = [np.repeat(np.arange(len(ps)), [len(p) for p in ps]) for ps in parts]
    if scenario.replay_budget > len(joined[0]):
        raise BenchmarkError(f"scenario.replay_budget = {scenario.replay_budget}: larger than the "
                             f"{len(joined[0])} training samples of all experiences (data '{source}'); "
                             f"expected at most {len(joined[0])}")
    return Stream(*joined, *exp_ids, classes=[list(c) for c in classes], num_classes=num_classes)


class ExperienceData:
    """One experience's training batches, re-iterable (what `on_experience_end` receives).

    Each pass yields the whole experience once, in a fixed order, batch.index being positions in the
    union training set. It holds copies of this experience's training samples only.
    """

    def __init__(self, train: TensorSet, positions: Tensor, batch_size: int, logit_mask: Tensor | None):
        self.x, self.y = train.x[positions], train.y[positions]
        self.domain, self.experience = train.domain[positions], train.experience[positions]
        self.index, self.batch_size, self.logit_mask = positions, batch_size, logit_mask

    def __len__(self) -> int:
        return len(self.y)

    def __iter__(self) -> Iterator[Batch]:
        return self.batches()

    def batches(self, generator: torch.Generator | None = None) -> Iterator[Batch]:
        n = len(self)
        order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
        order = order.to(self.x.device)
        for start in range(0, n, self.batch_size):
            i = order[start:start + self.batch_size]
            yield Batch(x=self.x[i], y=self.y[i], index=self.index[i], domain=self.domain[i],
                        experience=self.experience[i], logit_mask=self.logit_mask)


def per_experience_accuracy(method, split: TensorSet, heads: Tensor | None,
                            num_experiences: int) -> np.ndarray:
    """Accuracy on each experience's part of `split`, from one forward pass over all of it."""
    logits = predict(method, split.x).logits
    if heads is not None:  # task-incremental: the head of each sample's own experience
        logits = logits.masked_fill(~heads[split.experience], float("-inf"))
    correct = (logits.argmax(1) == split.y).double().cpu()
    exp = split.experience.cpu()
    hits = torch.bincount(exp, weights=correct, minlength=num_experiences)
    return (hits / torch.bincount(exp, minlength=num_experiences)).numpy()


def run(method_cls, hp: dict, spec: Spec, seed: int, device: torch.device,
        generator: torch.Generator, search: bool = False) -> Result:
    """One run over the stream; `search`: a search run, which never evaluates the test split and records
    its val_acc only."""
    rng, shift_rng = data_streams(seed)  # the split and the permutations: independent streams
    sc = spec.scenario
    data = limit(load(spec.data.source, **spec.data.options), spec.data.limit, rng)
    stream = build_stream(data, sc, spec.split.val, spec.split.test, spec.data.source, rng, shift_rng)
    T, K = sc.num_experiences, stream.num_classes
    train_t, val_t, test_t = (TensorSet.of(a, device, experience=e) for a, e in (
        (stream.train, stream.train_exp), (stream.val, stream.val_exp), (stream.test, stream.test_exp)))
    heads = None
    if sc.kind == "task_incremental":
        heads = torch.zeros(T, K, dtype=torch.bool, device=device)
        for k, exp_classes in enumerate(stream.classes):
            heads[k, exp_classes] = True

    ctx = make_context(spec, FAMILY, K, stream.train.x.shape[1:], len(stream.train), generator, device,
                       num_experiences=T, replay_budget=sc.replay_budget)
    sizes = np.bincount(stream.train_exp, minlength=T)
    ctx.steps_per_epoch = math.ceil(sizes.max() / spec.train.batch_size)  # an epoch is one experience's pass
    method = method_cls(ctx, hp)

    untrained = None if search else per_experience_accuracy(method, test_t, heads, T)
    R, losses = [], []
    for k in range(T):
        positions = torch.from_numpy(np.flatnonzero(stream.train_exp == k)).to(device)
        experience = ExperienceData(train_t, positions, spec.train.batch_size,
                                    heads[k] if heads is not None else None)
        curve = []
        for epoch in range(spec.train.epochs):
            curve.append(fit_epoch(method, experience.batches(generator)))
            method.on_epoch_end(epoch)
        losses.append(curve)
        method.on_experience_end(k, experience)
        if not search:
            R.append(per_experience_accuracy(method, test_t, heads, T))
    val = per_experience_accuracy(method, val_t, heads, T)
    if search:
        return search_result(float(val.mean()), "seen_experiences_val")
    R = np.stack(R)
    row_heads = lambda split: heads[split.experience] if heads is not None else None
    calibration = evaluate(method, test_t, row_heads(test_t))

    metrics = [
        Metric("acc", cl_metrics.acc(R), selection="final"),
        Metric("forgetting", cl_metrics.forgetting(R), selection="final"),
        Metric("bwt", cl_metrics.bwt(R), selection="final"),
        Metric("fwt", cl_metrics.fwt(R, untrained), selection="final"),
        Metric("val_acc", float(val.mean()), selection="seen_experiences_val"),
        *(Metric("acc", float(R[-1, j]), selection="final", domain=f"exp{j}") for j in range(T)),
        *(Metric(name, calibration[name], selection="final") for name in CALIBRATION),
        *diagnostics.measure(method.model, train_t.x, train_t.y, seed, row_heads(train_t)),
    ]
    details = {"acc_matrix": R.tolist(), "untrained_acc": untrained.tolist(), "final_val_acc": val.tolist(),
               "scenario": sc.kind, "experience_classes": stream.classes, "train_loss": losses,
               "experience_sizes": sizes.tolist()}
    parameters = sum(p.numel() for p in method.model.parameters())
    return Result(metrics=metrics, details=details, parameters=parameters)
