"""Decoupled weight decay (Loshchilov & Hutter, 'Decoupled Weight Decay Regularization', ICLR 2019):
the weights shrink by a fixed fraction of the learning rate after every update, outside the adaptive
gradient scaling (AdamW when the task's optimizer is Adam, SGDW under SGD).

  theta <- theta - lr_t * step_t(grad L)       (the task's optimizer, unchanged)
  theta <- theta - lr_t * wd * theta           (every trainable parameter, lr_t the current rate)
Under Adam the coupled L2 (`l2_coupled`) decays a weight less the larger its gradient history; this decays
every weight alike. The decay follows any schedule (it reads the optimizer's current lr).
"""

import torch

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("decoupled_weight_decay")
class DecoupledWeightDecay(Method):
    paper = "Loshchilov & Hutter, ICLR 2019"
    title = "Decoupled Weight Decay Regularization"
    authors = "Ilya Loshchilov, Frank Hutter"
    venue = "ICLR"
    year = 2019
    url = "https://arxiv.org/abs/1711.05101"
    hparams = {"wd": HParam(1e-2, LogUniform(-4, 0), "decay per unit learning rate (AdamW's default 1e-2)")}
    extra_cost = "one in-place scaling of the parameters per step"

    def step(self, batch):
        # the decay uses the rate of the update just taken, so read it before a scheduler advances it
        rates = [g["lr"] for g in self.optimizer.param_groups]
        result = super().step(batch)
        with torch.no_grad():
            for group, lr in zip(self.optimizer.param_groups, rates, strict=True):
                for p in group["params"]:
                    p.mul_(1 - lr * self.hp["wd"])
        return result
