"""Averaged gradient episodic memory, A-GEM (Chaudhry et al., 'Efficient Lifelong Learning with
A-GEM', ICLR 2019).

An episodic memory keeps B / T random training samples of each experience (B: the task's replay
budget, T: the number of experiences). From the second experience on, each step computes the
gradient g of the current minibatch and g_ref of an equally large minibatch drawn from the memory
(all of it when smaller); when they conflict the update is projected so that, to first order, the
memory's loss does not increase:
  g~ = g - (g . g_ref) / (g_ref . g_ref) * g_ref     if g . g_ref < 0,   else g~ = g
No hyperparameters of its own: the memory budget is the task's, the same for every memory-based method.
"""

import torch

from benchmark.memory import Memory
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("agem")
class AGEM(Method):
    paper = "Chaudhry et al., ICLR 2019"
    title = 'Efficient Lifelong Learning with A-GEM'
    authors = "Arslan Chaudhry, Marc'Aurelio Ranzato, Marcus Rohrbach, Mohamed Elhoseiny"
    venue = 'ICLR'
    year = 2019
    url = 'https://arxiv.org/abs/1812.00420'
    uses = ('memory',)
    families = ("continual",)
    extra_cost = "a memory of ctx.extra['replay_budget'] samples; 2 forward/backward passes per step"

    def setup(self):
        self.memory = Memory(self.ctx.extra["replay_budget"], self.generator)

    def _params(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def _gradient(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The minibatch loss and its gradient, flattened over all parameters."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(batch, self.forward(batch))
        loss.backward()
        return loss.detach(), torch.cat([
            (p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in self._params()])

    def step(self, batch):
        if not len(self.memory):
            return super().step(batch)
        self.model.train()
        _, g_ref = self._gradient(self.memory.sample(len(batch.y)))
        loss, g = self._gradient(batch)
        dot = g @ g_ref
        if dot < 0:
            g = g - dot / (g_ref @ g_ref).clamp_min(1e-12) * g_ref
            offset = 0
            for p in self._params():
                p.grad = g[offset:offset + p.numel()].view_as(p).clone()
                offset += p.numel()
        self.optimizer.step()
        return {"loss": loss}

    def on_experience_end(self, experience, data):
        per_experience = self.ctx.extra["replay_budget"] // self.ctx.num_experiences
        self.memory.add_random(data, max(1, per_experience))
