"""Hyperparameters: each a default plus a seeded random-search distribution.

Draw 0 is the defaults. Draw k > 0 samples every hyperparameter from its own
generator, seeded by a hash of (k, hyperparameter name), so adding a
hyperparameter to a method never changes the values drawn for the others.

Every method, ERM included, is also searched over the shared training knobs (TRAINING_KNOBS): drawn the
same way, so draw k gives every method of a task the same learning rate and weight decay, and a tuned
method is compared with an ERM tuned over the same knobs.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np


def _rng(draw: int, name: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{draw}:{name}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


@dataclass(frozen=True)
class LogUniform:
    """10 ** U(low_exp, high_exp), DomainBed's way of writing learning rates and penalty weights."""

    low_exp: float
    high_exp: float

    def sample(self, rng: np.random.Generator) -> float:
        return float(10 ** rng.uniform(self.low_exp, self.high_exp))

    def contains(self, value: Any) -> bool:
        return isinstance(value, int | float) and value > 0 and (
            self.low_exp - 1e-9 <= math.log10(value) <= self.high_exp + 1e-9
        )

    def __str__(self) -> str:
        return f"10^U({self.low_exp:g}, {self.high_exp:g})"


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def contains(self, value: Any) -> bool:
        return isinstance(value, int | float) and self.low <= value <= self.high

    def __str__(self) -> str:
        return f"U({self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class IntUniform:
    """An integer drawn uniformly from [low, high], both ends included."""

    low: int
    high: int

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high + 1))

    def contains(self, value: Any) -> bool:
        return isinstance(value, int) and self.low <= value <= self.high

    def __str__(self) -> str:
        return f"IntU({self.low}, {self.high})"


@dataclass(frozen=True)
class Choice:
    options: tuple

    def __init__(self, *options: Any):
        object.__setattr__(self, "options", tuple(options))

    def sample(self, rng: np.random.Generator) -> Any:
        return self.options[int(rng.integers(len(self.options)))]

    def contains(self, value: Any) -> bool:
        return value in self.options

    def __str__(self) -> str:
        return "one of " + ", ".join(map(str, self.options))


Distribution = LogUniform | Uniform | IntUniform | Choice


@dataclass(frozen=True)
class HParam:
    default: Any
    space: Distribution
    doc: str = ""


def draw(hparams: dict[str, HParam], k: int) -> dict[str, Any]:
    """The k-th draw of a method's search space (k = 0: the defaults)."""
    if k == 0:
        return {name: hp.default for name, hp in hparams.items()}
    return {name: hp.space.sample(_rng(k, name)) for name, hp in hparams.items()}


TRAINING_KNOBS: dict[str, HParam] = {
    # DomainBed searches the learning rate over 10^U(-5, -3.5) around its 5e-5 default: a factor of ~3 each
    # way. Here the factor multiplies the task's own rate, so each task keeps its calibrated scale.
    "lr_scale": HParam(1.0, LogUniform(-0.5, 0.5), "factor on the task's learning rate"),
    "weight_decay": HParam(None, Choice(0.0, 1e-5, 1e-4, 1e-3), "the optimizer's weight decay (default: the task's)"),
}


def training_knobs(k: int, train) -> dict[str, Any]:
    """The k-th draw of the shared training knobs for a task's `train` section (draw 0: its own settings)."""
    knobs = draw(TRAINING_KNOBS, k)
    if knobs["weight_decay"] is None:
        knobs["weight_decay"] = train.weight_decay
    return knobs


def with_knobs(train, knobs: dict[str, Any]):
    """A task's `train` section with the knobs applied: the learning rate scaled, the weight decay set."""
    return train.model_copy(update={"lr": train.lr * knobs["lr_scale"], "weight_decay": knobs["weight_decay"]})
