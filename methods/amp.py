"""Adversarial model perturbation, AMP (Zheng et al., 'Regularizing Neural Networks via Adversarial
Model Perturbation', CVPR 2021).

Trains on the loss at an adversarially perturbed copy of the weights, the perturbation found by a few
steps of projected gradient ascent inside an L2 ball:
  L_AMP(w) = max_{||d|| <= eps} L(w + d)
  d_0 = 0,  d_{k+1} = Proj_{||d|| <= eps}(d_k + eta * grad L(w + d_k)),  k < K
  update: the task's optimizer steps with grad L(w + d_K)
Unlike SAM the ascent is not normalized: a flat region (small gradient) is perturbed less than eps.
The norm is over all trainable parameters together.
"""

from torch.nn.utils import get_total_norm

from benchmark.hparams import HParam, IntUniform, LogUniform
from benchmark.method import Method
from benchmark.penalties import gradients, shifted, trainable
from benchmark.registry import register_method


@register_method("amp")
class AMP(Method):
    paper = "Zheng et al., CVPR 2021"
    title = 'Regularizing Neural Networks via Adversarial Model Perturbation'
    authors = 'Yaowei Zheng, Richong Zhang, Yongyi Mao'
    venue = 'CVPR'
    year = 2021
    url = 'https://arxiv.org/abs/2010.04925'
    hparams = {
        "eps": HParam(0.5, LogUniform(-1.5, 0.5), "radius of the L2 ball of weight perturbations"),
        "eta": HParam(1.0, LogUniform(-1, 0.5), "step size of the inner ascent"),
        "inner_steps": HParam(1, IntUniform(1, 2), "ascent steps K"),
    }
    extra_cost = "K + 1 forward/backward passes per step (default 2)"

    def backward_at(self, params, delta, batch):
        with shifted(params, delta):
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss(batch, self.forward(batch))
            loss.backward()
        return loss.detach()

    def step(self, batch):
        self.model.train()
        params = trainable(self.model)
        delta = [p.detach() * 0 for p in params]
        losses = []
        for _ in range(self.hp["inner_steps"]):
            losses.append(self.backward_at(params, delta, batch))
            delta = [d + self.hp["eta"] * g for d, g in zip(delta, gradients(params), strict=True)]
            norm = float(get_total_norm(delta))
            if norm > self.hp["eps"]:
                delta = [d * (self.hp["eps"] / norm) for d in delta]
        perturbed = self.backward_at(params, delta, batch)
        self.optimizer.step()
        return {"loss": losses[0], "perturbed_loss": perturbed}
