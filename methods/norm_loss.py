"""Norm Loss (Georgiou et al., 'Norm Loss: An efficient yet effective regularization method for deep
neural networks', ICPR 2020).

Every weight vector (a row of W: one neuron or one convolution filter) is pulled toward unit norm,
softly steering the weights toward the oblique manifold:
  R = sum_layers mean_rows (1 - ||w_r||_2)^2,   L = CE + lam * R
The mean over rows keeps lam comparable across widths. Applies to the hidden (body) layers; the linear
head is left free.
"""

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.penalties import weight_matrices
from benchmark.registry import register_method


@register_method("norm_loss")
class NormLoss(Method):
    paper = "Georgiou et al., ICPR 2020"
    title = 'Norm Loss: An efficient yet effective regularization method for deep neural networks'
    authors = 'Theodoros Georgiou, Sebastian Schmitt, Thomas Bäck, Wei Chen, Michael Lew'
    venue = 'ICPR'
    year = 2020
    url = 'https://arxiv.org/abs/2103.06583'
    hparams = {"lam": HParam(0.1, LogUniform(-3, 0), "weight of the unit-norm penalty")}
    extra_cost = "one row-norm per layer per step"

    def penalty(self):
        return sum((1 - w.norm(dim=1)).pow(2).mean() for w in weight_matrices(self.model))

    def loss(self, batch, out):
        return super().loss(batch, out) + self.hp["lam"] * self.penalty()
