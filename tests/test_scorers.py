"""Post-hoc OOD scorers: each on a toy model whose answer is known by hand, the registry's rules,
and the one-line errors when a model lacks what a scorer needs."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.errors import BenchmarkError
from benchmark.families import ood
from benchmark.hparams import Choice, HParam, LogUniform
from benchmark.method import Output
from benchmark.models import Net
from benchmark.scorers import SCORERS, Probe, Scorer, register_scorer


def linear_probe(weight, bias=None) -> Probe:
    """A model whose features are its inputs and whose head is the given linear map."""
    weight = torch.as_tensor(weight, dtype=torch.float32)
    net = Net(nn.Identity(), weight.shape[1], weight.shape[0])
    with torch.no_grad():
        net.head.weight.copy_(weight)
        net.head.bias.copy_(torch.zeros(weight.shape[0]) if bias is None else torch.as_tensor(bias))
    return Probe(model=net, method="toy", source="tests/test_scorers.py")


def outputs(probe: Probe, x) -> tuple[torch.Tensor, Output]:
    x = torch.as_tensor(x, dtype=torch.float32)
    with torch.no_grad():
        return x, probe.model(x)


def make(name, probe=None, **hp):
    return SCORERS.get(name)(probe or Probe(), **hp)


LOGITS = Output(logits=torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]]), features=torch.ones(2, 4))


def test_registry_has_the_issue_scorers_and_each_names_its_paper():
    assert {"msp", "maxlogit", "energy", "odin", "mahalanobis", "knn", "react", "gradnorm", "vim", "ash",
            "gen"} <= set(SCORERS.names())
    for name in SCORERS.names():
        cls = SCORERS.get(name)
        doc = __import__(cls.__module__, fromlist=["_"]).__doc__
        assert cls.paper and doc and len(doc) > 60, name


def test_msp_is_the_largest_softmax_probability():
    expected = [math.exp(2) / (math.exp(2) + 1 + math.exp(-1)), 1 / 3]
    assert make("msp").score(None, LOGITS).tolist() == pytest.approx(expected)


def test_maxlogit_is_the_largest_logit():
    assert make("maxlogit").score(None, LOGITS).tolist() == [2.0, 0.0]


def test_energy_with_t1_is_minus_the_free_energy_logsumexp():
    expected = [math.log(math.exp(2) + 1 + math.exp(-1)), math.log(3)]
    assert make("energy").score(None, LOGITS).tolist() == pytest.approx(expected)
    assert make("energy").score(None, LOGITS).tolist() == pytest.approx(LOGITS.logits.logsumexp(1).tolist())


def test_odin_without_perturbation_is_temperature_scaled_msp():
    probe = linear_probe([[1.0, 0.0], [0.0, 1.0]])
    x, out = outputs(probe, [[3.0, 1.0]])
    got = make("odin", probe, temperature=10.0, eps=0.0).score(x, out)
    assert got.item() == pytest.approx(1 / (1 + math.exp(-0.2)))


def test_odin_perturbation_moves_the_input_towards_the_predicted_class():
    # logits [w x, 0] with w, x > 0: the predicted class is 0 and d log p_0 / dx > 0, so x~ = x + eps
    w, x0, t, eps = 2.0, 0.5, 1.0, 0.1
    probe = linear_probe([[w], [0.0]])
    x, out = outputs(probe, [[x0]])
    got = make("odin", probe, temperature=t, eps=eps).score(x, out).item()
    assert got == pytest.approx(1 / (1 + math.exp(-w * (x0 + eps) / t)), rel=1e-6)
    assert got > make("odin", probe, temperature=t, eps=0.0).score(x, out).item()


def test_mahalanobis_uses_class_means_and_the_shared_covariance():
    h = torch.tensor([[1, 0], [-1, 0], [0, 1], [0, -1], [11, 0], [9, 0], [10, 1], [10, -1]]).float()
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    scorer = make("mahalanobis")
    scorer.fit(Output(logits=torch.zeros(8, 2), features=h), y)
    assert scorer.means.tolist() == [[0, 0], [10, 0]]
    # (1/N) times the sum over 8 unit offsets: half the identity
    assert scorer.covariance.flatten().tolist() == pytest.approx([0.5, 0, 0, 0.5])
    query = Output(logits=torch.zeros(2, 2), features=torch.tensor([[1.0, 1.0], [10.0, 2.0]]))
    # (1, 1): distance 2 / 0.5 = 4 to class 0;  (10, 2): distance 4 / 0.5 = 8 to class 1
    assert scorer.score(None, query).tolist() == pytest.approx([-4.0, -8.0])


def test_knn_is_minus_the_distance_to_the_kth_normalized_training_feature():
    bank = Output(logits=torch.zeros(2, 2), features=torch.tensor([[1.0, 0.0], [0.0, 3.0]]))
    query = Output(logits=torch.zeros(2, 2), features=torch.tensor([[5.0, 0.0], [1.0, 1.0]]))
    diag = math.sqrt(2 - math.sqrt(2))  # |(1, 1)/sqrt(2) - (1, 0)|
    k1, k2 = make("knn", k=1), make("knn", k=5)  # k = 5 is capped at the 2 training features
    for s in (k1, k2):
        s.fit(bank, torch.tensor([0, 1]))
    assert k1.score(None, query).tolist() == pytest.approx([0.0, -diag], abs=1e-6)
    assert k2.score(None, query).tolist() == pytest.approx([-math.sqrt(2), -diag], abs=1e-6)


def test_react_clips_features_at_the_training_percentile_then_takes_the_energy():
    probe = linear_probe([[1.0, 0.0], [0.0, 1.0]])
    train = Output(logits=torch.zeros(50, 2), features=torch.arange(100.0).reshape(50, 2))
    scorer = make("react", probe, percentile=90.0)
    scorer.fit(train, torch.zeros(50, dtype=torch.long))
    assert scorer.threshold == pytest.approx(np.percentile(np.arange(100.0), 90))  # 89.1
    x, out = outputs(probe, [[200.0, 0.0], [1.0, 2.0]])
    expected = [math.log(math.exp(89.1) + 1), math.log(math.exp(1) + math.exp(2))]
    assert scorer.score(x, out).tolist() == pytest.approx(expected, rel=1e-5)


def test_the_sweep_starts_with_the_defaults_and_covers_every_combination():
    grid = SCORERS.get("odin").grid()
    assert grid[0] == {"temperature": 1000.0, "eps": 0.0014}
    assert len(grid) == 16 and len({tuple(g.items()) for g in grid}) == 16
    assert SCORERS.get("msp").grid() == [{}]


def test_a_scorer_hyperparameter_must_sweep_a_choice_holding_its_default():
    class Bad(Scorer):
        hparams = {"t": HParam(1.0, LogUniform(-1, 1))}

    with pytest.raises(BenchmarkError, match="expected HParam.*Choice"):
        register_scorer("bad_scorer")(Bad)
    assert "bad_scorer" not in SCORERS.names()


@pytest.mark.parametrize("features", [torch.zeros(3, 0), torch.zeros(3), None])
def test_feature_scorers_refuse_a_model_without_features(features):
    probe = Probe(model=nn.Linear(2, 2), method="featureless", source="methods/featureless.py")
    out = Output(logits=torch.zeros(3, 2), features=features)
    for name in ("mahalanobis", "knn", "react"):
        with pytest.raises(BenchmarkError, match=f"scorer '{name}' needs features.*featureless") as err:
            SCORERS.get(name).check(probe, out)
        assert "\n" not in str(err.value)
    SCORERS.get("msp").check(probe, out)  # logits only: fine


def test_react_refuses_a_model_without_a_linear_head():
    probe = Probe(model=nn.Sequential(nn.Linear(4, 2)), method="headless", source="methods/headless.py")
    out = Output(logits=torch.zeros(3, 2), features=torch.ones(3, 4))
    with pytest.raises(BenchmarkError, match="needs the model's output layer `head`.*headless"):
        SCORERS.get("react").check(probe, out)


def test_tuning_picks_the_setting_best_on_the_tuning_set_and_keeps_defaults_on_ties():
    class Signed(Scorer):
        name = "signed"
        hparams = {"sign": HParam(1.0, Choice(1.0, -1.0, 0.0))}

        def score(self, x, out):
            return self.hp["sign"] * out.logits[:, 0]

    def out_of(values):
        logits = torch.tensor(values, dtype=torch.float32)[:, None]
        return Output(logits=logits, features=torch.ones(len(values), 1))

    outs = {"train": out_of([0.0]), "val": out_of([0.0, 1.0]), "tune:t": out_of([5.0, 6.0]),
            "test": out_of([0.0]), "ood:x": out_of([1.0])}
    inputs = dict.fromkeys(outs)
    _, info = ood.tune_and_score(Signed, Probe(), outs, inputs, torch.zeros(1), ["tune:t"])
    assert info["hparams"] == {"sign": -1.0} and info["tune_auroc"] == 1.0  # OOD scores higher: flip
    outs["tune:t"] = out_of([0.0, 1.0])  # every setting ties at 0.5: the default stays
    _, info = ood.tune_and_score(Signed, Probe(), outs, inputs, torch.zeros(1), ["tune:t"])
    assert info["hparams"] == {"sign": 1.0}


def test_gradnorm_equals_the_l1_norm_of_the_autograd_head_gradient():
    torch.manual_seed(0)
    probe = linear_probe(torch.randn(3, 4), torch.randn(3))
    x, out = outputs(probe, torch.randn(5, 4))
    expected = []
    for i in range(5):
        probe.model.zero_grad()
        logits = probe.model(x[i:i + 1]).logits
        kl = -(torch.log_softmax(logits, 1)).mean()  # KL(u || p) up to a constant
        kl.backward()
        expected.append(float(probe.model.head.weight.grad.abs().sum()))
    torch.testing.assert_close(make("gradnorm").score(x, out), torch.tensor(expected), rtol=1e-5, atol=1e-6)


def test_vim_score_is_energy_minus_the_scaled_principal_subspace_residual():
    # features in R^3, head zero bias (origin 0); training features span the first two axes only
    probe = linear_probe([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    g = torch.Generator().manual_seed(0)
    plane = torch.randn(25, 2, generator=g) * 3
    # each point twice, at third coordinate +-0.5: no moment couples the third axis to the plane
    train_x = torch.cat([torch.cat([plane, torch.full((25, 1), side)], 1) for side in (0.5, -0.5)])
    _, train = outputs(probe, train_x)
    s = make("vim", probe, share=0.75)  # D = 2 of 3
    s.fit(train, torch.zeros(50, dtype=torch.long))
    assert math.isclose(s.alpha, float(train.logits.amax(1).sum()) / (50 * 0.5), rel_tol=1e-4)
    x, out = outputs(probe, [[1.0, 2.0, 0.0], [1.0, 2.0, 5.0]])
    scores = s.score(x, out)
    energy = out.logits.logsumexp(1)
    assert math.isclose(float(scores[0]), float(energy[0]), rel_tol=1e-4)  # in the subspace: no residual
    assert math.isclose(float(energy[1] - scores[1]), s.alpha * 5.0, rel_tol=1e-3)  # residual 5 off-plane
    assert s.alpha > 0


def test_ash_prunes_below_the_per_sample_percentile_and_rescales():
    ash_s = __import__("benchmark.scorers.ash", fromlist=["_"]).ash_s
    h = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    shaped = ash_s(h, 50.0)  # keep the top 2: 3, 4; s1 = 10, s2 = 7
    torch.testing.assert_close(shaped, torch.tensor([[0.0, 0.0, 3.0, 4.0]]) * math.exp(10 / 7))
    probe = linear_probe(torch.eye(4))
    x, out = outputs(probe, h)
    expected = (torch.tensor([0.0, 0.0, 3.0, 4.0]) * math.exp(10 / 7)).logsumexp(0)
    torch.testing.assert_close(make("ash", probe, percentile=50.0).score(x, out)[0], expected.float(), rtol=1e-5,
                               atol=0)


def test_gen_is_minus_the_generalized_entropy_of_the_softmax():
    p = torch.softmax(LOGITS.logits.double(), 1)
    expected = -(p**0.1 * (1 - p) ** 0.1).sum(1)
    torch.testing.assert_close(make("gen").score(None, LOGITS).double(), expected, rtol=1e-6, atol=0)
    # a confident prediction scores higher (more in-distribution) than a uniform one
    assert make("gen").score(None, LOGITS)[0] > make("gen").score(None, LOGITS)[1]
