"""Group DRO (Sagawa et al., 'Distributionally Robust Neural Networks for Group Shifts', ICLR 2020),
with the training domains as groups.

Minimize the worst domain's risk through a distribution q over domains, updated by exponentiated
gradient ascent at every step:
  q_e <- q_e * exp(eta * R_e)  (no gradient),   q <- q / sum(q),   L = sum_e q_e R_e
q starts uniform and drifts toward the domains with the highest risk.
DomainBed: eta 1e-2 in 10^U(-3, -1).
"""

import torch
import torch.nn.functional as F

from benchmark.families.domain_generalization import domain_means
from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("groupdro")
class GroupDRO(Method):
    paper = "Sagawa et al., ICLR 2020"
    title = ('Distributionally Robust Neural Networks for Group Shifts: On the Importance of Regularization for '
             'Worst-Case Generalization')
    authors = 'Shiori Sagawa, Pang Wei Koh, Tatsunori B. Hashimoto, Percy Liang'
    venue = 'ICLR'
    year = 2020
    url = 'https://arxiv.org/abs/1911.08731'
    families = ("domain_generalization",)
    needs_domains = True
    hparams = {"eta": HParam(1e-2, LogUniform(-3, -1), "step size of the domain-weight ascent")}

    def setup(self):
        self.q = torch.full((self.ctx.num_domains,), 1.0 / self.ctx.num_domains, device=self.ctx.device)

    def loss(self, batch, out):
        risks, ids = domain_means(F.cross_entropy(out.logits, batch.y, reduction="none"), batch.domain)
        with torch.no_grad():
            self.q[ids] *= torch.exp(self.hp["eta"] * risks.detach())
            self.q /= self.q.sum()
        return (self.q[ids] * risks).sum()
