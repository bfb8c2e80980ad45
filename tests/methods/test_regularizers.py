"""The general-purpose regularizers: each one's defining behaviour, and, registry-wide, that every
declared hyperparameter changes the trained model (none is silently ignored)."""

import math
import sys
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import get_total_norm

from benchmark import FAMILIES
from benchmark.hparams import Choice, IntUniform, LogUniform, Uniform, draw
from benchmark.method import Batch
from benchmark.models import seed_everything
from benchmark.penalties import shifted, weight_matrices
from benchmark.registry import METHODS
from benchmark.spec import DataSpec, ModelSpec, TaskSpec, TrainSpec
from benchmark.train import make_context

REGULARIZERS = [
    "mixup", "cutmix", "cutout", "input_noise", "dropout", "very_large_dropout", "label_smoothing", "pskd",
    "confidence_penalty", "sam", "amp", "grad_norm", "flooding", "orthogonality", "norm_loss",
    "spectral_norm_reg", "mhe", "elle", "jacobian_nuclear_norm", "spectral_decoupling", "vne",
    "variance_covariance", "l2_coupled", "decoupled_weight_decay",
]
K = 4  # classes of the fake problem


def spec(model="cnn2d", epochs=4, lr=2e-2, width=8):
    return TaskSpec(family="noisy_labels", data=DataSpec(source="digits"),
                    model=ModelSpec(name=model, options={"width": width}),
                    train=TrainSpec(epochs=epochs, batch_size=16, lr=lr))


def family_extra(family, shape):
    """What each family protocol hands its methods in ctx.extra."""
    return {
        "domain_generalization": {"domains": [0, 1]},
        "continual": {"replay_budget": 16},
        "ood": {"outliers": torch.rand((32, *shape), generator=torch.Generator().manual_seed(2))},
    }.get(family, {})


def make(name, hp=None, shape=(1, 8, 8), model="cnn2d", seed=0, family=None, num_train=32, **spec_kw):
    """A method on a hand-built context: no data source, no protocol."""
    cls = METHODS.get(name)
    family = family or ("domain_generalization" if cls.needs_domains else cls.families[0])
    generator = seed_everything(seed)
    ctx = make_context(spec(model, **spec_kw), family, K, shape, num_train, generator, torch.device("cpu"),
                       num_domains=2, num_experiences=2, **family_extra(family, shape))
    return cls(ctx, {**draw(cls.hparams, 0), **(hp or {})})


def fake_batch(n=32, shape=(1, 8, 8), seed=1, logit_mask=None):
    """Learnable data: a class prototype plus noise; two domains; index = position in the training set."""
    g = torch.Generator().manual_seed(seed)
    i = torch.arange(n)
    y = i % K
    prototypes = torch.randn((K, *shape), generator=g)
    x = prototypes[y] + 0.3 * torch.randn((n, *shape), generator=g)
    return Batch(x=x, y=y, index=i, domain=(i // 2) % 2,
                 experience=torch.zeros(n, dtype=torch.long), logit_mask=logit_mask)


def train(method, batch, epochs=4, steps=2):
    """`steps` minibatches per epoch from `batch`, lifecycle hooks included; a continual method sees
    the same data as a second experience after half the epochs."""
    block = (torch.arange(len(batch.y)) // K) % steps  # every chunk holds every class and both domains
    chunks = [batch.subset(block == s) for s in range(steps)]
    for epoch in range(epochs):
        for chunk in chunks:
            method.step(chunk)
        method.on_epoch_end(epoch)
        if method.ctx.family == "continual" and epoch == epochs // 2 - 1:
            method.on_experience_end(0, chunks)
            chunks = [replace(c, experience=torch.ones_like(c.experience)) for c in chunks]
    return method


def module(name):
    """The module a registered method lives in (methods are loaded by path, not by import)."""
    return sys.modules[METHODS.get(name).__module__]


def num(t):
    return float(t.detach())


def flat_params(method):
    return torch.cat([p.detach().flatten() for p in method.model.parameters()])


# -- registry-wide ----------------------------------------------------------------------------------------
def other_value(hp):
    """An in-space value far from the default: the far end of the range, or another option."""
    s, d = hp.space, hp.default
    if isinstance(s, Choice):
        return next(o for o in s.options if o != d)
    if isinstance(s, IntUniform):
        return s.high if d != s.high else s.low
    if isinstance(s, Uniform):
        return s.high if abs(s.high - d) >= abs(d - s.low) else s.low
    if isinstance(s, LogUniform):
        exp = math.log10(d)
        return 10 ** (s.high_exp if abs(s.high_exp - exp) >= abs(exp - s.low_exp) else s.low_exp)
    raise AssertionError(f"unknown distribution {s}")


# Warm-up lengths in optimizer steps act only after that many steps, far beyond this test's 8; their effect is
# tested where the switch happens (tests/methods/test_dg_methods.py, the warm-up test).
LONGER_THAN_THIS_TEST = {"anneal_steps"}
HPARAM_CASES = [pytest.param(m, h, id=f"{m}-{h}") for m in METHODS.names() for h in METHODS.get(m).hparams
                if h not in LONGER_THAN_THIS_TEST]


@pytest.mark.parametrize("name,hparam", HPARAM_CASES)
def test_every_hparam_changes_the_trained_model(name, hparam):
    hp = METHODS.get(name).hparams[hparam]
    value = other_value(hp)
    assert hp.space.contains(value) and value != hp.default
    batch = fake_batch()
    base = flat_params(train(make(name), batch))
    again = flat_params(train(make(name), batch))
    changed = flat_params(train(make(name, {hparam: value}), batch))
    assert torch.equal(base, again), "same seed, same hyperparameters: training must be deterministic"
    assert not torch.equal(base, changed), f"{hparam}={value} trained the same model as {hparam}={hp.default}"


@pytest.mark.parametrize("name", REGULARIZERS)
def test_regularizer_declares_all_families_and_its_cost(name):
    cls = METHODS.get(name)
    assert set(cls.families) == set(FAMILIES) and not cls.needs_domains
    assert cls.paper and cls.extra_cost
    assert cls.hparams, "a regularizer without a knob cannot be tuned"


@pytest.mark.parametrize("shape,model", [((1, 8, 8), "cnn2d"), ((1, 40), "cnn1d"), ((1, 8, 8), "mlp")])
@pytest.mark.parametrize("name", REGULARIZERS)
def test_masked_heads_get_no_gradient(name, shape, model):
    """Task-incremental batches: the loss never reaches the head rows of classes outside the batch's task."""
    mask = torch.tensor([True, True, False, False])
    m = make(name, shape=shape, model=model)
    batch = fake_batch(shape=shape, logit_mask=mask)
    batch = batch.subset(batch.y < 2)
    m.model.train()
    loss = m.loss(batch, m.forward(batch))
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.all(m.model.head.weight.grad[~mask] == 0)
    assert torch.any(m.model.head.weight.grad[mask] != 0)


# -- input and data ---------------------------------------------------------------------------------------
def coded_batch(shape):
    """Sample i is filled with the value i and has its own class: what a mix keeps is readable."""
    n = 6
    x = torch.arange(n, dtype=torch.float).view(n, *[1] * len(shape)).expand(n, *shape).clone()
    return Batch(x=x, y=torch.arange(n), index=torch.arange(n), domain=torch.zeros(n, dtype=torch.long),
                 experience=torch.zeros(n, dtype=torch.long))


def six_classes(name, shape, **hp):
    m = make(name, hp, shape=shape, model="cnn2d" if len(shape) == 3 else "cnn1d")
    m.ctx.num_classes = 6
    return m


def test_mixup_mixes_labels_with_the_inputs_weight():
    m = six_classes("mixup", (1, 6))
    batch = coded_batch((1, 6))
    batch = replace(batch, x=F.one_hot(batch.y, 6).float()[:, None, :])  # input i = onehot(y_i)
    mixed_any = False
    for _ in range(5):
        x, targets = m.mix(batch)
        torch.testing.assert_close(x[:, 0, :], targets)  # same lam, same partner for inputs and labels
        torch.testing.assert_close(targets.sum(1), torch.ones(6))
        mixed_any |= bool((targets.max(1).values < 1).any())
    assert mixed_any


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 16, 16), (1, 40)])
def test_cutmix_label_weight_is_the_pasted_area(shape):
    m = six_classes("cutmix", shape, prob=1.0)
    batch = coded_batch(shape)
    pasted_any = False
    for _ in range(10):
        x, targets = m.mix(batch)
        own = (x == batch.x).flatten(1).float().mean(1)
        for i in range(6):
            if targets[i, i] < 1:  # a partner j != i pasted its box into i
                torch.testing.assert_close(targets[i, i], own[i])
                pasted_any = True
        changed = (x != batch.x).flatten(2)[0, 0]
        if len(shape) == 2 and changed.any():  # 1-D: the pasted region is one segment
            where = changed.nonzero().flatten()
            assert where.max() - where.min() + 1 == len(where)
    assert pasted_any


def test_cutmix_with_prob_zero_is_plain_cross_entropy():
    m = six_classes("cutmix", (1, 8, 8), prob=0.1)
    m.hp["prob"] = 0.0
    batch = coded_batch((1, 8, 8))
    x, targets = m.mix(batch)
    assert torch.equal(x, batch.x) and torch.equal(targets, F.one_hot(batch.y, 6).float())


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 40)])
def test_cutout_zeroes_one_box_per_sample(shape):
    m = make("cutout", {"size": 0.5}, shape=shape, model="cnn2d" if len(shape) == 3 else "cnn1d")
    x = torch.ones(64, *shape)
    cut = m.cut(x) == 0
    areas = cut.flatten(1).sum(1)
    side = round(0.5 * shape[-1])
    assert torch.all(areas > 0) and torch.all(areas <= side ** (len(shape) - 1))
    assert len({tuple(c.flatten().nonzero().flatten().tolist()) for c in cut}) > 1  # a box per sample
    for c in cut[:, 0]:  # the zeroed region is a box: rows x columns (or one segment)
        if len(shape) == 3:
            rows, cols = c.any(1), c.any(0)
            assert torch.equal(c, rows[:, None] & cols[None, :])
        else:
            where = c.nonzero().flatten()
            assert where.max() - where.min() + 1 == len(where)


def test_input_noise_has_the_declared_scale_and_reaches_the_model():
    m = make("input_noise", {"sigma": 0.3})
    x = torch.zeros(256, 1, 8, 8)
    noise = m.noisy(x)
    assert abs(float(noise.std()) - 0.3) < 0.02
    assert not torch.equal(noise, m.noisy(x))
    batch = fake_batch()
    m.model.eval()
    assert not torch.allclose(m.forward(batch).logits, m.model(batch.x).logits)


# -- dropout family ---------------------------------------------------------------------------------------
def test_hidden_dropout_is_in_the_model_and_only_in_training():
    m = make("dropout", {"p": 0.5})
    drops = [mod for mod in m.model.modules() if isinstance(mod, nn.Dropout)]
    assert drops and all(d.p == 0.5 for d in drops)
    x = fake_batch().x
    m.model.train()
    assert not torch.equal(m.model(x).logits, m.model(x).logits)
    assert torch.equal(m.predict(x).logits, m.predict(x).logits)


def test_very_large_dropout_drops_the_features_only_in_training():
    m = make("very_large_dropout", {"p": 0.9}, width=64)
    z = torch.ones(200, 128)
    dropped = m.drop(z)
    assert abs(float((dropped == 0).float().mean()) - 0.9) < 0.02
    torch.testing.assert_close(dropped[dropped != 0], torch.full_like(dropped[dropped != 0], 10.0))
    batch = fake_batch()
    m.model.train()
    assert not torch.allclose(m.forward(batch).logits, m.model(batch.x).logits)
    assert torch.equal(m.predict(batch.x).logits, m.model(batch.x).logits)


# -- targets ----------------------------------------------------------------------------------------------
def test_pskd_targets_blend_the_last_prediction_on_a_growing_schedule():
    m = make("pskd", {"alpha_T": 0.8})  # 4 epochs
    batch = fake_batch()
    onehot = F.one_hot(batch.y, K).float()
    assert m.alpha() == 0 and torch.equal(m.targets(batch), onehot)  # epoch 0: plain labels
    m.model.train()
    out = m.forward(batch)
    m.loss(batch, out)
    p = F.softmax(out.logits.detach(), dim=1)
    m.on_epoch_end(1)  # now at epoch 2 of 4
    assert math.isclose(m.alpha(), 0.4)
    torch.testing.assert_close(m.targets(batch), 0.6 * onehot + 0.4 * p)
    m.seen[:16] = False  # a sample never seen (a new experience) falls back to its label
    torch.testing.assert_close(m.targets(batch)[:16], onehot[:16])


def test_confidence_penalty_subtracts_the_entropy():
    m = make("confidence_penalty", {"beta": 0.5})
    batch = fake_batch()
    out = m.forward(batch)
    p = F.softmax(out.logits, 1)
    h = -(p * p.log()).sum(1).mean()
    torch.testing.assert_close(m.loss(batch, out), F.cross_entropy(out.logits, batch.y) - 0.5 * h)
    confident = replace(out, logits=torch.eye(K)[batch.y] * 20)
    uniform = replace(out, logits=torch.zeros(len(batch.y), K))
    assert num(m.loss(batch, uniform)) < float(F.cross_entropy(uniform.logits, batch.y))  # log K bonus
    assert math.isclose(num(m.loss(batch, confident)), float(F.cross_entropy(confident.logits, batch.y)),
                        abs_tol=1e-5)


# -- flatness ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sam", "amp"])
def test_perturbed_loss_is_not_below_the_clean_loss(name):
    m = make(name, lr=1e-3)
    batch = fake_batch()
    before = flat_params(m)
    for _ in range(5):
        out = m.step(batch)
        assert float(out["perturbed_loss"]) >= float(out["loss"]) - 1e-6
    assert float(out["perturbed_loss"]) > float(out["loss"])
    assert not torch.equal(before, flat_params(m))


def test_sam_steps_with_the_gradient_at_the_perturbed_weights():
    """Plain SGD makes the update readable: w' = w - lr * grad L(w + rho g / ||g||)."""
    m = make("sam", {"rho": 0.05})
    m.optimizer = torch.optim.SGD(m.model.parameters(), lr=0.1)
    batch = fake_batch()
    params = list(m.model.parameters())
    w = [p.detach().clone() for p in params]
    g = torch.autograd.grad(F.cross_entropy(m.model(batch.x).logits, batch.y), params)
    norm = torch.sqrt(sum(gi.pow(2).sum() for gi in g))
    with torch.no_grad():
        for p, gi in zip(params, g, strict=True):
            p.add_(0.05 * gi / norm)
    g_adv = torch.autograd.grad(F.cross_entropy(m.model(batch.x).logits, batch.y), params)
    with torch.no_grad():
        for p, wi in zip(params, w, strict=True):
            p.copy_(wi)
    m.step(batch)
    for p, wi, gi in zip(params, w, g_adv, strict=True):
        torch.testing.assert_close(p.detach(), wi - 0.1 * gi)


def test_amp_perturbation_stays_in_the_ball(monkeypatch):
    m = make("amp", {"eps": 0.05, "eta": 3.0, "inner_steps": 2})
    seen = []

    def spy(params, deltas):
        seen.append(float(get_total_norm(deltas)))
        return shifted(params, deltas)

    monkeypatch.setattr(module("amp"), "shifted", spy)
    m.step(fake_batch())
    assert seen[0] == 0 and len(seen) == 3
    assert all(s <= 0.05 + 1e-6 for s in seen) and seen[-1] > 0.04  # eta large: the projection binds


def test_grad_norm_penalty_is_the_parameter_gradient_norm():
    m = make("grad_norm", {"lam": 0.5})
    batch = fake_batch()
    ce = F.cross_entropy(m.model(batch.x).logits, batch.y)
    g = torch.autograd.grad(ce, list(m.model.parameters()))
    expected = torch.sqrt(sum(gi.pow(2).sum() for gi in g))
    out = m.forward(batch)
    total = m.loss(batch, out)
    torch.testing.assert_close(total, ce + 0.5 * expected)
    total.backward()  # the penalty is differentiable: its gradient differs from CE's
    plain = torch.autograd.grad(F.cross_entropy(m.model(batch.x).logits, batch.y), m.model.head.weight)[0]
    assert not torch.allclose(m.model.head.weight.grad, plain)


def test_flooding_reverses_the_gradient_below_the_flood_level():
    m = make("flooding")
    m.level = 0.5  # as if set from an epoch's training loss (tests/methods/test_noisy_label_methods.py)
    batch = fake_batch()
    high = replace(m.forward(batch), logits=torch.zeros(32, K, requires_grad=True))  # CE = log 4 > 0.5
    low = replace(high, logits=(torch.eye(K)[batch.y] * 5).requires_grad_())  # CE < 0.5
    for out, sign in ((high, 1), (low, -1)):
        g_flood = torch.autograd.grad(m.loss(batch, out), out.logits)[0]
        g_ce = torch.autograd.grad(F.cross_entropy(out.logits, batch.y), out.logits)[0]
        torch.testing.assert_close(g_flood, sign * g_ce)
    flooded, ce = m.loss(batch, low).detach(), F.cross_entropy(low.logits, batch.y).detach()
    assert math.isclose(float(flooded), 1.0 - float(ce), rel_tol=1e-5)  # mirrored about b = 0.5


# -- weights ----------------------------------------------------------------------------------------------
def set_body_weights(m, make_weight):
    with torch.no_grad():
        for mod in m.model.body.modules():
            if hasattr(mod, "weight") and mod.weight is not None and mod.weight.dim() >= 2:
                mod.weight.copy_(make_weight(mod.weight.flatten(1).shape).view_as(mod.weight))


def orthonormal(shape):
    rows, cols = shape
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(max(rows, cols), min(rows, cols), generator=g))
    return q if rows >= cols else q.T


@pytest.mark.parametrize("model", ["cnn2d", "mlp"])
def test_orthogonality_penalty_is_zero_exactly_for_orthogonal_weights(model):
    m = make("orthogonality", model=model)
    assert num(m.penalty()) > 0.1
    set_body_weights(m, orthonormal)
    assert num(m.penalty()) < 1e-8
    set_body_weights(m, lambda s: 1.5 * orthonormal(s))
    assert num(m.penalty()) > 0.1


def test_norm_loss_is_zero_exactly_for_unit_rows():
    m = make("norm_loss")
    assert num(m.penalty()) > 0.01
    set_body_weights(m, lambda s: F.normalize(torch.randn(s), dim=1))
    assert num(m.penalty()) < 1e-10
    layers = len(weight_matrices(m.model))
    set_body_weights(m, lambda s: 2 * F.normalize(torch.randn(s), dim=1))
    assert math.isclose(num(m.penalty()), layers * 1.0, rel_tol=1e-5)  # each row norm 2: (1 - 2)^2


def test_spectral_norm_reg_penalizes_half_the_squared_largest_singular_value():
    m = make("spectral_norm_reg")
    layers = len(weight_matrices(m.model))
    set_body_weights(m, orthonormal)
    assert math.isclose(num(m.penalty(iterations=30)), layers * 0.5, rel_tol=1e-4)
    set_body_weights(m, lambda s: 3 * orthonormal(s))
    assert math.isclose(num(m.penalty(iterations=30)), layers * 4.5, rel_tol=1e-4)
    # the estimate from one iteration per step converges to the true sigma over steps
    set_body_weights(m, lambda s: torch.randn(s, generator=torch.Generator().manual_seed(3)))
    for _ in range(300):
        sigmas = m.sigmas()
    true = [torch.linalg.matrix_norm(w.detach(), ord=2) for w in weight_matrices(m.model)]
    torch.testing.assert_close(torch.stack(sigmas).detach(), torch.stack(true), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("s", [0, 1, 2])
def test_mhe_energy_is_lower_for_spread_neurons(s):
    m = make("mhe", {"s": s})
    set_body_weights(m, orthonormal)
    spread = num(m.penalty())
    base = torch.randn(1, 1000, generator=torch.Generator().manual_seed(0))
    set_body_weights(m, lambda shape: base[:, :shape[1]] + 0.1 * torch.randn(shape))  # neurons bunched
    bunched = num(m.penalty())
    assert bunched > spread
    # and its gradient spreads them: one step on the penalty alone lowers the energy
    params = list(m.model.body.parameters())
    energy = m.penalty()
    grads = torch.autograd.grad(energy, params, allow_unused=True)
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            if g is not None:
                p.sub_(1e-3 * g)
    assert num(m.penalty()) < num(energy)


# -- functions --------------------------------------------------------------------------------------------
def test_elle_linearity_error_vanishes_for_a_constant_loss():
    m = make("elle", {"eps": 0.3})
    batch = fake_batch()
    assert num(m.linearity_error(batch)) > 1e-9  # small at init, yet far above round-off
    with torch.no_grad():
        for p in m.model.parameters():
            p.zero_()  # constant logits: the loss is constant, hence linear, in the input
    assert num(m.linearity_error(batch)) < 1e-13


def test_elle_linearity_error_grows_with_the_neighbourhood():
    errors = []
    for eps in (0.01, 0.3):
        m = make("elle", {"eps": eps})
        errors.append(num(m.linearity_error(fake_batch(n=256))))
    assert errors[1] > 10 * errors[0]


def test_jacobian_penalty_denoising_estimate_matches_a_linear_body():
    m = make("jacobian_nuclear_norm", {"sigma": 0.1}, model="mlp")
    a = torch.randn(6, 64, generator=torch.Generator().manual_seed(0))
    m.model.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 6, bias=False))
    with torch.no_grad():
        m.model.body[1].weight.copy_(a)
    x = torch.rand(4000, 1, 8, 8)
    estimate = num(m.body_jacobian(x, m.model.body(x)))
    assert math.isclose(estimate, float(a.pow(2).sum()), rel_tol=0.05)  # ||J||_F^2 of x -> A x


def test_spectral_decoupling_penalizes_the_visible_logits():
    m = make("spectral_decoupling", {"lam": 0.1})
    batch = fake_batch()
    logits = torch.arange(32 * K, dtype=torch.float).view(32, K) / 50
    out = replace(m.forward(batch), logits=logits)
    torch.testing.assert_close(m.penalty(batch, out), 0.5 * logits.pow(2).sum(1).mean())
    masked_batch = replace(batch, logit_mask=torch.tensor([True, True, False, False]))
    torch.testing.assert_close(m.penalty(masked_batch, out), 0.5 * logits[:, :2].pow(2).sum(1).mean())
    expected = F.cross_entropy(logits, batch.y) + 0.1 * m.penalty(batch, out)
    torch.testing.assert_close(m.loss(batch, out), expected)


# -- representations --------------------------------------------------------------------------------------
def test_vne_entropy_is_log_d_for_isotropic_and_zero_for_collapsed_features():
    von_neumann_entropy = module("vne").von_neumann_entropy
    iso = torch.cat([torch.eye(8), -torch.eye(8)]) * 3
    assert math.isclose(float(von_neumann_entropy(iso)), math.log(8), rel_tol=1e-5)
    collapsed = torch.ones(16, 8) * torch.rand(16, 1) + 0.1
    assert float(von_neumann_entropy(collapsed)) < 1e-4
    m = make("vne", {"alpha": 0.5})
    batch = fake_batch()
    out = m.forward(batch)
    torch.testing.assert_close(m.loss(batch, out),
                               F.cross_entropy(out.logits, batch.y) - 0.5 * von_neumann_entropy(out.features))


def test_vicreg_terms_vanish_for_spread_decorrelated_features():
    vc = module("variance_covariance")
    variance_term, covariance_term = vc.variance_term, vc.covariance_term
    spread = torch.cat([torch.eye(4), -torch.eye(4)]) * 2  # std > 1 per feature, zero covariance
    assert float(variance_term(spread)) == 0 and float(covariance_term(spread)) < 1e-10
    collapsed = torch.ones(8, 4) * torch.linspace(0, 0.1, 8)[:, None]
    assert float(variance_term(collapsed)) > 0.9 and float(covariance_term(collapsed)) > 0
    m = make("variance_covariance")
    single = fake_batch().subset(torch.arange(32) == 0)  # one sample: no variance, plain CE
    out = m.forward(single)
    torch.testing.assert_close(m.loss(single, out), F.cross_entropy(out.logits, single.y))


def test_l2_coupled_reaches_the_optimizer():
    m = make("l2_coupled", {"wd": 1e-3})
    assert all(g["weight_decay"] == 1e-3 for g in m.optimizer.param_groups)


def test_decoupled_weight_decay_shrinks_weights_outside_the_optimizer():
    """With a zero gradient Adam moves nothing; the decoupled decay still scales every weight by 1 - lr * wd."""
    m = make("decoupled_weight_decay", {"wd": 0.5}, lr=0.1)
    assert all(g["weight_decay"] == 0 for g in m.optimizer.param_groups)  # not through the optimizer
    before = [p.detach().clone() for p in m.model.parameters()]
    batch = fake_batch()
    m.loss = lambda b, out: 0.0 * out.logits.sum()  # no gradient signal: only the decay acts
    m.step(batch)
    for b, p in zip(before, m.model.parameters(), strict=True):
        torch.testing.assert_close(p.detach(), b * (1 - 0.1 * 0.5))
