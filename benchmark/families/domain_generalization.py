"""Domain generalization: the test domain is never seen in training.

Protocol (DomainBed's, leave-one-domain-out). A task names k >= 2 domains; each is a disjoint share
of the source's samples with its own shift (rotation, colour, generator knobs). Each domain is split
once per run into an 80% "in" part and a 20% "out" part (`split.val`). Every domain in turn is the
test domain; the model trains on the others' "in" parts, with DomainBed's minibatches (`batch_size`
samples from every training domain per step) whose `domain` ids run 0..k-2.

Selection rules (a column of every metric, never mixed):
  training_domain_val  the epoch with the best accuracy on the training domains' "out" parts (primary)
  oracle               the epoch with the best accuracy on the test domain's "out" part: reads test
                       labels, reported apart, never ranked
Both are scored on the test domain's "in" part.

Metrics (domain="" is the mean over test domains, domain=<name> that test domain alone)
  test_acc         held-out-domain accuracy, training-domain validation (primary)
  worst_domain_acc the lowest per-test-domain test_acc
  val_acc          training-domain validation accuracy at the selected epochs (selects draws)
  last_acc         held-out-domain accuracy after the last epoch
  oracle_test_acc  held-out-domain accuracy at the epoch the test-domain oracle picks
  ece, nll, brier  held-out-domain calibration at the test_acc epochs (benchmark/metrics/calibration.py)
Diagnostics of each split's final model (benchmark/diagnostics.py, selection "last", on its training
domains' inputs): hessian_top_eig, feature_effective_rank, spectral_norm_product, per test domain and mean.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator

from benchmark import diagnostics
from benchmark.data import Arrays, load
from benchmark.errors import BenchmarkError
from benchmark.method import Batch, Method
from benchmark.metrics import DIAGNOSTICS
from benchmark.metrics.calibration import NAMES as CALIBRATION
from benchmark.records import Metric, Result, search_result
from benchmark.seeding import data_streams, split_streams
from benchmark.shifts import domains as shifts
from benchmark.spec import Strict, TaskSpec
from benchmark.train import TensorSet, accuracy, evaluate, fit_epoch, make_context, split_off

FAMILY = "domain_generalization"
PRIMARY = "test_acc"
SELECTION = "training_domain_val"
ORACLE = "oracle"


class ColourSpec(Strict):
    agree: float = Field(ge=0, le=1, description="probability that the colour equals the (noisy) label")
    label_noise: float = Field(default=0.25, ge=0, lt=1, description="share of binary labels flipped")
    threshold: int = Field(default=5, description="binary label = digit < threshold")


class DomainSpec(Strict):
    name: str = Field(min_length=1, description="the domain's name in records and on the site")
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="source options for this domain, over data.options (knobs)")
    rotate: float | None = Field(default=None, description="rotation in degrees, counter-clockwise")
    colour: ColourSpec | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _numbers_are_names(cls, value):
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


class Spec(TaskSpec):
    family: Literal["domain_generalization"]
    domains: list[DomainSpec] = Field(description="the named domains; each is the test domain once")
    resize: int | None = Field(default=None, ge=2, le=128,
                               description="upsample images to resize x resize first")
    test_domains: list[str] | None = Field(
        default=None, min_length=1,
        description="domains that take a turn as test domain (default all; profiles may name fewer)")

    @field_validator("domains")
    @classmethod
    def _distinct_domains(cls, domains):
        if len(domains) < 2:
            raise ValueError(f"a domain generalization task needs at least 2 domains, got {len(domains)}")
        seen = set()
        for d in domains:
            if d.name in seen:
                raise ValueError(f"domain name '{d.name}' used twice; names must be distinct")
            seen.add(d.name)
        return domains

    @model_validator(mode="after")
    def _known_test_domains(self):
        if "test" in self.split.model_fields_set:
            raise ValueError("split.test does not apply: the held-out domain is the test set "
                             "(split.val is each domain's held-out share)")
        names = [d.name for d in self.domains]
        for name in self.test_domains or []:
            if name not in names:
                raise ValueError(f"test_domains names '{name}', which is not a domain; domains: {names}")
        if self.test_domains is not None and len(set(self.test_domains)) != len(self.test_domains):
            raise ValueError("test_domains lists a domain twice")
        return self


def applies(method_cls, spec: Spec) -> str | None:
    if FAMILY not in method_cls.families:
        return f"method '{method_cls.name}' does not declare the {FAMILY} family"
    if method_cls.needs_domains and len(spec.domains) - 1 < 2:
        return (f"method '{method_cls.name}' needs several training domains; this task leaves "
                f"{len(spec.domains) - 1} per split")
    return None


# -- data ----------------------------------------------------------------------------------------------
@dataclass
class Domain:
    name: str
    data: Arrays
    positions: np.ndarray
    """Indices of this domain's samples in the source: disjoint across domains."""
    out: np.ndarray
    """Boolean: the held-out ("out") part -- validation when training, oracle selection when testing."""


def build_domains(spec: Spec, rng: np.random.Generator,
                  shift_rng: np.random.Generator | None = None) -> list[Domain]:
    """Every domain's data, built once per run: disjoint source positions (`rng`), then the domain's
    shifts (`shift_rng`, its own stream; `rng` when not given)."""
    shift_rng = rng if shift_rng is None else shift_rng
    loaded: dict[str, Arrays] = {}
    sources = []
    for d in spec.domains:
        options = {**spec.data.options, **d.options}
        key = repr(sorted(options.items()))
        if key not in loaded:
            loaded[key] = load(spec.data.source, **options)
        sources.append(loaded[key])
    n = min(len(s) for s in sources)
    shares = shifts.partition(n, len(spec.domains), rng)
    per_domain = spec.data.limit // len(spec.domains) if spec.data.limit else None
    built = []
    for d, source, share in zip(spec.domains, sources, shares, strict=True):
        share = share if per_domain is None else np.sort(rng.choice(share, min(per_domain, len(share)),
                                                                    replace=False))
        try:
            x, y = _shift(source.x[share], source.y[share], d, spec.resize, shift_rng)
        except ValueError as exc:  # a shift that does not fit the source's data is a task mistake
            raise BenchmarkError(f"domain '{d.name}' of data source '{spec.data.source}': {exc}") from None
        out = np.zeros(len(y), dtype=bool)
        out[split_off(np.arange(len(y)), y, round(spec.split.val * len(y)), rng)[1]] = True
        built.append(Domain(d.name, Arrays(x.astype(np.float32), y.astype(np.int64)), share, out))
    shapes = {d.name: d.data.x.shape[1:] for d in built}
    if len(set(shapes.values())) > 1:
        raise BenchmarkError(f"domains produce inputs of different shapes {shapes}; give them the same "
                             "source shape (or a common 'resize')")
    if min(len(d.data) for d in built) < 4:
        raise BenchmarkError(f"domains too small ({ {d.name: len(d.data) for d in built} } samples); "
                             "raise data.limit or the source size")
    return built


def _shift(x: np.ndarray, y: np.ndarray, d: DomainSpec, resize: int | None, rng: np.random.Generator):
    if resize:
        x = shifts.resize(x, resize)
    if d.rotate is not None:
        x = shifts.rotate(x, d.rotate)
    if d.colour is not None:
        x, y = shifts.colour(x, y, d.colour.agree, d.colour.label_noise, d.colour.threshold, rng)
    return x, y


@dataclass
class Split:
    """One leave-one-domain-out split, as arrays; `domain` ids number the training domains 0..k-2."""

    train: Arrays
    train_domain: np.ndarray
    val: Arrays
    test: Arrays
    oracle: Arrays
    training_domains: list[str]


def lodo(domains: list[Domain], held_out: int) -> Split:
    training = [d for i, d in enumerate(domains) if i != held_out]
    test = domains[held_out]
    cat = lambda parts: Arrays(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]))
    return Split(
        train=cat([d.data.take(~d.out) for d in training]),
        train_domain=np.concatenate([np.full(int((~d.out).sum()), i) for i, d in enumerate(training)]),
        val=cat([d.data.take(d.out) for d in training]),
        test=test.data.take(~test.out),
        oracle=test.data.take(test.out),
        training_domains=[d.name for d in training],
    )


def balanced_batches(data: TensorSet, num_domains: int, batch_size: int,
                     generator: torch.Generator) -> Iterator[Batch]:
    """Minibatches of `batch_size` samples from every training domain (DomainBed's sampler and batch size).

    Each domain is an endless stream of permutations in which every sample comes once per pass and no
    batch holds a sample twice. An epoch is one pass over the (mean) training domain, as in DomainBed.
    """
    members = [torch.nonzero(data.domain == d).squeeze(1) for d in range(num_domains)]
    per, steps = balanced_plan([len(m) for m in members], batch_size)
    streams = [_stream(m, per, generator) for m in members]
    for _ in range(steps):
        idx = torch.cat([next(s) for s in streams])
        yield Batch(x=data.x[idx], y=data.y[idx], index=idx, domain=data.domain[idx],
                    experience=data.experience[idx])


def balanced_plan(counts: list[int], batch_size: int) -> tuple[int, int]:
    """(samples per domain in a batch, steps per epoch) for training domains of these sizes.

    Every domain gives a full `batch_size` (the smallest domain's size if that is less: no repeats in a
    batch), as in DomainBed, where the batch size is per domain: per-domain penalties (IRM's split halves,
    Fishr's gradient variances, CORAL's covariances) are estimated on a whole batch, not on
    batch_size / k samples (12 of 64 with 5 training domains). Steps per epoch follow DomainBed's epoch,
    one pass over a domain: k times fewer steps than pooled batches of `batch_size`, at about the same
    cost per epoch (the same samples, in fewer, larger steps).
    """
    per = max(1, min(batch_size, *counts))
    return per, math.ceil(sum(counts) / (per * len(counts)))


def _stream(members: torch.Tensor, per: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Chunks of `per` distinct samples; every pass over the domain is a fresh permutation, and a pass's
    leftover is topped up with samples of the next pass that it does not already hold."""
    leftover = members[:0]
    while True:
        order = members[torch.randperm(len(members), generator=generator).to(members.device)]
        if len(leftover):
            top_up = order[~torch.isin(order, leftover)][:per - len(leftover)]
            yield torch.cat([leftover, top_up])
            order = order[~torch.isin(order, top_up)]
        full = len(order) // per * per
        yield from order[:full].split(per)
        leftover = order[full:]


# -- tools for DG methods ------------------------------------------------------------------------------
def domain_masks(batch: Batch) -> list[torch.Tensor]:
    """One boolean mask per training domain present in the batch, in domain-id order."""
    return [batch.domain == d for d in torch.unique(batch.domain)]


def domain_means(values: torch.Tensor, groups: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(means [G, ...], ids [G]): the mean of `values` [N, ...] over each group id present, in id order.

    One index_add instead of a Python loop over domains: penalties over many domains stay cheap.
    """
    ids, inverse, counts = torch.unique(groups, return_inverse=True, return_counts=True)
    sums = values.new_zeros((len(ids), *values.shape[1:])).index_add(0, inverse, values)
    return sums / counts.view(-1, *[1] * (values.dim() - 1)).to(values.dtype), ids


def warmup_steps(domainbed_steps: float, run_steps: int) -> int:
    """The step at which a penalty switches to full weight: DomainBed's warm-up length in steps, capped at
    half of this run's steps.

    DomainBed's warm-ups (IRM, V-REx 500, Fishr 1,500 of 5,000 steps) let plain ERM fit the training domains
    first; a share of a 5,000-step run (10%) would switch the penalty on after a few dozen steps of a short
    run, long before the network fits (IRM's loss then jumps and never recovers). In steps, a short run
    keeps most of that fitting phase, and the cap leaves the full penalty at least half of the run.
    """
    return min(round(domainbed_steps), run_steps // 2)


class Annealed(Method):
    """A penalty at a warm-up weight for the first `anneal_steps` optimizer steps (see `warmup_steps`), then at
    full weight, with a fresh optimizer at the switch (DomainBed's IRM / V-REx / Fishr schedule: Adam's
    moments were fitted to the warm-up loss scale, and the jump in penalty weight breaks them)."""

    warmup_weight: ClassVar[float] = 1.0

    def setup(self) -> None:
        self.steps = 0
        self.switch_at = warmup_steps(self.hp["anneal_steps"], self.ctx.epochs * self.ctx.steps_per_epoch)

    def penalty_weight(self, full: float) -> float:
        return full if self.steps >= self.switch_at else self.warmup_weight

    def step(self, batch: Batch) -> dict[str, torch.Tensor]:
        if self.steps == self.switch_at and self.steps > 0:
            self.optimizer = self.ctx.make_optimizer(self.parameters(), **self.optimizer_options())
        result = super().step(batch)
        self.steps += 1
        return result


# -- the protocol ----------------------------------------------------------------------------------------
def run(method_cls, hp: dict, spec: Spec, seed: int, device: torch.device,
        generator: torch.Generator, search: bool = False) -> Result:
    """One run over every held-out domain; `search`: a search run, which evaluates training-domain
    validation only (no held-out domain, no oracle) and records its val_acc rows."""
    domains = build_domains(spec, *data_streams(seed))  # split and shift: independent streams
    names = [d.name for d in domains]
    num_classes = int(max(d.data.y.max() for d in domains)) + 1
    # One seed per held-out domain: a split's numbers do not depend on which other splits run.
    base = int(torch.randint(0, 2**62, (1,), generator=generator))
    splits = {}
    for name in spec.test_domains or names:
        held_out = names.index(name)
        split_seed = int(np.random.SeedSequence([base, held_out]).generate_state(1)[0])
        split = lodo(domains, held_out)
        splits[name] = _train_split(method_cls, hp, spec, split, num_classes, device, split_seed, search)
    if search:
        val = {n: s["curves"]["val_acc"][s["selected_epoch"]] for n, s in splits.items()}
        return search_result(float(np.mean(list(val.values()))), SELECTION, val)
    return _result(splits, names)


def _train_split(method_cls, hp, spec: Spec, split: Split, num_classes: int, device, split_seed: int,
                 search: bool = False) -> dict:
    init_seed, generator = split_streams(split_seed)
    torch.manual_seed(init_seed)
    k = len(split.training_domains)
    train = TensorSet.of(split.train, device, domain=split.train_domain)
    val, test, oracle = (TensorSet.of(s, device) for s in (split.val, split.test, split.oracle))
    ctx = make_context(spec, FAMILY, num_classes, split.train.x.shape[1:], len(train), generator, device,
                       num_domains=k, domains=list(split.training_domains))
    counts = np.bincount(split.train_domain, minlength=k).tolist()
    ctx.steps_per_epoch = balanced_plan(counts, spec.train.batch_size)[1]
    method = method_cls(ctx, hp)
    curves = {"train_loss": [], "val_acc": [], "test_acc": [], "oracle_acc": []}
    calibration = []  # per epoch: the held-out domain's ece, nll, brier
    for epoch in range(spec.train.epochs):
        batches = balanced_batches(train, k, spec.train.batch_size, generator)
        curves["train_loss"].append(fit_epoch(method, batches))
        method.on_epoch_end(epoch)
        curves["val_acc"].append(accuracy(method, val))
        if search:
            continue
        test_eval = evaluate(method, test)
        curves["test_acc"].append(test_eval["acc"])
        calibration.append({name: test_eval[name] for name in CALIBRATION})
        curves["oracle_acc"].append(accuracy(method, oracle))
    if search:
        return {"curves": curves, "selected_epoch": int(np.argmax(curves["val_acc"]))}
    return {
        "curves": curves,
        "selected_epoch": int(np.argmax(curves["val_acc"])),  # first epoch with the best validation accuracy
        "oracle_epoch": int(np.argmax(curves["oracle_acc"])),
        "training_domains": split.training_domains,
        "sizes": {"train": len(train), "val": len(val), "test": len(test), "oracle": len(oracle)},
        "parameters": sum(p.numel() for p in method.model.parameters()),
        "calibration": calibration,
        "diagnostics": {m.metric: m.value for m in diagnostics.measure(method.model, train.x, train.y,
                                                                        split_seed)},
    }


def _result(splits: dict[str, dict], names: list[str]) -> Result:
    test = {n: s["curves"]["test_acc"][s["selected_epoch"]] for n, s in splits.items()}
    val = {n: s["curves"]["val_acc"][s["selected_epoch"]] for n, s in splits.items()}
    last = {n: s["curves"]["test_acc"][-1] for n, s in splits.items()}
    oracle = {n: s["curves"]["test_acc"][s["oracle_epoch"]] for n, s in splits.items()}
    calibration = {n: s["calibration"][s["selected_epoch"]] for n, s in splits.items()}
    diagnosed = {n: s["diagnostics"] for n, s in splits.items()}
    mean = lambda values: float(np.mean(list(values.values())))
    metrics = [
        Metric("test_acc", mean(test), selection=SELECTION),
        Metric("worst_domain_acc", min(test.values()), selection=SELECTION),
        Metric("val_acc", mean(val), selection=SELECTION),
        Metric("last_acc", mean(last), selection="last_epoch"),
        Metric("oracle_test_acc", mean(oracle), selection=ORACLE),
        *(Metric(c, mean({n: v[c] for n, v in calibration.items()}), selection=SELECTION) for c in CALIBRATION),
        *(Metric(d, mean({n: v[d] for n, v in diagnosed.items()}), selection=diagnostics.SELECTION)
          for d in sorted(DIAGNOSTICS)),
    ]
    for name in splits:
        metrics += [
            Metric("test_acc", test[name], selection=SELECTION, domain=name),
            Metric("val_acc", val[name], selection=SELECTION, domain=name),
            Metric("oracle_test_acc", oracle[name], selection=ORACLE, domain=name),
            *(Metric(c, calibration[name][c], selection=SELECTION, domain=name) for c in CALIBRATION),
            *(Metric(d, diagnosed[name][d], selection=diagnostics.SELECTION, domain=name)
              for d in sorted(DIAGNOSTICS)),
        ]
    details = {
        "domains": names,
        "test_domains": list(splits),
        "splits": {n: {k: v for k, v in s.items() if k not in ("parameters", "diagnostics")}
                   for n, s in splits.items()},
    }
    parameters = max(s["parameters"] for s in splits.values())
    return Result(metrics=metrics, details=details, parameters=parameters)
