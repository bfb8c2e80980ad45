"""Fish (Shi et al., 'Gradient Matching for Domain Generalization', ICLR 2022), first-order version.

Maximizing the inner product of the training domains' gradients, to first order, is a Reptile-style
meta step: copy the weights, take one inner optimizer step per training domain in random order,
then move the weights part of the way toward the copy:
  theta~ <- theta;  for e in shuffled domains: theta~ <- theta~ - alpha * grad R_e(theta~)
  theta  <- theta + epsilon * (theta~ - theta)
The inner optimizer is the task's own (Adam by default), kept across steps (DomainBed).
Buffers move with the weights: DomainBed's Fish interpolates the whole state_dict (`fish()` on
`network.state_dict()`), so BatchNorm running statistics take the same epsilon step toward the inner
copy's (theta's counters, such as num_batches_tracked, take the inner copy's value). Without it the
outer model, the one evaluated, kept its initial running statistics: its BatchNorm layers normalized
with mean 0 and variance 1 at test time.
DomainBed: meta step epsilon 0.5, one of 0.05, 0.1, 0.5.
"""

import torch
import torch.nn.functional as F

from benchmark.families.domain_generalization import domain_masks
from benchmark.hparams import Choice, HParam
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("fish")
class Fish(Method):
    paper = "Shi et al., ICLR 2022"
    title = 'Gradient Matching for Domain Generalization'
    authors = 'Yuge Shi, Jeffrey Seely, Philip H. S. Torr, N. Siddharth, Awni Hannun, Nicolas Usunier, Gabriel Synnaeve'
    venue = 'ICLR'
    year = 2022
    url = 'https://arxiv.org/abs/2104.09937'
    uses = ('second_network',)
    families = ("domain_generalization",)
    needs_domains = True
    hparams = {
        "meta_lr": HParam(0.5, Choice(0.05, 0.1, 0.5), "share of the inner trajectory the weights take"),
    }
    extra_cost = "one forward/backward per training domain per step, 2x parameters in training"

    def setup(self):
        self.inner = self.ctx.build_model(**self.model_options())
        self.inner_optimizer = self.ctx.make_optimizer(self.inner.parameters())

    def step(self, batch):
        self.model.train()
        self.inner.train()
        with torch.no_grad():  # the inner copy starts from the current weights (and buffers)
            inner, outer = self.inner.state_dict().values(), self.model.state_dict().values()
            torch._foreach_copy_(list(inner), list(outer))
        masks = domain_masks(batch)
        losses = []
        for i in torch.randperm(len(masks), generator=self.generator).tolist():
            m = masks[i]
            loss = F.cross_entropy(self.inner(batch.x[m]).logits, batch.y[m])
            self.inner_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.inner_optimizer.step()
            losses.append(loss.detach())
        with torch.no_grad():
            for p, p_inner in zip(self.model.parameters(), self.inner.parameters(), strict=True):
                p.add_(self.hp["meta_lr"] * (p_inner - p))
            for b, b_inner in zip(self.model.buffers(), self.inner.buffers(), strict=True):
                if b.is_floating_point():
                    b.add_(self.hp["meta_lr"] * (b_inner - b))
                else:
                    b.copy_(b_inner)
        return {"loss": torch.stack(losses).mean()}
