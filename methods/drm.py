"""Domain-specific risk minimization, DRM (Zhang et al., 'Domain-Specific Risk Minimization for
Out-of-Distribution Generalization', arXiv:2208.08661, 2022): one classifier head per training domain on a shared body,
and at test time, per sample, the head that is most certain.

Training: each sample's cross-entropy goes through its own domain's head, so every head fits its domain:
  L = mean_i CE(W_{d_i} z_i + b_{d_i}, y_i)
Test (no domain label): for each input the head of least predictive entropy is used,
  e* = argmin_e H(softmax(W_e z + b_e)),   logits = W_{e*} z + b_{e*}
(the paper's online model steering by entropy; its test-time parameter adaptation is left out).
"""

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.method import Method, Output, masked
from benchmark.registry import register_method


@register_method("drm")
class DRM(Method):
    paper = "Zhang et al., arXiv:2208.08661, 2022"
    title = "Domain-Specific Risk Minimization for Out-of-Distribution Generalization"
    authors = ("Yi-Fan Zhang, Jindong Wang, Jian Liang, Zhang Zhang, Baosheng Yu, Liang Wang, Dacheng Tao, "
               "Xing Xie")
    venue = "arXiv:2208.08661"
    year = 2022
    url = "https://arxiv.org/abs/2208.08661"
    families = ("domain_generalization",)
    needs_domains = True
    extra_cost = "one linear head per training domain; all heads evaluated at test"

    def setup(self):
        head = self.model.head
        # every domain head starts from the model's own head: same initialization as ERM's
        self.heads = nn.ModuleList([nn.Linear(head.in_features, head.out_features) for _ in
                                    range(self.ctx.num_domains)]).to(head.weight.device)
        for h in self.heads:
            h.load_state_dict(head.state_dict())
        self.model.head.requires_grad_(False)

    def parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad] + list(self.heads.parameters())

    def all_logits(self, z):
        return torch.stack([h(z) for h in self.heads])  # [E, N, K]

    def forward(self, batch):
        z = self.model.body(batch.x)
        logits = self.all_logits(z)[batch.domain, torch.arange(len(z), device=z.device)]
        return masked(Output(logits=logits, features=z), batch.logit_mask)

    @torch.no_grad()
    def predict(self, x):
        self.model.eval()
        z = self.model.body(x)
        logits = self.all_logits(z)
        p = F.softmax(logits.float(), dim=-1)
        entropy = -(p * torch.log(p.clamp_min(1e-12))).sum(-1)  # [E, N]
        pick = entropy.argmin(0)
        return Output(logits=logits[pick, torch.arange(len(z), device=z.device)], features=z)
