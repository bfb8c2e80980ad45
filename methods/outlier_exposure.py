"""Outlier Exposure (Hendrycks et al., 'Deep Anomaly Detection with Outlier Exposure', ICLR 2019).

Besides the labelled batch, each step sees a batch of auxiliary outliers x~ and pushes their
predictions towards the uniform distribution:
  L = CE(f(x), y) + lambda * mean_x~ [ -(1/K) sum_k log softmax(f(x~))_k ]
    = CE(f(x), y) + lambda * mean_x~ [ logsumexp_k f_k(x~) - (1/K) sum_k f_k(x~) ]
lambda = 0.5 and twice as many outliers as inputs per step, as in the paper.

The outliers are the step's own training inputs with their pixels shuffled (each copy its own random
permutation of positions, shared across channels; a 1-d signal's positions likewise): no structure of
the classes survives, and each outlier keeps its input's exact values, so its norm and range match the
in-distribution inputs and no scorer can tell them apart by intensity. Hendrycks et al. require the
auxiliary set to be disjoint from the test OOD sets (their 80 Million Tiny Images against SVHN,
Textures, Places...), so that OE is judged on OOD kinds it never saw; the benchmark's OOD test sets are
photo patches, uniform and blob noise, held-out classes and corrupted inputs, and none of them is a
pixel shuffle. (The tasks' `ood.auxiliary` photo patches were of the far-OOD sets' own kind.) The
permutations come from a generator of their own so the labelled batches match ERM's.
"""

import torch

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method

OUTLIERS_PER_INPUT = 2


def shuffled_pixels(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each row of x [N, C, *positions] (or [N, positions]) with its positions in a random order of its own,
    the same order for all of its channels."""
    flat = x.reshape(len(x), 1, -1) if x.dim() == 2 else x.flatten(2)
    order = torch.rand(len(x), flat.shape[2], generator=generator).argsort(1).to(x.device)
    return flat.gather(2, order[:, None, :].expand_as(flat)).reshape(x.shape)


def uniform_cross_entropy(logits):
    """Mean over rows of the cross-entropy between the uniform distribution and softmax(logits)."""
    return (logits.logsumexp(1) - logits.mean(1)).mean()


@register_method("outlier_exposure")
class OutlierExposure(Method):
    families = ("ood",)
    paper = "Hendrycks et al., ICLR 2019"
    title = 'Deep Anomaly Detection with Outlier Exposure'
    authors = 'Dan Hendrycks, Mantas Mazeika, Thomas Dietterich'
    venue = 'ICLR'
    year = 2019
    url = 'https://arxiv.org/abs/1812.04606'
    hparams = {"lam": HParam(0.5, LogUniform(-1.5, 0.5), "weight of the uniform-prediction term on outliers")}
    extra_cost = "a forward/backward pass over 2x the batch size of pixel-shuffled inputs per step"

    def setup(self):
        self.outlier_generator = torch.Generator().manual_seed(self.ctx.generator.initial_seed() + 1)

    def outliers(self, x: torch.Tensor) -> torch.Tensor:
        return shuffled_pixels(x.repeat(OUTLIERS_PER_INPUT, *[1] * (x.dim() - 1)), self.outlier_generator)

    def loss(self, batch, out):
        outlier_logits = self.model(self.outliers(batch.x)).logits
        return super().loss(batch, out) + self.hp["lam"] * uniform_cross_entropy(outlier_logits)
