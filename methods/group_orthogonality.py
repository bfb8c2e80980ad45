"""Group orthogonalization regularization (Kurtz et al., 'Group Orthogonalization Regularization For
Vision Models Adaptation and Robustness', arXiv:2306.10001, 2023).

Each hidden layer's filters (rows of W as [out, in * kernel]) are split into G groups of consecutive
filters; within a group the unit-normalized filters are pushed toward an orthonormal set:
  R = sum_layers sum_g || W^_g W^_g^T - I ||_F^2,   W^_g the group's rows over their norms
  L = CE + lam * R
Cheaper than full orthogonality (`orthogonality`): G Gram matrices of (out/G)^2 instead of one of out^2,
and filters in different groups may correlate. The linear head is left free.
"""

import torch
import torch.nn.functional as F

from benchmark.hparams import Choice, HParam, LogUniform
from benchmark.method import Method
from benchmark.penalties import weight_matrices
from benchmark.registry import register_method


def group_penalty(w: torch.Tensor, groups: int) -> torch.Tensor:
    total = w.new_zeros(())
    for part in torch.chunk(F.normalize(w, dim=1), min(groups, w.shape[0]), dim=0):
        gram = part @ part.T
        total = total + (gram - torch.eye(len(part), device=w.device, dtype=w.dtype)).pow(2).sum()
    return total


@register_method("group_orthogonality")
class GroupOrthogonality(Method):
    paper = "Kurtz et al., arXiv:2306.10001, 2023"
    title = "Group Orthogonalization Regularization For Vision Models Adaptation and Robustness"
    authors = "Yoav Kurtz, Noga Bar, Raja Giryes"
    venue = "arXiv:2306.10001"
    year = 2023
    url = "https://arxiv.org/abs/2306.10001"
    hparams = {
        "lam": HParam(1e-3, LogUniform(-5, -1), "weight of the in-group orthogonality penalty"),
        "groups": HParam(4, Choice(4, 2, 8, 16), "filter groups per layer"),
    }
    extra_cost = "G small Gram matrices per layer per step"

    def penalty(self):
        return sum(group_penalty(w, int(self.hp["groups"])) for w in weight_matrices(self.model))

    def loss(self, batch, out):
        return super().loss(batch, out) + self.hp["lam"] * self.penalty()
