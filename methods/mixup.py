"""Mixup (Zhang et al., 'mixup: Beyond Empirical Risk Minimization', ICLR 2018).

Each batch is mixed with a shuffled copy of itself, inputs and labels with the same weight:
  lam ~ Beta(alpha, alpha),  x~ = lam x_i + (1 - lam) x_j,  q~ = lam onehot(y_i) + (1 - lam) onehot(y_j)
  L = -sum_k q~_k log p_k(x~)
One lam per batch, as in the paper. Partners come from the whole batch, so in domain generalization
they may come from another training domain; in task-incremental learning they share the batch's head.
"""

from benchmark.hparams import HParam, LogUniform
from benchmark.penalties import InputMixing
from benchmark.registry import register_method


@register_method("mixup")
class Mixup(InputMixing):
    paper = "Zhang et al., ICLR 2018"
    title = 'mixup: Beyond Empirical Risk Minimization'
    authors = 'Hongyi Zhang, Moustapha Cisse, Yann N. Dauphin, David Lopez-Paz'
    venue = 'ICLR'
    year = 2018
    url = 'https://arxiv.org/abs/1710.09412'
    hparams = {"alpha": HParam(0.2, LogUniform(-1, 0.5), "Beta(alpha, alpha) concentration of the mixing")}
    extra_cost = "none (one Beta draw and a permutation per step)"

    def mix(self, batch):
        lam = float(self.rng.beta(self.hp["alpha"], self.hp["alpha"]))
        j = self.partners(batch)
        x = lam * batch.x + (1 - lam) * batch.x[j]
        targets = lam * self.onehot(batch.y) + (1 - lam) * self.onehot(batch.y[j])
        return x, targets
