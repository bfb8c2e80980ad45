"""The OOD training methods: LogitNorm's normalized loss, Outlier Exposure's uniform-prediction term
on auxiliary outliers, and where each may run."""

import math

import pytest
import torch
import torch.nn.functional as F

from benchmark.data import load
from benchmark.families import ood
from benchmark.method import Batch, Output
from benchmark.models import seed_everything
from benchmark.registry import METHODS
from benchmark.runner import run_one
from benchmark.tasks import parse_task
from benchmark.train import TensorSet, fit_epoch, make_context

LOGITNORM, OE, ERM = METHODS.get("logitnorm"), METHODS.get("outlier_exposure"), METHODS.get("erm")
NEAR = {"name": "digits_6_9", "kind": "near", "source": "digits", "classes": [6, 7, 8, 9]}
TUNE = {"name": "blended", "kind": "near", "source": "digits",
        "corruption": {"kind": "blend", "strength": 0.5}}
FLOWER = {"name": "flower", "kind": "far", "source": "photo_patches", "options": {"image": "flower"}}


def spec(auxiliary=None):
    section = {"id_classes": [0, 1, 2, 3, 4, 5], "test": [NEAR], "tune": [TUNE], "auxiliary": auxiliary}
    return parse_task({"family": "ood", "data": {"source": "digits"}, "model": {"name": "mlp", "options":
                       {"width": 64}}, "train": {"epochs": 3, "lr": 0.003}, "ood": section}, "tasks/toy.yaml")


def batch(logits_rows: int, y) -> Batch:
    y = torch.as_tensor(y)
    zeros = torch.zeros(len(y), dtype=torch.long)
    return Batch(x=torch.zeros(len(y), 1, 8, 8), y=y, index=torch.arange(len(y)), domain=zeros,
                 experience=zeros)


def make(cls, hp, outliers=None, seed=0):
    generator = seed_everything(seed)
    extra = {} if outliers is None else {"outliers": outliers}
    ctx = make_context(spec(FLOWER), "ood", 10, (1, 8, 8), 600, generator, torch.device("cpu"), **extra)
    return cls(ctx, hp), generator


def test_logitnorm_is_cross_entropy_of_logits_scaled_to_norm_one_over_tau():
    method, _ = make(LOGITNORM, {"tau": 0.5})
    logits = torch.tensor([[3.0, 4.0] + [0.0] * 8, [0.0, 2.0] + [0.0] * 8])
    y = [0, 1]
    # rows have norms 5 and 2: divided by tau * norm, the non-zero entries become (1.2, 1.6) and (0, 2)
    row0 = -math.log(math.exp(1.2) / (math.exp(1.2) + math.exp(1.6) + 8))
    row1 = -math.log(math.exp(2.0) / (math.exp(2.0) + 9))
    out = Output(logits=logits, features=torch.zeros(2, 1))
    loss = method.loss(batch(2, y), out).item()
    assert loss == pytest.approx((row0 + row1) / 2, rel=1e-5)
    # the magnitude of the logits no longer matters: the loss cannot be lowered by growing them
    scaled = Output(logits=7 * logits, features=out.features)
    assert method.loss(batch(2, y), scaled).item() == pytest.approx(loss)
    assert loss != pytest.approx(F.cross_entropy(logits, torch.tensor(y)).item())


def test_uniform_cross_entropy_is_minus_the_mean_log_softmax():
    from methods.outlier_exposure import uniform_cross_entropy

    logits = torch.randn(5, 10, generator=torch.Generator().manual_seed(0))
    expected = -(logits.log_softmax(1).mean(1)).mean()
    assert uniform_cross_entropy(logits).item() == pytest.approx(expected.item(), rel=1e-6)
    assert uniform_cross_entropy(torch.zeros(3, 10)).item() == pytest.approx(math.log(10))  # its minimum


def train(cls, hp, outliers=None):
    digits = load("digits")
    data = TensorSet.of(digits.take(torch.arange(600).numpy()), torch.device("cpu"))
    method, generator = make(cls, hp, outliers)
    for _ in range(4):
        fit_epoch(method, data.batches(64, generator))
    return method


def test_outlier_exposure_outliers_are_the_inputs_pixels_shuffled_with_their_norm_and_range():
    from methods.outlier_exposure import shuffled_pixels

    x = torch.as_tensor(load("digits").x[:20])
    method, _ = make(OE, {"lam": 0.5})
    outliers = method.outliers(x)
    assert outliers.shape == (40, *x.shape[1:]), "two outliers per input"
    twice = torch.cat([x, x])
    flat, flat_out = twice.flatten(1), outliers.flatten(1)
    assert torch.equal(flat.sort(1).values, flat_out.sort(1).values), "the very same pixel values"
    assert torch.allclose(flat.norm(dim=1), flat_out.norm(dim=1))
    assert (flat != flat_out).any(1).all(), "every copy shuffled"
    assert not torch.equal(outliers[:20], outliers[20:]), "each copy its own permutation"
    rgb = torch.rand(3, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    shuffled = shuffled_pixels(rgb, torch.Generator().manual_seed(1))
    pixels = lambda t: {tuple(t[:, i, j].tolist()) for i in range(4) for j in range(4)}
    assert all(pixels(rgb[n]) == pixels(shuffled[n]) for n in range(3)), "a pixel keeps its channels together"
    signal = torch.arange(12.0).view(2, 6)
    assert torch.equal(shuffled_pixels(signal, torch.Generator()).sort(1).values, signal)


def test_outlier_exposure_is_erm_plus_the_outlier_term_only():
    erm = train(ERM, {})
    silent = train(OE, {"lam": 0.0})
    exposed = train(OE, {"lam": 0.5})
    # weight 0: the very same updates as ERM (same batches, the outliers' own generator)
    for a, b in zip(erm.model.parameters(), silent.model.parameters(), strict=True):
        assert torch.equal(a, b)
    # weight 0.5: shuffles of unseen digits get predictions nearer uniform (MSP 0.1) than under ERM
    unseen, _ = make(OE, {"lam": 0.5}, seed=5)
    test_outliers = unseen.outliers(torch.as_tensor(load("digits").x[1000:1300]))
    msp = lambda m: m.predict(test_outliers).logits.softmax(1).amax(1).mean().item()
    assert msp(exposed) < msp(erm) - 0.05


def test_outlier_exposure_needs_no_auxiliary_set_and_runs_only_on_ood_tasks():
    assert ood.applies(OE, spec(None)) is None and ood.applies(OE, spec(FLOWER)) is None
    assert OE.families == ("ood",) and LOGITNORM.families == ("ood",)
    ctx = make_context(spec(None), "ood", 6, (1, 8, 8), 100, seed_everything(0), torch.device("cpu"))
    OE(ctx, {"lam": 0.5})


@pytest.mark.parametrize("method", ["logitnorm", "outlier_exposure"])
def test_ood_methods_run_on_a_shipped_task(method):
    record = run_one(method, "ood_digits_near", seed=0, profile="smoke")
    assert record["status"] == "ok", record["error"]
    assert any(m.metric == "auroc" and m.scorer == "msp" and m.domain == "mean" for m in record["metrics"])
