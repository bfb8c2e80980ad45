"""Dark experience replay, DER++ (Buzzega et al., 'Dark Experience for General Continual Learning: a
Strong, Simple Baseline', NeurIPS 2020).

A reservoir memory of at most B samples (the task's replay budget) filled *during* training keeps, with
each sample, the logits z the network gave it when it was stored. Every step adds to the loss a logit
replay term on one memory minibatch and a label replay term on another:
  L = CE(f(x), y) + alpha * mean ||f(x') - z'||^2 + beta * CE(f(x''), y'')
Matching old logits keeps old functions ("dark knowledge") rather than only old labels; alpha = 0 leaves
experience replay with the reservoir filled online. The memory's logits carry the head mask of the
sample's own experience, as the replayed forward pass does, so masked classes add nothing.
"""

import torch
import torch.nn.functional as F

from benchmark.hparams import HParam, LogUniform
from benchmark.memory import Memory
from benchmark.method import Batch, Method
from benchmark.registry import register_method


class LogitMemory(Memory):
    """A reservoir memory whose samples also keep the logits they had when stored."""

    def _fields(self, batch):
        return {**super()._fields(batch), "logits": batch.logits}

    def sample_with_logits(self, n: int) -> tuple[Batch, torch.Tensor]:
        pick = torch.randperm(len(self), generator=self.generator)[:n].to(self.store["y"].device)
        s = {k: v[pick] for k, v in self.store.items()}
        logits = s.pop("logits")
        return Batch(**s, logit_mask=self.masks(s["experience"])), logits


@register_method("der")
class DERpp(Method):
    paper = "Buzzega et al., NeurIPS 2020"
    title = "Dark Experience for General Continual Learning: a Strong, Simple Baseline"
    authors = "Pietro Buzzega, Matteo Boschini, Angelo Porrello, Davide Abati, Simone Calderara"
    venue = "NeurIPS"
    year = 2020
    url = "https://arxiv.org/abs/2004.07211"
    families = ("continual",)
    uses = ("memory",)
    hparams = {
        "alpha": HParam(0.3, LogUniform(-2, 0), "weight of the logit replay (MSE to stored logits)"),
        "beta": HParam(0.5, LogUniform(-2, 0), "weight of the label replay (CE on stored labels)"),
    }
    extra_cost = "a memory of ctx.extra['replay_budget'] samples with their logits; 3x batch per step"

    def setup(self):
        self.memory = LogitMemory(self.ctx.extra["replay_budget"], self.generator)

    def step(self, batch):
        self.model.train()
        out = self.forward(batch)
        loss = F.cross_entropy(out.logits, batch.y)
        if len(self.memory):
            old, logits = self.memory.sample_with_logits(len(batch.y))
            loss = loss + self.hp["alpha"] * F.mse_loss(self.forward(old).logits, logits)
            old, _ = self.memory.sample_with_logits(len(batch.y))
            loss = loss + self.hp["beta"] * F.cross_entropy(self.forward(old).logits, old.y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        stored = Batch(**{f: getattr(batch, f) for f in ("x", "y", "index", "domain", "experience")},
                       logit_mask=batch.logit_mask)
        stored.logits = out.logits.detach()
        self.memory.reservoir([stored])
        return {"loss": loss.detach()}
