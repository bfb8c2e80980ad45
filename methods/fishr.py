"""Fishr (Rame, Dancette & Cord, 'Fishr: Invariant Gradient Variances for Out-of-Distribution
Generalization', ICML 2022).

Match, across training domains, the variance of the per-sample gradients of the loss with respect
to the linear head (a diagonal approximation of each domain's Fisher / Hessian). For a linear head
with cross-entropy the per-sample gradients are exact and cheap: with e_i = softmax(logits_i) - onehot(y_i),
  g_i = [e_i (outer) z_i, e_i]              (weight and bias gradients, flattened)
  v_e = mean_{i in e} (g_i - mean_{i in e} g_i)^2,   smoothed as v_e <- ema * v_e(prev) + (1 - ema) * v_e
  L = CE + lambda_t * mean_e mean_j (v_e - mean_e' v_e')_j^2
lambda_t = 0 during warm-up, lambda after, with an optimizer restart at the switch (DomainBed).
DomainBed: lambda 1e3 in 10^U(1, 4), ema 0.95 in U(0.90, 0.99), warm-up 1,500 of its 5,000 steps in
U(0, 5000) steps -- here a share of the run's steps.
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
        self.smoothed = torch.zeros(self.ctx.num_domains, p, device=self.ctx.device)
        self.seen = torch.zeros(self.ctx.num_domains, dtype=torch.bool, device=self.ctx.device)

    def loss(self, batch, out):
        variances, ids = gradient_variances(out.logits, out.features, batch.y, batch.domain)
        ema = torch.where(self.seen[ids], self.hp["ema"], 0.0)[:, None]
        variances = ema * self.smoothed[ids] + (1 - ema) * variances  # the first batch sets the average
        with torch.no_grad():
            self.smoothed[ids] = variances.detach()
            self.seen[ids] = True
        penalty = variance_mismatch(variances)
        return F.cross_entropy(out.logits, batch.y) + self.penalty_weight(self.hp["lam"]) * penalty
