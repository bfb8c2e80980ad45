"""Spectral regularization for plasticity (Lewandowski et al., 'Learning Continually by Spectral
Regularization', ICLR 2025), with the optional Wasserstein term of the same work's first version.

For every layer l, W~_l is its weight reshaped to [out, in * kernel] with the bias as an extra
column; sigma_l is its largest singular value (one power-iteration step per training step, the
singular vectors carried over between steps). The loss keeps each sigma near 1, as at a good
initialization, so the network stays trainable as experiences change:
  L = CE(f(x), y) + lam * sum_l (sigma_l^k - 1)^2                                     (k = 2)
      + wasserstein * sum_p sum_i (sort(theta_p)_i - sort(theta_p^init)_i)^2
The second term is the squared 2-Wasserstein distance between each parameter tensor's empirical
distribution and its initial one (off by default): weights may move, their distribution may not.
Unlike `spectral_norm_reg` (Yoshida & Miyato: sigma^2 pushed toward 0, hidden layers only), this keeps
sigma near 1, in the paper's form: sigma^k, the bias column, and every layer including the head.
"""

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.hparams import HParam, LogUniform, Uniform
from benchmark.method import Method
from benchmark.registry import register_method

EXPONENT = 2  # the paper's default k


def _matrix(layer: nn.Module) -> torch.Tensor:
    w = layer.weight.reshape(layer.weight.shape[0], -1)
    return torch.cat([w, layer.bias[:, None]], dim=1) if layer.bias is not None else w


@register_method("spectral_reg")
class SpectralReg(Method):
    paper = "Lewandowski et al., ICLR 2025"
    title = 'Learning Continually by Spectral Regularization'
    authors = ('Alex Lewandowski, Michał Bortkiewicz, Saurabh Kumar, András György, Dale Schuurmans, Mateusz '
               'Ostaszewski, Marlos C. Machado')
    venue = 'ICLR'
    year = 2025
    url = 'https://arxiv.org/abs/2406.06811'
    families = ("continual",)
    hparams = {
        "lam": HParam(1e-3, LogUniform(-5, -1), "weight of the singular-value term"),
        "wasserstein": HParam(0.0, Uniform(0.0, 1e-2), "weight of the Wasserstein term (0: off)"),
    }
    extra_cost = "one power-iteration step per layer and step"

    def setup(self):
        self.layers = [m for m in self.model.modules() if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d)]
        self.vectors = []
        with torch.no_grad():
            for layer in self.layers:
                w = _matrix(layer)
                v = torch.randn(w.shape[1], generator=self.generator).to(w)
                for _ in range(20):  # converge once; afterwards one step per training step tracks it
                    u = F.normalize(w @ v, dim=0)
                    v = F.normalize(w.T @ u, dim=0)
                self.vectors.append(v)
        self.initial = [torch.sort(p.detach().flatten()).values for p in self.model.parameters()]

    def sigmas(self) -> list[torch.Tensor]:
        """Each layer's largest singular value, differentiable through W (u, v held fixed)."""
        out = []
        for i, layer in enumerate(self.layers):
            w = _matrix(layer)
            with torch.no_grad():
                u = F.normalize(w @ self.vectors[i], dim=0)
                self.vectors[i] = F.normalize(w.T @ u, dim=0)
            out.append(u @ w @ self.vectors[i])
        return out

    def penalty(self) -> torch.Tensor:
        spectral = sum((s ** EXPONENT - 1) ** 2 for s in self.sigmas())
        if not self.hp["wasserstein"]:
            return self.hp["lam"] * spectral
        w2 = sum(((torch.sort(p.flatten()).values - p0) ** 2).sum()
                 for p, p0 in zip(self.model.parameters(), self.initial, strict=True))
        return self.hp["lam"] * spectral + self.hp["wasserstein"] * w2

    def loss(self, batch, out):
        return F.cross_entropy(out.logits, batch.y) + self.penalty()
