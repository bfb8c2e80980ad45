"""Deep CORAL (Sun & Saenko, 'Deep CORAL: Correlation Alignment for Deep Domain Adaptation', ECCV-W 2016),
as DomainBed applies it across training domains.

Align the first two moments of the features z (the head's input) of every pair of training domains:
  D(a, b) = mean_j (mu_a - mu_b)_j^2 + mean_jk (C_a - C_b)_jk^2     (C: unbiased covariance)
  L = mean_e R_e + gamma * mean_{a<b} D(a, b)
With F_e the centred features of domain e over sqrt(n_e - 1), C_e = F_e^T F_e and
||C_a - C_b||^2 = ||F_a F_a^T||^2 + ||F_b F_b^T||^2 - 2 ||F_a F_b^T||^2: one [N, N] Gram matrix of
the batch gives every pair, instead of a [d, d] covariance per domain.
DomainBed: gamma 1 in 10^U(-1, 1).
"""

import torch
import torch.nn.functional as F

from benchmark.families.domain_generalization import domain_means
from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


def coral_distances(z: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
    """[G, G]: D(a, b) between the feature sets [N, d] of every pair of domains with >= 2 samples."""
    _, inverse, counts = torch.unique(domain, return_inverse=True, return_counts=True)
    keep = (counts >= 2)[inverse]  # one sample has no covariance
    z, inverse = z[keep], torch.unique(inverse[keep], return_inverse=True)[1]
    means, _ = domain_means(z, inverse)
    counts = torch.bincount(inverse).to(z.dtype)
    f = (z - means[inverse]) / (counts[inverse] - 1).sqrt()[:, None]
    onehot = F.one_hot(inverse).to(z.dtype)
    blocks = onehot.T @ (f @ f.T).pow(2) @ onehot  # [a, b] = ||F_a F_b^T||^2
    own = blocks.diagonal()
    d = z.shape[1]
    cov = (own[:, None] + own[None, :] - 2 * blocks) / d**2
    return (means[:, None] - means[None, :]).pow(2).mean(-1) + cov


@register_method("coral")
class CORAL(Method):
    paper = "Sun & Saenko, ECCV Workshops 2016"
    title = 'Deep CORAL: Correlation Alignment for Deep Domain Adaptation'
    authors = 'Baochen Sun, Kate Saenko'
    venue = 'ECCV Workshops'
    year = 2016
    url = 'https://arxiv.org/abs/1607.01719'
    families = ("domain_generalization",)
    needs_domains = True
    hparams = {"gamma": HParam(1.0, LogUniform(-1, 1), "weight of the feature-moment alignment")}
    extra_cost = "an [N, N] Gram matrix of the batch's features per step"

    def loss(self, batch, out):
        risks, _ = domain_means(F.cross_entropy(out.logits, batch.y, reduction="none"), batch.domain)
        distances = coral_distances(out.features, batch.domain)
        pairs = torch.triu_indices(len(distances), len(distances), offset=1, device=distances.device)
        penalty = distances[pairs[0], pairs[1]].mean() if pairs.shape[1] else risks.sum() * 0.0
        return risks.mean() + self.hp["gamma"] * penalty
