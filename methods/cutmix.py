"""CutMix (Yun et al., 'CutMix: Regularization Strategy to Train Strong Classifiers with Localizable
Features', ICCV 2019).

A box of a shuffled partner is pasted into each input; labels mix by the area each sample keeps:
  lam ~ Beta(alpha, alpha),  box side = (1 - lam)^(1/D) x each axis (D = 2 for images, 1 for signals,
  where the box is a segment),  x~ = M * x_j + (1 - M) * x_i,
  lam' = 1 - |M| / |x|  (the area actually kept after clipping at the borders),
  q~ = lam' onehot(y_i) + (1 - lam') onehot(y_j),  L = -sum_k q~_k log p_k(x~)
One box per batch, applied with probability `prob` (otherwise the step is plain cross-entropy).
"""

from benchmark.hparams import HParam, LogUniform, Uniform
from benchmark.penalties import InputMixing, boxes
from benchmark.registry import register_method


@register_method("cutmix")
class CutMix(InputMixing):
    paper = "Yun et al., ICCV 2019"
    title = 'CutMix: Regularization Strategy to Train Strong Classifiers with Localizable Features'
    authors = 'Sangdoo Yun, Dongyoon Han, Seong Joon Oh, Sanghyuk Chun, Junsuk Choe, Youngjoon Yoo'
    venue = 'ICCV'
    year = 2019
    url = 'https://arxiv.org/abs/1905.04899'
    hparams = {
        "alpha": HParam(1.0, LogUniform(-1, 0.5), "Beta(alpha, alpha) concentration of the kept area"),
        "prob": HParam(0.5, Uniform(0.1, 1.0), "share of steps that mix"),
    }
    extra_cost = "none (one box mask per step)"

    def mix(self, batch):
        x, onehot = batch.x, self.onehot(batch.y)
        if self.rng.random() >= self.hp["prob"]:
            return x, onehot
        lam = float(self.rng.beta(self.hp["alpha"], self.hp["alpha"]))
        spatial = tuple(x.shape[2:])
        box = boxes(1, spatial, (1 - lam) ** (1 / len(spatial)), self.generator, x.device)
        j = self.partners(batch)
        kept = 1 - box.float().mean()  # the realized area share of the original input
        return box * x[j] + ~box * x, kept * onehot + (1 - kept) * onehot[j]
