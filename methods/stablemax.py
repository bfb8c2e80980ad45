"""StableMax cross-entropy (Prieto et al., 'Grokking at the Edge of Numerical Stability', ICLR 2025).

Softmax's exponential is replaced by a function that grows linearly for positive logits and decays like
1/|x| for negative ones, so no logit can push a probability to exactly 0 or 1 in floating point:
  s(x) = x + 1 (x >= 0),   1 / (1 - x) (x < 0)
  p_k = s(f_k) / sum_j s(f_j),   L = -log p_y
The model's logits at evaluation are log s(f), so softmax(log s(f)) = p: every metric and OOD scorer reads
the probabilities the method trained. No hyperparameters.
"""

import torch

from benchmark.method import Method, Output, masked
from benchmark.registry import register_method


def log_s(x: torch.Tensor) -> torch.Tensor:
    """log s(x), computed as +-log1p(|x|) (exact for both branches, no overflow)."""
    return torch.where(x >= 0, torch.log1p(x.clamp_min(0)), -torch.log1p((-x).clamp_min(0)))


@register_method("stablemax")
class StableMax(Method):
    paper = "Prieto et al., ICLR 2025"
    title = "Grokking at the Edge of Numerical Stability"
    authors = "Lucas Prieto, Melih Barsbey, Pedro A. M. Mediano, Tolga Birdal"
    venue = "ICLR"
    year = 2025
    url = "https://arxiv.org/abs/2501.04697"
    extra_cost = "none"

    def forward(self, batch):
        out = self.model(batch.x)
        # the head mask goes on the log-probabilities: a masked class gets no mass at all
        return masked(Output(logits=log_s(out.logits), features=out.features), batch.logit_mask)

    @torch.no_grad()
    def predict(self, x):
        self.model.eval()
        out = self.model(x)
        return Output(logits=log_s(out.logits), features=out.features)
