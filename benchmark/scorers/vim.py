"""ViM, virtual-logit matching (Wang et al., 'ViM: Out-Of-Distribution with Virtual-logit Matching',
CVPR 2022): the part of the features outside their principal subspace, scaled to the logits, acts as the
logit of a virtual OOD class.

Fitted on the training set: the origin o = -(W^T)^+ b (where the head's logits vanish), the principal
subspace P spanned by the top-D eigenvectors of the covariance of h - o, and the scale
  alpha = sum_i max_k f_k(x_i) / sum_i ||(I - P P^T)(h_i - o)||      (training inputs)
  s(x) = logsumexp_k f_k(x) - alpha * ||(I - P P^T)(h(x) - o)||     (energy minus the virtual logit)
D is a share of the feature width (the paper keeps D below the width, e.g. 1000 of 2048).
"""

import math

import torch

from benchmark.hparams import Choice, HParam
from benchmark.scorers import Scorer, flat_features, register_scorer


@register_scorer("vim")
class ViM(Scorer):
    paper = "Wang et al., CVPR 2022"
    hparams = {"share": HParam(0.5, Choice(0.5, 0.25, 0.75), "principal dimension D as a share of the width")}
    needs = ("features", "head")

    def fit(self, train, labels):
        head = self.probe.model.head
        w, b = head.weight.detach().double(), head.bias.detach().double()
        self.origin = -(torch.linalg.pinv(w) @ b)
        h = flat_features(train).double() - self.origin
        dim = min(h.shape[1] - 1, max(1, math.floor(self.hp["share"] * h.shape[1])))
        _, eigenvectors = torch.linalg.eigh(h.T @ h / len(h))  # ascending eigenvalues
        self.complement = eigenvectors[:, : h.shape[1] - dim]  # the directions outside the top-D subspace
        residual = (h @ self.complement).norm(dim=1)
        self.alpha = float(train.logits.double().amax(1).sum() / residual.sum().clamp_min(1e-12))

    def residual(self, out):
        return ((flat_features(out).double() - self.origin) @ self.complement).norm(dim=1)

    def score(self, x, out):
        return (out.logits.double().logsumexp(1) - self.alpha * self.residual(out)).float()
