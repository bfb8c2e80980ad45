"""Early-learning regularization (Liu et al., 'Early-Learning Regularization Prevents Memorization
of Noisy Labels', NeurIPS 2020).

Per training sample i a target t_i, a running average of the model's own predictions:
  t_i <- beta * t_i + (1 - beta) * p_i          (p_i clamped, renormalized, no gradient)
  L = CE(p, y) + lambda * mean_i log(1 - <p_i, t_i>)
Minimizing log(1 - <p, t>) keeps predictions close to what the network learned early, before it
memorized the wrong labels. Per-sample state lives in a [num_train, K] buffer indexed by batch.index.
"""

import torch
import torch.nn.functional as F

from benchmark.hparams import HParam, LogUniform, Uniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("elr")
class ELR(Method):
    paper = "Liu et al., NeurIPS 2020"
    title = 'Early-Learning Regularization Prevents Memorization of Noisy Labels'
    authors = 'Sheng Liu, Jonathan Niles-Weed, Narges Razavian, Carlos Fernandez-Granda'
    venue = 'NeurIPS'
    year = 2020
    url = 'https://arxiv.org/abs/2007.00151'
    hparams = {
        "beta": HParam(0.7, Uniform(0.5, 0.99), "momentum of the per-sample target"),
        "lam": HParam(3.0, LogUniform(-1, 1), "weight of the early-learning term"),
    }
    extra_cost = "a [num_train, num_classes] target buffer"

    def setup(self):
        self.targets = torch.zeros(self.ctx.num_train, self.ctx.num_classes, device=self.ctx.device)

    def loss(self, batch, out):
        p = F.softmax(out.logits, dim=1).clamp(1e-4, 1 - 1e-4)
        with torch.no_grad():
            p_detached = p.detach() / p.detach().sum(1, keepdim=True)
            self.targets[batch.index] = self.hp["beta"] * self.targets[batch.index] + (1 - self.hp["beta"]) * p_detached
        inner = (self.targets[batch.index] * p).sum(1)
        return F.cross_entropy(out.logits, batch.y) + self.hp["lam"] * torch.log(1 - inner).mean()
