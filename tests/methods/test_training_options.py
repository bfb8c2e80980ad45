"""Model and training options (normalization, gradient clipping, one-cycle schedule): each does what it says
when on, and when off the run is the one without them, number for number."""

import pytest
import torch
from torch import nn

from benchmark.errors import BenchmarkError
from benchmark.families import protocol
from benchmark.models import build_model, seed_everything
from benchmark.registry import METHODS
from benchmark.runner import run_one  # noqa: F401  (imports the registry the protocols need)
from benchmark.tasks import load_task


def tiny(task="noisy_digits_sym40", model=None, **train):
    """The task's smoke spec cut to a few seconds: 150 samples, 1 epoch."""
    spec = load_task(task, "smoke")
    data = spec.data.model_copy(update={"limit": 150})
    updates = {"data": data, "train": spec.train.model_copy(update={"epochs": 1, **train})}
    if model is not None:
        updates["model"] = spec.model.model_copy(update={"options": {**spec.model.options, **model}})
    return spec.model_copy(update=updates)


def metrics(spec, method="erm", seed=0):
    cls = METHODS.get(method)
    hp = {n: h.default for n, h in cls.hparams.items()}
    result = protocol(spec.family).run(cls, hp, spec, seed, torch.device("cpu"), seed_everything(seed * 1000))
    return {(m.metric, m.selection, m.scorer, m.domain): m.value for m in result.metrics}


def test_options_off_reproduce_erm_exactly():
    # spelled-out defaults are the run without the options, bit for bit (each option's effect when on is
    # tested below, step by step)
    assert metrics(tiny(model={"norm": "none"}, clip_grad_norm=None, schedule="constant")) == metrics(tiny())


def test_norm_off_builds_the_same_network_and_on_inserts_layers():
    torch.manual_seed(0)
    plain = build_model("cnn2d", (1, 8, 8), 4, width=4)
    torch.manual_seed(0)
    spelled = build_model("cnn2d", (1, 8, 8), 4, width=4, norm="none")
    for a, b in zip(plain.state_dict().values(), spelled.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    batch = build_model("mlp", (1, 8, 8), 4, width=4, norm="batch")
    assert sum(isinstance(m, nn.BatchNorm1d) for m in batch.modules()) == 2
    layer = build_model("cnn1d", (1, 16), 4, width=4, norm="layer")
    assert sum(isinstance(m, nn.GroupNorm) for m in layer.modules()) == 3
    with pytest.raises(BenchmarkError, match="norm"):
        build_model("mlp", (1, 8, 8), 4, norm="weird")


def make_method(name="erm", **train):
    from benchmark.train import make_context

    spec = tiny(**train)
    ctx = make_context(spec, "noisy_labels", 4, (1, 8, 8), 640, seed_everything(0), torch.device("cpu"))
    cls = METHODS.get(name)
    return cls(ctx, {n: h.default for n, h in cls.hparams.items()})


def batch(n=16):
    from benchmark.method import Batch

    g = torch.Generator().manual_seed(3)
    return Batch(x=torch.randn((n, 1, 8, 8), generator=g) * 50, y=torch.arange(n) % 4, index=torch.arange(n),
                 domain=torch.zeros(n, dtype=torch.long), experience=torch.zeros(n, dtype=torch.long))


def test_clipping_bounds_the_gradient_the_optimizer_applies():
    m = make_method(clip_grad_norm=0.5)
    m.step(batch())
    applied = torch.nn.utils.get_total_norm([p.grad for p in m.model.parameters()])
    assert applied <= 0.5 + 1e-5
    free = make_method()
    free.step(batch())
    assert torch.nn.utils.get_total_norm([p.grad for p in free.model.parameters()]) > 0.5


def test_one_cycle_rises_to_the_task_lr_then_anneals():
    m = make_method(schedule="one_cycle", lr=0.01, epochs=3)
    total = m.ctx.epochs * m.ctx.steps_per_epoch
    lrs = [m.optimizer.param_groups[0]["lr"]]
    for _ in range(total + 3):  # past the planned end: the rate stays at its floor, no error
        m.step(batch())
        lrs.append(m.optimizer.param_groups[0]["lr"])
    assert lrs[0] == pytest.approx(0.01 / 25)
    assert max(lrs) == pytest.approx(0.01, rel=1e-3)
    assert lrs.index(max(lrs)) == pytest.approx(0.3 * total, abs=1.5)
    assert lrs[-1] < 0.01 / 1000


def test_a_method_declares_options_through_its_own_hooks():
    norms = (nn.BatchNorm1d, nn.BatchNorm2d)
    for name, check in [("batch_norm", lambda m: any(isinstance(x, norms) for x in m.model.modules())),
                        ("grad_clip", lambda m: bool(m.optimizer._optimizer_step_pre_hooks)),
                        ("one_cycle", lambda m: hasattr(m.optimizer, "scheduler"))]:
        assert check(make_method(name)), name
        assert not check(make_method("erm")), name
