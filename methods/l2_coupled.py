"""Weight decay as a tuned baseline: ERM plus an L2 penalty on every parameter (Krogh & Hertz, 'A Simple
Weight Decay Can Improve Generalization', NeurIPS 1991).

  L = CE + (wd / 2) * ||w||^2,  applied through the task optimizer's weight_decay (for Adam the coupled
  form: wd * w is added to the gradient before the adaptive scaling)
The cheapest regularizer there is; every other one should beat it, not just plain ERM.
"""

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("weight_decay")
class WeightDecay(Method):
    paper = "Krogh & Hertz, NeurIPS 1991"
    hparams = {"wd": HParam(1e-4, LogUniform(-6, -2), "L2 coefficient, DomainBed's search range")}

    def optimizer_options(self):
        return {"weight_decay": self.hp["wd"]}
