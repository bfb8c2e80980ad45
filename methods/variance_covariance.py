"""VICReg's variance and covariance terms as a supervised feature regularizer (Bardes et al., 'VICReg:
Variance-Invariance-Covariance Regularization for Self-Supervised Learning', ICLR 2022). Not VICReg itself:
that is self-supervised, with an invariance term between two views; here cross-entropy takes its place.

VICReg's two anti-collapse terms, added to supervised cross-entropy on the penultimate features z [N, d]:
  v(Z) = (1/d) sum_j max(0, gamma - sqrt(Var(z_j) + 1e-4))          (each feature keeps spread, gamma = 1)
  c(Z) = (1/d) sum_{j != k} C(Z)_jk^2,  C the batch covariance        (features decorrelate)
  L = CE + mu * v(Z) + nu * c(Z)
The invariance term needs two views and is left out. Batches of one sample skip the penalty.
(Formerly `vicreg`, a name that promised the whole method.)
"""

import torch
import torch.nn.functional as F

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


def variance_term(z, gamma: float = 1.0):
    return F.relu(gamma - torch.sqrt(z.var(dim=0) + 1e-4)).mean()


def covariance_term(z):
    n, d = z.shape
    z = z - z.mean(0)
    cov = z.T @ z / (n - 1)
    return (cov.pow(2).sum() - cov.diagonal().pow(2).sum()) / d


@register_method("variance_covariance")
class VarianceCovariance(Method):
    paper = "Bardes et al., ICLR 2022"
    title = 'VICReg: Variance-Invariance-Covariance Regularization for Self-Supervised Learning'
    authors = 'Adrien Bardes, Jean Ponce, Yann LeCun'
    venue = 'ICLR'
    year = 2022
    url = 'https://arxiv.org/abs/2105.04906'
    hparams = {
        "mu": HParam(1.0, LogUniform(-2, 1), "weight of the variance term"),
        "nu": HParam(0.04, LogUniform(-3, 0), "weight of the covariance term"),
    }
    extra_cost = "one [d, d] covariance per step"

    def loss(self, batch, out):
        ce = super().loss(batch, out)
        z = out.features.flatten(1).float()
        if len(z) < 2:
            return ce
        return ce + self.hp["mu"] * variance_term(z) + self.hp["nu"] * covariance_term(z)
