"""Orthogonal gradient, "perp-grad" (Prieto et al., 'Grokking at the Edge of Numerical Stability',
ICLR 2025): each update keeps only the part of the gradient orthogonal to the weights,

  g_perp = g - (theta . g / theta . theta) theta        (theta, g: all trainable parameters as one vector)
so no step can simply scale the weights up, the "naive loss minimization" direction that inflates
logits once the training set is fit. The task's optimizer then steps with g_perp. No hyperparameters.
"""

import torch

from benchmark.method import Method
from benchmark.penalties import trainable
from benchmark.registry import register_method


def project_out_weights(params: list[torch.Tensor]) -> None:
    """In place: every .grad loses its component along the joint weight vector."""
    with_grad = [p for p in params if p.grad is not None]
    dot = sum((p * p.grad).sum() for p in with_grad)
    norm2 = sum(p.pow(2).sum() for p in with_grad)
    scale = dot / norm2.clamp_min(1e-30)
    for p in with_grad:
        p.grad.sub_(scale * p)


@register_method("perp_grad")
class PerpGrad(Method):
    paper = "Prieto et al., ICLR 2025"
    title = "Grokking at the Edge of Numerical Stability"
    authors = "Lucas Prieto, Melih Barsbey, Pedro A. M. Mediano, Tolga Birdal"
    venue = "ICLR"
    year = 2025
    url = "https://arxiv.org/abs/2501.04697"
    extra_cost = "two inner products over the parameters per step"

    def step(self, batch):
        self.model.train()
        loss = self.loss(batch, self.forward(batch))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            project_out_weights(trainable(self.model))
        self.optimizer.step()
        return {"loss": loss.detach()}
