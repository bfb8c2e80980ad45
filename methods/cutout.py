"""Cutout (DeVries & Taylor, 'Improved Regularization of Convolutional Neural Networks with Cutout', 2017).

Each training input loses one region, set to zero:
  x~ = (1 - M) * x,   M a box with side `size` x each axis, centre uniform over the input, clipped at
  the borders (a segment for 1-D signals);  L = CE(f(x~), y)
The paper's CIFAR-10 setting, a 16-pixel square on 32-pixel images, is size = 0.5. Zero is the
background of the digit images and the mean of the standardized 1-D signals.
"""

from dataclasses import replace

from benchmark.hparams import HParam, Uniform
from benchmark.method import Method
from benchmark.penalties import boxes
from benchmark.registry import register_method


@register_method("cutout")
class Cutout(Method):
    paper = "DeVries & Taylor, arXiv:1708.04552, 2017"
    title = 'Improved Regularization of Convolutional Neural Networks with Cutout'
    authors = 'Terrance DeVries, Graham W. Taylor'
    venue = 'arXiv:1708.04552'
    year = 2017
    url = 'https://arxiv.org/abs/1708.04552'
    hparams = {"size": HParam(0.5, Uniform(0.1, 0.75), "side of the removed box, as a share of each axis")}
    extra_cost = "none (one box mask per sample per step)"

    def cut(self, x):
        return x * ~boxes(len(x), tuple(x.shape[2:]), self.hp["size"], self.generator, x.device)

    def forward(self, batch):
        return super().forward(replace(batch, x=self.cut(batch.x)))
