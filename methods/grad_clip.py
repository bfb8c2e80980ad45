"""Gradient-norm clipping (Pascanu, Mikolov & Bengio, 'On the difficulty of training Recurrent Neural
Networks', ICML 2013): ERM whose every update uses the rescaled gradient

  g <- g * min(1, c / ||g||_2),   ||g||_2 over all trainable parameters together
(the training option clip_grad_norm = c, benchmark/training_options.py). Steps stay bounded where the
loss surface is steep; elsewhere nothing changes.
"""

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("grad_clip")
class GradClip(Method):
    paper = "Pascanu et al., ICML 2013"
    title = "On the difficulty of training Recurrent Neural Networks"
    authors = "Razvan Pascanu, Tomas Mikolov, Yoshua Bengio"
    venue = "ICML"
    year = 2013
    url = "https://arxiv.org/abs/1211.5063"
    hparams = {"c": HParam(1.0, LogUniform(-2, 1), "the largest gradient norm an update may use")}
    extra_cost = "one gradient norm per step"

    def optimizer_options(self):
        return {"clip_grad_norm": self.hp["c"]}
