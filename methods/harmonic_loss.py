"""Harmonic loss (Baek et al., 'Harmonic Loss Trains Interpretable AI Models', arXiv:2502.01628, 2025).

The linear head's rows w_k become class centres; a class's probability falls with a power of the distance
of the features z to its centre instead of growing with an inner product:
  d_k = ||w_k - z||_2,   p_k = d_k^(-n) / sum_j d_j^(-n),   L = -log p_y
equivalently logits -n log d_k, which is what the model reports at evaluation (so softmax gives p). The
harmonic exponent is n = c sqrt(D) (D the feature width; the paper takes n ~ sqrt(D)). The head's bias
is unused.
"""

import math

import torch

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method, Output, masked
from benchmark.registry import register_method


def harmonic_logits(z: torch.Tensor, centres: torch.Tensor, n: float) -> torch.Tensor:
    """-n log ||w_k - z||: softmax of these is the harmonic distribution d^-n / sum d^-n."""
    d2 = (z[:, None, :] - centres[None, :, :]).pow(2).sum(-1)
    return -0.5 * n * torch.log(d2 + 1e-12)


@register_method("harmonic_loss")
class HarmonicLoss(Method):
    paper = "Baek et al., arXiv:2502.01628, 2025"
    title = "Harmonic Loss Trains Interpretable AI Models"
    authors = "David D. Baek, Ziming Liu, Riya Tyagi, Max Tegmark"
    venue = "arXiv:2502.01628"
    year = 2025
    url = "https://arxiv.org/abs/2502.01628"
    hparams = {"c": HParam(1.0, LogUniform(-0.7, 0.5), "harmonic exponent n = c * sqrt(feature width)")}
    extra_cost = "an [N, K] distance matrix per forward pass"

    def outputs(self, x):
        out = self.model(x)
        z = out.features.flatten(1)
        n = self.hp["c"] * math.sqrt(z.shape[1])
        return Output(logits=harmonic_logits(z, self.model.head.weight, n), features=out.features)

    def forward(self, batch):
        return masked(self.outputs(batch.x), batch.logit_mask)

    @torch.no_grad()
    def predict(self, x):
        self.model.eval()
        return self.outputs(x)
