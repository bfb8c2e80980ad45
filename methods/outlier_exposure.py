"""Outlier Exposure (Hendrycks et al., 'Deep Anomaly Detection with Outlier Exposure', ICLR 2019).

Besides the labelled batch, each step sees a batch of auxiliary outliers x~ and pushes their
predictions towards the uniform distribution:
  L = CE(f(x), y) + lambda * mean_x~ [ -(1/K) sum_k log softmax(f(x~))_k ]
    = CE(f(x), y) + lambda * mean_x~ [ logsumexp_k f_k(x~) - (1/K) sum_k f_k(x~) ]
lambda = 0.5 and twice as many outliers as inputs per step, as in the paper. The outliers are the
task's `ood.auxiliary` set, disjoint from its test OOD sets, handed over as ctx.extra["outliers"];
they are drawn with a generator of their own so the labelled batches match ERM's.
"""

import torch

from benchmark.errors import BenchmarkError
from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method

OUTLIERS_PER_INPUT = 2


def uniform_cross_entropy(logits):
    """Mean over rows of the cross-entropy between the uniform distribution and softmax(logits)."""
    return (logits.logsumexp(1) - logits.mean(1)).mean()


@register_method("outlier_exposure")
class OutlierExposure(Method):
    families = ("ood",)
    needs_outliers = True
    paper = "Hendrycks et al., ICLR 2019"
    title = 'Deep Anomaly Detection with Outlier Exposure'
    authors = 'Dan Hendrycks, Mantas Mazeika, Thomas Dietterich'
    venue = 'ICLR'
    year = 2019
    url = 'https://arxiv.org/abs/1812.04606'
    uses = ('extra_data',)
    hparams = {"lam": HParam(0.5, LogUniform(-1.5, 0.5), "weight of the uniform-prediction term on outliers")}
    extra_cost = "a forward/backward pass over 2x the batch size of auxiliary outliers per step"

    def setup(self):
        self.outliers = self.ctx.extra.get("outliers")
        if self.outliers is None or len(self.outliers) == 0:
            raise BenchmarkError("outlier_exposure needs auxiliary outliers: give the task an ood.auxiliary "
                                 "set")
        self.outlier_generator = torch.Generator().manual_seed(self.ctx.generator.initial_seed() + 1)

    def loss(self, batch, out):
        pick = torch.randint(len(self.outliers), (OUTLIERS_PER_INPUT * len(batch.y),),
                             generator=self.outlier_generator).to(self.outliers.device)
        outlier_logits = self.model(self.outliers[pick]).logits
        return super().loss(batch, out) + self.hp["lam"] * uniform_cross_entropy(outlier_logits)
