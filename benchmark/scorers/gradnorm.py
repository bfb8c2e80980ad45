"""GradNorm (Huang, Geng & Li, 'On the Importance of Gradients for Detecting Distributional Shifts in the
Wild', NeurIPS 2021): the size of the gradient that would pull the prediction toward uniform.

With u the uniform distribution over the K classes and the linear head W (logits W h + b),
  s(x) = || d KL(u || softmax(f(x) / T)) / d W ||_1
In-distribution inputs, predicted confidently, give larger gradients. For a linear head the gradient is
the outer product (p - u) h^T / T (p = softmax(f / T)), whose entrywise L1 norm factorizes:
  s(x) = ||p - u||_1 * ||h||_1 / T
so no backward pass is needed (checked against autograd in the tests). T = 1 (the paper's choice).
"""

from benchmark.hparams import Choice, HParam
from benchmark.scorers import Scorer, flat_features, register_scorer


@register_scorer("gradnorm")
class GradNorm(Scorer):
    paper = "Huang et al., NeurIPS 2021"
    hparams = {"temperature": HParam(1.0, Choice(1.0), "softmax temperature T; the paper fixes 1")}
    needs = ("features",)

    def score(self, x, out):
        t = self.hp["temperature"]
        p = (out.logits.float() / t).softmax(1)
        return (p - 1 / p.shape[1]).abs().sum(1) * flat_features(out).abs().sum(1) / t
