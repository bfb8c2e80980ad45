"""Gaussian input-noise injection (Bishop, 'Training with Noise is Equivalent to Tikhonov
Regularization', Neural Computation 1995).

Every training input is perturbed afresh at every step:
  x~ = x + sigma * eps,  eps ~ N(0, I),   L = CE(f(x~), y)
To second order this adds sigma^2 times a penalty on the input-gradient of the loss. `sigma` is in
input units (the digit images lie in [0, 1]; the 1-D signals have unit standard deviation).
"""

from dataclasses import replace

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.penalties import normal
from benchmark.registry import register_method


@register_method("input_noise")
class InputNoise(Method):
    paper = "Bishop, Neural Computation 1995"
    title = 'Training with Noise is Equivalent to Tikhonov Regularization'
    authors = 'Chris M. Bishop'
    venue = 'Neural Computation'
    year = 1995
    url = 'https://doi.org/10.1162/neco.1995.7.1.108'
    hparams = {"sigma": HParam(0.1, LogUniform(-2, 0), "standard deviation of the added noise")}
    extra_cost = "none (one Gaussian draw per input element per step)"

    def noisy(self, x):
        return x + self.hp["sigma"] * normal(x.shape, self.generator, x.device)

    def forward(self, batch):
        return super().forward(replace(batch, x=self.noisy(batch.x)))
