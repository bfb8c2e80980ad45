"""Pieces that several regularizers in `methods/` share.

- random draws on the run's own generator (a CPU generator; the draw then moves to the device),
- the input-mixing base class (Mixup, CutMix), trained by cross-entropy on the mixed label distributions,
- random boxes over the spatial axes of 1-D signals [N, C, L] and 2-D images [N, C, H, W] (CutMix, Cutout),
- the weight matrices a weight penalty acts on (orthogonality, Norm Loss, spectral, MHE),
- weight perturbations for adversarial-weight methods (SAM, AMP).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmark.method import Batch, Method, Output


# -- randomness ------------------------------------------------------------------------------------------
def uniform(shape, generator: torch.Generator, device) -> Tensor:
    return torch.rand(shape, generator=generator).to(device)


def normal(shape, generator: torch.Generator, device) -> Tensor:
    return torch.randn(shape, generator=generator).to(device)


def numpy_rng(generator: torch.Generator) -> np.random.Generator:
    """A numpy generator seeded from the torch one: torch has no seeded Beta sampler."""
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))


# -- input mixing ------------------------------------------------------------------------------------------
@dataclass
class Mixed(Output):
    """An output of mixed inputs, carrying the equally mixed label distributions."""

    targets: Tensor | None = None


class InputMixing(Method):
    """Base of methods that train on mixed pairs of inputs: subclasses define `mix`."""

    def setup(self):
        self.rng = numpy_rng(self.generator)

    def mix(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """Mixed inputs and their target distributions [N, num_classes]."""
        raise NotImplementedError

    def forward(self, batch):
        x, targets = self.mix(batch)
        out = super().forward(replace(batch, x=x))  # applies the task-incremental logit mask
        return Mixed(logits=out.logits, features=out.features, targets=targets)

    def loss(self, batch, out):
        # probability targets: the batch mean of -sum_k q_k log p_k
        return F.cross_entropy(out.logits, out.targets)

    def partners(self, batch: Batch) -> Tensor:
        return torch.randperm(len(batch.y), generator=self.generator).to(batch.y.device)

    def onehot(self, y: Tensor) -> Tensor:
        return F.one_hot(y, self.ctx.num_classes).float()


# -- boxes over spatial axes -------------------------------------------------------------------------------
def boxes(n: int, spatial: tuple[int, ...], side: float, generator: torch.Generator, device) -> Tensor:
    """`n` boxes as a bool mask [n, 1, *spatial]: each side `side` x the axis length, centre uniform over
    the axis, clipped at the borders (so a box near an edge covers less). 1-D inputs get segments."""
    mask = torch.ones((n,) + (1,) * len(spatial), dtype=torch.bool)
    for axis, size in enumerate(spatial):
        length = int(round(side * size))
        centre = torch.randint(0, size, (n,), generator=generator)
        low = (centre - length // 2).clamp(0, size)
        high = (centre - length // 2 + length).clamp(0, size)
        pos = torch.arange(size)
        inside = (pos >= low[:, None]) & (pos < high[:, None])  # [n, size]
        shape = [n] + [1] * len(spatial)
        shape[1 + axis] = size
        mask = mask & inside.view(shape)
    return mask.unsqueeze(1).to(device)


# -- weight matrices ---------------------------------------------------------------------------------------
WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def weight_matrices(model: nn.Module, include_head: bool = False) -> list[Tensor]:
    """Weights of every Linear/Conv layer as [out, in * kernel] matrices; the linear head only if asked."""
    head = getattr(model, "head", None)
    return [m.weight.flatten(1) for m in model.modules()
            if isinstance(m, WEIGHTED) and (include_head or m is not head)]


# -- weight perturbations ----------------------------------------------------------------------------------
def trainable(model: nn.Module) -> list[Tensor]:
    return [p for p in model.parameters() if p.requires_grad]


def gradients(params: Iterable[Tensor]) -> list[Tensor]:
    return [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in params]


@contextmanager
def shifted(params: list[Tensor], deltas: list[Tensor]) -> Iterator[None]:
    """Weights moved by `deltas` inside the block, restored bit-exactly after (a copy, not a subtraction)."""
    saved = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p, d in zip(params, deltas, strict=True):
            p.add_(d)
    try:
        yield
    finally:
        with torch.no_grad():
            for p, s in zip(params, saved, strict=True):
                p.copy_(s)
