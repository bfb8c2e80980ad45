"""Bootstrapping (Reed et al., 'Training Deep Neural Networks on Noisy Labels with Bootstrapping',
ICLR Workshop 2015): the target mixes the given label with the model's own current belief,
  soft:  t = beta * onehot(y) + (1 - beta) * p
  hard:  t = beta * onehot(y) + (1 - beta) * onehot(argmax_k p_k)
  L = -sum_k t_k log p_k       (t without gradient)
so a confidently contradicted label weighs less. The paper's betas: 0.95 (soft), 0.8 (hard).
"""

import torch
import torch.nn.functional as F

from benchmark.hparams import Choice, HParam, Uniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("bootstrap")
class Bootstrap(Method):
    paper = "Reed et al., ICLR Workshop 2015"
    title = "Training Deep Neural Networks on Noisy Labels with Bootstrapping"
    authors = "Scott Reed, Honglak Lee, Dragomir Anguelov, Christian Szegedy, Dumitru Erhan, Andrew Rabinovich"
    venue = "ICLR Workshop"
    year = 2015
    url = "https://arxiv.org/abs/1412.6596"
    hparams = {
        "beta": HParam(0.8, Uniform(0.5, 1.0), "weight of the given label in the target"),
        "mode": HParam("hard", Choice("hard", "soft"), "the model's belief as its argmax or its probabilities"),
    }
    extra_cost = "none"

    def loss(self, batch, out):
        log_p = F.log_softmax(out.logits, dim=1)
        with torch.no_grad():
            p = log_p.exp()
            belief = p if self.hp["mode"] == "soft" else F.one_hot(p.argmax(1), p.shape[1]).to(p.dtype)
            target = self.hp["beta"] * F.one_hot(batch.y, p.shape[1]).to(p.dtype) + (1 - self.hp["beta"]) * belief
        return -(target * log_p).sum(1).mean()
