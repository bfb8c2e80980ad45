"""Sharpness-aware minimization, SAM (Foret et al., 'Sharpness-Aware Minimization for Efficiently
Improving Generalization', ICLR 2021).

Minimizes the worst loss in a ball around the weights, with the inner maximum taken to first order:
  min_w max_{||e|| <= rho} L(w + e),   e* = rho * g / ||g||,  g = grad L(w)
  update: the task's optimizer steps with grad L(w + e*), taken at the perturbed weights
The norm is over all trainable parameters together. The step also reports the perturbed loss, which
the defining test checks is at least the clean one.
"""

from torch.nn.utils import get_total_norm

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.penalties import gradients, shifted, trainable
from benchmark.registry import register_method


@register_method("sam")
class SAM(Method):
    paper = "Foret et al., ICLR 2021"
    title = 'Sharpness-Aware Minimization for Efficiently Improving Generalization'
    authors = 'Pierre Foret, Ariel Kleiner, Hossein Mobahi, Behnam Neyshabur'
    venue = 'ICLR'
    year = 2021
    url = 'https://arxiv.org/abs/2010.01412'
    hparams = {"rho": HParam(0.05, LogUniform(-2.5, -0.5), "radius of the weight neighbourhood")}
    extra_cost = "2 forward/backward passes per step"

    def step(self, batch):
        self.model.train()
        params = trainable(self.model)
        clean = self.loss(batch, self.forward(batch))
        self.optimizer.zero_grad(set_to_none=True)
        clean.backward()
        g = gradients(params)
        scale = self.hp["rho"] / (get_total_norm(g) + 1e-12)
        with shifted(params, [scale * gi for gi in g]):
            self.optimizer.zero_grad(set_to_none=True)
            perturbed = self.loss(batch, self.forward(batch))
            perturbed.backward()
        self.optimizer.step()  # the gradient from w + e*, applied to w
        return {"loss": clean.detach(), "perturbed_loss": perturbed.detach()}
