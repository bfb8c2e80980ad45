"""Learning without forgetting (Li & Hoiem, 'Learning without Forgetting', ECCV 2016 / TPAMI 2017).

After each experience the model is frozen as a teacher. On later experiences the new data is also
fed to the teacher, and the student keeps the teacher's outputs on the old classes:
  L = CE(f(x), y) + alpha * sum_g T^2 * KL( softmax(f_old(x)_g / T) || softmax(f(x)_g / T) )
A group g is a past experience's head when heads are given (task-incremental), else the classes
seen in all past experiences (class- and domain-incremental: Avalanche's 'active units').
"""

import copy

import torch
import torch.nn.functional as F

from benchmark.hparams import HParam, LogUniform, Uniform
from benchmark.method import Method, masked
from benchmark.registry import register_method


@register_method("lwf")
class LwF(Method):
    paper = "Li & Hoiem, ECCV 2016"
    title = 'Learning without Forgetting'
    authors = 'Zhizhong Li, Derek Hoiem'
    venue = 'ECCV'
    year = 2016
    url = 'https://arxiv.org/abs/1606.09282'
    uses = ('second_network',)
    families = ("continual",)
    hparams = {
        "alpha": HParam(1.0, LogUniform(-1, 1), "weight of the distillation term"),
        "temperature": HParam(2.0, Uniform(1.0, 4.0), "softmax temperature of the distillation"),
    }
    extra_cost = "a frozen copy of the model: one more forward pass per step"

    def setup(self):
        self.teacher = None
        self.groups: list[torch.Tensor] = []  # boolean [num_classes] class groups to distil
        self.seen = torch.zeros(self.ctx.num_classes, dtype=torch.bool, device=self.ctx.device)

    @torch.no_grad()
    def targets(self, x) -> list[torch.Tensor]:
        """The teacher's tempered probabilities over each group's classes, one [n, |g|] tensor per group."""
        self.teacher.eval()
        logits = self.teacher(x).logits
        return [F.softmax(logits[:, g] / self.hp["temperature"], dim=1) for g in self.groups]

    def forward(self, batch):
        raw = self.model(batch.x)
        self.raw_logits = raw.logits  # before the current head's mask: the old heads are distilled from it
        return masked(raw, batch.logit_mask)

    def loss(self, batch, out):
        ce = F.cross_entropy(out.logits, batch.y)
        if self.teacher is None:
            return ce
        T = self.hp["temperature"]
        kd = sum(F.kl_div(F.log_softmax(self.raw_logits[:, g] / T, dim=1), p, reduction="batchmean")
                 for g, p in zip(self.groups, self.targets(batch.x), strict=True))
        return ce + self.hp["alpha"] * T ** 2 * kd

    def on_experience_end(self, experience, data):
        head = None
        for batch in data:
            self.seen[torch.unique(batch.y)] = True
            head = batch.logit_mask
        # a head per experience when given; otherwise one group: every class seen so far
        self.groups = [*self.groups, head.clone()] if head is not None else [self.seen.clone()]
        self.teacher = copy.deepcopy(self.model).requires_grad_(False)
