"""Finite-difference gradient regularization (Karakida et al., 'Understanding Gradient Regularization in
Deep Learning: Efficient Finite-Difference Computation and Implicit Bias', ICML 2023).

Gradient regularization minimizes L(w) + (gamma / 2) ||grad L(w)||^2, whose gradient is g + gamma H g
(g = grad L(w), H the Hessian). The forward difference H g ~= (grad L(w + eps g) - g) / eps, with one
gradient ascent step and one descent step, gives the update direction
  g_GR = (1 - gamma / eps) g + (gamma / eps) grad L(w + eps g)
Here alpha = gamma / eps is the declared knob with eps: alpha = 1 is SAM's update with an unnormalized
ascent step. No second derivative is taken: 2 forward/backward passes per step.
"""

import torch

from benchmark.hparams import HParam, LogUniform, Uniform
from benchmark.method import Method
from benchmark.penalties import gradients, shifted, trainable
from benchmark.registry import register_method


@register_method("fd_grad_reg")
class FDGradReg(Method):
    paper = "Karakida et al., ICML 2023"
    title = ("Understanding Gradient Regularization in Deep Learning: Efficient Finite-Difference Computation "
             "and Implicit Bias")
    authors = "Ryo Karakida, Tomoumi Takase, Tomohiro Hayase, Kazuki Osawa"
    venue = "ICML"
    year = 2023
    url = "https://arxiv.org/abs/2210.02720"
    hparams = {
        "eps": HParam(0.01, LogUniform(-3, -1), "length of the ascent step along g"),
        "alpha": HParam(0.5, Uniform(0.1, 1.0), "gamma / eps: weight of the gradient at w + eps g"),
    }
    extra_cost = "2 forward/backward passes per step"

    def step(self, batch):
        self.model.train()
        params = trainable(self.model)
        clean = self.loss(batch, self.forward(batch))
        self.optimizer.zero_grad(set_to_none=True)
        clean.backward()
        g = gradients(params)
        with shifted(params, [self.hp["eps"] * gi for gi in g]):
            self.optimizer.zero_grad(set_to_none=True)
            self.loss(batch, self.forward(batch)).backward()
        a = self.hp["alpha"]
        with torch.no_grad():
            for p, gi in zip(params, g, strict=True):
                if p.grad is not None:
                    p.grad.mul_(a).add_(gi, alpha=1 - a)
        self.optimizer.step()
        return {"loss": clean.detach()}
