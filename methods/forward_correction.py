"""Forward loss correction (Patrini et al., 'Making Deep Neural Networks Robust to Label Noise: a Loss
Correction Approach', CVPR 2017), with the noise transition matrix estimated from the network itself.

Stage 1 (the first `warmup` share of the run's steps): plain cross-entropy, while a per-sample buffer keeps
each training sample's latest softmax output. At the end of stage 1, for every class i the anchor is the
sample whose p_i is at the 97th percentile (the paper's robust argmax), and
  T_ij = p_j(x_anchor(i))            (row i: where a clean label i lands among the noisy labels)
Stage 2: the forward-corrected loss on the noisy label y~,
  L = -log ( (T^T p(x))_{y~} )
Evaluation uses the network's own p (the clean-label estimate).
"""

import torch
import torch.nn.functional as F

from benchmark.hparams import HParam, Uniform
from benchmark.method import Method
from benchmark.registry import register_method

ANCHOR_QUANTILE = 0.97


def estimate_transition(probs: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """[K, K] rows T_i = the prediction at the sample whose p_i is at the 97th percentile among those seen."""
    p = probs[seen]
    rows = []
    for i in range(p.shape[1]):
        threshold = torch.quantile(p[:, i], ANCHOR_QUANTILE)
        anchor = (p[:, i] - threshold).abs().argmin()  # the sample closest to the percentile
        rows.append(p[anchor])
    return torch.stack(rows)


@register_method("forward_correction")
class ForwardCorrection(Method):
    paper = "Patrini et al., CVPR 2017"
    title = "Making Deep Neural Networks Robust to Label Noise: a Loss Correction Approach"
    authors = "Giorgio Patrini, Alessandro Rozza, Aditya Krishna Menon, Richard Nock, Lizhen Qu"
    venue = "CVPR"
    year = 2017
    url = "https://arxiv.org/abs/1609.03683"
    families = ("noisy_labels",)
    hparams = {"warmup": HParam(0.5, Uniform(0.2, 0.8), "share of the steps trained plainly before T is fit")}
    extra_cost = "a [num_train, num_classes] buffer of predictions; one estimate of T"

    def setup(self):
        self.probs = torch.zeros(self.ctx.num_train, self.ctx.num_classes, device=self.ctx.device)
        self.seen = torch.zeros(self.ctx.num_train, dtype=torch.bool, device=self.ctx.device)
        self.transition = None
        self.steps = 0
        self.warmup_steps = max(1, round(self.hp["warmup"] * self.ctx.epochs * self.ctx.steps_per_epoch))

    def loss(self, batch, out):
        if self.transition is None:
            with torch.no_grad():
                self.probs[batch.index] = F.softmax(out.logits.float(), dim=1)
                self.seen[batch.index] = True
            return F.cross_entropy(out.logits, batch.y)
        noisy = F.softmax(out.logits, dim=1) @ self.transition
        return F.nll_loss(torch.log(noisy.clamp_min(1e-12)), batch.y)

    def step(self, batch):
        result = super().step(batch)
        self.steps += 1
        if self.transition is None and self.steps >= self.warmup_steps:
            self.transition = estimate_transition(self.probs, self.seen)
        return result
