"""Training throughput of registered methods on synthetic images made on the device, and the OOD scorer sweep.

Each row is the production step: the registered method built by make_context, its `step` driven by
fit_epoch (autocast, losses read back every 50 steps), the model's on-device augmentation, with the
family's own batching and state: DG methods get balanced per-domain batches (3 training domains), the
continual ones a memory filled by their on_experience_end hook, so replay and A-GEM take their costly path.
Used by benchmarks/gpu_profile.py.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.autograd import DeviceType

from benchmark.families.continual import ExperienceData
from benchmark.families.domain_generalization import balanced_batches
from benchmark.families.ood import tune_and_score
from benchmark.hparams import draw
from benchmark.registry import METHODS
from benchmark.scorers import SCORERS, Probe
from benchmark.spec import DataSpec, ModelSpec, TaskSpec, TrainSpec
from benchmark.train import TensorSet, fit_epoch, make_context, predict
from benchmarks.gpu_epoch import Sampler

DOMAINS = 3  # training domains of a leave-one-out split of PACS / VLCS / OfficeHome / TerraIncognita
# (method, family, amp): ERM in fp32 and bf16, then the costliest method of each family.
ROWS = (("erm", "noisy_labels", "off"), ("erm", "noisy_labels", "bf16"), ("sam", "noisy_labels", "off"),
        ("fishr", "domain_generalization", "off"), ("fish", "domain_generalization", "off"),
        ("replay", "continual", "off"), ("agem", "continual", "off"), ("outlier_exposure", "ood", "off"))


@dataclass
class Setup:
    """One model as the full profile trains it: input size, images per step, options, optimizer."""

    model: str
    size: int
    batch: int
    options: dict
    train: dict
    classes: int = 10
    batches: int = 8  # resident images = batches * batch, cycled
    replay_budget: int = 2000  # the Split CIFAR-100 tasks' budget
    extra: dict = field(default_factory=dict)

    def spec(self) -> TaskSpec:
        return TaskSpec(family="noisy_labels", data=DataSpec(source="synthetic"),
                        model=ModelSpec(name=self.model, options=self.options),
                        # epochs only set schedules: at 100, Fishr's warm-up (min(1500, half the run) steps)
                        # spans the timed steps, so its penalty is computed (the cost) but never diverges
                        train=TrainSpec(epochs=100, batch_size=self.batch, **self.train))


def setups(tiny: bool) -> list[Setup]:
    """ResNet-18 at 32 px as the CIFAR tasks run it; ResNet-50 at 224 px as the DG tasks (PACS: 96 images
    per domain and step, 3 domains, Adam). --tiny: narrow, small and short, for a CPU check of the paths."""
    r18 = Setup("resnet18", 32, 128, {"augment": "crop_flip", "normalize": "cifar10"},
                {"optimizer": "sgd", "lr": 0.03, "weight_decay": 5e-4}, batches=20)
    r50 = Setup("resnet50", 224, 3 * 96, {"augment": "resized_crop_flip", "normalize": "imagenet"},
                {"optimizer": "adam", "lr": 5e-5}, classes=7, batches=4)
    if tiny:
        for s, size, batch in ((r18, 32, 12), (r50, 64, 12)):
            s.size, s.batch, s.batches, s.replay_budget = size, batch, 3, 16
            s.options = {**s.options, "width": 8}
    return [r18, r50]


def synthetic(setup: Setup, device: torch.device) -> TensorSet:
    """Uniform images and labels drawn on the device: nothing crosses the host link, nothing is downloaded."""
    n = setup.batch * setup.batches
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.rand(n, 3, setup.size, setup.size, device=device, generator=g)
    y = torch.randint(0, setup.classes, (n,), device=device, generator=g)
    domain = torch.arange(n, device=device) % DOMAINS
    return TensorSet(x, y, domain, torch.zeros(n, dtype=torch.long, device=device))


def stream(data: TensorSet, family: str, batch: int, generator: torch.Generator):
    """Endless shuffled batches of `batch` images; DG: `batch // DOMAINS` from every domain per step."""
    while True:
        if family == "domain_generalization":
            yield from balanced_batches(data, DOMAINS, batch // DOMAINS, generator)
        else:
            yield from data.batches(batch, generator)


def build(setup: Setup, name: str, family: str, data: TensorSet, device: torch.device):
    generator = torch.Generator().manual_seed(0)
    extra = {"num_domains": DOMAINS, "domains": ["a", "b", "c"]} if family == "domain_generalization" else {}
    if family == "continual":
        extra = {"num_experiences": 2, "replay_budget": min(setup.replay_budget, len(data))}
    shape = (3, setup.size, setup.size)
    ctx = make_context(setup.spec(), family, setup.classes, shape, len(data), generator, device, **extra)
    method_cls = METHODS.get(name)
    method = method_cls(ctx, draw(method_cls.hparams, 0))
    if family == "continual":  # experience 0 is over: the memory holds samples, steps now replay them
        method.on_experience_end(0, ExperienceData(data, torch.arange(len(data), device=device), setup.batch, None))
    return method, generator


def timed(method, batches, steps: int, sync) -> tuple[float, int]:
    """(seconds, images) of `steps` steps; images counts the stream's images (replay's memory half aside)."""
    seen = [0]

    def counted():
        for b in itertools.islice(batches, steps):
            seen[0] += len(b.y)
            yield b

    sync()
    start = time.perf_counter()
    fit_epoch(method, counted())
    sync()
    return time.perf_counter() - start, seen[0]


def kernel_share(method, batches, steps: int, sync) -> float:
    """Sum of kernel times over wall time for `steps` steps, from the profiler's CUDA activity."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        wall, _ = timed(method, batches, steps, sync)
    # device events only, as the profiler's own "Self CUDA time total" counts them
    device = [e for e in prof.key_averages() if e.device_type == DeviceType.CUDA and not e.is_user_annotation]
    return sum(e.self_device_time_total for e in device) / 1e6 / wall


def profile_row(setup: Setup, name: str, family: str, amp: str, device: torch.device, seconds: float,
                warmup: int) -> dict:
    """One method on one model: images/s over >= `seconds` of steps, busy share, peak memory."""
    cuda = device.type == "cuda"
    sync = (lambda: torch.cuda.synchronize(device)) if cuda else (lambda: None)
    row = {"model": setup.model, "px": setup.size, "batch": setup.batch, "method": name, "family": family,
           "amp": amp}
    os.environ["BENCHMARK_AMP"] = amp
    try:
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        data = synthetic(setup, device)
        method, generator = build(setup, name, family, data, device)
        batches = stream(data, family, setup.batch, generator)
        timed(method, batches, warmup, sync)  # allocator, cuDNN's choices, the first-call costs
        probe_s, _ = timed(method, batches, warmup, sync)
        steps = max(warmup, math.ceil(seconds / max(probe_s / warmup, 1e-6)))
        sampler = Sampler(device) if cuda else None
        if sampler:
            sampler.start()
        try:
            wall, images = timed(method, batches, steps, sync)
        finally:
            if sampler:
                sampler.stop.set()
                sampler.join()
        row.update(steps=steps, images_per_s=round(images / wall, 1), step_ms=round(1e3 * wall / steps, 2))
        row["busy_nvml"] = round(float(np.mean(sampler.samples)) / 100, 3) if sampler and sampler.samples else None
        # about one second under the profiler: its overhead stays out of the timed pass above
        row["busy_kernel"] = round(kernel_share(method, batches, max(2, round(steps / wall)), sync),
                                   3) if cuda else None
        row["peak_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if cuda else None
        row["resident_gib"] = round(data.x.numel() * 4 / 2**30, 2)
        row["_method"] = method  # the scorer sweep reuses the trained OE model; dropped before the JSON
    except Exception as exc:  # out of memory, a diverged loss (TrainingFailed), a method's fault: say so, go on
        row["error"] = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:160]}"
    finally:
        os.environ["BENCHMARK_AMP"] = "off"
    return row


def scorer_sweep(method, setup: Setup, device: torch.device, n_train: int, n_eval: int) -> list[dict]:
    """Every registered scorer's sweep as the OOD protocol runs it (tune_and_score): fitted on `n_train`
    training features, tuned on validation vs one tuning set, scoring test and one OOD set (`n_eval` each)."""
    cuda = device.type == "cuda"
    sync = (lambda: torch.cuda.synchronize(device)) if cuda else (lambda: None)
    g = torch.Generator(device=device).manual_seed(1)
    sizes = {"train": n_train, "val": n_eval, "test": n_eval, "tune:noise": n_eval, "ood:noise": n_eval}
    inputs = {k: torch.rand(n, 3, setup.size, setup.size, device=device, generator=g) for k, n in sizes.items()}
    train_y = torch.randint(0, setup.classes, (n_train,), device=device, generator=g)
    sync()
    start = time.perf_counter()
    outs = {k: predict(method, x) for k, x in inputs.items()}
    sync()
    rows = [{"scorer": "(forward passes)", "seconds": round(time.perf_counter() - start, 3), "settings": 1}]
    probe = Probe(model=method.model, method="outlier_exposure", source="methods/outlier_exposure.py")
    for name in SCORERS.names():
        cls = SCORERS.get(name)
        cls.check(probe, outs["train"])
        start = time.perf_counter()
        tune_and_score(cls, probe, outs, inputs, train_y, ["tune:noise"])
        sync()
        rows.append({"scorer": name, "needs": list(cls.needs), "settings": len(cls.grid()),
                     "seconds": round(time.perf_counter() - start, 3)})
    return rows
