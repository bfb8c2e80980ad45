"""`python -m benchmark new-method NAME`: write methods/NAME.py and tests/methods/test_NAME.py.

The method template is a working loss-term regularizer (a confidence penalty) whose comments explain
every hook; its test checks the penalty's defining behaviour. Both are meant to be edited.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from benchmark import ROOT
from benchmark.errors import BenchmarkError
from benchmark.registry import METHOD_NAME

NAME_RE = METHOD_NAME

METHOD = '''\
"""__TITLE__ (Author et al., 'Title of the paper', Venue Year).

What the method does, why it should help, and under which kind of trouble, with its formula:
  L = CE(p, y) + weight * R(p)
As generated, R is a confidence penalty, R(p) = sum_k p_k log p_k = -H(p) (Pereyra et al., ICLR 2017
workshop): confident predictions cost more. Replace `penalty` (and this docstring) with your method.
"""

import torch.nn.functional as F

from benchmark.hparams import HParam, LogUniform
from benchmark.method import Method
from benchmark.registry import register_method


@register_method("__NAME__")  # the registered name is the file name: methods/__NAME__.py
class __CLASS__(Method):
    paper = "Author et al., Venue Year"
    extra_cost = "none"  # what it costs beyond ERM, in words: "2 forward/backward passes per step"

    # Which kinds of trouble it applies to; a general regularizer keeps all four (the default).
    # families = ("noisy_labels", "domain_generalization", "continual", "ood")
    # True only if it needs several training domains at once (IRM, V-REx, ...):
    # needs_domains = False

    # Every hyperparameter: HParam(default, search space, what it does). The default must lie inside
    # the space; random search draws from the space (draw 0 = the defaults). Spaces: LogUniform(lo, hi)
    # = 10**U(lo, hi), Uniform(lo, hi), IntUniform(lo, hi), Choice(a, b, ...). `check` verifies that
    # moving each one changes the training: declare only what the hooks read, via self.hp["name"].
    hparams = {
        "weight": HParam(0.1, LogUniform(-3, 0), "weight of the penalty term"),
    }

    # What a method sees: self.model (body + linear head; self.model(x) -> Output(logits, features)),
    # self.hp (this run's hyperparameters), self.ctx (num_classes, input_shape, num_train, epochs,
    # steps_per_epoch, num_domains, num_experiences, extra), self.generator (the run's seeded random
    # generator: use it, never Python's random or numpy's global state), self.optimizer, and the
    # training batches handed to its hooks. Never test data: the protocol evaluates.

    def loss(self, batch, out):
        """The training objective of one minibatch (default: cross-entropy).

        batch.x, batch.y: inputs and (possibly noisy) labels; batch.index: positions in the training
        set, for per-sample state; batch.domain, batch.experience: ids (domain generalization,
        continual). out.logits [B, classes], out.features [B, D]: the model's output on batch.x.
        """
        return super().loss(batch, out) + self.hp["weight"] * penalty(out.logits)

    # The other hooks, from the most common to the rarest; uncomment and edit only what you need.
    #
    # def setup(self):
    #     """Extra state before the optimizer is built: a second model, a per-sample buffer
    #     (torch.zeros(self.ctx.num_train, self.ctx.num_classes)), a replay memory."""
    #
    # def model_options(self):
    #     """Options for the task's model builder, e.g. {"dropout": self.hp["p"]}."""
    #     return {}
    #
    # def optimizer_options(self):
    #     """Overrides of the task's optimizer settings, e.g. {"weight_decay": self.hp["wd"]}."""
    #     return {}
    #
    # def forward(self, batch):
    #     """How a training batch goes through the model (input noise, mixing); returns Output."""
    #     return super().forward(batch)
    #
    # def step(self, batch):
    #     """A whole update, for procedures that need more than a loss term (SAM, Co-teaching):
    #     forward, loss, backward, optimizer step; return {"loss": the loss, detached}."""
    #     return super().step(batch)
    #
    # def on_epoch_end(self, epoch):
    #     """After every epoch (epochs count within an experience in continual learning)."""
    #
    # def on_experience_end(self, experience, data):
    #     """Continual learning, after each experience: `data` iterates over its training batches
    #     (EWC's Fisher information, LwF's snapshot, a replay memory)."""
    #
    # def predict(self, x):
    #     """Evaluation-time forward on inputs only (no labels); default: the trained model."""
    #     return super().predict(x)
    #
    # def score(self, out):
    #     """An OOD score of its own, higher = more in-distribution; None = the benchmark's scorers."""
    #     return None


def penalty(logits):
    """Negative entropy of the predictions, averaged over the batch: -log K when uniform, 0 when one-hot."""
    log_p = F.log_softmax(logits, dim=1)
    return (log_p.exp() * log_p).sum(1).mean()
'''

TEST = '''\
"""Tests of __NAME__'s defining behaviour: `python -m pytest tests/methods/test___NAME__.py`.

`python -m benchmark check __NAME__` verifies the contract (determinism, hyperparameters, no test
data, ...); these tests verify what makes the method itself: edit them along with the method.
"""

import torch
import torch.nn.functional as F

from benchmark.hparams import draw
from benchmark.method import Batch, Context, Method, Output
from benchmark.models import mlp
from benchmark.registry import METHODS

__CLASS__ = METHODS.get("__NAME__")


def make(**hp):
    """The method on a tiny MLP (4 inputs, 3 classes), its defaults overridden by `hp`."""
    torch.manual_seed(0)
    ctx = Context(family="noisy_labels", num_classes=3, input_shape=(4,), num_train=8, epochs=1,
                  steps_per_epoch=1, generator=torch.Generator().manual_seed(0),
                  build_model=lambda **options: mlp((4,), 3, width=16, **options),
                  make_optimizer=lambda params, **options: torch.optim.SGD(params, **{"lr": 0.1, **options}))
    return __CLASS__(ctx, {**draw(__CLASS__.hparams, 0), **hp})


def batch(n=8):
    x = torch.randn(n, 4, generator=torch.Generator().manual_seed(1))
    y = torch.arange(n) % 3
    zeros = torch.zeros(n, dtype=torch.long)
    return Batch(x=x, y=y, index=torch.arange(n), domain=zeros, experience=zeros)


def test_the_penalty_changes_the_loss_and_zero_weight_is_erm():
    method, b = make(), batch()
    out = method.forward(b)
    erm = Method.loss(method, b, out)
    assert not torch.isclose(method.loss(b, out), erm)
    assert torch.isclose(make(weight=0.0).loss(b, out), erm)


def test_confident_predictions_cost_more_than_uncertain_ones():
    """The defining behaviour: on the same labels, the penalty is larger for peaked predictions."""
    method, b = make(), batch(n=3)
    features = torch.zeros(3, 16)
    excess = {}
    for name, logits in {"confident": 10 * torch.eye(3), "uncertain": torch.zeros(3, 3)}.items():
        out = Output(logits=logits, features=features)
        excess[name] = float(method.loss(b, out) - F.cross_entropy(logits, b.y))
    assert excess["confident"] > excess["uncertain"]


def test_a_training_step_lowers_the_loss_on_its_batch():
    method, b = make(), batch()
    first = float(method.step(b)["loss"])
    for _ in range(20):
        last = float(method.step(b)["loss"])
    assert last < first
'''


def class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def validate_name(name: str, root: Path = ROOT) -> None:
    if not NAME_RE.match(name) or keyword.iskeyword(name):
        raise BenchmarkError(f"method name '{name}': expected lowercase letters, digits and underscores, "
                             "starting with a letter (it names the file, the registry entry and DVC stages)")
    method = root / "methods" / f"{name}.py"
    if method.exists():
        raise BenchmarkError(f"methods/{name}.py already exists; pick another name or edit that file")
    pattern = re.compile(rf"register_method\(\s*['\"]{name}['\"]")
    for path in sorted((root / "methods").glob("*.py")):
        if pattern.search(path.read_text()):
            raise BenchmarkError(f"method name '{name}' is already registered in methods/{path.name}")


def new_method(name: str, root: Path = ROOT) -> list[Path]:
    """Write the method file and its test from the templates; refuse to overwrite anything."""
    validate_name(name, root)
    test = root / "tests" / "methods" / f"test_{name}.py"
    if test.exists():
        raise BenchmarkError(f"tests/methods/test_{name}.py already exists; remove it or pick another name")
    fill = {"__NAME__": name, "__CLASS__": class_name(name), "__TITLE__": name.replace("_", " ").capitalize()}
    written = []
    for path, template in ((root / "methods" / f"{name}.py", METHOD), (test, TEST)):
        text = template
        for key, value in fill.items():
            text = text.replace(key, value)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
