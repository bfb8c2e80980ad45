"""Rehearsal-free continual learning by feature distillation plus L2 to the old weights (Smith et al., 'A
Closer Look at Rehearsal-Free Continual Learning', CVPR Workshops 2023): the two regularizers the paper
finds to work without any replay memory, combined.

After each experience a frozen copy of the network (features h_old, weights theta_old) is kept; later
experiences minimize
  L = CE(f(x), y) + mu * mean_i ||h(x_i) - h_old(x_i)||^2 / D + lam / 2 * ||theta - theta_old||^2
(D the feature width). No old sample is stored: the distillation is on the current experience's inputs.
"""

import copy

import torch
import torch.nn.functional as F

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("rehearsal_free")
class RehearsalFree(Method):
    paper = "Smith et al., CVPR Workshops 2023"
    title = "A Closer Look at Rehearsal-Free Continual Learning"
    authors = "James Seale Smith, Junjiao Tian, Shaunak Halbe, Yen-Chang Hsu, Zsolt Kira"
    venue = "CVPR Workshops"
    year = 2023
    url = "https://arxiv.org/abs/2203.17269"
    families = ("continual",)
    uses = ("second_network",)
    hparams = {
        "mu": HParam(1.0, LogUniform(-2, 1), "weight of the feature distillation"),
        "lam": HParam(0.1, LogUniform(-3, 1), "weight of the L2 pull to the old weights"),
    }
    extra_cost = "a frozen copy of the model: one more forward pass per step"

    def setup(self):
        self.old = None

    def loss(self, batch, out):
        ce = F.cross_entropy(out.logits, batch.y)
        if self.old is None:
            return ce
        with torch.no_grad():
            target = self.old.body(batch.x)
        feature = (out.features - target).pow(2).flatten(1).mean(1).mean()
        l2 = sum((p - q).pow(2).sum() for p, q in zip(self.model.parameters(), self.old.parameters(), strict=True))
        return ce + self.hp["mu"] * feature + self.hp["lam"] / 2 * l2

    def on_experience_end(self, experience, data):
        self.old = copy.deepcopy(self.model).eval()
        for p in self.old.parameters():
            p.requires_grad_(False)
