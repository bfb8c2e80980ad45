"""Soft orthogonality penalty (Bansal et al., 'Can We Gain More from Orthogonality Regularizations in
Training Deep CNNs?', NeurIPS 2018).

Each weight matrix W [out, in] (a convolution kernel reshaped to [out, in * k]) is pulled toward
orthonormal rows or columns, whichever the shape allows:
  R = sum_layers ||G - I||_F^2,   G = W W^T if out <= in else W^T W
  L = CE + lam * R
Applies to the hidden (body) layers; the linear head is left free, so the logit scale is set by the data.
"""

import torch

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.penalties import weight_matrices
from benchmark.registry import register_method


def orthogonality(w):
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    return (gram - torch.eye(len(gram), device=w.device)).pow(2).sum()


@register_method("orthogonality")
class Orthogonality(Method):
    paper = "Bansal et al., NeurIPS 2018"
    title = 'Can We Gain More from Orthogonality Regularizations in Training Deep CNNs?'
    authors = 'Nitin Bansal, Xiaohan Chen, Zhangyang Wang'
    venue = 'NeurIPS'
    year = 2018
    url = 'https://arxiv.org/abs/1810.09102'
    hparams = {"lam": HParam(1e-3, LogUniform(-5, -1), "weight of the orthogonality penalty")}
    extra_cost = "one Gram matrix per layer per step"

    def penalty(self):
        return sum(orthogonality(w) for w in weight_matrices(self.model))

    def loss(self, batch, out):
        return super().loss(batch, out) + self.hp["lam"] * self.penalty()
