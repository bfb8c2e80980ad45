"""Generalized cross-entropy (Zhang & Sabuncu, 'Generalized Cross Entropy Loss for Training Deep
Neural Networks with Noisy Labels', NeurIPS 2018).

  L_q = (1 - p_y^q) / q,   q in (0, 1]
q -> 0 recovers cross-entropy; q = 1 is mean absolute error, which is robust to symmetric noise
but slow to fit. The default q = 0.7 is the paper's.
"""

import torch.nn.functional as F

from benchmark.hparams import HParam, Uniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("gce")
class GCE(Method):
    paper = "Zhang & Sabuncu, NeurIPS 2018"
    title = 'Generalized Cross Entropy Loss for Training Deep Neural Networks with Noisy Labels'
    authors = 'Zhilu Zhang, Mert R. Sabuncu'
    venue = 'NeurIPS'
    year = 2018
    url = 'https://arxiv.org/abs/1805.07836'
    hparams = {"q": HParam(0.7, Uniform(0.1, 1.0), "truncation exponent: 0 = CE, 1 = MAE")}

    def loss(self, batch, out):
        p_y = F.softmax(out.logits, dim=1).gather(1, batch.y[:, None]).squeeze(1).clamp_min(1e-7)
        q = self.hp["q"]
        return ((1 - p_y**q) / q).mean()
