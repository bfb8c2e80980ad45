"""Neural-collapse regularization, after Liu et al. ('Inducing Neural Collapse in Deep Long-tailed
Learning', AISTATS 2023): two feature terms that ask for what neural collapse looks like, compact classes
whose means form a simplex equiangular frame.

On the batch's unit-normalized features z^ and the means mu_c of the classes present (C >= 2 of K):
  L_wc = mean_i || z^_i - mu_{y_i} ||^2                                      (within-class variability)
  L_eq = mean_{c != c'} ( cos(mu_c, mu_c') + 1 / (K - 1) )^2                  (equiangular class means)
  L = CE + lam_wc * L_wc + lam_eq * L_eq
Here both terms use the batch's class means (no running means) and every class is weighted alike.
"""

import torch
import torch.nn.functional as F

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


def collapse_terms(z: torch.Tensor, y: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    z = F.normalize(z.flatten(1), dim=1)
    classes, inverse = torch.unique(y, return_inverse=True)
    onehot = F.one_hot(inverse, len(classes)).to(z.dtype)
    means = (onehot.T @ z) / onehot.sum(0)[:, None]
    within = (z - means[inverse]).pow(2).sum(1).mean()
    if len(classes) < 2:
        return within, z.new_zeros(())
    cos = F.normalize(means, dim=1) @ F.normalize(means, dim=1).T
    off = ~torch.eye(len(classes), dtype=torch.bool, device=z.device)
    equiangular = (cos[off] + 1 / (num_classes - 1)).pow(2).mean()
    return within, equiangular


@register_method("neural_collapse")
class NeuralCollapse(Method):
    paper = "Liu et al., AISTATS 2023"
    title = "Inducing Neural Collapse in Deep Long-tailed Learning"
    authors = "Xuantong Liu, Jianfeng Zhang, Tianyang Hu, He Cao, Lujia Pan, Yuan Yao"
    venue = "AISTATS"
    year = 2023
    url = "https://arxiv.org/abs/2302.12453"
    hparams = {
        "lam_wc": HParam(0.1, LogUniform(-3, 0), "weight of the within-class term"),
        "lam_eq": HParam(0.1, LogUniform(-3, 0), "weight of the equiangular term"),
    }
    extra_cost = "class means and a [C, C] cosine matrix of the batch per step"

    def loss(self, batch, out):
        within, equiangular = collapse_terms(out.features, batch.y, self.ctx.num_classes)
        return super().loss(batch, out) + self.hp["lam_wc"] * within + self.hp["lam_eq"] * equiangular
