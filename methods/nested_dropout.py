"""Nested dropout on the features, as a compression prior against noisy labels (Chen et al., 'Compressing
Features for Learning with Noisy Labels', IEEE TNNLS 2022; nested dropout: Rippel et al., ICML 2014).

In training each sample keeps only its first b feature units, b drawn from a geometric distribution:
  b ~ Geometric(rho) truncated to {1..D},   z~_j = z_j [j <= b],   L = CE(head(z~), y)
so the leading units must carry the most information and the later ones are used less; at evaluation all D
units are used. (The paper also combines it with Co-teaching; this is the single-network form.)
"""

import torch

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method, Output, masked
from benchmark.registry import register_method


@register_method("nested_dropout")
class NestedDropout(Method):
    paper = "Chen et al., IEEE TNNLS 2022"
    title = "Compressing Features for Learning with Noisy Labels"
    authors = "Yingyi Chen, Shell Xu Hu, Xi Shen, Chunrong Ai, Johan A. K. Suykens"
    venue = "IEEE TNNLS"
    year = 2022
    url = "https://arxiv.org/abs/2206.13140"
    hparams = {"rho": HParam(0.02, LogUniform(-3, -0.5), "geometric parameter: mean kept width about 1/rho")}
    extra_cost = "none (one truncation per sample per step)"

    def forward(self, batch):
        z = self.model.body(batch.x).flatten(1)
        d = z.shape[1]
        u = torch.rand(len(z), generator=self.generator).to(z.device)
        # inverse-CDF draw of a geometric b >= 1, truncated at the width
        b = (torch.log1p(-u) / torch.log1p(torch.tensor(-self.hp["rho"]))).floor().long() + 1
        keep = torch.arange(d, device=z.device)[None, :] < b.clamp(max=d).to(z.device)[:, None]
        return masked(Output(logits=self.model.head(z * keep), features=z), batch.logit_mask)
