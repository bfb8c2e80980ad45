"""RIDG (Chen et al., 'Domain Generalization via Rationale Invariance', ICCV 2023).

The rationale of a sample is the element-wise contribution of each feature to each logit: with the
linear head W [K, D] and features z [D], R = W * z (broadcast) is a K x D matrix whose rows sum to
the logits (bias aside). Samples of one class should decide for the same reasons in every domain, so
each sample's rationale is pulled toward its class's running mean rationale:
  Rbar_c <- (1 - m) * Rbar_c + m * mean_{i: y_i = c} R_i   (no gradient; the first batch sets it)
  L = CE + lambda * sum_c mean_{i: y_i = c, k} ||R_i[k] - Rbar_c[k]||^2
It needs no domain labels. RIDG's DomainBed settings: momentum m 1e-3 in 10^U(-4, -1),
lambda 1e-2 in 10^U(-2, -1).
"""

import torch
import torch.nn.functional as F

from benchmark.families.domain_generalization import domain_means
from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


def rationales(head: torch.nn.Linear, features: torch.Tensor) -> torch.Tensor:
    """[N, K, D]: feature j's contribution to logit k for every sample."""
    return head.weight[None] * features[:, None, :]


@register_method("ridg")
class RIDG(Method):
    paper = "Chen et al., ICCV 2023"
    title = 'Domain Generalization via Rationale Invariance'
    authors = 'Liang Chen, Yong Zhang, Yibing Song, Anton van den Hengel, Lingqiao Liu'
    venue = 'ICCV'
    year = 2023
    url = 'https://arxiv.org/abs/2308.11158'
    families = ("domain_generalization",)
    hparams = {
        "momentum": HParam(1e-3, LogUniform(-4, -1), "weight of the batch in the running class rationale"),
        "lam": HParam(1e-2, LogUniform(-2, -1), "weight of the rationale-invariance term"),
    }
    extra_cost = "a [K, K, D] rationale bank"

    def setup(self):
        k, d = self.ctx.num_classes, self.model.head.in_features
        self.bank = torch.zeros(k, k, d, device=self.ctx.device)
        self.seen = torch.zeros(k, dtype=torch.bool, device=self.ctx.device)

    def loss(self, batch, out):
        head, z = self.model.head, out.features
        with torch.no_grad():
            zbar, classes = domain_means(z.detach(), batch.y)
            means = rationales(head, zbar)  # a class's mean rationale is W * (its mean feature)
            m = torch.where(self.seen[classes], self.hp["momentum"], 1.0)[:, None, None]
            self.bank[classes] = (1 - m) * self.bank[classes] + m * means
            self.seen[classes] = True
        # ||W * z_i - B||^2 summed over features, expanded so no [N, K, D] tensor is built:
        # sum_j z_ij^2 sum_k W_kj^2  -  2 sum_j z_ij sum_k W_kj B_kj  +  ||B||^2
        w = head.weight
        own = z.pow(2) @ w.pow(2).sum(0)
        cross = (z * (w[None] * self.bank).sum(1)[batch.y]).sum(1)
        per_sample = (own - 2 * cross + self.bank.pow(2).sum((1, 2))[batch.y]) / self.ctx.num_classes
        counts = torch.bincount(batch.y, minlength=self.ctx.num_classes)
        penalty = (per_sample / counts[batch.y]).sum()  # sum over classes of the class mean
        return F.cross_entropy(out.logits, batch.y) + self.hp["lam"] * penalty
