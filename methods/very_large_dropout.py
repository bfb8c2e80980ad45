"""Very large dropout on the penultimate features (Zhang & Bottou, 'Fine-tuning with Very Large
Dropout', arXiv:2403.00946, 2024).

Only the representation fed to the linear head is dropped, at a rate far above the usual:
  z = body(x),  z~ = z * m / (1 - p),  m ~ Bernoulli(1 - p),  logits = head(z~),  L = CE
with p around 0.9. The paper fine-tunes pre-trained networks and warns that such rates make training
from scratch very hard; the embedded tasks train from scratch, so this entry measures exactly that.
Evaluation uses z unchanged. Masks are drawn on the run's generator.
"""

from benchmark.hparams import HParam, Uniform
from benchmark.method import Method, Output, masked
from benchmark.penalties import uniform
from benchmark.registry import register_method


@register_method("very_large_dropout")
class VeryLargeDropout(Method):
    paper = "Zhang & Bottou, arXiv:2403.00946, 2024"
    title = 'Fine-tuning with Very Large Dropout'
    authors = 'Jianyu Zhang, Léon Bottou'
    venue = 'arXiv:2403.00946'
    year = 2024
    url = 'https://arxiv.org/abs/2403.00946'
    hparams = {"p": HParam(0.9, Uniform(0.5, 0.95), "drop probability of each penultimate feature")}
    extra_cost = "none (one mask on the features per step)"

    def drop(self, features):
        p = self.hp["p"]
        keep = uniform(features.shape, self.generator, features.device) >= p
        return features * keep / (1 - p)

    def forward(self, batch):
        features = self.drop(self.model.body(batch.x))
        return masked(Output(logits=self.model.head(features), features=features), batch.logit_mask)
