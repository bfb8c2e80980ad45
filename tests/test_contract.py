"""The method contract serves every hook: proven with tiny test-only methods through a real protocol."""

import math

import pytest
import torch

from benchmark.families import noisy_labels
from benchmark.hparams import HParam, LogUniform, draw
from benchmark.method import Method
from benchmark.models import seed_everything
from benchmark.tasks import load_task

SPEC = load_task("noisy_digits_sym40", "smoke")


def train(method_cls, hp=None, seed=0):
    return noisy_labels.run(method_cls, hp or {}, SPEC, seed, torch.device("cpu"), seed_everything(seed))


class PerSampleState(Method):
    """Per-sample state through batch.index: counts how often each training sample was seen."""

    def setup(self):
        self.seen = torch.zeros(self.ctx.num_train, dtype=torch.long)

    def loss(self, batch, out):
        self.seen[batch.index] += 1
        return super().loss(batch, out)


def test_per_sample_state_through_indices():
    holder = {}

    class Probe(PerSampleState):
        def setup(self):
            super().setup()
            holder["method"] = self

    train(Probe)
    m = holder["method"]
    # every training sample seen exactly once per epoch: indices are positions in the training set
    assert torch.all(m.seen == m.ctx.epochs)


def test_custom_step_replaces_the_default_update():
    calls = []

    class NoUpdate(Method):
        def step(self, batch):
            calls.append(len(batch.y))
            return {"loss": torch.tensor(0.0)}

    frozen = train(NoUpdate)
    erm = train(Method)
    assert sum(calls) > 0
    acc = {m.metric: m.value for m in frozen.metrics}["test_acc"]
    assert acc < {m.metric: m.value for m in erm.metrics}["test_acc"]  # an untrained model does worse


def test_lifecycle_hook_runs_after_every_epoch():
    epochs = []

    class Hooked(Method):
        def on_epoch_end(self, epoch):
            epochs.append(epoch)

    train(Hooked)
    assert epochs == list(range(SPEC.train.epochs))


def test_loss_term_changes_training():
    class Penalized(Method):
        hparams = {"weight": HParam(1.0, LogUniform(-2, 1))}

        def loss(self, batch, out):
            return super().loss(batch, out) + self.hp["weight"] * out.logits.pow(2).mean()

    a = train(Penalized, {"weight": 1.0}).details["curves"]["train_loss"]
    b = train(Method).details["curves"]["train_loss"]
    assert a != b


def test_context_never_carries_data():
    seen = {}

    class Spy(Method):
        def setup(self):
            seen.update(vars(self.ctx))

    train(Spy)
    assert not any(isinstance(v, torch.Tensor) and v.ndim > 0 for v in seen.values())
    assert not any(isinstance(v, torch.Tensor) for v in seen["extra"].values())


def test_draw_zero_is_the_defaults_and_draws_are_deterministic():
    space = {"lam": HParam(3.0, LogUniform(-1, 1)), "beta": HParam(0.7, LogUniform(-1, 0))}
    assert draw(space, 0) == {"lam": 3.0, "beta": 0.7}
    assert draw(space, 5) == draw(space, 5)
    assert draw(space, 5) != draw(space, 6)
    assert all(space[k].space.contains(v) for k, v in draw(space, 7).items())
    # adding a hyperparameter never changes the values drawn for the others
    assert draw({"lam": space["lam"]}, 5)["lam"] == draw(space, 5)["lam"]


@pytest.mark.parametrize("kind", ["model", "optimizer"])
def test_construction_hooks(kind):
    holder = {}

    class Configured(Method):
        def model_options(self):
            return {"width": 8} if kind == "model" else {}

        def optimizer_options(self):
            return {"lr": 0.5} if kind == "optimizer" else {}

        def setup(self):
            holder["m"] = self

    train(Configured)
    m = holder["m"]
    if kind == "model":
        # the width the method asked for, not the task's: an MLP's features are its width, a 2-D CNN's twice it
        assert m.model.feature_dim == {"mlp": 8, "cnn2d": 16}[SPEC.model.name]
        assert SPEC.model.options.get("width") != 8
    else:
        assert math.isclose(m.optimizer.param_groups[0]["lr"], 0.5)
