"""Batch normalization (Ioffe & Szegedy, 'Batch Normalization: Accelerating Deep Network Training by
Reducing Internal Covariate Shift', ICML 2015): ERM on the task's model with a BatchNorm layer after every
hidden layer, before its nonlinearity (the model option norm = "batch", benchmark/models.py).

  BN(h) = gamma * (h - mu_B) / sqrt(sigma_B^2 + eps) + beta
mu_B, sigma_B^2 are the minibatch's per-channel mean and variance in training; running averages
(momentum 0.1) replace them in evaluation. The regularizing effect is the noise of the batch statistics.
"""

from benchmark.method import Method
from benchmark.registry import register_method


@register_method("batch_norm")
class BatchNorm(Method):
    paper = "Ioffe & Szegedy, ICML 2015"
    title = "Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate Shift"
    authors = "Sergey Ioffe, Christian Szegedy"
    venue = "ICML"
    year = 2015
    url = "https://arxiv.org/abs/1502.03167"
    extra_cost = "one normalization per hidden layer (2 parameters and 2 running statistics per channel)"

    def model_options(self):
        return {"norm": "batch"}
