"""GEN, generalized entropy (Liu, Lochman & Zach, 'GEN: Pushing the Limits of Softmax-Based
Out-of-Distribution Detection', CVPR 2023).

The generalized entropy of the M largest softmax probabilities, negated (confident = low entropy = ID):
  s(x) = - sum_{k in top-M} p_k^gamma (1 - p_k)^gamma
gamma < 1 makes the score sensitive to small probabilities that MSP ignores. M = min(100, K) as in the
paper (all classes on small problems); gamma 0.1 (the paper's default).
"""

from benchmark.hparams import Choice, HParam
from benchmark.scorers import Scorer, register_scorer

TOP = 100


@register_scorer("gen")
class GEN(Scorer):
    paper = "Liu et al., CVPR 2023"
    hparams = {"gamma": HParam(0.1, Choice(0.1, 0.01, 0.5), "exponent of the generalized entropy")}

    def score(self, x, out):
        p = out.logits.double().softmax(1)
        top = p.topk(min(TOP, p.shape[1]), dim=1).values
        g = self.hp["gamma"]
        return -(top**g * (1 - top) ** g).sum(1).float()
