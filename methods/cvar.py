"""CVaR risk: the mean of the largest per-sample losses (the risk-sensitive baseline of Mehta et al.,
'Distributionally Robust Optimization with Bias and Variance Reduction', ICLR 2024; CVaR: Rockafellar &
Uryasev, 2000).

The conditional value-at-risk at level alpha of the batch's losses l_1..l_N, a DRO objective that needs no
domain labels: the worst alpha-share of the batch, whatever domain it comes from,
  L = (1 / m) sum_{i in top-m} l_i,    m = ceil(alpha * N)
alpha = 1 is ERM. Gradients reach only the m kept samples. (Prospect, the paper's algorithm with bias and
variance reduction, needs full-dataset loss tables; this is the minibatch CVaR it improves on.)
"""

import math

import torch.nn.functional as F

from benchmark.hparams import HParam, Uniform
from benchmark.method import Method
from benchmark.registry import register_method


def top_share(losses, alpha: float):
    m = max(1, math.ceil(alpha * len(losses)))
    return losses.topk(m).values


@register_method("cvar")
class CVaR(Method):
    paper = "Mehta et al., ICLR 2024"
    title = "Distributionally Robust Optimization with Bias and Variance Reduction"
    authors = "Ronak Mehta, Vincent Roulet, Krishna Pillutla, Zaid Harchaoui"
    venue = "ICLR"
    year = 2024
    url = "https://arxiv.org/abs/2310.13863"
    families = ("domain_generalization",)
    hparams = {"alpha": HParam(0.5, Uniform(0.1, 0.9), "share of the batch, the largest losses, that is trained")}
    extra_cost = "none (a top-k per step)"

    def loss(self, batch, out):
        return top_share(F.cross_entropy(out.logits, batch.y, reduction="none"), self.hp["alpha"]).mean()
