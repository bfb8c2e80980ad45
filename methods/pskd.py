"""Progressive self-knowledge distillation, PS-KD (Kim et al., 'Self-Knowledge Distillation with
Progressive Refinement of Targets', ICCV 2021).

The model is its own teacher: its predictions on each training sample at the previous epoch soften
that sample's target, more and more as training goes on:
  alpha_t = alpha_T * t / T                     (t: epoch, T: epochs)
  q_i = (1 - alpha_t) onehot(y_i) + alpha_t p_i^(t-1),   L = -sum_k q_ik log p_ik
p_i^(t-1) lives in a [num_train, num_classes] buffer indexed by batch.index, overwritten each time the
sample is seen. A sample not seen yet (a new continual experience) falls back to its one-hot label.
"""

import torch
import torch.nn.functional as F

from benchmark.hparams import HParam, Uniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("pskd")
class PSKD(Method):
    paper = "Kim et al., ICCV 2021"
    title = 'Self-Knowledge Distillation with Progressive Refinement of Targets'
    authors = 'Kyungyul Kim, ByeongMoon Ji, Doyoung Yoon, Sangheum Hwang'
    venue = 'ICCV'
    year = 2021
    url = 'https://arxiv.org/abs/2006.12000'
    hparams = {"alpha_T": HParam(0.8, Uniform(0.1, 0.95), "weight of the past prediction at the last epoch")}
    extra_cost = "a [num_train, num_classes] buffer of past predictions"

    def setup(self):
        n, k = self.ctx.num_train, self.ctx.num_classes
        self.past = torch.zeros(n, k, device=self.ctx.device)
        self.seen = torch.zeros(n, dtype=torch.bool, device=self.ctx.device)
        self.epoch = 0

    def alpha(self) -> float:
        return self.hp["alpha_T"] * min(self.epoch / self.ctx.epochs, 1.0)

    def targets(self, batch):
        onehot = F.one_hot(batch.y, self.ctx.num_classes).float()
        past = torch.where(self.seen[batch.index, None], self.past[batch.index], onehot)
        return (1 - self.alpha()) * onehot + self.alpha() * past

    def loss(self, batch, out):
        targets = self.targets(batch)
        with torch.no_grad():
            self.past[batch.index] = F.softmax(out.logits, dim=1)
            self.seen[batch.index] = True
        return F.cross_entropy(out.logits, targets)  # probability targets

    def on_epoch_end(self, epoch):
        self.epoch = epoch + 1
