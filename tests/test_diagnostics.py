import math

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.diagnostics import effective_rank, hessian_top_eig, measure, spectral_norm_product, top_eigenvalue
from benchmark.metrics import DIAGNOSTICS
from benchmark.models import build_model


def orthonormal(rows: int, cols: int, seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed),
                                       dtype=torch.float64))
    return q


def with_singular_values(rows: int, cols: int, values, seed: int = 0) -> torch.Tensor:
    k = len(values)
    return orthonormal(rows, k, seed) @ torch.diag(torch.tensor(values, dtype=torch.float64)) \
        @ orthonormal(cols, k, seed + 1).T


def test_power_iteration_finds_a_quadratic_losss_top_eigenvalue():
    # loss = w^T A w / 2 has Hessian A; A's eigenvalues are chosen
    q = orthonormal(6, 6, 3)
    A = q @ torch.diag(torch.tensor([5.0, 2.0, 1.0, 0.5, 0.1, -0.3], dtype=torch.float64)) @ q.T
    w = torch.randn(6, dtype=torch.float64, requires_grad=True)
    estimate = top_eigenvalue(lambda: w @ A @ w / 2, [w], torch.Generator().manual_seed(0))
    assert estimate == pytest.approx(5.0, rel=1e-3)


def test_top_eigenvalue_spans_several_parameter_tensors():
    # loss = 3 a^2 + b^2 / 2 over two tensors: Hessian diag(6, 1), top eigenvalue 6
    a = torch.tensor([0.4], requires_grad=True)
    b = torch.tensor([1.0], requires_grad=True)
    unused = torch.zeros(2, requires_grad=True)  # a weight the loss never reads adds no curvature
    loss = lambda: 3 * a.pow(2).sum() + b.pow(2).sum() / 2
    assert top_eigenvalue(loss, [a, b, unused], torch.Generator().manual_seed(1)) == pytest.approx(6.0, rel=1e-3)


def test_cross_entropy_hessian_of_a_zero_linear_model_is_known():
    # logits = W x + c at W = c = 0: p is uniform, the Hessian is (I/K - 11^T/K^2) kron E[x' x'^T] with
    # x' = (x, 1); its top eigenvalue is (1/K) * the top eigenvalue of E[x' x'^T]
    K, n, d = 3, 40, 4
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(2)) * torch.tensor([3.0, 1.0, 1.0, 0.5])
    y = torch.randint(0, K, (n,), generator=torch.Generator().manual_seed(3))
    model = build_model("mlp", (d,), K, depth=0)
    nn.init.zeros_(model.head.weight)
    nn.init.zeros_(model.head.bias)
    augmented = torch.cat([x, torch.ones(n, 1)], 1).double()
    expected = float(torch.linalg.eigvalsh(augmented.T @ augmented / n).max()) / K
    assert hessian_top_eig(model, x, y, torch.Generator().manual_seed(0)) == pytest.approx(expected, rel=1e-3)


def test_effective_rank_of_rank_k_matrices():
    assert effective_rank(with_singular_values(50, 20, [2.0, 2.0, 2.0])) == pytest.approx(3.0)
    assert effective_rank(with_singular_values(50, 20, [7.0])) == pytest.approx(1.0)
    # singular values 3 and 1: p = (3/4, 1/4), exp(-(3/4 ln 3/4 + 1/4 ln 1/4)) = 1.7548
    assert effective_rank(with_singular_values(30, 10, [3.0, 1.0])) == pytest.approx(
        math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25))))
    assert effective_rank(torch.zeros(5, 4)) == 0.0


def test_spectral_norm_product_of_layers_with_known_singular_values():
    model = build_model("mlp", (6,), 3, width=5, depth=1)  # Linear(6, 5) then the head Linear(5, 3)
    with torch.no_grad():
        model.body[1].weight.copy_(with_singular_values(5, 6, [4.0, 1.0, 0.5]))
        model.head.weight.copy_(with_singular_values(3, 5, [2.5, 2.0]))
    assert spectral_norm_product(model) == pytest.approx(4.0 * 2.5)


def test_a_convolution_counts_as_its_kernel_matrix():
    model = build_model("cnn1d", (1, 8), 2, width=2)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv1d)]
    with torch.no_grad():
        for i, conv in enumerate(convs):  # weight [out, in, 3] reshaped to [out, in * 3]
            out_channels, in_channels, kernel = conv.weight.shape
            values = [float(i + 2)] + [0.5] * (min(out_channels, in_channels * kernel) - 1)
            conv.weight.copy_(with_singular_values(out_channels, in_channels * kernel, values, seed=i)
                              .view_as(conv.weight))
        model.head.weight.copy_(with_singular_values(2, 4, [1.5]))
    assert spectral_norm_product(model) == pytest.approx(2.0 * 3.0 * 4.0 * 1.5)


def test_measure_records_the_three_diagnostics_deterministically_and_leaves_the_model_alone():
    model = build_model("cnn2d", (1, 8, 8), 4, width=4)
    x = torch.randn(300, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    y = torch.randint(0, 4, (300,), generator=torch.Generator().manual_seed(5))
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    rows = measure(model, x, y, seed=7)
    assert {r.metric for r in rows} == DIAGNOSTICS and {r.selection for r in rows} == {"last"}
    assert all(np.isfinite(r.value) for r in rows)
    assert model.training and all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert all(p.grad is None for p in model.parameters())
    assert [r.value for r in measure(model, x, y, seed=7)] == [r.value for r in rows]
    rank = next(r.value for r in rows if r.metric == "feature_effective_rank")
    assert 1.0 <= rank <= model.feature_dim


def test_task_incremental_heads_restrict_the_loss():
    model = build_model("mlp", (4,), 4, width=8, depth=1)
    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(6))
    y = torch.randint(0, 2, (64,), generator=torch.Generator().manual_seed(7))
    heads = torch.tensor([True, True, False, False]).expand(64, 4)
    free = {r.metric: r.value for r in measure(model, x, y, seed=0)}
    masked = {r.metric: r.value for r in measure(model, x, y, seed=0, logit_mask=heads)}
    assert masked["hessian_top_eig"] != free["hessian_top_eig"]
    assert masked["spectral_norm_product"] == free["spectral_norm_product"]
