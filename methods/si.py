"""Synaptic intelligence (Zenke, Poole & Ganguli, 'Continual Learning Through Synaptic
Intelligence', ICML 2017).

During experience k every step adds each parameter's share of the decrease of the task loss,
  w_i += -g_i * delta_theta_i        (g: gradient of the task loss alone, delta: the step's change)
and at the end of the experience the importance grows by
  Omega_i += w_i / ((theta_i(end of k) - theta_i(start of k))^2 + xi),    then w_i = 0.
Later experiences minimize
  L = CE(f(x), y) + c * sum_i Omega_i (theta_i - theta*_i)^2      (theta*: weights after the last experience)
The task-loss gradient is the step's total gradient minus the penalty's own, 2 c Omega (theta - theta*).
"""

import torch
import torch.nn.functional as F

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("si")
class SI(Method):
    paper = "Zenke et al., ICML 2017"
    title = 'Continual Learning Through Synaptic Intelligence'
    authors = 'Friedemann Zenke, Ben Poole, Surya Ganguli'
    venue = 'ICML'
    year = 2017
    url = 'https://arxiv.org/abs/1703.04200'
    families = ("continual",)
    hparams = {
        "c": HParam(1.0, LogUniform(-2, 2), "weight of the importance-weighted pull to old weights"),
        "xi": HParam(1e-3, LogUniform(-4, -1), "damping of the importance when a weight barely moved"),
    }
    extra_cost = "3 parameter copies; a parameter copy per step"

    def setup(self):
        params = self._params()
        self.omega = [torch.zeros_like(p) for p in params]
        self.path = [torch.zeros_like(p) for p in params]
        self.start = [p.detach().clone() for p in params]  # weights when the experience began
        self.anchor = [p.detach().clone() for p in params]  # weights after the last experience

    def _params(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def penalty(self):
        return sum((o * (p - a) ** 2).sum()
                   for p, o, a in zip(self._params(), self.omega, self.anchor, strict=True))

    def loss(self, batch, out):
        return F.cross_entropy(out.logits, batch.y) + self.hp["c"] * self.penalty()

    def step(self, batch):
        before = [p.detach().clone() for p in self._params()]
        result = super().step(batch)
        with torch.no_grad():
            for p, b, w, o, a in zip(self._params(), before, self.path, self.omega, self.anchor, strict=True):
                if p.grad is not None:
                    task_grad = p.grad - 2 * self.hp["c"] * o * (b - a)
                    w -= task_grad * (p - b)
        return result

    def on_experience_end(self, experience, data):
        with torch.no_grad():
            state = zip(self._params(), self.path, self.omega, self.start, self.anchor, strict=True)
            for p, w, o, s, a in state:
                o += w / ((p - s) ** 2 + self.hp["xi"])
                w.zero_()
                s.copy_(p)
                a.copy_(p)
