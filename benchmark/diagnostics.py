"""Diagnostics of the trained model, measured once per run after the last epoch.

Recorded as metric rows with selection "last"; columns to read beside the headline, never ranked
(benchmark.metrics.DIAGNOSTICS). All three read training data only: one fixed subset of SAMPLES training
inputs drawn with the run's seed (its own generator: the run's streams are not touched), of which the
first HESSIAN_SAMPLES make the Hessian's batch. Together they cost about 5% of an ERM run (docs/metrics.md).

  hessian_top_eig        top eigenvalue (largest in magnitude) of the Hessian of the training loss -- plain
                         cross-entropy of the model on the Hessian batch's training labels, model in eval mode
                         -- with respect to all trainable weights: power iteration on Hessian-vector products
                         (autograd double backward), at most ITERATIONS steps, stopping once the estimate moves
                         by less than TOLERANCE (relative). The sharpness of Keskar et al. 2017.
  feature_effective_rank effective rank of the penultimate features (the model's `features`) of the subset
                         (Roy & Vetterli 2007): exp of the Shannon entropy of the singular values normalised
                         to sum one; features uncentred. 1 for a rank-one matrix, k for k equal singular values.
  spectral_norm_product  product over every Linear and Conv layer, head included, of the largest singular value
                         of its weight reshaped to [out, in * kernel] (torch.linalg.matrix_norm(ord=2)). For a
                         convolution that is its kernel matrix's norm, not the operator norm of the convolution
                         over an image; normalisation layers are left out. The Lipschitz-style bound of
                         Bartlett et al. 2017.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import entropy
from torch import Tensor, nn

from benchmark.penalties import weight_matrices
from benchmark.records import Metric

SAMPLES = 256
HESSIAN_SAMPLES = 64
ITERATIONS = 20
TOLERANCE = 1e-3
SELECTION = "last"


def hessian_top_eig(model: nn.Module, x: Tensor, y: Tensor, generator: torch.Generator,
                    logit_mask: Tensor | None = None) -> float:
    """Top Hessian eigenvalue of the mean cross-entropy of `model` on (x, y) over its trainable weights."""
    params = [p for p in model.parameters() if p.requires_grad]

    def loss() -> Tensor:
        logits = model(x).logits.float()
        if logit_mask is not None:
            logits = logits.masked_fill(~logit_mask, -1e4)
        return F.cross_entropy(logits, y)

    return top_eigenvalue(loss, params, generator)


def top_eigenvalue(loss: Callable[[], Tensor], params: list[Tensor], generator: torch.Generator,
                   iterations: int = ITERATIONS, tolerance: float = TOLERANCE) -> float:
    """Power iteration on v -> H v, H the Hessian of `loss()` in `params`: the Rayleigh quotient v.Hv of the
    last unit vector. Converges to the eigenvalue largest in magnitude."""
    with torch.enable_grad():
        grads = torch.autograd.grad(loss(), params, create_graph=True, allow_unused=True, materialize_grads=True)
        v = _unit([torch.randn(p.shape, generator=generator).to(p.device) for p in params])
        estimate = 0.0
        for _ in range(iterations):
            # H v = d(g . v)/dw; gradients with no path back to the weights (unused ones) add no curvature
            directional = sum((g * u).sum() for g, u in zip(grads, v, strict=True) if g.requires_grad)
            if not torch.is_tensor(directional) or not directional.requires_grad:
                return 0.0
            hv = torch.autograd.grad(directional, params, retain_graph=True, allow_unused=True,
                                     materialize_grads=True)
            previous, estimate = estimate, float(sum((h * u).sum() for h, u in zip(hv, v, strict=True)))
            if not np.isfinite(estimate) or float(torch.nn.utils.get_total_norm(hv)) == 0.0:
                break
            v = _unit(hv)
            if abs(estimate - previous) <= tolerance * abs(estimate):
                break
    return estimate


def _unit(vectors: list[Tensor]) -> list[Tensor]:
    norm = torch.nn.utils.get_total_norm(vectors)
    return [t.detach() / norm for t in vectors]


def effective_rank(features: Tensor) -> float:
    """exp(H(sigma / sum sigma)) over the singular values sigma of `features` [N, D]; 0 for a zero matrix."""
    sigma = torch.linalg.svdvals(features.detach().double().flatten(1)).cpu().numpy()
    if not np.isfinite(sigma).all():
        return float("nan")
    return float(np.exp(entropy(sigma))) if sigma.sum() > 0 else 0.0


def spectral_norm_product(model: nn.Module) -> float:
    norms = [torch.linalg.matrix_norm(w.detach().double(), ord=2) for w in weight_matrices(model, True)]
    return float(torch.stack(norms).prod()) if norms else float("nan")


def measure(model: nn.Module, x: Tensor, y: Tensor, seed: int, logit_mask: Tensor | None = None) -> list[Metric]:
    """The three diagnostics of a trained model on training inputs `x` with labels `y` (and, for
    task-incremental heads, one logit-mask row per sample), as metric rows."""
    generator = torch.Generator().manual_seed(seed)
    keep = torch.randperm(len(y), generator=generator)[:SAMPLES].to(y.device)
    mask = logit_mask[keep] if logit_mask is not None else None
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            features = model(x[keep]).features
        values = {
            "hessian_top_eig": hessian_top_eig(model, x[keep[:HESSIAN_SAMPLES]], y[keep[:HESSIAN_SAMPLES]],
                                               generator, None if mask is None else mask[:HESSIAN_SAMPLES]),
            "feature_effective_rank": effective_rank(features),
            "spectral_norm_product": spectral_norm_product(model),
        }
    finally:
        model.train(was_training)
    return [Metric(name, value, selection=SELECTION) for name, value in values.items()]
