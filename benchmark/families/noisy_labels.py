"""Noisy labels: a share of training labels is wrong; the model must still learn the clean function.

Protocol: the data splits into train / validation / test with the run's seed; label noise
corrupts train *and* validation (a practitioner only has a noisy validation split); test stays
clean. After every epoch the protocol records noisy-validation and clean-test accuracy.
Human noise (`kind: human`, CIFAR-N): the source supplies the noisy labels and, when it marks one,
the official test split; train / validation are split from the rest.

Metrics
  test_acc        clean test accuracy at the epoch with the best noisy-validation accuracy (primary)
  last_acc        clean test accuracy after the last epoch
  memorization    share of corrupted training samples predicted as their *wrong* label at the end
  val_acc         the best noisy-validation accuracy (selection across hyperparameter draws uses it)
  oracle_test_acc best clean test accuracy over epochs: reads test labels, reported apart, never ranked
  ece, nll, brier calibration on the clean test split at the test_acc epoch (benchmark/metrics/calibration.py)
Diagnostics of the final model (benchmark/diagnostics.py, selection "last"): hessian_top_eig,
feature_effective_rank, spectral_norm_product, on training inputs with their noisy labels.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from benchmark import diagnostics
from benchmark.data import load
from benchmark.errors import BenchmarkError
from benchmark.metrics.calibration import NAMES as CALIBRATION
from benchmark.metrics.classification import memorization
from benchmark.records import Metric, Result, search_result
from benchmark.seeding import data_streams
from benchmark.shifts import label_noise
from benchmark.spec import Strict, TaskSpec
from benchmark.train import (
    TensorSet,
    accuracy,
    evaluate,
    fit_epoch,
    limit,
    make_context,
    predict,
    split_indices,
    split_off,
)

FAMILY = "noisy_labels"
PRIMARY = "test_acc"


class NoiseSpec(Strict):
    kind: Literal["symmetric", "asymmetric", "instance", "human"]
    rate: float = Field(ge=0, lt=1, description="share of labels corrupted (per source class if asymmetric); "
                        "human: the published rate of the source's label set, checked against the data")
    pairs: dict[int, int] | None = Field(
        default=None, description="asymmetric flips source -> target; default digits 2->7, 3->8, 5<->6, 7->1"
    )

    @model_validator(mode="after")
    def _pairs_only_for_asymmetric(self):
        if self.pairs is not None and self.kind != "asymmetric":
            raise ValueError(f"'pairs' only applies to asymmetric noise, not {self.kind}")
        return self


class Spec(TaskSpec):
    family: Literal["noisy_labels"]
    noise: NoiseSpec


def applies(method_cls, spec: Spec) -> str | None:
    if FAMILY not in method_cls.families:
        return f"method '{method_cls.name}' does not declare the {FAMILY} family"
    if method_cls.needs_domains:
        return f"method '{method_cls.name}' needs several training domains; noisy-label tasks have one"
    return None


def corrupt(y: np.ndarray, x: np.ndarray, noise: NoiseSpec, num_classes: int, rng: np.random.Generator):
    if noise.kind == "symmetric":
        return label_noise.symmetric(y, noise.rate, num_classes, rng)
    if noise.kind == "asymmetric":
        return label_noise.asymmetric(y, noise.rate, noise.pairs or label_noise.DIGIT_PAIRS, rng)
    return label_noise.instance(x, y, noise.rate, num_classes, rng)


def human(data, spec: Spec, rng: np.random.Generator):
    """Human label noise (CIFAR-N): the source's `noisy_y` labels; its official test split if it marks one."""
    if "noisy_y" not in data.extra:
        raise BenchmarkError(f"noise.kind = human: data source '{spec.data.source}' gives no human labels; "
                             "expected a source such as cifar10n or cifar100n")
    if "test" in data.extra:
        test_i = np.flatnonzero(data.extra["test"])
        rest = np.flatnonzero(~data.extra["test"])
        train_i, val_i = split_off(rest, data.y[rest], round(len(rest) * spec.split.val), rng)
    else:
        train_i, val_i, test_i = split_indices(data.y, spec.split.val, spec.split.test, rng)
    pool = np.r_[train_i, val_i]
    noisy = data.extra["noisy_y"][pool]
    corrupted = noisy != data.y[pool]
    slack = 4 * np.sqrt(spec.noise.rate * (1 - spec.noise.rate) / max(len(pool), 1)) + 0.01
    if abs(corrupted.mean() - spec.noise.rate) > slack:
        raise BenchmarkError(f"noise.rate = {spec.noise.rate}: the human labels of '{spec.data.source}' "
                             f"{spec.data.options} are wrong on {corrupted.mean():.4f} of the samples; "
                             "expected the published rate of that label set")
    return train_i, val_i, test_i, noisy, corrupted


def run(method_cls, hp: dict, spec: Spec, seed: int, device: torch.device, generator: torch.Generator,
        search: bool = False) -> Result:
    """One run; `search`: a search run, which reads no test split and records its val_acc only."""
    rng, noise_rng = data_streams(seed)  # the split and the noise: independent streams
    data = limit(load(spec.data.source, **spec.data.options), spec.data.limit, rng)
    num_classes = int(data.y.max()) + 1
    if spec.noise.kind == "human":
        train_i, val_i, test_i, noisy, corrupted = human(data, spec, rng)
    else:
        train_i, val_i, test_i = split_indices(data.y, spec.split.val, spec.split.test, rng)
        # One draw of noise over train + validation: the same noise process corrupts both.
        noisy, corrupted = corrupt(data.y[np.r_[train_i, val_i]], data.x[np.r_[train_i, val_i]],
                                   spec.noise, num_classes, noise_rng)
    train, val, test = data.take(train_i), data.take(val_i), data.take(test_i)
    train.y, val.y = noisy[:len(train_i)], noisy[len(train_i):]
    train_corrupted = corrupted[:len(train_i)]

    train_t, val_t, test_t = (TensorSet.of(s, device) for s in (train, val, test))
    ctx = make_context(spec, FAMILY, num_classes, train.x.shape[1:], len(train), generator, device)
    method = method_cls(ctx, hp)

    curves = {"train_loss": [], "val_acc": [], "test_acc": []}
    calibration = []  # per epoch: the test split's ece, nll, brier
    for epoch in range(spec.train.epochs):
        curves["train_loss"].append(fit_epoch(method, train_t.batches(spec.train.batch_size, generator)))
        method.on_epoch_end(epoch)
        curves["val_acc"].append(accuracy(method, val_t))
        if search:
            continue
        test_eval = evaluate(method, test_t)
        curves["test_acc"].append(test_eval["acc"])
        calibration.append(test_eval)

    best = int(np.argmax(curves["val_acc"]))  # first epoch reaching the best noisy-validation accuracy
    if search:
        return search_result(curves["val_acc"][best], "noisy_val")
    predicted = predict(method, train_t.x).logits.argmax(1).cpu().numpy()
    metrics = [
        Metric("test_acc", curves["test_acc"][best], selection="noisy_val"),
        Metric("val_acc", curves["val_acc"][best], selection="noisy_val"),
        Metric("last_acc", curves["test_acc"][-1], selection="last_epoch"),
        Metric("memorization", memorization(predicted, train.y, train_corrupted), selection="last_epoch"),
        Metric("oracle_test_acc", max(curves["test_acc"]), selection="oracle"),
        *(Metric(name, calibration[best][name], selection="noisy_val") for name in CALIBRATION),
        *diagnostics.measure(method.model, train_t.x, train_t.y, seed),
    ]
    details = {"curves": curves, "selected_epoch": best, "realized_noise_rate": float(train_corrupted.mean())}
    return Result(metrics=metrics, details=details, parameters=sum(p.numel() for p in method.model.parameters()))
