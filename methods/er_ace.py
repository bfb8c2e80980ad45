"""Experience replay with asymmetric cross-entropy, ER-ACE (Caccia et al., 'New Insights on Reducing
Abrupt Representation Change in Online Continual Learning', ICLR 2022).

As `replay` (a reservoir memory of the task's budget, one memory minibatch per step), but the incoming
samples' cross-entropy only competes among the classes present in the incoming minibatch, so new classes
do not push the old ones' logits down; the replayed samples keep the full cross-entropy:
  L = CE_{C_new}(f(x), y) + CE(f(x_m), y_m),   C_new = the classes of the incoming batch
(CE_C: softmax over the classes in C only.) With a single head per experience (task-incremental) the
restriction changes little; in class-incremental learning it is the point.
"""

import torch
import torch.nn.functional as F

from benchmark.memory import Memory
from benchmark.method import Method
from benchmark.registry import register_method


def present_classes_ce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    present = torch.zeros(logits.shape[1], dtype=torch.bool, device=logits.device)
    present[y] = True
    return F.cross_entropy(logits.masked_fill(~present, -1e4), y)


@register_method("er_ace")
class ERACE(Method):
    paper = "Caccia et al., ICLR 2022"
    title = "New Insights on Reducing Abrupt Representation Change in Online Continual Learning"
    authors = "Lucas Caccia, Rahaf Aljundi, Nader Asadi, Tinne Tuytelaars, Joelle Pineau, Eugene Belilovsky"
    venue = "ICLR"
    year = 2022
    url = "https://arxiv.org/abs/2104.05025"
    families = ("continual",)
    uses = ("memory",)
    extra_cost = "a memory of ctx.extra['replay_budget'] samples; 2x batch size per step"

    def setup(self):
        self.memory = Memory(self.ctx.extra["replay_budget"], self.generator)

    def step(self, batch):
        self.model.train()
        loss = present_classes_ce(self.forward(batch).logits, batch.y)
        if len(self.memory):
            old = self.memory.sample(len(batch.y))
            loss = loss + F.cross_entropy(self.forward(old).logits, old.y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach()}

    def on_experience_end(self, experience, data):
        self.memory.reservoir(data)
