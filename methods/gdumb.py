"""GDumb (Prabhu, Torr & Dokania, 'GDumb: A Simple Approach that Questions Our Progress in Continual
Learning', ECCV 2020): a greedy class-balanced memory, and a network trained from scratch on the memory
alone whenever it is evaluated.

Sampler: while the memory (the task's replay budget B) has room every sample is stored; once full, a
sample whose class holds fewer than the largest class's count replaces a random sample of a largest class
(otherwise it is dropped), so the memory tends to B / (classes seen) per class. Learner: after each
experience a freshly initialized model is trained for `epochs` passes over the memory with the task's
optimizer (minibatches of the task's size); the stream itself is never trained on.
"""

import torch
import torch.nn.functional as F

from benchmark.hparams import HParam, IntUniform
from benchmark.memory import Memory
from benchmark.method import Batch, Method
from benchmark.registry import register_method


class BalancedMemory(Memory):
    def add_balanced(self, batch) -> None:
        self._remember_head(batch)
        fields = self._fields(batch)
        for i in range(len(batch.y)):
            row = {k: v[i:i + 1] for k, v in fields.items()}
            self.seen += 1
            if len(self) < self.budget:
                self._append(row)
                continue
            counts = torch.bincount(self.store["y"], minlength=int(batch.y.max()) + 1)
            label = int(row["y"])
            if counts[label] >= counts.max():
                continue
            largest = torch.nonzero(self.store["y"] == counts.argmax()).flatten()
            slot = largest[torch.randint(len(largest), (1,), generator=self.generator)].item()
            for k, v in row.items():
                self.store[k][slot] = v[0]


@register_method("gdumb")
class GDumb(Method):
    paper = "Prabhu et al., ECCV 2020"
    title = "GDumb: A Simple Approach that Questions Our Progress in Continual Learning"
    authors = "Ameya Prabhu, Philip H. S. Torr, Puneet K. Dokania"
    venue = "ECCV"
    year = 2020
    url = ""
    families = ("continual",)
    uses = ("memory",)
    hparams = {"epochs": HParam(10, IntUniform(3, 30), "passes over the memory when retraining from scratch")}
    extra_cost = "a memory of ctx.extra['replay_budget'] samples; a from-scratch fit on it per experience"

    def setup(self):
        self.memory = BalancedMemory(self.ctx.extra["replay_budget"], self.generator)
        self.batch_size = 1

    def step(self, batch):
        self.memory.add_balanced(batch)
        self.batch_size = max(self.batch_size, len(batch.y))  # the task's batch size (a last batch is smaller)
        return {"loss": torch.zeros(())}

    def on_experience_end(self, experience, data):
        self.model = self.ctx.build_model(**self.model_options())
        self.optimizer = self.ctx.make_optimizer(self.model.parameters(), **self.optimizer_options())
        self.model.train()
        n = len(self.memory)
        for _ in range(int(self.hp["epochs"])):
            order = torch.randperm(n, generator=self.generator)
            for start in range(0, n, self.batch_size):
                pick = order[start:start + self.batch_size].to(self.memory.store["y"].device)
                s = {k: v[pick] for k, v in self.memory.store.items()}
                batch = Batch(**s, logit_mask=self.memory.masks(s["experience"]))
                loss = F.cross_entropy(self.forward(batch).logits, batch.y)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
