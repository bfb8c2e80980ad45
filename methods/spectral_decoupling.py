"""Spectral decoupling (Pezeshki et al., 'Gradient Starvation: A Learning Proclivity in Neural
Networks', NeurIPS 2021).

Cross-entropy lets a few dominant features starve the gradient of the others; penalizing the logits
themselves (rather than the weights) decouples the features' learning dynamics:
  L = CE + lam / 2 * mean_i ||z_i||^2,   z = logits
In task-incremental learning only the logits of the batch's own head count.
"""

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("spectral_decoupling")
class SpectralDecoupling(Method):
    paper = "Pezeshki et al., NeurIPS 2021"
    title = 'Gradient Starvation: A Learning Proclivity in Neural Networks'
    authors = 'Mohammad Pezeshki, Sékou-Oumar Kaba, Yoshua Bengio, Aaron Courville, Doina Precup, Guillaume Lajoie'
    venue = 'NeurIPS'
    year = 2021
    url = 'https://arxiv.org/abs/2011.09468'
    hparams = {"lam": HParam(0.01, LogUniform(-4, -1), "weight of the squared-logit penalty")}

    def penalty(self, batch, out):
        z = out.logits if batch.logit_mask is None else out.logits[:, batch.logit_mask]
        return 0.5 * z.pow(2).sum(1).mean()

    def loss(self, batch, out):
        return super().loss(batch, out) + self.hp["lam"] * self.penalty(batch, out)
