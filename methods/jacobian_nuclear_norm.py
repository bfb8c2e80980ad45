"""Jacobian nuclear-norm penalty by denoising (Scarvelis & Solomon, 'Nuclear Norm Regularization for
Deep Learning', NeurIPS 2024).

For f = g o h the Jacobian nuclear norm obeys ||J_f||_* <= (||J_h||_F^2 + ||J_g||_F^2) / 2, with equality
at the best factorization, so penalizing the two Frobenius norms penalizes ||J_f||_* . Each squared
Frobenius norm is estimated without any Jacobian, by how much the map moves under small input noise:
  ||J_h(x)||_F^2 ~= E ||h(x + sigma e) - h(x)||^2 / sigma^2,  e ~ N(0, I)
Here h = body (inputs -> features) and g = the linear head, whose Jacobian is its weight W everywhere, so
its term is exact: ||J_g||_F^2 = ||W||_F^2.
  L = CE + lam / 2 * (mean_i ||h(x_i + sigma e_i) - h(x_i)||^2 / sigma^2 + ||W_head||_F^2)
(Formerly `jacobian_penalty`, a name that reads as the Frobenius-norm Jacobian penalty of Hoffman et al.)
"""

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.penalties import normal
from benchmark.registry import register_method


@register_method("jacobian_nuclear_norm")
class JacobianNuclearNorm(Method):
    paper = "Scarvelis & Solomon, NeurIPS 2024"
    title = 'Nuclear Norm Regularization for Deep Learning'
    authors = 'Christopher Scarvelis, Justin Solomon'
    venue = 'NeurIPS'
    year = 2024
    url = 'https://arxiv.org/abs/2405.14544'
    hparams = {
        "lam": HParam(0.01, LogUniform(-4, -1), "weight of the nuclear-norm bound"),
        "sigma": HParam(0.05, LogUniform(-2.5, -0.5), "scale of the probing noise (input units)"),
    }
    extra_cost = "+1 forward/backward of the body per step"

    def body_jacobian(self, x, features):
        """Denoising estimate of mean_i ||J_body(x_i)||_F^2."""
        sigma = self.hp["sigma"]
        moved = self.model.body(x + sigma * normal(x.shape, self.generator, x.device))
        return (moved - features).pow(2).flatten(1).sum(1).mean() / sigma**2

    def penalty(self, batch, out):
        w = self.model.head.weight
        if batch.logit_mask is not None:  # task-incremental: only this task's head is the map g
            w = w[batch.logit_mask]
        return 0.5 * (self.body_jacobian(batch.x, out.features) + w.pow(2).sum())

    def loss(self, batch, out):
        return super().loss(batch, out) + self.hp["lam"] * self.penalty(batch, out)
