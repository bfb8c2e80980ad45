"""Each domain generalization method's defining behaviour on a toy problem with known answers."""

import copy
import sys

import pytest
import torch
import torch.nn.functional as F

from benchmark.hparams import draw
from benchmark.method import Batch
from benchmark.models import seed_everything
from benchmark.registry import METHODS
from benchmark.spec import DataSpec, ModelSpec, TaskSpec, TrainSpec
from benchmark.train import make_context

K = 3


def make(name, hp=None, epochs=2, steps_per_epoch=5, num_domains=2, shape=(6,), seed=0):
    cls = METHODS.get(name)
    spec = TaskSpec(family="domain_generalization", data=DataSpec(source="digits"),
                    model=ModelSpec(name="mlp", options={"width": 8, "depth": 1}),
                    train=TrainSpec(epochs=epochs, batch_size=16, lr=1e-2))
    ctx = make_context(spec, "domain_generalization", K, shape, 64, seed_everything(seed),
                       torch.device("cpu"), num_domains=num_domains)
    ctx.steps_per_epoch = steps_per_epoch
    return cls(ctx, {**draw(cls.hparams, 0), **(hp or {})})


def toy_batch(n=24, domains=2, shift=1.0, seed=1):
    """Classes are prototypes; domain d adds `shift * d` to every input (a covariate shift)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % K
    d = (torch.arange(n) // K) % domains
    x = torch.eye(K, 6)[y] * 2 + 0.3 * torch.randn(n, 6, generator=g) + shift * d[:, None]
    return Batch(x=x, y=y, index=torch.arange(n), domain=d, experience=torch.zeros(n, dtype=torch.long))


def module(name):
    return sys.modules[METHODS.get(name).__module__]


def params(method):
    return torch.cat([p.detach().flatten() for p in method.model.parameters()])


# -- IRM -------------------------------------------------------------------------------------------------
def test_irm_penalty_equals_the_hand_computed_gradient_product():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [0.0, 0.0, 3.0], [1.0, -1.0, 0.0]])
    y = torch.tensor([0, 2, 2, 1])

    def dscale(z, t):  # d/dw CE(w z, t) at w = 1: mean_i (sum_k p_ik z_ik - z_i,t_i)
        p = F.softmax(z, 1)
        return ((p * z).sum(1) - z.gather(1, t[:, None]).squeeze(1)).mean()

    scale = torch.ones((), requires_grad=True)
    autograd = torch.autograd.grad(F.cross_entropy(logits * scale, y), scale)[0]
    assert module("irm").scale_terms(logits, y).mean().item() == pytest.approx(autograd.item(), rel=1e-6)
    expected = dscale(logits[0::2], y[0::2]) * dscale(logits[1::2], y[1::2])
    assert module("irm").irm_penalty(logits, y).item() == pytest.approx(expected.item(), rel=1e-6)
    # by hand for the even half: rows 0 and 2, both with the right class on top
    p0, p2 = F.softmax(logits[0], 0), F.softmax(logits[2], 0)
    by_hand = ((p0 * logits[0]).sum() - 2.0 + (p2 * logits[2]).sum() - 3.0) / 2
    assert dscale(logits[0::2], y[0::2]).item() == pytest.approx(by_hand.item(), rel=1e-6)


def test_irm_penalties_of_a_mixed_batch_are_each_domains_own():
    g = torch.Generator().manual_seed(3)
    logits, y = torch.randn(11, K, generator=g), torch.randint(0, K, (11,), generator=g)
    domain = torch.tensor([1, 0, 1, 1, 0, 2, 0, 1, 0, 0, 1])
    irm = module("irm")
    expected = [irm.irm_penalty(logits[domain == d], y[domain == d]) for d in (0, 1, 2)]
    assert torch.allclose(irm.irm_penalties(logits, y, domain), torch.stack(expected))
    assert expected[2].item() == 0.0, "one sample: no odd half, no penalty"


def test_penalty_warm_ups_are_domainbeds_steps_capped_at_half_the_run():
    warmup_steps = sys.modules["benchmark.families.domain_generalization"].warmup_steps
    assert warmup_steps(500, 5000) == 500, "DomainBed's own run: its 500 steps"
    assert warmup_steps(500, 285) == 142, "a short run: half of it, not 10% (28 steps)"
    assert make("irm", epochs=15, steps_per_epoch=19).switch_at == 142
    assert make("vrex", epochs=60, steps_per_epoch=20).switch_at == 500
    assert make("fishr", epochs=15, steps_per_epoch=19).switch_at == 142
    assert make("fishr", epochs=100, steps_per_epoch=50).switch_at == 1500


def test_irm_loss_is_risk_plus_penalty_weight_one_then_lambda_with_an_optimizer_restart():
    irm = make("irm", {"lam": 100.0, "anneal_steps": 3})  # 10 steps in all: switch at step 3
    assert irm.switch_at == 3
    batch = toy_batch()
    out = irm.forward(batch)
    masks = [batch.domain == d for d in (0, 1)]
    risk = torch.stack([F.cross_entropy(out.logits[m], batch.y[m]) for m in masks]).mean()
    penalty = torch.stack([module("irm").irm_penalty(out.logits[m], batch.y[m]) for m in masks]).mean()
    assert irm.loss(batch, out).item() == pytest.approx((risk + penalty).item(), rel=1e-5)
    optimizers = []
    for _ in range(4):
        optimizers.append(irm.optimizer)
        irm.step(batch)
    assert optimizers[0] is optimizers[2] and irm.optimizer is not optimizers[2]
    out = irm.forward(batch)
    risk = torch.stack([F.cross_entropy(out.logits[m], batch.y[m]) for m in masks]).mean()
    penalty = torch.stack([module("irm").irm_penalty(out.logits[m], batch.y[m]) for m in masks]).mean()
    assert irm.loss(batch, out).item() == pytest.approx((risk + 100.0 * penalty).item(), rel=1e-5)


# -- V-REx ------------------------------------------------------------------------------------------------
def test_vrex_penalty_is_the_variance_of_domain_risks():
    risk_variance = module("vrex").risk_variance
    assert risk_variance(torch.tensor([0.7, 0.7, 0.7])).item() == 0.0
    assert risk_variance(torch.tensor([1.0, 3.0])).item() == pytest.approx(1.0)
    vrex = make("vrex", {"lam": 10.0, "anneal_steps": 0})  # full weight from the first step
    batch = toy_batch(shift=2.0)
    out = vrex.forward(batch)
    masks = [batch.domain == d for d in (0, 1)]
    risks = torch.stack([F.cross_entropy(out.logits[m], batch.y[m]) for m in masks])
    expected = risks.mean() + 10.0 * ((risks[0] - risks[1]) / 2) ** 2
    assert vrex.loss(batch, out).item() == pytest.approx(expected.item(), rel=1e-5)


# -- CORAL ------------------------------------------------------------------------------------------------
def coral_pair(a, b):
    z = torch.cat([a, b])
    domain = torch.cat([torch.zeros(len(a)), torch.ones(len(b))]).long()
    return module("coral").coral_distances(z, domain)


def test_coral_penalty_is_zero_for_identical_domain_statistics():
    a = torch.randn(20, 5, generator=torch.Generator().manual_seed(0))
    same = coral_pair(a, a[torch.randperm(20)])
    assert torch.allclose(same, torch.zeros(2, 2), atol=1e-6)
    shifted = coral_pair(a, a + 2.0)[0, 1].item()
    assert shifted == pytest.approx(4.0, rel=1e-5), "means 2 apart, same covariance"
    b = 3 * a[:13]  # unequal sizes: the Gram identity against covariances computed directly
    direct = (a.mean(0) - b.mean(0)).pow(2).mean() + (torch.cov(a.T) - torch.cov(b.T)).pow(2).mean()
    assert coral_pair(a, b)[0, 1].item() == pytest.approx(direct.item(), rel=1e-5)
    pair = coral_pair(a, b)  # symmetric up to rounding: the two orders sum in different orders
    assert pair[1, 0].item() == pytest.approx(pair[0, 1].item(), rel=1e-6)


def test_coral_loss_adds_the_alignment_of_every_domain_pair():
    coral = make("coral", {"gamma": 5.0}, num_domains=3)
    batch = toy_batch(n=27, domains=3)
    out = coral.forward(batch)
    masks = [batch.domain == d for d in range(3)]
    risk = torch.stack([F.cross_entropy(out.logits[m], batch.y[m]) for m in masks]).mean()
    z = out.features
    pairs = [coral_pair(z[masks[i]], z[masks[j]])[0, 1] for i, j in ((0, 1), (0, 2), (1, 2))]
    assert coral.loss(batch, out).item() == pytest.approx((risk + 5.0 * sum(pairs) / 3).item(), rel=1e-5)


# -- GroupDRO ---------------------------------------------------------------------------------------------
def test_groupdro_weights_move_toward_the_worst_domain():
    dro = make("groupdro", {"eta": 0.1})
    batch = toy_batch()
    noisy = batch.subset(torch.ones(len(batch.y), dtype=torch.bool))
    noisy.y = torch.where(noisy.domain == 1, (noisy.y + 1) % K, noisy.y)  # domain 1: every label wrong
    assert dro.q.tolist() == [0.5, 0.5]
    out = dro.forward(noisy)
    masks = [noisy.domain == d for d in (0, 1)]
    risks = [F.cross_entropy(out.logits[m], noisy.y[m]).item() for m in masks]
    w = torch.tensor([0.5 * torch.exp(torch.tensor(0.1 * r)).item() for r in risks])
    dro.loss(noisy, out)
    assert torch.allclose(dro.q, w / w.sum(), atol=1e-6)
    for _ in range(5):
        dro.step(noisy)
    assert dro.q[1] > dro.q[0] > 0 and dro.q.sum().item() == pytest.approx(1.0)


# -- Fish -------------------------------------------------------------------------------------------------
def test_fish_moves_part_way_along_sequential_per_domain_steps():
    batch = toy_batch()
    start = params(make("fish"))
    full = make("fish", {"meta_lr": 1.0})
    # The inner trajectory by hand: the task's Adam, one step per domain in the method's random order.
    inner = copy.deepcopy(full.model)
    optimizer = torch.optim.Adam(inner.parameters(), lr=1e-2)
    twin = torch.Generator()
    twin.set_state(full.generator.get_state())  # the method's own stream, as it stands before the step
    order = torch.randperm(2, generator=twin).tolist()
    for d in order:
        m = batch.domain == d
        optimizer.zero_grad()
        F.cross_entropy(inner(batch.x[m]).logits, batch.y[m]).backward()
        optimizer.step()
    full.step(batch)
    by_hand = torch.cat([p.detach().flatten() for p in inner.parameters()])
    assert torch.allclose(params(full), by_hand, atol=1e-6)
    for eps in (0.5, 0.1):
        fish = make("fish", {"meta_lr": eps})
        fish.step(batch)
        assert torch.allclose(params(fish) - start, eps * (params(full) - start), atol=1e-6)
    pooled = make("erm")
    pooled.step(batch)
    assert not torch.allclose(params(pooled), params(full), atol=1e-4), "not plain ERM on the pooled batch"


def test_fish_moves_batchnorm_running_statistics_with_the_weights():
    spec = TaskSpec(family="domain_generalization", data=DataSpec(source="digits"),
                    model=ModelSpec(name="mlp", options={"width": 8, "depth": 1, "norm": "batch"}),
                    train=TrainSpec(epochs=2, batch_size=16, lr=1e-2))
    ctx = make_context(spec, "domain_generalization", K, (6,), 64, seed_everything(0), torch.device("cpu"),
                       num_domains=2)
    ctx.steps_per_epoch = 5
    fish = METHODS.get("fish")(ctx, {"meta_lr": 0.5})
    bn = [m for m in fish.model.modules() if isinstance(m, torch.nn.BatchNorm1d)][0]
    before = bn.running_mean.clone()
    batch = toy_batch(shift=2.0)
    fish.step(batch)
    inner_bn = [m for m in fish.inner.modules() if isinstance(m, torch.nn.BatchNorm1d)][0]
    assert not torch.allclose(inner_bn.running_mean, before), "the inner steps saw the domains' batches"
    assert torch.allclose(bn.running_mean, before + 0.5 * (inner_bn.running_mean - before), atol=1e-6)
    assert bn.num_batches_tracked.item() == 2, "one inner step per domain"
    # evaluation uses the moved statistics: predictions differ from a model left at its initial ones
    stale = copy.deepcopy(fish.model)
    stale_bn = [m for m in stale.modules() if isinstance(m, torch.nn.BatchNorm1d)][0]
    stale_bn.reset_running_stats()
    assert not torch.allclose(fish.predict(batch.x).logits, stale.eval()(batch.x).logits)


# -- RIDG -------------------------------------------------------------------------------------------------
def test_ridg_rationales_decompose_the_logits():
    ridg = make("ridg")
    out = ridg.forward(toy_batch())
    r = module("ridg").rationales(ridg.model.head, out.features)
    assert torch.allclose(r.sum(-1) + ridg.model.head.bias, out.logits, atol=1e-5)


def test_ridg_loss_is_the_papers_formula_on_explicit_rationales():
    ridg = make("ridg", {"lam": 0.1, "momentum": 0.2})
    first, second = toy_batch(seed=1), toy_batch(seed=2)
    ridg.loss(first, ridg.forward(first))
    bank = ridg.bank.clone()
    out = ridg.forward(second)
    r = module("ridg").rationales(ridg.model.head, out.features)
    penalty = 0.0
    for c in range(K):
        members = r[second.y == c]
        bank[c] = 0.8 * bank[c] + 0.2 * members.detach().mean(0)
        penalty = penalty + (members - bank[c]).pow(2).sum(-1).mean()
    expected = F.cross_entropy(out.logits, second.y) + 0.1 * penalty
    assert ridg.loss(second, out).item() == pytest.approx(expected.item(), rel=1e-4)


def test_ridg_penalty_is_zero_when_each_class_decides_for_the_same_reasons():
    ridg = make("ridg", {"lam": 0.1})
    batch = toy_batch()
    same = batch.subset(torch.ones(len(batch.y), dtype=torch.bool))
    same.x = torch.eye(K, 6)[same.y]  # every sample of a class identical, whatever its domain
    out = ridg.forward(same)
    assert ridg.loss(same, out).item() == pytest.approx(F.cross_entropy(out.logits, same.y).item(), abs=1e-5)
    out = ridg.forward(batch)
    assert ridg.loss(batch, out).item() > F.cross_entropy(out.logits, batch.y).item()


def test_ridg_bank_is_a_momentum_average_of_class_rationales():
    ridg = make("ridg", {"momentum": 0.1})
    first, second = toy_batch(seed=1), toy_batch(seed=2)
    rationales = module("ridg").rationales
    with torch.no_grad():
        r1 = rationales(ridg.model.head, ridg.forward(first).features)[first.y == 0].mean(0)
        r2 = rationales(ridg.model.head, ridg.forward(second).features)[second.y == 0].mean(0)
    ridg.loss(first, ridg.forward(first))
    assert torch.allclose(ridg.bank[0], r1, atol=1e-6)
    ridg.loss(second, ridg.forward(second))
    assert torch.allclose(ridg.bank[0], 0.9 * r1 + 0.1 * r2, atol=1e-6)


# -- inter-domain Mixup -------------------------------------------------------------------------------------
def test_intermixup_mixes_only_across_domains_with_matching_label_weights():
    mix = make("intermixup", {"alpha": 1.0})
    n = 12
    domain = torch.arange(n) % 2
    batch = Batch(x=domain[:, None].float().expand(n, 6).clone(), y=domain.clone(), index=torch.arange(n),
                  domain=domain, experience=torch.zeros(n, dtype=torch.long))
    x, targets = mix.mix(batch)
    assert len(x) == n, "two domains of 6: two pairs of 6"
    weight_of_domain_1 = x[:, 0]
    assert ((weight_of_domain_1 > 0) & (weight_of_domain_1 < 1)).all(), "every input mixes both domains"
    assert torch.allclose(targets[:, 1], weight_of_domain_1) and torch.allclose(targets.sum(1), torch.ones(n))
    pairs = weight_of_domain_1.view(2, 6)
    assert torch.equal(pairs, pairs[:, :1].expand(2, 6)), "one weight per pair of domains"
    assert pairs[0, 0] != pairs[1, 0], "each pair draws its own weight"


# -- Fishr ------------------------------------------------------------------------------------------------
def test_fishr_variances_are_those_of_the_per_sample_autograd_gradients():
    fishr = make("fishr")
    batch = toy_batch(n=12)
    out = fishr.forward(batch)
    variances, ids = module("fishr").gradient_variances(out.logits, out.features, batch.y, batch.domain)
    head = fishr.model.head
    per_sample = []
    for i in range(12):
        loss = F.cross_entropy(head(out.features[i:i + 1].detach()), batch.y[i:i + 1])
        grads = torch.autograd.grad(loss, [head.weight, head.bias])
        per_sample.append(torch.cat([g.flatten() for g in grads]))
    per_sample = torch.stack(per_sample)
    assert ids.tolist() == [0, 1]
    for d in (0, 1):
        g = per_sample[batch.domain == d]
        assert torch.allclose(variances[d], g.var(0, unbiased=False), atol=1e-6)


def test_fishr_penalty_is_zero_for_domains_with_the_same_gradient_spread_and_off_in_warm_up():
    fishr = make("fishr", {"lam": 1000.0, "anneal_steps": 0})
    half = toy_batch(n=12, domains=1)
    twin = Batch(x=torch.cat([half.x, half.x]), y=torch.cat([half.y, half.y]), index=torch.arange(24),
                 domain=torch.cat([torch.zeros(12), torch.ones(12)]).long(),
                 experience=torch.zeros(24).long())
    out = fishr.forward(twin)
    assert fishr.loss(twin, out).item() == pytest.approx(F.cross_entropy(out.logits, twin.y).item(), abs=1e-6)
    shifted = make("fishr", {"lam": 1000.0, "anneal_steps": 0})
    batch = toy_batch(shift=3.0)
    out = shifted.forward(batch)
    assert shifted.loss(batch, out).item() > F.cross_entropy(out.logits, batch.y).item() + 1e-6
    warm = make("fishr", {"lam": 1000.0, "anneal_steps": 5})
    out = warm.forward(batch)
    ce = F.cross_entropy(out.logits, batch.y).item()
    assert warm.loss(batch, out).item() == pytest.approx(ce, abs=1e-7)


def test_fishr_moving_average_is_zero_initialised_and_divided_by_one_minus_ema_by_hand():
    fishr = module("fishr")
    previous = torch.tensor([[0.2, 0.4]])
    current = torch.tensor([[1.0, 0.0]], requires_grad=True)
    stored, corrected = fishr.moving_average(previous, current, 0.9)
    assert torch.allclose(stored, torch.tensor([[0.28, 0.36]])) and not stored.requires_grad
    assert torch.allclose(corrected, torch.tensor([[2.8, 3.6]]))
    corrected.sum().backward()
    assert torch.allclose(current.grad, torch.ones(1, 2)), "gradient weight 1, whatever ema"
    # the first step from zero: a = v itself; the penalty of a_0 = (1, 3), a_1 = (3, 1) about (2, 2) is 1
    _, first = fishr.moving_average(torch.zeros(2, 2), torch.tensor([[1.0, 3.0], [3.0, 1.0]]), 0.95)
    assert torch.allclose(first, torch.tensor([[1.0, 3.0], [3.0, 1.0]]))
    assert fishr.variance_mismatch(first).item() == pytest.approx(1.0)


class DomainBedMovingAverage:
    """DomainBed's misc.MovingAverage(ema, oneminusema_correction=True), written out for one domain."""

    def __init__(self, ema):
        self.ema, self.data = ema, None

    def update(self, value):
        previous = torch.zeros_like(value) if self.data is None else self.data
        average = self.ema * previous + (1 - self.ema) * value
        self.data = average.clone().detach()
        return average / (1 - self.ema)


def test_fishr_penalty_and_its_gradient_match_domainbeds_at_equal_lambda():
    fishr = make("fishr", {"lam": 10.0, "ema": 0.95, "anneal_steps": 0})
    averages = [DomainBedMovingAverage(0.95) for _ in range(2)]
    for seed in (1, 2, 3):
        batch = toy_batch(shift=1.5, seed=seed)
        out = fishr.forward(batch)
        ours = fishr.loss(batch, out) - F.cross_entropy(out.logits, batch.y)
        variances, _ = module("fishr").gradient_variances(out.logits, out.features, batch.y, batch.domain)
        smoothed = [averages[d].update(variances[d]) for d in range(2)]
        mean = torch.stack(smoothed).mean(0)
        reference = 10.0 * sum((v - mean).pow(2).mean() for v in smoothed) / 2
        assert ours.item() == pytest.approx(reference.item(), rel=1e-5)
        g_ours = torch.autograd.grad(ours, out.logits, retain_graph=True)[0]
        g_ref = torch.autograd.grad(reference, out.logits)[0]
        assert torch.allclose(g_ours, g_ref, rtol=1e-4, atol=1e-9)
    assert g_ref.abs().max() > 0


# -- shared -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["irm", "vrex", "coral", "groupdro", "fish", "ridg", "intermixup", "fishr"])
def test_dg_method_trains_deterministically_and_learns(name):
    batch = toy_batch(n=24, domains=2, shift=0.5)
    runs = []
    for _ in range(2):
        method = make(name)
        before = F.cross_entropy(method.predict(batch.x).logits, batch.y).item()
        for _ in range(10):
            method.step(batch)
        runs.append(params(method))
    after = F.cross_entropy(method.predict(batch.x).logits, batch.y).item()
    assert torch.equal(runs[0], runs[1])
    assert after < before
