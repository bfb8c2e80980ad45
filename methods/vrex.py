"""V-REx (Krueger et al., 'Out-of-Distribution Generalization via Risk Extrapolation', ICML 2021).

Variance risk extrapolation: equal risks across training domains, so that no domain's distinctive
features are worth exploiting.
  L = mean_e R_e + beta_t * Var_e(R_e),   Var the (biased) variance over the domains in the batch
beta_t = 1 during warm-up, beta after, with an optimizer restart at the switch (DomainBed).
DomainBed: beta 10 in 10^U(-1, 5); warm-up 500 of its 5,000 steps in 10^U(0, 4). Here in steps too,
500 by default, capped at half of the run (`warmup_steps`), searched from 100 steps up.
"""

import torch
import torch.nn.functional as F

from benchmark.families.domain_generalization import Annealed, domain_means
from benchmark.hparams import HParam, LogUniform
from benchmark.registry import register_method


def risk_variance(risks: torch.Tensor) -> torch.Tensor:
    return (risks - risks.mean()).pow(2).mean()


@register_method("vrex")
class VREx(Annealed):
    paper = "Krueger et al., ICML 2021"
    title = 'Out-of-Distribution Generalization via Risk Extrapolation (REx)'
    authors = ('David Krueger, Ethan Caballero, Joern-Henrik Jacobsen, Amy Zhang, Jonathan Binas, Dinghuai Zhang, '
               'Remi Le Priol, Aaron Courville')
    venue = 'ICML'
    year = 2021
    url = 'https://arxiv.org/abs/2003.00688'
    families = ("domain_generalization",)
    needs_domains = True
    hparams = {
        "lam": HParam(10.0, LogUniform(-1, 5), "weight of the risk variance after warm-up"),
        "anneal_steps": HParam(500, LogUniform(2, 4), "steps at penalty weight 1 (at most half the run)"),
    }

    def loss(self, batch, out):
        risks, _ = domain_means(F.cross_entropy(out.logits, batch.y, reduction="none"), batch.domain)
        return risks.mean() + self.penalty_weight(self.hp["lam"]) * risk_variance(risks)
