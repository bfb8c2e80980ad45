"""Minimum hyperspherical energy, MHE (Liu et al., 'Learning towards Minimum Hyperspherical Energy',
NeurIPS 2018).

The neurons of a layer (rows of W, normalized to the unit sphere) repel each other like charges:
  w^_i = w_i / ||w_i||,   E_s = mean_{i != j} f_s(||w^_i - w^_j||),
  f_s(d) = d^(-s) for s > 0,  f_0(d) = log(1 / d)
  L = CE + lam * sum_layers E_s
Diverse directions mean less redundant neurons. Applies to the hidden (body) layers; the linear head is
left free. Pairs per layer grow as out^2 (65k for a 256-wide MLP layer: still cheap).
"""

import torch
import torch.nn.functional as F

from benchmark.hparams import Choice, HParam, LogUniform
from benchmark.method import Method
from benchmark.penalties import weight_matrices
from benchmark.registry import register_method


def energy(w, s: int):
    u = F.normalize(w, dim=1)
    n = len(u)
    if n < 2:
        return w.sum() * 0
    # squared distances from the Gram matrix: cheaper than cdist, and differentiable at every pair
    sq = (2 - 2 * (u @ u.T)).clamp_min(1e-6)
    off = ~torch.eye(n, dtype=torch.bool, device=w.device)
    d2 = sq[off]
    return (-0.5 * torch.log(d2)).mean() if s == 0 else d2.pow(-s / 2).mean()


@register_method("mhe")
class MHE(Method):
    paper = "Liu et al., NeurIPS 2018"
    title = 'Learning towards Minimum Hyperspherical Energy'
    authors = 'Weiyang Liu, Rongmei Lin, Zhen Liu, Lixin Liu, Zhiding Yu, Bo Dai, Le Song'
    venue = 'NeurIPS'
    year = 2018
    url = 'https://arxiv.org/abs/1805.09298'
    hparams = {
        "lam": HParam(0.1, LogUniform(-3, 0), "weight of the hyperspherical energy"),
        "s": HParam(2, Choice(0, 1, 2), "power of the energy (0: logarithmic)"),
    }
    extra_cost = "one Gram matrix per layer per step"

    def penalty(self):
        return sum(energy(w, self.hp["s"]) for w in weight_matrices(self.model))

    def loss(self, batch, out):
        return super().loss(batch, out) + self.hp["lam"] * self.penalty()
