"""Flooding (Ishida et al., 'Do We Need Zero Training Loss After Achieving Zero Training Error?',
ICML 2020).

The training loss is kept from sinking below a flood level b:
  L_flood = |L - b| + b
Above b this is plain gradient descent; below b the sign flips and the step goes uphill, so the
weights random-walk around loss b instead of memorizing (b is on the minibatch mean loss).
The paper searches b in [0.01, 0.1] on clean data; under label noise the loss of the noisy labels
themselves stays far higher (about 1.5 nats with 40% symmetric noise on ten classes), so the search space
reaches 2 nats: a flood below the loss a model actually reaches is plain ERM.
"""

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("flooding")
class Flooding(Method):
    paper = "Ishida et al., ICML 2020"
    title = 'Do We Need Zero Training Loss After Achieving Zero Training Error?'
    authors = 'Takashi Ishida, Ikko Yamane, Tomoya Sakai, Gang Niu, Masashi Sugiyama'
    venue = 'ICML'
    year = 2020
    url = 'https://arxiv.org/abs/2002.08709'
    hparams = {"level": HParam(0.1, LogUniform(-2, 0.3), "flood level b of the minibatch loss")}

    def loss(self, batch, out):
        b = self.hp["level"]
        return (super().loss(batch, out) - b).abs() + b
