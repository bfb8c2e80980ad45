"""Spectral norm regularization (Yoshida & Miyato, 'Spectral Norm Regularization for Improving the
Generalizability of Deep Learning', arXiv:1705.10941, 2017): the squared largest singular value of every
layer is penalized, as weight decay penalizes the squared Frobenius norm.

  sigma(W) by power iteration with a persistent vector per layer (one iteration per step, no gradient):
    v = W^T u / ||W^T u||,  u = W v / ||W v||,  sigma = u^T W v   (differentiable in W)
  L = CE + lam / 2 * sum_layers sigma(W)^2          (gradient lam * sigma * u v^T, the paper's update)
Convolution kernels are reshaped to [out, in * k], the paper's proxy for the operator norm. Applies to the
hidden (body) layers; the linear head is left free. (Formerly `spectral_norm_penalty`, which pulled sigma
toward 1, credited this paper for it and nearly duplicated `spectral_reg`.)
"""

import torch
import torch.nn.functional as F

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.penalties import normal, weight_matrices
from benchmark.registry import register_method


@register_method("spectral_norm_reg")
class SpectralNormReg(Method):
    paper = "Yoshida & Miyato, arXiv:1705.10941, 2017"
    title = 'Spectral Norm Regularization for Improving the Generalizability of Deep Learning'
    authors = 'Yuichi Yoshida, Takeru Miyato'
    venue = 'arXiv:1705.10941'
    year = 2017
    url = 'https://arxiv.org/abs/1705.10941'
    hparams = {"lam": HParam(0.01, LogUniform(-4, 0), "weight of the squared spectral norms")}
    extra_cost = "+1 power iteration per layer per step"

    def setup(self):
        self.u = [F.normalize(normal(w.shape[0], self.generator, w.device), dim=0)
                  for w in weight_matrices(self.model)]

    def sigmas(self, iterations: int = 1):
        out = []
        for i, w in enumerate(weight_matrices(self.model)):
            with torch.no_grad():
                for _ in range(iterations):
                    v = F.normalize(w.T @ self.u[i], dim=0)
                    self.u[i] = F.normalize(w @ v, dim=0)
            out.append(self.u[i] @ w @ v)
        return out

    def penalty(self, iterations: int = 1):
        return 0.5 * sum(s.pow(2) for s in self.sigmas(iterations))

    def loss(self, batch, out):
        return super().loss(batch, out) + self.hp["lam"] * self.penalty()
