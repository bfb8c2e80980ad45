"""Von Neumann entropy of the representation, VNE (Kim et al., 'VNE: An Effective Method for Improving
Deep Representation by Manipulating Eigenvalue Distribution', CVPR 2023).

The autocorrelation of the L2-normalized features is a density matrix (PSD, trace 1); its entropy is
high when the representation spreads over many directions:
  rho = (1/N) sum_i z^_i z^_i^T,  z^_i = z_i / ||z_i||,   S(rho) = -sum_j l_j log l_j  (l_j: eigenvalues)
  L = CE - alpha * S(rho)     (VNE+: raise the entropy; alpha < 0 would lower it)
The eigenvalues come from the smaller of the [d, d] and [N, N] Gram matrices (they share them).
On the small ReLU networks of the embedded tasks (no normalization layers), alpha above about 0.03
drives every feature to zero within a few dozen steps and training never recovers; the search space
stops there.
"""

import torch
import torch.nn.functional as F

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


def von_neumann_entropy(features):
    # float64: collapsed ReLU features give near-rank-1 matrices with denormal entries, on which the
    # float32 eigensolver fails to converge; the matrix is at most [d, d], so this costs nothing
    z = F.normalize(features.flatten(1).double(), dim=1)
    n, d = z.shape
    rho = (z.T @ z if d <= n else z @ z.T) / n
    eig = torch.linalg.eigvalsh(rho).clamp_min(1e-12)  # tiny negative round-off -> 0 contribution
    return -(eig * eig.log()).sum().float()


@register_method("vne")
class VNE(Method):
    paper = "Kim et al., CVPR 2023"
    title = 'VNE: An Effective Method for Improving Deep Representation by Manipulating Eigenvalue Distribution'
    authors = 'Jaeill Kim, Suhyun Kang, Duhun Hwang, Jungwook Shin, Wonjong Rhee'
    venue = 'CVPR'
    year = 2023
    url = 'https://arxiv.org/abs/2304.01434'
    hparams = {"alpha": HParam(0.01, LogUniform(-3, -1.5), "weight of the entropy bonus")}
    extra_cost = "one eigendecomposition of a min(N, d)-sized matrix per step"

    def loss(self, batch, out):
        return super().loss(batch, out) - self.hp["alpha"] * von_neumann_entropy(out.features)
