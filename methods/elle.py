"""Efficient local linearity enforcement, ELLE (Abad Rocamora et al., 'Efficient local linearity
regularization to overcome catastrophic overfitting', ICLR 2024).

A locally linear loss satisfies l((1 - a) x_a + a x_b) = (1 - a) l(x_a) + a l(x_b) on every segment of
a small neighbourhood. ELLE penalizes the violation on one random segment per sample, with no double
backpropagation:
  x_a, x_b ~ U(x + [-eps, eps]^d),  a ~ U(0, 1),  x_c = (1 - a) x_a + a x_b
  E_lin = mean_i (l(x_c) - (1 - a) l(x_a) - a l(x_b))^2,   L = CE(x) + lam * E_lin
l is the per-sample cross-entropy. The paper pairs it with single-step adversarial training; here it
regularizes clean training, as a smoothness prior in input space.
"""

import torch
import torch.nn.functional as F

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method, masked
from benchmark.penalties import uniform
from benchmark.registry import register_method


@register_method("elle")
class ELLE(Method):
    paper = "Abad Rocamora et al., ICLR 2024"
    title = 'Efficient Local Linearity Regularization to Overcome Catastrophic Overfitting'
    authors = 'Elias Abad Rocamora, Fanghui Liu, Grigorios G. Chrysos, Pablo M. Olmos, Volkan Cevher'
    venue = 'ICLR'
    year = 2024
    url = 'https://arxiv.org/abs/2401.11618'
    hparams = {
        "lam": HParam(100.0, LogUniform(0, 4), "weight of the linearity error"),
        "eps": HParam(0.1, LogUniform(-2, -0.5), "half-width of the input box the segment lies in"),
    }
    extra_cost = "+3 forward/backward passes of the batch per step (one batched pass of 3N inputs)"

    def linearity_error(self, batch):
        x, n, eps = batch.x, len(batch.x), self.hp["eps"]
        x_a, x_b = (x + eps * (2 * uniform(x.shape, self.generator, x.device) - 1) for _ in range(2))
        a = uniform((n,) + (1,) * (x.dim() - 1), self.generator, x.device)
        x_c = (1 - a) * x_a + a * x_b
        # one batched pass over the three points; CE per sample
        logits = masked(self.model(torch.cat([x_a, x_b, x_c])), batch.logit_mask).logits
        l_a, l_b, l_c = F.cross_entropy(logits, batch.y.repeat(3), reduction="none").split(n)
        a = a.flatten()
        return (l_c - (1 - a) * l_a - a * l_b).pow(2).mean()

    def loss(self, batch, out):
        return super().loss(batch, out) + self.hp["lam"] * self.linearity_error(batch)
