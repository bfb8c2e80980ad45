"""Empirical risk minimization: plain cross-entropy. The baseline every method is compared with.

In continual learning ERM is naive sequential fine-tuning.
Loss: L = -log p_y(x)
"""

from benchmark.method import Method
from benchmark.registry import register_method


@register_method("erm")
class ERM(Method):
    paper = "Vapnik, 'Principles of Risk Minimization for Learning Theory', NeurIPS 1991"
    title = 'Principles of Risk Minimization for Learning Theory'
    authors = 'Vladimir Vapnik'
    venue = 'NeurIPS'
    year = 1991
    url = ''
