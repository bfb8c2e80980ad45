"""Defining behaviour of the noisy-label methods: ELR, GCE, Co-teaching."""

import math
from dataclasses import replace

import torch
import torch.nn.functional as F

from benchmark.method import Batch, Context
from benchmark.models import mlp
from benchmark.registry import METHODS


def context(num_train=8, num_classes=3):
    return Context(
        family="noisy_labels", num_classes=num_classes, input_shape=(4,), num_train=num_train, epochs=10,
        steps_per_epoch=1, generator=torch.Generator().manual_seed(0),
        build_model=lambda **kw: mlp((4,), num_classes, width=8, **kw),
        make_optimizer=lambda params, **kw: torch.optim.SGD(list(params), lr=kw.get("lr", 0.1)),
    )


def batch(n=8, num_classes=3):
    g = torch.Generator().manual_seed(1)
    return Batch(x=torch.randn(n, 4, generator=g), y=torch.randint(num_classes, (n,), generator=g),
                 index=torch.arange(n), domain=torch.zeros(n, dtype=torch.long),
                 experience=torch.zeros(n, dtype=torch.long))


def test_elr_targets_average_past_predictions_and_its_term_matches_the_formula():
    torch.manual_seed(0)
    m = METHODS.get("elr")(context(), {"beta": 0.7, "lam": 3.0})
    b = batch()
    out = m.forward(b)
    loss = m.loss(b, out)
    p = F.softmax(out.logits, 1).clamp(1e-4, 1 - 1e-4)
    expected_t = 0.3 * (p / p.sum(1, keepdim=True))  # t starts at 0: t <- 0.7 * 0 + 0.3 * p
    assert torch.allclose(m.targets[b.index], expected_t.detach(), atol=1e-6)
    expected = F.cross_entropy(out.logits, b.y) + 3.0 * torch.log(1 - (expected_t * p).sum(1)).mean()
    assert torch.isclose(loss, expected)
    # the per-sample state is indexed by sample id: untouched samples keep a zero target
    m2 = METHODS.get("elr")(context(num_train=20), {"beta": 0.7, "lam": 3.0})
    m2.loss(b, m2.forward(b))
    assert torch.all(m2.targets[8:] == 0) and torch.all(m2.targets[:8].sum(1) > 0)


def test_gce_interpolates_between_cross_entropy_and_mae():
    torch.manual_seed(0)
    m = METHODS.get("gce")(context(), {"q": 1.0})
    b = batch()
    out = m.forward(b)
    p_y = F.softmax(out.logits, 1).gather(1, b.y[:, None]).squeeze(1)
    assert torch.isclose(m.loss(b, out), (1 - p_y).mean())  # q = 1: mean absolute error
    m.hp["q"] = 1e-4  # q -> 0: cross-entropy
    assert math.isclose(m.loss(b, out).item(), F.cross_entropy(out.logits, b.y).item(), rel_tol=1e-3)


def test_coteaching_each_network_learns_from_the_others_small_loss_samples():
    torch.manual_seed(0)
    m = METHODS.get("coteaching")(context(), {"forget_rate": 0.5, "ramp": 0.1})  # 10 epochs: T_k = 1
    assert m.keep_ratio() == 1.0
    m.on_epoch_end(0)
    assert m.keep_ratio() == 0.5
    b = batch()
    peer_before = [p.detach().clone() for p in m.peer.parameters()]
    model_before = [p.detach().clone() for p in m.model.parameters()]
    m.step(b)
    assert any(not torch.equal(a, p) for a, p in zip(peer_before, m.peer.parameters(), strict=True))
    assert any(not torch.equal(a, p) for a, p in zip(model_before, m.model.parameters(), strict=True))
    # only the samples one of the two networks trusts (its small-loss half) get any gradient
    torch.manual_seed(0)
    m = METHODS.get("coteaching")(context(), {"forget_rate": 0.5, "ramp": 0.1})
    m.on_epoch_end(0)
    with torch.no_grad():
        small_a = set(F.cross_entropy(m.model(b.x).logits, b.y, reduction="none").argsort()[:4].tolist())
        small_b = set(F.cross_entropy(m.peer(b.x).logits, b.y, reduction="none").argsort()[:4].tolist())
    x = b.x.clone().requires_grad_(True)
    m.step(Batch(x=x, y=b.y, index=b.index, domain=b.domain, experience=b.experience))
    touched = set(torch.nonzero(x.grad.abs().sum(1) > 0).flatten().tolist())
    assert touched == small_a | small_b


def test_coteaching_ramps_to_the_full_forget_rate_over_a_share_of_the_run():
    torch.manual_seed(0)
    for epochs, ramp_epochs in ((10, 5), (30, 15), (200, 100)):
        ctx = context()
        ctx.epochs = epochs
        m = METHODS.get("coteaching")(ctx, {"forget_rate": 0.4, "ramp": 0.5})
        ratios = []
        for epoch in range(epochs):
            ratios.append(m.keep_ratio())
            m.on_epoch_end(epoch)
        assert m.ramp_epochs == ramp_epochs
        assert ratios[0] == 1.0 and math.isclose(ratios[ramp_epochs // 2], 1 - 0.4 * (ramp_epochs // 2) / ramp_epochs)
        assert all(math.isclose(r, 0.6) for r in ratios[ramp_epochs:]), "the full rate from T_k on"
        assert all(r > 0.6 for r in ratios[:ramp_epochs]), "not before"


def test_flooding_is_erm_until_the_level_is_set_from_the_runs_own_loss_then_reverses_below_it():
    torch.manual_seed(0)
    m = METHODS.get("flooding")(context(), {"at": 0.3})  # 10 epochs: the level comes from epoch 3
    b = batch()
    assert m.set_after == 3 and m.level == 0.0
    losses = []
    for epoch in range(3):
        out = m.forward(b)
        assert torch.equal(m.loss(b, out), F.cross_entropy(out.logits, b.y)), "b = 0: plain ERM"
        losses.append(F.cross_entropy(out.logits, b.y).item())
        m.on_epoch_end(epoch)
    assert math.isclose(m.level, losses[-1], rel_tol=1e-6), "the third epoch's mean loss"
    out = m.forward(b)
    wrong, right = torch.eye(3)[(b.y + 1) % 3] * 5, torch.eye(3)[b.y] * 20  # loss ~5 > b, ~0 < b
    for target, sign in ((wrong, 1), (right, -1)):
        z = target.clone().requires_grad_()
        assert (F.cross_entropy(z, b.y).item() > m.level) == (sign == 1)
        g_flood = torch.autograd.grad(m.loss(b, replace(out, logits=z)), z)[0]
        g_ce = torch.autograd.grad(F.cross_entropy(z, b.y), z)[0]
        assert torch.allclose(g_flood, sign * g_ce), "below b the step goes uphill"
