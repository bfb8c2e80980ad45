"""Confidence penalty (Pereyra et al., 'Regularizing Neural Networks by Penalizing Confident Output
Distributions', ICLR 2017 workshop).

Low-entropy (over-confident) predictions are penalized:
  L = CE(p, y) - beta * H(p),   H(p) = -sum_k p_k log p_k
Label smoothing pulls p toward uniform through the targets; this pulls through the entropy of p itself.
"""

import torch.nn.functional as F

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


def entropy(logits):
    """Per-sample entropy; masked logits (-1e4) contribute exactly zero."""
    return -(F.softmax(logits, dim=1) * F.log_softmax(logits, dim=1)).sum(1)


@register_method("confidence_penalty")
class ConfidencePenalty(Method):
    paper = "Pereyra et al., ICLR 2017 workshop"
    title = 'Regularizing Neural Networks by Penalizing Confident Output Distributions'
    authors = 'Gabriel Pereyra, George Tucker, Jan Chorowski, Łukasz Kaiser, Geoffrey Hinton'
    venue = 'ICLR Workshop'
    year = 2017
    url = 'https://arxiv.org/abs/1701.06548'
    hparams = {"beta": HParam(0.1, LogUniform(-2, 0), "weight of the entropy bonus")}

    def loss(self, batch, out):
        return super().loss(batch, out) - self.hp["beta"] * entropy(out.logits).mean()
