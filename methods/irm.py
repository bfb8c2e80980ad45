"""IRM v1 (Arjovsky, Bottou, Gulrajani & Lopez-Paz, 'Invariant Risk Minimization', arXiv 2019).

A classifier is invariant when the same head is optimal in every training domain e. IRMv1 measures
how far from optimal a dummy scale w = 1 on the logits is, per domain:
  P_e = (d/dw R_e(w * f(x)) at w = 1)^2,   d/dw CE(w z, y) at w = 1 = mean_i (sum_k p_ik z_ik - z_i,y_i)
estimated without bias as the product of that derivative on the two halves (even and odd positions)
of the domain's batch (DomainBed's estimator); the closed form needs no double backward.
  L = mean_e R_e + lambda_t * mean_e P_e,   lambda_t = 1 during warm-up, lambda after
The optimizer restarts when the full penalty switches on (DomainBed resets Adam there). DomainBed
(Gulrajani & Lopez-Paz, 'In Search of Lost Domain Generalization', ICLR 2021): lambda 1e2 in
10^U(-1, 5), warm-up 500 of its 5,000 steps in 10^U(0, 4) steps. The warm-up here is in steps too,
DomainBed's 500 by default, capped at half of the run (`warmup_steps`): as a share of the run (10%) it
switched the penalty on after ~28 of ~280 steps, before ERM had fit, and IRM fell from 0.83 to 0.43.
The search floor is 100 steps, not 1: a warm-up of a few steps is the collapse the cap avoids.
"""

import torch
import torch.nn.functional as F

from benchmark.families.domain_generalization import Annealed, domain_means
from benchmark.hparams import HParam, LogUniform
from benchmark.registry import register_method


def scale_terms(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per sample, d/dw CE(w * logits_i, y_i) at w = 1: sum_k p_ik z_ik - z_i,y_i."""
    return (F.softmax(logits, 1) * logits).sum(1) - logits.gather(1, y[:, None]).squeeze(1)


def irm_penalties(logits: torch.Tensor, y: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
    """Per domain present, the product of the mean scale derivative on its even and odd samples."""
    _, inverse = torch.unique(domain, return_inverse=True)
    onehot = F.one_hot(inverse)
    rank = onehot.cumsum(0).gather(1, inverse[:, None]).squeeze(1) - 1  # position within its domain
    halves, ids = domain_means(scale_terms(logits, y), inverse * 2 + rank % 2)
    grads = logits.new_zeros(2 * onehot.shape[1]).index_copy(0, ids, halves).view(-1, 2)
    return grads[:, 0] * grads[:, 1]  # a domain with one sample has no odd half: penalty 0


def irm_penalty(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The penalty of a single domain's batch."""
    return irm_penalties(logits, y, torch.zeros_like(y))[0]


@register_method("irm")
class IRM(Annealed):
    paper = "Arjovsky et al., arXiv:1907.02893, 2019"
    title = 'Invariant Risk Minimization'
    authors = 'Martin Arjovsky, Léon Bottou, Ishaan Gulrajani, David Lopez-Paz'
    venue = 'arXiv:1907.02893'
    year = 2019
    url = 'https://arxiv.org/abs/1907.02893'
    families = ("domain_generalization",)
    needs_domains = True
    hparams = {
        "lam": HParam(1e2, LogUniform(-1, 5), "weight of the invariance penalty after warm-up"),
        "anneal_steps": HParam(500, LogUniform(2, 4), "steps at penalty weight 1 (at most half the run)"),
    }
    extra_cost = "none (a closed-form penalty on the logits)"

    def loss(self, batch, out):
        risks, _ = domain_means(F.cross_entropy(out.logits, batch.y, reduction="none"), batch.domain)
        penalty = irm_penalties(out.logits, batch.y, batch.domain).mean()
        return risks.mean() + self.penalty_weight(self.hp["lam"]) * penalty
