"""Small models for the embedded tasks. Every model is a body (features) and a linear head (logits).

ResNets for real data live in `benchmark/models_resnet.py` (the `real` extra).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from benchmark.errors import BenchmarkError
from benchmark.method import Output


class Net(nn.Module):
    def __init__(self, body: nn.Module, feature_dim: int, num_classes: int):
        super().__init__()
        self.body = body
        self.head = nn.Linear(feature_dim, num_classes)
        self.feature_dim = feature_dim

    def forward(self, x: Tensor) -> Output:
        features = self.body(x)
        return Output(logits=self.head(features), features=features)


NORMS = ("none", "batch", "layer")
"""Normalization after each hidden layer, before its nonlinearity: `model.options.norm` in a task, or a
method's model_options(). "none" builds exactly the unnormalized model (same modules, same initialization)."""


def norm_layer(norm: str, channels: int, dims: int) -> list[nn.Module]:
    if norm == "none":
        return []
    if norm == "batch":
        return [(nn.BatchNorm1d if dims <= 1 else nn.BatchNorm2d)(channels)]
    if norm == "layer":  # over all channels (and positions) of a sample; GroupNorm(1, C) for feature maps
        return [nn.LayerNorm(channels) if dims == 0 else nn.GroupNorm(1, channels)]
    raise BenchmarkError(f"model option norm = {norm!r}: expected one of {', '.join(NORMS)}")


def mlp(input_shape, num_classes, width: int = 256, depth: int = 2, dropout: float = 0.0,
        norm: str = "none") -> Net:
    layers: list[nn.Module] = [nn.Flatten()]
    size = math.prod(input_shape)
    for _ in range(depth):
        layers += [nn.Linear(size, width), *norm_layer(norm, width, 0), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        size = width
    return Net(nn.Sequential(*layers), size, num_classes)


def _conv_body(conv, pool, dims: int, channels: int, width: int, dropout: float,
               norm: str = "none") -> tuple[nn.Module, int]:
    drop = nn.Dropout(dropout) if dropout else nn.Identity()
    body = nn.Sequential(
        conv(channels, width, 3, padding=1), *norm_layer(norm, width, dims), nn.ReLU(), drop,
        conv(width, 2 * width, 3, padding=1), *norm_layer(norm, 2 * width, dims), nn.ReLU(), pool(2), drop,
        conv(2 * width, 2 * width, 3, padding=1), *norm_layer(norm, 2 * width, dims), nn.ReLU(),
        nn.AdaptiveAvgPool1d(1) if dims == 1 else nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    return body, 2 * width


def cnn2d(input_shape, num_classes, width: int = 32, dropout: float = 0.0, norm: str = "none") -> Net:
    body, dim = _conv_body(nn.Conv2d, nn.MaxPool2d, 2, input_shape[0], width, dropout, norm)
    return Net(body, dim, num_classes)


def cnn1d(input_shape, num_classes, width: int = 32, dropout: float = 0.0, norm: str = "none") -> Net:
    body, dim = _conv_body(nn.Conv1d, nn.MaxPool1d, 1, input_shape[0], width, dropout, norm)
    return Net(body, dim, num_classes)


MODELS: dict[str, Callable[..., Net]] = {"mlp": mlp, "cnn2d": cnn2d, "cnn1d": cnn1d}


def _real(name: str) -> Callable[..., Net]:
    """ResNets for real data, imported on first use (benchmark/models_resnet.py)."""

    def build(input_shape, num_classes, **options) -> Net:
        from benchmark import models_resnet

        return getattr(models_resnet, name)(input_shape, num_classes, **options)

    return build


MODELS.update(resnet18=_real("resnet18"), resnet50=_real("resnet50"))


def build_model(name: str, input_shape: tuple[int, ...], num_classes: int, **options) -> Net:
    if name not in MODELS:
        raise BenchmarkError(f"unknown model '{name}'; known models: {', '.join(sorted(MODELS))}")
    try:
        return MODELS[name](tuple(input_shape), num_classes, **options)
    except TypeError as exc:
        raise BenchmarkError(f"model '{name}': bad options {options}: {exc}") from exc


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global generator (model init) and return a generator for data order and methods."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
