"""Elastic weight consolidation (Kirkpatrick et al., 'Overcoming catastrophic forgetting in neural
networks', PNAS 2017).

After experience k, the diagonal of the (empirical) Fisher information at the learned weights theta*_k:
  F_k,i = 1/N * sum_n (d log p(y_n | x_n; theta) / d theta_i)^2      (per sample, true labels,
                                                                   the experience's head if any)
over the experience's first N = min(FISHER_SAMPLES, N_k) training samples (a random subset: the
protocol's order is random), which bounds the cost of the per-sample gradients.
Later experiences minimize, with one penalty per past experience ('separate' EWC):
  L = CE(f(x), y) + lam / 2 * sum_k sum_i F_k,i (theta_i - theta*_k,i)^2
Weights that mattered for an old experience are held near their old values; the others move freely.
The sum over k is kept in closed form: sum_k F_k (theta - theta*_k)^2 = A (theta - m)^2 + const with
A = sum_k F_k and m = sum_k F_k theta*_k / A, so a step costs the same after any number of experiences
(the constant changes the reported loss, never a gradient).
"""

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method, masked
from benchmark.registry import register_method

FISHER_SAMPLES = 256


@register_method("ewc")
class EWC(Method):
    paper = "Kirkpatrick et al., PNAS 2017"
    title = 'Overcoming catastrophic forgetting in neural networks'
    authors = ('James Kirkpatrick, Razvan Pascanu, Neil Rabinowitz, Joel Veness, Guillaume Desjardins, Andrei A. '
               'Rusu, Kieran Milan, John Quan, Tiago Ramalho, Agnieszka Grabska-Barwinska, Demis Hassabis, Claudia '
               'Clopath, Dharshan Kumaran, Raia Hadsell')
    venue = 'PNAS'
    year = 2017
    url = 'https://doi.org/10.1073/pnas.1611835114'
    families = ("continual",)
    hparams = {"lam": HParam(1000.0, LogUniform(1, 5), "weight of the Fisher-weighted pull to old weights")}
    extra_cost = "a Fisher pass (per-sample gradients) over each experience; 3 parameter copies"

    def setup(self):
        self.importance = None  # A: the summed Fisher diagonals of the past experiences
        self.weighted = None  # sum_k F_k * theta*_k
        self.center = None  # m

    @staticmethod
    def fisher_diagonal(model, batches, max_samples: int | None = None) -> list[torch.Tensor]:
        """Mean over samples of the squared per-sample gradient of log p(y|x), per parameter."""
        params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
        was_training = model.training
        model.eval()  # the Fisher of the deterministic network: no dropout noise in it

        def nll(p, x, y, mask):
            out = masked(functional_call(model, p, (x[None],)), mask)
            return F.cross_entropy(out.logits, y[None])

        per_sample = vmap(grad(nll), in_dims=(None, 0, 0, None))
        total = {n: torch.zeros_like(p) for n, p in params.items()}
        count = 0
        for batch in batches:
            take = len(batch.y) if max_samples is None else min(len(batch.y), max_samples - count)
            if take <= 0:
                break
            grads = per_sample(params, batch.x[:take], batch.y[:take], batch.logit_mask)
            for n in params:
                total[n] += (grads[n] ** 2).sum(0)
            count += take
        model.train(was_training)
        return [t / max(count, 1) for t in total.values()]

    def loss(self, batch, out):
        ce = F.cross_entropy(out.logits, batch.y)
        if self.importance is None:
            return ce
        params = [p for p in self.model.parameters() if p.requires_grad]
        penalty = sum((a * (p - m) ** 2).sum()
                      for p, a, m in zip(params, self.importance, self.center, strict=True))
        return ce + self.hp["lam"] / 2 * penalty

    def on_experience_end(self, experience, data):
        fisher = self.fisher_diagonal(self.model, data, FISHER_SAMPLES)
        weights = [p.detach() for p in self.model.parameters() if p.requires_grad]
        if self.importance is None:
            self.importance = [torch.zeros_like(f) for f in fisher]
            self.weighted = [torch.zeros_like(f) for f in fisher]
        for a, b, f, w in zip(self.importance, self.weighted, fisher, weights, strict=True):
            a += f
            b += f * w
        self.center = [torch.where(a > 0, b / a.clamp_min(1e-30), 0.0)
                       for a, b in zip(self.importance, self.weighted, strict=True)]
