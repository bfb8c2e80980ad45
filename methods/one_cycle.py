"""One-cycle learning-rate policy (Smith, 'A disciplined approach to neural network hyper-parameters:
Part 1 -- learning rate, batch size, momentum, and weight decay', arXiv:1803.09820, 2018).

ERM with the training option schedule = "one_cycle" (benchmark/training_options.py,
torch.optim.lr_scheduler.OneCycleLR): over the T steps of the run the rate rises from lr_max/25 to
lr_max = m * lr (the task's lr times the multiplier m) over the first 30%, then anneals by cosine to
lr_max/(25 * 1e4); momentum (Adam's beta1) moves the opposite way between 0.95 and 0.85. The large
rates in the middle of the run act as a regularizer ("super-convergence").
"""

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("one_cycle")
class OneCycle(Method):
    paper = "Smith, arXiv:1803.09820, 2018"
    title = ("A disciplined approach to neural network hyper-parameters: Part 1 -- learning rate, batch size, "
             "momentum, and weight decay")
    authors = "Leslie N. Smith"
    venue = "arXiv:1803.09820"
    year = 2018
    url = "https://arxiv.org/abs/1803.09820"
    hparams = {"peak": HParam(3.0, LogUniform(-0.5, 1), "peak rate as a multiple of the task's lr")}
    extra_cost = "none (a scheduler step per update)"

    def optimizer_options(self):
        task_lr = self.ctx.make_optimizer([self.model.head.bias]).defaults["lr"]  # whatever the optimizer
        return {"schedule": "one_cycle", "lr": task_lr * self.hp["peak"]}
