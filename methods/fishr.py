"""Fishr (Rame, Dancette & Cord, 'Fishr: Invariant Gradient Variances for Out-of-Distribution
Generalization', ICML 2022).

Match, across training domains, the variance of the per-sample gradients of the loss with respect
to the linear head (a diagonal approximation of each domain's Fisher / Hessian). For a linear head
with cross-entropy the per-sample gradients are exact and cheap: with e_i = softmax(logits_i) - onehot(y_i),
  g_i = [e_i (outer) z_i, e_i]              (weight and bias gradients, flattened)
  v_e = mean_{i in e} (g_i - mean_{i in e} g_i)^2
  m_e <- ema * m_e + (1 - ema) * v_e   (m_e = 0 before the first step, stored detached)
  L = CE + lambda_t * mean_e mean_j (a_e - mean_e' a_e')_j^2,   a_e = m_e / (1 - ema)
The moving average is DomainBed's Fishr (`MovingAverage(ema, oneminusema_correction=True)`): zero-
initialised, and divided by 1 - ema "so that the gradients amplitude backpropagated in data is independent
of ema" -- the gradient reaches this step's v_e with weight 1, not 1 - ema. Without the division (and
with the first batch as the start) the penalty's gradient was (1 - ema)^2 = 1/400 of DomainBed's at the
same lambda at ema 0.95, and Fishr trained as ERM.
lambda_t = 0 during warm-up, lambda after, with an optimizer restart at the switch (DomainBed).
DomainBed: lambda 1e3 in 10^U(1, 4), ema 0.95 in U(0.90, 0.99), warm-up 1,500 of its 5,000 steps in
U(0, 5000) steps. Here in steps too, 1,500 by default, capped at half of the run (`warmup_steps`),
searched from 100 steps up (a warm-up of a few steps is the collapse the cap avoids).
"""

import torch
import torch.nn.functional as F

from benchmark.families.domain_generalization import Annealed
from benchmark.hparams import HParam, LogUniform, Uniform
from benchmark.registry import register_method


def gradient_variances(logits: torch.Tensor, features: torch.Tensor, y: torch.Tensor,
                       domain: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(v [G, K * D + K], domain ids [G]): per domain, the variance of each coordinate of the per-sample
    head gradients g_i = [e_i (outer) z_i, e_i], as E[g^2] - E[g]^2 -- [K, D] products per domain,
    never the [N, K, D] tensor of per-sample gradients."""
    err = F.softmax(logits, dim=1) - F.one_hot(y, logits.shape[1]).to(logits.dtype)
    ids, inverse, counts = torch.unique(domain, return_inverse=True, return_counts=True)
    onehot = F.one_hot(inverse, len(ids)).to(logits.dtype) / counts.to(logits.dtype)  # [N, G]: domain means
    k, d = err.shape[1], features.shape[1]
    weight = lambda e, z: ((onehot[:, :, None] * e[:, None, :]).flatten(1).T @ z).view(len(ids), k * d)
    mean_w, mean_sq_w = weight(err, features), weight(err.pow(2), features.pow(2))
    mean_b, mean_sq_b = onehot.T @ err, onehot.T @ err.pow(2)
    variance = torch.cat([mean_sq_w - mean_w.pow(2), mean_sq_b - mean_b.pow(2)], dim=1)
    return variance, ids


def variance_mismatch(variances: torch.Tensor) -> torch.Tensor:
    """[domains, P] gradient variances -> mean over domains of their squared distance to the mean."""
    return (variances - variances.mean(0)).pow(2).mean(1).mean()


def moving_average(previous: torch.Tensor, current: torch.Tensor, ema: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(m, a): the new average m = ema * previous + (1 - ema) * current, detached for the next step, and
    a = m / (1 - ema), through which the gradient reaches `current` with weight 1 (DomainBed)."""
    average = ema * previous + (1 - ema) * current
    return average.detach(), average / (1 - ema)


@register_method("fishr")
class Fishr(Annealed):
    paper = "Rame et al., ICML 2022"
    title = 'Fishr: Invariant Gradient Variances for Out-of-Distribution Generalization'
    authors = 'Alexandre Rame, Corentin Dancette, Matthieu Cord'
    venue = 'ICML'
    year = 2022
    url = 'https://arxiv.org/abs/2109.02934'
    families = ("domain_generalization",)
    needs_domains = True
    warmup_weight = 0.0
    hparams = {
        "lam": HParam(1e3, LogUniform(1, 4), "weight of the gradient-variance matching after warm-up"),
        "ema": HParam(0.95, Uniform(0.90, 0.99), "smoothing of each domain's gradient variance"),
        "anneal_steps": HParam(1500, Uniform(100, 5000), "steps without the penalty (at most half the run)"),
    }
    extra_cost = "per-domain [K, D] gradient moments per step"

    def setup(self):
        super().setup()
        p = self.ctx.num_classes * (self.model.head.in_features + 1)
        self.smoothed = torch.zeros(self.ctx.num_domains, p, device=self.ctx.device)  # m_e, zero-initialised

    def loss(self, batch, out):
        variances, ids = gradient_variances(out.logits, out.features, batch.y, batch.domain)
        smoothed, corrected = moving_average(self.smoothed[ids], variances, self.hp["ema"])
        self.smoothed[ids] = smoothed
        penalty = variance_mismatch(corrected)
        return F.cross_entropy(out.logits, batch.y) + self.penalty_weight(self.hp["lam"]) * penalty
