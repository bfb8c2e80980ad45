"""Local dimensionality regularization, LDReg (Huang et al., 'LDReg: Local Dimensionality Regularized
Self-Supervised Learning', ICLR 2024), here on the supervised penultimate features.

Each sample's local intrinsic dimensionality is estimated from the distances r_1 <= ... <= r_k to its k
nearest neighbours in the batch (the maximum-likelihood estimator):
  LID_i = -( (1/k) sum_j log(r_j / r_k) )^(-1)
and the loss raises its geometric mean (the Fisher-Rao-consistent average), against local collapse:
  L = CE - beta * mean_i log LID_i
k is capped at the batch size minus one; batches of fewer than 3 samples skip the term.
"""

import torch

from benchmark.hparams import Choice, HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


def log_lid(z: torch.Tensor, k: int) -> torch.Tensor:
    """[N] log of the MLE local intrinsic dimensionality of each row of z among the others."""
    z = z.flatten(1)
    d2 = (z[:, None, :] - z[None, :, :]).pow(2).sum(-1)
    d2 = d2 + torch.diag(torch.full((len(z),), float("inf"), device=z.device))  # no self-distance
    r = (d2.topk(k, dim=1, largest=False).values + 1e-12).sqrt()
    mean_log_ratio = torch.log(r / r[:, -1:]).mean(1)
    return -torch.log((-mean_log_ratio).clamp_min(1e-6))


@register_method("ldreg")
class LDReg(Method):
    paper = "Huang et al., ICLR 2024"
    title = "LDReg: Local Dimensionality Regularized Self-Supervised Learning"
    authors = ("Hanxun Huang, Ricardo J. G. B. Campello, Sarah Monazam Erfani, Xingjun Ma, Michael E. Houle, "
               "James Bailey")
    venue = "ICLR"
    year = 2024
    url = "https://arxiv.org/abs/2401.10474"
    hparams = {
        "beta": HParam(0.01, LogUniform(-3, -0.5), "weight of the log-LID term"),
        "k": HParam(16, Choice(16, 8, 32), "neighbours of the LID estimate"),
    }
    extra_cost = "an [N, N] distance matrix of the batch's features per step"

    def loss(self, batch, out):
        ce = super().loss(batch, out)
        n = len(batch.y)
        if n < 3:
            return ce
        return ce - self.hp["beta"] * log_lid(out.features.float(), min(int(self.hp["k"]), n - 1)).mean()
