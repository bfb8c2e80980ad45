"""Co-teaching (Han et al., 'Co-teaching: Robust Training of Deep Neural Networks with Extremely
Noisy Labels', NeurIPS 2018).

Two networks; each keeps the R(t) share of its minibatch with the smallest loss and the *other*
network trains on those samples:
  R(t) = 1 - forget_rate * min(t / T_k, 1)      (t: epoch, T_k: ramp epochs)
Evaluation uses the first network. Exercises the whole-step hook.

The ramp is relative to the run: T_k = max(1, round(ramp * epochs)), ramp 0.5 by default. Han et al.
ramp over T_k = 10 of their 200 epochs, the early phase in which standard training fits the clean
majority and reaches its best test accuracy before it memorizes (their Fig. 3); dropping the full
rate only then keeps the small-loss trick from selecting among a network's guesses. Runs here are 15-30
epochs, and a fixed 5 epochs reached the full rate while ERM was at ~33% test accuracy
(noisy_digits_sym40); half of the run is where ERM on these tasks is past its fast rise.
"""

import math

import torch
import torch.nn.functional as F

from benchmark.hparams import HParam, Uniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("coteaching")
class CoTeaching(Method):
    paper = "Han et al., NeurIPS 2018"
    title = 'Co-teaching: Robust Training of Deep Neural Networks with Extremely Noisy Labels'
    authors = 'Bo Han, Quanming Yao, Xingrui Yu, Gang Niu, Miao Xu, Weihua Hu, Ivor Tsang, Masashi Sugiyama'
    venue = 'NeurIPS'
    year = 2018
    url = 'https://arxiv.org/abs/1804.06872'
    uses = ('second_network',)
    hparams = {
        "forget_rate": HParam(0.4, Uniform(0.0, 0.8), "share of each batch dropped at full schedule"),
        "ramp": HParam(0.5, Uniform(0.1, 0.9), "share of the run's epochs to reach the full forget rate"),
    }
    extra_cost = "2 networks: 2x forward/backward per step, 2x parameters in training"

    def setup(self):
        self.peer = self.ctx.build_model(**self.model_options())
        self.epoch = 0
        self.ramp_epochs = max(1, round(self.hp["ramp"] * self.ctx.epochs))

    def parameters(self):
        return [*self.model.parameters(), *self.peer.parameters()]

    def keep_ratio(self) -> float:
        return 1 - self.hp["forget_rate"] * min(self.epoch / self.ramp_epochs, 1.0)

    def step(self, batch):
        self.model.train()
        self.peer.train()
        logits_a = self.forward(batch).logits
        logits_b = self.peer(batch.x).logits
        loss_a = F.cross_entropy(logits_a, batch.y, reduction="none")
        loss_b = F.cross_entropy(logits_b, batch.y, reduction="none")
        keep = max(1, math.ceil(self.keep_ratio() * len(batch.y)))
        small_a = torch.argsort(loss_a.detach())[:keep]  # samples network A trusts...
        small_b = torch.argsort(loss_b.detach())[:keep]
        loss = loss_a[small_b].mean() + loss_b[small_a].mean()  # ...teach network B, and vice versa
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach() / 2}

    def on_epoch_end(self, epoch):
        self.epoch = epoch + 1
