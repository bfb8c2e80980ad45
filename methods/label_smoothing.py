"""Label smoothing (Szegedy et al., 'Rethinking the Inception Architecture', CVPR 2016).

Targets mix the one-hot label with the uniform distribution over the classes the batch may predict:
  q = (1 - eps) * onehot(y) + eps / K,   L = -sum_k q_k log p_k
With a task-incremental head (batch.logit_mask), K counts only the allowed classes: smoothing mass
on masked-out classes would reward pushing every allowed logit down.
"""

import torch.nn.functional as F

from benchmark.hparams import HParam, Uniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("label_smoothing")
class LabelSmoothing(Method):
    paper = "Szegedy et al., CVPR 2016"
    title = 'Rethinking the Inception Architecture for Computer Vision'
    authors = 'Christian Szegedy, Vincent Vanhoucke, Sergey Ioffe, Jonathon Shlens, Zbigniew Wojna'
    venue = 'CVPR'
    year = 2016
    url = 'https://arxiv.org/abs/1512.00567'
    hparams = {"eps": HParam(0.1, Uniform(0.0, 0.5), "smoothing mass spread uniformly over classes")}

    def loss(self, batch, out):
        eps = self.hp["eps"]
        if batch.logit_mask is None:
            return F.cross_entropy(out.logits, batch.y, label_smoothing=eps)
        allowed = batch.logit_mask.expand_as(out.logits).float()
        q = (1 - eps) * F.one_hot(batch.y, out.logits.shape[1]) + eps * allowed / allowed.sum(1, keepdim=True)
        return -(q * F.log_softmax(out.logits, dim=1)).sum(1).mean()
