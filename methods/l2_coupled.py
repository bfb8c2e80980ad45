"""L2 regularization as a tuned baseline: ERM plus an L2 penalty on every parameter, coupled to the
optimizer (Krogh & Hertz, 'A Simple Weight Decay Can Improve Generalization', NeurIPS 1991).

  L = CE + (wd / 2) * ||w||^2,  through the task optimizer's weight_decay: wd * w is added to the gradient
  (for Adam before the adaptive scaling, so a weight with large gradients is decayed less)
Under plain SGD this is weight decay; under Adam it is not (Loshchilov & Hutter): the decoupled form is
`decoupled_weight_decay`. The cheapest regularizer there is; every other one should beat it, not just ERM.
(Formerly `weight_decay`, a name that hid the coupling.)
"""

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("l2_coupled")
class L2Coupled(Method):
    paper = "Krogh & Hertz, NeurIPS 1991"
    title = 'A Simple Weight Decay Can Improve Generalization'
    authors = 'Anders Krogh, John A. Hertz'
    venue = 'NeurIPS'
    year = 1991
    url = ''
    hparams = {"wd": HParam(1e-4, LogUniform(-6, -2), "L2 coefficient, DomainBed's search range")}

    def optimizer_options(self):
        return {"weight_decay": self.hp["wd"]}
