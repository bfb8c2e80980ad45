"""Dropout on the hidden layers (Srivastava et al., 'Dropout: A Simple Way to Prevent Neural Networks
from Overfitting', JMLR 2014).

During training each hidden activation is zeroed with probability p and the survivors scaled by 1/(1-p):
  h~ = h * m / (1 - p),  m ~ Bernoulli(1 - p);  evaluation uses h unchanged.
The models place it after every hidden ReLU of the MLP and after the first two convolution blocks of
the CNNs (models.py); its masks come from torch's global generator, which the runner seeds per run.
"""

from benchmark.hparams import HParam, Uniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("dropout")
class Dropout(Method):
    paper = "Srivastava et al., JMLR 2014"
    title = 'Dropout: A Simple Way to Prevent Neural Networks from Overfitting'
    authors = 'Nitish Srivastava, Geoffrey Hinton, Alex Krizhevsky, Ilya Sutskever, Ruslan Salakhutdinov'
    venue = 'JMLR'
    year = 2014
    url = 'https://jmlr.org/papers/v15/srivastava14a.html'
    hparams = {"p": HParam(0.2, Uniform(0.05, 0.6), "drop probability of each hidden activation")}
    extra_cost = "none (one mask per hidden layer per step)"

    def model_options(self):
        return {"dropout": self.hp["p"]}
