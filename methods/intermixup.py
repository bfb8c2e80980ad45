"""Inter-domain Mixup (Yan et al., 'Improve Unsupervised Domain Adaptation with Mixup Training',
arXiv 2020; Xu et al., AAAI 2020), DomainBed's "Mixup".

Training domains are paired at random in a cycle (e_1, e_2), (e_2, e_3), ..., (e_n, e_1); each pair
mixes its two domains' samples one-to-one with one weight per pair:
  lam ~ Beta(alpha, alpha),  x~ = lam x_a + (1 - lam) x_b,
  L = mean over pairs of [lam CE(f(x~), y_a) + (1 - lam) CE(f(x~), y_b)]
Unlike plain mixup (`mixup`), partners always come from another domain, so the model sees inputs
between domains. DomainBed: alpha 0.2 in 10^U(-1, 1).
"""

import torch

from benchmark.families.domain_generalization import domain_masks
from benchmark.hparams import HParam, LogUniform
from benchmark.penalties import InputMixing
from benchmark.registry import register_method


@register_method("intermixup")
class InterDomainMixup(InputMixing):
    paper = "Yan et al., arXiv:2001.00677, 2020"
    title = 'Improve Unsupervised Domain Adaptation with Mixup Training'
    authors = 'Shen Yan, Huan Song, Nanxiang Li, Lincan Zou, Liu Ren'
    venue = 'arXiv:2001.00677'
    year = 2020
    url = 'https://arxiv.org/abs/2001.00677'
    families = ("domain_generalization",)
    needs_domains = True
    hparams = {
        "alpha": HParam(0.2, LogUniform(-1, 1), "Beta(alpha, alpha) concentration of the mixing weight"),
    }
    extra_cost = "none (one Beta draw per domain pair)"

    def mix(self, batch):
        members = [torch.nonzero(m).squeeze(1) for m in domain_masks(batch)]
        order = torch.randperm(len(members), generator=self.generator).tolist()
        xs, targets = [], []
        for i, a in enumerate(order):
            b = order[(i + 1) % len(order)]
            n = min(len(members[a]), len(members[b]))
            ia, ib = members[a][:n], members[b][:n]
            lam = float(self.rng.beta(self.hp["alpha"], self.hp["alpha"]))
            xs.append(lam * batch.x[ia] + (1 - lam) * batch.x[ib])
            targets.append(lam * self.onehot(batch.y[ia]) + (1 - lam) * self.onehot(batch.y[ib]))
        return torch.cat(xs), torch.cat(targets)
