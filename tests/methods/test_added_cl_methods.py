"""Defining behaviour of the continual-learning methods added for breadth: DER++, MAS, ER-ACE, GDumb and
the rehearsal-free recipe."""

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.method import Batch
from benchmark.registry import METHODS
from tests.methods.test_cl_methods import experience, learn, make


def test_der_buffer_stores_the_logits_of_their_time():
    m = make("der", budget=1000)
    data = experience(0)
    outs = []
    original = m.forward

    def spy(batch):
        out = original(batch)
        outs.append(out.logits.detach().clone())
        return out

    m.forward = spy
    m.step(data[0])  # empty memory: one forward, then the batch is stored with those logits
    torch.testing.assert_close(m.memory.store["logits"], outs[0])
    torch.testing.assert_close(m.memory.store["x"], data[0].x)
    m.step(data[1])  # now three forwards: incoming, logit replay, label replay
    assert len(outs) == 4 and len(m.memory) == 32


def test_der_logit_term_is_the_mse_to_stored_logits():
    m = make("der", {"alpha": 1.0, "beta": 1e-9}, budget=16)
    learn(m, 0, epochs=1)
    old, logits = m.memory.sample_with_logits(16)
    assert logits.shape == (16, 10) and len(m.memory) == 16  # within budget
    expected = F.mse_loss(m.forward(old).logits, logits)
    assert float(expected.detach()) > 0  # the model has moved since storing


def test_mas_importance_is_the_mean_absolute_output_norm_gradient():
    mas = sys_module("mas")
    torch.manual_seed(0)
    from benchmark.models import Net

    model = Net(nn.Flatten(), 3, 2)
    x = torch.randn(4, 3)
    batches = [Batch(x=x, y=torch.zeros(4, dtype=torch.long), index=torch.arange(4),
                     domain=torch.zeros(4, dtype=torch.long), experience=torch.zeros(4, dtype=torch.long))]
    with torch.no_grad():
        f = model.head(x)  # d||f||^2/dW = 2 f x^T, d/db = 2 f
    w, b = mas.output_sensitivity(model, batches, 256)
    torch.testing.assert_close(w, (2 * f[:, :, None] * x[:, None, :]).abs().mean(0))
    torch.testing.assert_close(b, (2 * f).abs().mean(0))


def test_mas_pulls_only_after_an_experience():
    m = make("mas")
    data = experience(0)
    out = m.forward(data[0])
    torch.testing.assert_close(m.loss(data[0], out), F.cross_entropy(out.logits, data[0].y))
    learn(m, 0, epochs=1)
    out = m.forward(data[0])
    assert float(m.loss(data[0], out)) == float(F.cross_entropy(out.logits, data[0].y))  # at the anchor
    with torch.no_grad():
        for p in m.model.parameters():
            p.add_(0.1)
    out = m.forward(data[0])
    assert float(m.loss(data[0], out)) > float(F.cross_entropy(out.logits, data[0].y))


def test_er_ace_incoming_loss_competes_only_among_present_classes():
    ce = sys_module("er_ace").present_classes_ce
    logits = torch.tensor([[2.0, 0.0, 5.0], [0.0, 1.0, 9.0]])
    y = torch.tensor([0, 1])
    torch.testing.assert_close(ce(logits, y), F.cross_entropy(logits[:, :2], y))


def test_gdumb_memory_is_class_balanced_and_the_model_is_refit_from_memory_only():
    m = make("gdumb", {"epochs": 2}, budget=20)
    before = [p.detach().clone() for p in m.model.parameters()]
    for k in range(3):
        data = experience(k, n=64)
        for batch in data:
            m.step(batch)
        if k == 0:
            assert all(torch.equal(a, p) for a, p in zip(before, m.model.parameters(), strict=True))
        m.on_experience_end(k, data)
    counts = torch.bincount(m.memory.store["y"], minlength=10)
    assert len(m.memory) == 20
    assert counts[:6].max() - counts[:6].min() <= 1  # 6 classes seen: 3 or 4 each
    assert not all(torch.equal(a, p) for a, p in zip(before, m.model.parameters(), strict=True))


def test_rehearsal_free_penalty_is_zero_at_the_old_model_and_grows_with_distance():
    m = make("rehearsal_free", {"mu": 1.0, "lam": 2.0})
    data = learn(m, 0, epochs=1)
    out = m.forward(data[0])
    torch.testing.assert_close(m.loss(data[0], out), F.cross_entropy(out.logits, data[0].y))
    with torch.no_grad():
        for p in m.model.head.parameters():
            p.add_(0.1)
    out = m.forward(data[0])
    shift = sum(p.numel() for p in m.model.head.parameters()) * 0.01  # features unchanged: only the L2 term
    torch.testing.assert_close(m.loss(data[0], out) - F.cross_entropy(out.logits, data[0].y),
                               torch.tensor(2.0 / 2 * shift), rtol=1e-4, atol=1e-6)


def sys_module(name):
    import sys

    return sys.modules[METHODS.get(name).__module__]
