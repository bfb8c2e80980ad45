"""Memory aware synapses, MAS (Aljundi et al., 'Memory Aware Synapses: Learning what (not) to forget',
ECCV 2018).

A parameter's importance is how much the network's output moves when it moves, measured without labels:
  Omega_i = 1/N * sum_n | d ||f(x_n)||_2^2 / d theta_i |     (per sample; the experience's head if any)
over the experience's first N = min(IMPORTANCE_SAMPLES, N_k) training samples. Importances accumulate
over experiences and the weights are anchored at the latest ones:
  Omega <- Omega + Omega_k,  theta* <- theta_k,   L = CE(f(x), y) + lam * sum_i Omega_i (theta_i - theta*_i)^2
"""

import torch
from torch.func import functional_call, grad, vmap

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method, masked
from benchmark.registry import register_method

IMPORTANCE_SAMPLES = 256


def output_sensitivity(model, batches, max_samples: int) -> list[torch.Tensor]:
    """Mean over samples of |grad_theta ||f(x)||^2|, per parameter."""
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    was_training = model.training
    model.eval()

    def squared_norm(p, x, mask):
        logits = masked(functional_call(model, p, (x[None],)), mask).logits
        if mask is not None:  # only the experience's own head counts
            logits = logits[:, mask.reshape(-1)]
        return logits.pow(2).sum()

    per_sample = vmap(grad(squared_norm), in_dims=(None, 0, None))
    total = {n: torch.zeros_like(p) for n, p in params.items()}
    count = 0
    for batch in batches:
        take = min(len(batch.y), max_samples - count)
        if take <= 0:
            break
        grads = per_sample(params, batch.x[:take], batch.logit_mask)
        for n in params:
            total[n] += grads[n].abs().sum(0)
        count += take
    model.train(was_training)
    return [t / max(count, 1) for t in total.values()]


@register_method("mas")
class MAS(Method):
    paper = "Aljundi et al., ECCV 2018"
    title = "Memory Aware Synapses: Learning what (not) to forget"
    authors = "Rahaf Aljundi, Francesca Babiloni, Mohamed Elhoseiny, Marcus Rohrbach, Tinne Tuytelaars"
    venue = "ECCV"
    year = 2018
    url = "https://arxiv.org/abs/1711.09601"
    families = ("continual",)
    hparams = {"lam": HParam(1.0, LogUniform(-1, 2), "weight of the importance-weighted pull to old weights")}
    extra_cost = "a per-sample gradient pass over each experience; 2 parameter copies"

    def setup(self):
        self.importance = None
        self.anchor = None

    def loss(self, batch, out):
        ce = super().loss(batch, out)
        if self.importance is None:
            return ce
        params = [p for p in self.model.parameters() if p.requires_grad]
        penalty = sum((o * (p - a) ** 2).sum() for p, o, a in zip(params, self.importance, self.anchor, strict=True))
        return ce + self.hp["lam"] * penalty

    def on_experience_end(self, experience, data):
        omega = output_sensitivity(self.model, data, IMPORTANCE_SAMPLES)
        self.importance = omega if self.importance is None else [a + b for a, b in zip(self.importance, omega,
                                                                                        strict=True)]
        self.anchor = [p.detach().clone() for p in self.model.parameters() if p.requires_grad]
