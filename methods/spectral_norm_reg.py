"""Spectral penalty (after Yoshida & Miyato, 'Spectral Norm Regularization for Improving the
Generalizability of Deep Learning', 2017): each layer's largest singular value is pulled toward 1.

  sigma(W) by power iteration with a persistent vector per layer (one iteration per step, no gradient):
    v = W^T u / ||W^T u||,  u = W v / ||W v||,  sigma = u^T W v   (differentiable in W)
  R = sum_layers (sigma(W) - 1)^2,   L = CE + lam * R
Yoshida & Miyato penalize sigma^2 (toward 0); targeting 1 keeps layers near isometry instead of
shrinking them. Convolution kernels are reshaped to [out, in * k] (a proxy for the operator norm).
Applies to the hidden (body) layers; the linear head is left free.
"""

import torch
import torch.nn.functional as F

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.penalties import normal, weight_matrices
from benchmark.registry import register_method


@register_method("spectral_norm_penalty")
class SpectralNormPenalty(Method):
    paper = "Yoshida & Miyato, arXiv:1705.10941, 2017"
    hparams = {"lam": HParam(0.01, LogUniform(-4, 0), "weight of the spectral penalty")}
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
        return sum((s - 1).pow(2) for s in self.sigmas(iterations))

    def loss(self, batch, out):
        return super().loss(batch, out) + self.hp["lam"] * self.penalty()
