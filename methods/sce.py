"""Symmetric cross-entropy, SCE (Wang et al., 'Symmetric Cross Entropy for Robust Learning with Noisy
Labels', ICCV 2019).

Cross-entropy plus the reverse cross-entropy, where the roles of prediction and label swap and the label
distribution's log 0 is clipped to A = -4:
  RCE = -sum_k p_k log q_k = -A (1 - p_y)           (q the one-hot label, log 0 := A)
  L = alpha * CE + beta * RCE
RCE is bounded and noise-tolerant; CE keeps the fit. Defaults: the paper's CIFAR-10 setting.
"""

import torch.nn.functional as F

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method

LOG_ZERO = -4.0  # the paper's A


@register_method("sce")
class SCE(Method):
    paper = "Wang et al., ICCV 2019"
    title = "Symmetric Cross Entropy for Robust Learning with Noisy Labels"
    authors = "Yisen Wang, Xingjun Ma, Zaiyi Chen, Yuan Luo, Jinfeng Yi, James Bailey"
    venue = "ICCV"
    year = 2019
    url = "https://arxiv.org/abs/1908.06112"
    hparams = {
        "alpha": HParam(0.1, LogUniform(-2, 0), "weight of cross-entropy"),
        "beta": HParam(1.0, LogUniform(-1, 0.5), "weight of reverse cross-entropy"),
    }
    extra_cost = "none"

    def loss(self, batch, out):
        ce = F.cross_entropy(out.logits, batch.y)
        p_y = F.softmax(out.logits, dim=1).gather(1, batch.y[:, None]).squeeze(1)
        rce = (-LOG_ZERO * (1 - p_y)).mean()
        return self.hp["alpha"] * ce + self.hp["beta"] * rce
