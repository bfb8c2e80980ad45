"""Gradient-norm penalty (Zhao et al., 'Penalizing Gradient Norm for Efficiently Improving
Generalization in Deep Learning', ICML 2022).

Flat minima have small loss gradients around them; the penalty asks for a small gradient at w:
  L(w) + lam * ||grad_w L(w)||_2
This is the paper's objective, not its algorithm: the penalty's gradient is computed exactly by double
backpropagation, where the paper approximates it by a finite difference of two gradients (that scheme,
for the squared norm, is `fd_grad_reg`). The norm is over all trainable parameters.
"""

import torch

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.penalties import trainable
from benchmark.registry import register_method


@register_method("grad_norm")
class GradNorm(Method):
    paper = "Zhao et al., ICML 2022 (objective; exact double backprop)"
    title = 'Penalizing Gradient Norm for Efficiently Improving Generalization in Deep Learning'
    authors = 'Yang Zhao, Hao Zhang, Xiuyuan Hu'
    venue = 'ICML'
    year = 2022
    url = 'https://arxiv.org/abs/2202.03599'
    hparams = {"lam": HParam(0.1, LogUniform(-3, 0), "weight of the gradient norm")}
    extra_cost = "double backpropagation: about 2-3x an ERM step"

    def penalty(self, loss):
        grads = torch.autograd.grad(loss, trainable(self.model), create_graph=True, allow_unused=True)
        # 1e-12 keeps sqrt differentiable where the gradient vanishes
        return torch.sqrt(sum(g.pow(2).sum() for g in grads if g is not None) + 1e-12)

    def loss(self, batch, out):
        ce = super().loss(batch, out)
        return ce + self.hp["lam"] * self.penalty(ce)
