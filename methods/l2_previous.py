"""L2 toward the previous experience's weights (the 'L2' baseline of Kirkpatrick et al., 'Overcoming
catastrophic forgetting in neural networks', PNAS 2017; EWC with an identity Fisher).

After each experience the weights theta* are stored; later experiences minimize
  L = CE(f(x), y) + lam / 2 * sum_i (theta_i - theta*_i)^2
Every parameter is held back equally, whatever its importance for the old experiences.
"""

import torch
import torch.nn.functional as F

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("l2_previous")
class L2Previous(Method):
    paper = "Kirkpatrick et al., PNAS 2017 (L2 baseline)"
    title = 'Overcoming catastrophic forgetting in neural networks'
    authors = ('James Kirkpatrick, Razvan Pascanu, Neil Rabinowitz, Joel Veness, Guillaume Desjardins, Andrei A. '
               'Rusu, Kieran Milan, John Quan, Tiago Ramalho, Agnieszka Grabska-Barwinska, Demis Hassabis, Claudia '
               'Clopath, Dharshan Kumaran, Raia Hadsell')
    venue = 'PNAS'
    year = 2017
    url = 'https://doi.org/10.1073/pnas.1611835114'
    families = ("continual",)
    hparams = {"lam": HParam(1.0, LogUniform(-2, 2), "weight of the pull toward the previous weights")}
    extra_cost = "one copy of the parameters"

    def setup(self):
        self.anchor = None

    def penalty(self):
        if self.anchor is None:
            return torch.zeros((), device=self.ctx.device)
        return sum(((p - a) ** 2).sum() for p, a in zip(self.model.parameters(), self.anchor, strict=True))

    def loss(self, batch, out):
        return F.cross_entropy(out.logits, batch.y) + self.hp["lam"] / 2 * self.penalty()

    def on_experience_end(self, experience, data):
        self.anchor = [p.detach().clone() for p in self.model.parameters()]
