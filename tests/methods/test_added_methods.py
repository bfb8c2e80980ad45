"""Defining behaviour of the methods added for breadth (general regularizers, noisy-label losses, DG):
each checked against a hand computation of its formula."""

import math

import torch
import torch.nn.functional as F

from tests.methods.test_regularizers import K, fake_batch, make, module, num


def capture_grads(m):
    """Replace the optimizer's step by a recorder of the gradients it would apply."""
    seen = []
    m.optimizer.step = lambda *a, **k: seen.append([p.grad.detach().clone() if p.grad is not None else None
                                                    for p in m.model.parameters()])
    return seen


def test_fd_grad_reg_mixes_the_gradient_at_w_and_at_w_plus_eps_g():
    m = make("fd_grad_reg", {"eps": 0.05, "alpha": 0.7}, model="mlp")
    batch = fake_batch()
    params = list(m.model.parameters())
    g0 = torch.autograd.grad(F.cross_entropy(m.model(batch.x).logits, batch.y), params)
    with torch.no_grad():
        for p, g in zip(params, g0, strict=True):
            p.add_(0.05 * g)
    g1 = torch.autograd.grad(F.cross_entropy(m.model(batch.x).logits, batch.y), params)
    with torch.no_grad():
        for p, g in zip(params, g0, strict=True):
            p.sub_(0.05 * g)
    seen = capture_grads(m)
    m.step(batch)
    for applied, a, b in zip(seen[0], g0, g1, strict=True):
        torch.testing.assert_close(applied, 0.3 * a + 0.7 * b, rtol=1e-4, atol=1e-6)


def test_stablemax_probabilities_follow_s_over_sum_s():
    m = make("stablemax", model="mlp")
    x = fake_batch().x
    raw = m.model(x).logits.detach()
    s = torch.where(raw >= 0, raw + 1, 1 / (1 - raw))
    torch.testing.assert_close(F.softmax(m.predict(x).logits, 1), s / s.sum(1, keepdim=True))


def test_perp_grad_removes_the_component_along_the_weights():
    m = make("perp_grad", model="mlp")
    seen = capture_grads(m)
    m.step(fake_batch())
    dot = sum((p.detach() * g).sum() for p, g in zip(m.model.parameters(), seen[0], strict=True) if g is not None)
    scale = math.sqrt(sum(float((g ** 2).sum()) for g in seen[0] if g is not None))
    assert abs(float(dot)) < 1e-5 * max(scale, 1.0)


def test_harmonic_loss_probabilities_follow_the_distance_law():
    m = make("harmonic_loss", {"c": 1.0}, model="mlp")
    x = fake_batch().x
    z = m.model.body(x).detach()
    n = math.sqrt(z.shape[1])
    d = torch.cdist(z, m.model.head.weight.detach())
    expected = d ** -n / (d ** -n).sum(1, keepdim=True)
    torch.testing.assert_close(F.softmax(m.predict(x).logits, 1), expected, rtol=1e-4, atol=1e-6)


def test_group_orthogonality_is_zero_for_orthonormal_groups_only():
    group_penalty = module("group_orthogonality").group_penalty
    w = torch.linalg.qr(torch.randn(8, 8))[0]
    assert float(group_penalty(w, 4)) < 1e-10
    # two groups of orthonormal rows, correlated across groups: still zero (only in-group pairs count)
    across = torch.cat([w[:4], w[:4]])
    assert float(group_penalty(across, 2)) < 1e-10 and float(group_penalty(across, 1)) > 1
    m = make("group_orthogonality", {"groups": 2})
    assert num(m.penalty()) > 0


def test_neural_collapse_terms_vanish_on_a_simplex_frame():
    collapse_terms = module("neural_collapse").collapse_terms
    simplex = torch.eye(K) - 1 / K  # K class means, pairwise cosine -1/(K-1)
    y = torch.arange(2 * K) % K
    within, eq = collapse_terms(simplex[y], y, K)
    assert float(within) < 1e-10 and float(eq) < 1e-10
    noisy = simplex[y] + 0.3 * torch.randn(2 * K, K)
    within2, _ = collapse_terms(noisy, y, K)
    _, eq2 = collapse_terms(torch.eye(K)[y] + 1.0, y, K)  # means bunched together
    assert float(within2) > 0.01 and float(eq2) > 0.01


def test_nested_dropout_keeps_a_prefix_of_the_features_in_training():
    m = make("nested_dropout", {"rho": 0.1}, model="mlp")
    seen = []
    m.model.head.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach()))
    batch = fake_batch()
    m.forward(batch)
    z = m.model.body(batch.x).detach()
    kept = seen[0]
    widths = set()
    for row, full in zip(kept, z, strict=True):
        b = int(torch.nonzero(row).max()) + 1 if row.any() else 0
        torch.testing.assert_close(row[:b], full[:b])
        assert not row[b:].any()
        widths.add(b)
    assert len(widths) > 1  # a width per sample
    m.predict(batch.x)
    torch.testing.assert_close(seen[-1], m.model.body(batch.x).detach())  # evaluation: every unit


def test_ldreg_lid_estimate_matches_the_mle_by_hand():
    log_lid = module("ldreg").log_lid
    z = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    # point 0: neighbours at 1, 3 (k = 2): LID = -1 / mean(log(1/3), log(3/3))
    expected0 = math.log(-1 / ((math.log(1 / 3) + 0) / 2))
    assert math.isclose(float(log_lid(z, 2)[0]), expected0, rel_tol=1e-5)


def test_sce_is_ce_plus_bounded_reverse_ce():
    m = make("sce", {"alpha": 0.3, "beta": 0.7})
    batch = fake_batch()
    out = m.forward(batch)
    p_y = F.softmax(out.logits, 1).gather(1, batch.y[:, None]).squeeze(1)
    expected = 0.3 * F.cross_entropy(out.logits, batch.y) + 0.7 * (4 * (1 - p_y)).mean()
    torch.testing.assert_close(m.loss(batch, out), expected)


def test_bootstrap_hard_target_mixes_label_and_argmax():
    m = make("bootstrap", {"beta": 0.8, "mode": "hard"})
    batch = fake_batch()
    out = m.forward(batch)
    logp = F.log_softmax(out.logits, 1)
    target = 0.8 * F.one_hot(batch.y, K) + 0.2 * F.one_hot(out.logits.argmax(1), K)
    torch.testing.assert_close(m.loss(batch, out), -(target * logp).sum(1).mean())


def test_forward_correction_estimates_t_at_anchor_points_then_corrects():
    estimate = module("forward_correction").estimate_transition
    t = torch.tensor([[0.8, 0.2], [0.3, 0.7]])
    # noisy posteriors of samples whose clean posterior is one-hot, or mixed
    clean = torch.cat([torch.tensor([[1.0, 0.0]]).repeat(50, 1), torch.tensor([[0.0, 1.0]]).repeat(50, 1),
                       torch.rand(100, 1).repeat(1, 2) * torch.tensor([1.0, -1.0]) + torch.tensor([0.0, 1.0])])
    noisy = clean @ t
    torch.testing.assert_close(estimate(noisy, torch.ones(200, dtype=torch.bool)), t, atol=0.02, rtol=0)
    m = make("forward_correction", {"warmup": 0.5}, epochs=2)  # 2 epochs of 2 steps: T after 2 steps
    batch = fake_batch()
    out = m.forward(batch)
    torch.testing.assert_close(m.loss(batch, out), F.cross_entropy(out.logits, batch.y))  # stage 1
    m.step(batch.subset(batch.index < 16))
    assert m.transition is None
    m.step(batch.subset(batch.index >= 16))
    assert m.transition is not None
    out = m.forward(batch)
    corrected = -torch.log((F.softmax(out.logits, 1) @ m.transition).gather(1, batch.y[:, None])).mean()
    torch.testing.assert_close(m.loss(batch, out), corrected)


def test_cvar_keeps_exactly_the_top_alpha_losses():
    m = make("cvar", {"alpha": 0.25})
    batch = fake_batch()
    out = m.forward(batch)
    losses = F.cross_entropy(out.logits, batch.y, reduction="none")
    top = losses.detach().topk(8).indices  # ceil(0.25 * 32)
    torch.testing.assert_close(m.loss(batch, out), losses[top].mean())
    leaf = out.logits.detach().requires_grad_(True)
    m.loss(batch, type(out)(logits=leaf, features=out.features)).backward()
    has_grad = leaf.grad.abs().sum(1) > 0
    assert set(torch.nonzero(has_grad).flatten().tolist()) == set(top.tolist())


def test_drm_trains_each_domain_head_and_tests_with_the_surest():
    m = make("drm")
    batch = fake_batch()
    out = m.forward(batch)
    z = m.model.body(batch.x)
    for d in (0, 1):
        rows = batch.domain == d
        torch.testing.assert_close(out.logits[rows], m.heads[d](z[rows]))
    with torch.no_grad():
        m.heads[1].weight.mul_(5)  # head 1 now more confident everywhere
    pred = m.predict(batch.x)
    torch.testing.assert_close(pred.logits, m.heads[1](m.model.body(batch.x)).detach())


def test_dmg_masks_features_by_domain_and_averages_at_test():
    soft_iou = module("dmg").soft_iou
    assert math.isclose(float(soft_iou(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0]))), 0.5)
    m = make("dmg")
    batch = fake_batch()
    out = m.forward(batch)
    z = m.model.body(batch.x).flatten(1)
    masks = m.masks()
    torch.testing.assert_close(out.logits, m.model.head(z * masks[batch.domain]))
    expected = torch.stack([F.softmax(m.model.head(z * mk), 1) for mk in masks]).mean(0)
    torch.testing.assert_close(F.softmax(m.predict(batch.x).logits, 1), expected.detach())

