"""Flooding (Ishida et al., 'Do We Need Zero Training Loss After Achieving Zero Training Error?',
ICML 2020).

The training loss is kept from sinking below a flood level b:
  L_flood = |L - b| + b
Above b this is plain gradient descent; below b the sign flips and the step goes uphill, so the
weights random-walk around loss b instead of memorizing (b is on the minibatch mean loss).
Ishida et al. pick b by validation from {0, 0.01, ..., 0.1}: levels that their long runs on clean data
reach. Runs here are 15-30 epochs and several tasks are noisy: their training loss ends between ~0.3
and ~1.9 nats, so a fixed default of 0.1 was never reached and flooding equalled ERM exactly on 5 of 13
tasks. Stated rule: b is the mean training loss of the epoch that ends a share `at` of the run (half
by default); before that b = 0 (|L| = L, plain ERM). The run reaches b by construction, and flooding
then keeps the loss from falling further -- the phase in which a noisy-label run memorizes.
"""

import torch

from benchmark.hparams import HParam, Uniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("flooding")
class Flooding(Method):
    paper = "Ishida et al., ICML 2020"
    title = 'Do We Need Zero Training Loss After Achieving Zero Training Error?'
    authors = 'Takashi Ishida, Ikko Yamane, Tomoya Sakai, Gang Niu, Masashi Sugiyama'
    venue = 'ICML'
    year = 2020
    url = 'https://arxiv.org/abs/2002.08709'
    hparams = {"at": HParam(0.5, Uniform(0.2, 0.9),
                            "share of the run whose last epoch's mean training loss becomes the flood level")}

    def setup(self):
        self.level = 0.0  # b = 0: plain ERM until the level is set
        self.set_after = max(1, round(self.hp["at"] * self.ctx.epochs))
        self.epochs_done = 0
        self.epoch_losses = []

    def loss(self, batch, out):
        loss = super().loss(batch, out)
        if self.epochs_done < self.set_after:
            self.epoch_losses.append(loss.detach())
        return (loss - self.level).abs() + self.level

    def on_epoch_end(self, epoch):
        self.epochs_done += 1
        if self.epochs_done == self.set_after and self.epoch_losses:
            self.level = float(torch.stack(self.epoch_losses).mean())
        self.epoch_losses = []
