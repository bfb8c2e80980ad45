"""Domain-specific masks for generalization, DMG (Chattopadhyay, Balaji & Hoffman, 'Learning to Balance
Specificity and Invariance for In and Out of Domain Generalization', ECCV 2020).

Every training domain d learns a soft mask over the D penultimate features, m_d = sigmoid(a_d); a
sample of domain d is classified from z * m_d, and an overlap penalty keeps the masks partly distinct, so
features may be domain-specific as well as shared:
  L = mean_i CE(head(z_i * m_{d_i}), y_i) + lam * mean_{d < d'} IoU(m_d, m_d'),
  IoU(a, b) = sum_j a_j b_j / sum_j (a_j + b_j - a_j b_j)        (soft intersection over union)
At test (no domain label) the predictions of all masks are averaged: p = mean_d softmax(head(z * m_d)).
Mask logits start at 0 (every mask 1/2, identical); the penalty is what separates them.
"""


import torch
import torch.nn.functional as F
from torch import nn

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method, Output, masked
from benchmark.registry import register_method


def soft_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum() / (a + b - a * b).sum().clamp_min(1e-12)


@register_method("dmg")
class DMG(Method):
    paper = "Chattopadhyay et al., ECCV 2020"
    title = "Learning to Balance Specificity and Invariance for In and Out of Domain Generalization"
    authors = "Prithvijit Chattopadhyay, Yogesh Balaji, Judy Hoffman"
    venue = "ECCV"
    year = 2020
    url = "https://arxiv.org/abs/2008.12839"
    families = ("domain_generalization",)
    needs_domains = True
    hparams = {"lam": HParam(0.1, LogUniform(-2, 0.5), "weight of the mask-overlap penalty")}
    extra_cost = "a [domains, D] mask; one head pass per domain at test"

    def setup(self):
        self.mask_logits = nn.Parameter(torch.zeros(self.ctx.num_domains, self.model.feature_dim,
                                                    device=self.ctx.device))
        # a small seeded nudge, so the masks can move apart under the penalty from the first step
        with torch.no_grad():
            noise = torch.randn(self.mask_logits.shape, generator=self.generator) * 0.01
            self.mask_logits.add_(noise.to(self.mask_logits.device))

    def parameters(self):
        return list(self.model.parameters()) + [self.mask_logits]

    def masks(self):
        return torch.sigmoid(self.mask_logits)

    def forward(self, batch):
        z = self.model.body(batch.x).flatten(1)
        return masked(Output(logits=self.model.head(z * self.masks()[batch.domain]), features=z), batch.logit_mask)

    def loss(self, batch, out):
        m = self.masks()
        pairs = [(a, b) for a in range(len(m)) for b in range(a + 1, len(m))]
        overlap = sum(soft_iou(m[a], m[b]) for a, b in pairs) / max(len(pairs), 1)
        return F.cross_entropy(out.logits, batch.y) + self.hp["lam"] * overlap

    @torch.no_grad()
    def predict(self, x):
        self.model.eval()
        z = self.model.body(x).flatten(1)
        probs = torch.stack([F.softmax(self.model.head(z * m).float(), dim=1) for m in self.masks()]).mean(0)
        return Output(logits=torch.log(probs.clamp_min(1e-30)), features=z)
