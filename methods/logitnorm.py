"""LogitNorm (Wei et al., 'Mitigating Neural Network Overconfidence with Logit Normalization', ICML 2022).

Cross-entropy on logits rescaled to a fixed norm, so training cannot lower the loss by growing the
logits' magnitude (the source of overconfidence on OOD inputs):
  L = CE(f(x) / (tau * ||f(x)||_2), y)
Training only: evaluation and every OOD scorer read the raw logits f(x). The default tau = 0.04
is the paper's CIFAR-10 value.
"""

import torch.nn.functional as F

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


def normalized_logits(logits, tau: float):
    return logits / (tau * (logits.norm(p=2, dim=1, keepdim=True) + 1e-7))


@register_method("logitnorm")
class LogitNorm(Method):
    families = ("ood",)
    paper = "Wei et al., ICML 2022"
    title = 'Mitigating Neural Network Overconfidence with Logit Normalization'
    authors = 'Hongxin Wei, Renchunzi Xie, Hao Cheng, Lei Feng, Bo An, Yixuan Li'
    venue = 'ICML'
    year = 2022
    url = 'https://arxiv.org/abs/2205.09310'
    hparams = {"tau": HParam(0.04, LogUniform(-2.5, -0.5), "temperature: normalized logits have norm 1/tau")}

    def loss(self, batch, out):
        return F.cross_entropy(normalized_logits(out.logits, self.hp["tau"]), batch.y)
