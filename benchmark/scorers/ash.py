"""ASH-S, activation shaping with scaling (Djurisic et al., 'Extremely Simple Activation Shaping for
Out-of-Distribution Detection', ICLR 2023).

Per input, the penultimate activations below their own p-th percentile are set to 0 and the rest are
scaled so that the total activation is what it was before pruning, exponentially:
  s1 = sum_j h_j,  h~_j = h_j [h_j >= q_p(h)],  s2 = sum_j h~_j,  h^ = h~ * exp(s1 / s2)
  s(x) = logsumexp_k (W h^ + b)_k       (the energy of the recomputed logits)
The percentile is per sample, unlike ReAct's training-set threshold; nothing is fitted.
"""

import torch

from benchmark.hparams import Choice, HParam
from benchmark.scorers import Scorer, flat_features, register_scorer


def ash_s(h: torch.Tensor, percentile: float) -> torch.Tensor:
    s1 = h.sum(1, keepdim=True)
    k = max(1, int(round(h.shape[1] * (1 - percentile / 100))))  # units kept per sample
    threshold = h.topk(k, dim=1).values[:, -1:]
    pruned = torch.where(h >= threshold, h, torch.zeros_like(h))
    s2 = pruned.sum(1, keepdim=True).clamp_min(1e-12)
    return pruned * torch.exp(s1 / s2)


@register_scorer("ash")
class ASH(Scorer):
    paper = "Djurisic et al., ICLR 2023"
    hparams = {"percentile": HParam(90.0, Choice(90.0, 65.0, 80.0, 95.0), "prune below this percentile")}
    needs = ("features", "head")

    def score(self, x, out):
        head = self.probe.model.head
        with torch.no_grad():
            shaped = ash_s(flat_features(out).double(), self.hp["percentile"])
            # exp(s1 / s2) can be large: the energy is taken in double precision
            return (shaped @ head.weight.double().T + head.bias.double()).logsumexp(1).float()
