"""The OOD family: metrics against hand-computed values and the ID-positive convention, corruptions
and sources, the task spec's refusals, and the protocol end to end on a tiny task."""

import json

import numpy as np
import pytest
import torch

from benchmark import ROOT
from benchmark.data import load
from benchmark.errors import BenchmarkError
from benchmark.families import ood
from benchmark.method import Method, Output
from benchmark.metrics import DIAGNOSTICS
from benchmark.metrics import ood as m
from benchmark.models import seed_everything
from benchmark.registry import METHODS
from benchmark.scorers import SCORERS
from benchmark.shifts import corruptions
from benchmark.tasks import load_task, parse_task, task_names

# -- metrics ---------------------------------------------------------------------------------------
ID, OOD = [0.9, 0.6, 0.4, 0.35], [0.7, 0.3, 0.2]


def test_metrics_match_a_hand_computed_example():
    # ID wins 3 + 2 + 2 + 2 of the 12 (ID, OOD) pairs
    assert m.auroc(ID, OOD) == pytest.approx(9 / 12)
    # keeping >= 95% of 4 ID inputs keeps all 4: threshold 0.35 accepts OOD 0.7 only
    assert m.fpr_at_tpr(ID, OOD) == pytest.approx(1 / 3)
    # ranked: .9 I, .7 O, .6 I, .4 I, .35 I, .3 O, .2 O -> precision at each ID hit 1, 2/3, 3/4, 4/5
    assert m.aupr_in(ID, OOD) == pytest.approx((1 + 2 / 3 + 3 / 4 + 4 / 5) / 4)
    # ranked by -score: .2 O, .3 O, .35 I, .4 I, .6 I, .7 O, .9 I -> precision at each OOD hit 1, 1, 3/6
    assert m.aupr_out(ID, OOD) == pytest.approx((1 + 1 + 0.5) / 3)
    together = m.detection(ID, OOD)  # one ROC curve for auroc and fpr95: the same numbers
    assert together == pytest.approx({"auroc": 0.75, "fpr95": 1 / 3, "aupr_in": m.aupr_in(ID, OOD),
                                      "aupr_out": m.aupr_out(ID, OOD)})
    assert m.accuracy([0, 1, 2, 2], [0, 1, 1, 2]) == 0.75


def test_metrics_on_perfect_inverted_and_random_scores():
    rng = np.random.default_rng(0)
    high, low = rng.uniform(1, 2, 500), rng.uniform(0, 1, 500)
    assert m.detection(high, low) == {"auroc": 1.0, "fpr95": 0.0, "aupr_in": 1.0, "aupr_out": 1.0}
    inverted = m.detection(low, high)
    assert inverted["auroc"] == 0.0 and inverted["fpr95"] == 1.0
    assert inverted["aupr_in"] < 0.35 and inverted["aupr_out"] < 0.35  # worse than the 0.5 base rate
    random = m.detection(rng.random(20_000), rng.random(20_000))
    assert random["auroc"] == pytest.approx(0.5, abs=0.01)
    assert random["fpr95"] == pytest.approx(0.95, abs=0.01)  # accepting 95% of ID accepts 95% of OOD
    assert random["aupr_in"] == pytest.approx(0.5, abs=0.01)
    assert random["aupr_out"] == pytest.approx(0.5, abs=0.01)


def test_fpr95_counts_ood_accepted_at_the_threshold_keeping_95_percent_of_id():
    id_scores = np.arange(100.0)  # the threshold keeping 95 of them is 5
    assert m.fpr_at_tpr(id_scores, [4.5, 5.0, 50.0, 200.0]) == 0.75  # a tie at the threshold is accepted
    assert m.fpr_at_tpr(id_scores, [4.9]) == 0.0
    # ID is the positive class: swapping the roles answers a different question
    assert m.fpr_at_tpr([4.5, 5.0, 50.0, 200.0], id_scores) != 0.75


def test_non_finite_scores_count_as_ood_and_roc_points_are_thinned():
    assert m.auroc([1.0, 2.0], [np.nan, -np.inf]) == 1.0
    points = m.roc_points(np.random.default_rng(1).random(400), np.random.default_rng(2).random(400))
    assert 2 <= len(points["fpr"]) <= 50 and len(points["fpr"]) == len(points["tpr"])
    assert (points["fpr"][0], points["tpr"][0], points["fpr"][-1], points["tpr"][-1]) == (0, 0, 1, 1)
    json.dumps(points)


# -- corruptions and sources -----------------------------------------------------------------------
def test_covariate_corruptions_keep_shape_and_range_and_are_seeded():
    x = load("digits").x[:50]
    y = load("digits").y[:50]
    for kind in corruptions.COVARIATE:
        a = corruptions.corrupt(x, y, kind, 0.3, np.random.default_rng(0))
        b = corruptions.corrupt(x, y, kind, 0.3, np.random.default_rng(0))
        assert a.shape == x.shape and a.dtype == np.float32 and np.array_equal(a, b)
        assert not np.allclose(a, x), kind
        assert x.min() - 1e-6 <= a.min() and a.max() <= x.max() + 1e-6, kind
    flat = np.full((2, 1, 8, 8), 0.5, dtype=np.float32)
    assert np.allclose(corruptions.blur(flat, 1.0), 0.5)  # a blur of a constant image is that image
    contrasted = corruptions.contrast(x, 0.3)
    assert np.allclose(contrasted.std(axis=(1, 2, 3)), 0.3 * x.std(axis=(1, 2, 3)), rtol=1e-4)


def test_blend_mixes_each_input_with_one_of_another_class():
    x = np.eye(4, dtype=np.float32)[:, None, :]  # input i is the unit vector e_i
    y = np.array([0, 0, 1, 1])
    mixed = corruptions.blend(x, y, 0.5, np.random.default_rng(0))[:, 0]  # row i = 0.5 e_i + 0.5 e_j
    partner = np.array([np.flatnonzero((row > 0) & (np.arange(4) != i))[0] for i, row in enumerate(mixed)])
    assert (y[partner] != y).all()
    with pytest.raises(ValueError, match="two classes"):
        corruptions.blend(x, np.zeros(4, dtype=int), 0.5, np.random.default_rng(0))


def test_photo_patches_are_grey_pooled_and_halves_do_not_share_pixels():
    left = load("photo_patches", image="flower", part="left", n=20)
    assert left.x.shape == (20, 1, 8, 8) and 0 <= left.x.min() and left.x.max() <= 1
    assert (left.y == -1).all()
    one_d = load("photo_patches", image="china", n=5, shape=[40])
    assert one_d.x.shape == (5, 1, 40)
    for kind in ("uniform", "gaussian", "blobs"):
        noise = load("noise_images", kind=kind, n=10, shape=[1, 8, 8])
        assert noise.x.shape == (10, 1, 8, 8) and 0 <= noise.x.min() and noise.x.max() <= 1


def test_sets_from_another_source_take_the_id_inputs_norms_and_range():
    digits = load("digits").x
    id_norm = np.linalg.norm(digits.reshape(len(digits), -1), axis=1)
    for name, options in [("photo_patches", {"image": "china"}), ("noise_images", {"kind": "uniform"}),
                          ("noise_images", {"kind": "blobs"})]:
        x = load(name, **options).x
        matched = ood.match_norm_and_range(x, digits, np.random.default_rng(0))
        norm = np.linalg.norm(matched.reshape(len(x), -1), axis=1)
        assert matched.shape == x.shape and digits.min() <= matched.min() and matched.max() <= digits.max()
        assert abs(norm.mean() - id_norm.mean()) < 0.1 and abs(norm.std() - id_norm.std()) < 0.1, name
        assert abs(np.linalg.norm(x.reshape(len(x), -1), axis=1).mean() - id_norm.mean()) > 0.5, "was unmatched"
    again = ood.match_norm_and_range(x, digits, np.random.default_rng(0))
    np.testing.assert_array_equal(matched, again)


# -- the task spec's refusals ----------------------------------------------------------------------
NEAR = {"name": "digits_6_9", "kind": "near", "source": "digits", "classes": [6, 7, 8, 9]}
TUNE = {"name": "blended", "kind": "near", "source": "digits",
        "corruption": {"kind": "blend", "strength": 0.5}}


def raw_task(**ood_fields) -> dict:
    section = {"id_classes": [0, 1, 2, 3, 4, 5], "test": [NEAR], "tune": [TUNE], "limit": 100, **ood_fields}
    return {"family": "ood", "data": {"source": "digits", "limit": 500}, "model": {"name": "mlp",
            "options": {"width": 32}}, "train": {"epochs": 6, "lr": 0.005}, "ood": section}


def refused(raw: dict, *patterns: str) -> str:
    with pytest.raises(BenchmarkError) as err:
        parse_task(raw, "tasks/toy_ood.yaml")
    message = str(err.value)
    assert "\n" not in message and message.startswith("tasks/toy_ood.yaml: ")
    for p in patterns:
        assert p in message, message
    return message


def test_an_ood_set_overlapping_the_in_distribution_classes_is_refused():
    refused(raw_task(test=[{**NEAR, "classes": [5, 6]}]), "test[0] 'digits_6_9' overlaps the in-distribution",
            "[5]")
    refused(raw_task(test=[{**NEAR, "classes": None}]), "overlaps the in-distribution classes")
    refused(raw_task(id_classes=None), "draws [6, 7, 8, 9]", "in-distribution is all classes")


def test_an_empty_ood_set_is_refused():
    refused(raw_task(test=[]), "ood.test", "at least 1 item")
    spec = parse_task(raw_task(test=[{**NEAR, "classes": [42]}]), "tasks/toy_ood.yaml")
    with pytest.raises(BenchmarkError, match=r"ood.test\[0\] 'digits_6_9' is empty") as err:
        run(spec)
    assert "\n" not in str(err.value)


def test_tuning_and_training_outliers_must_be_disjoint_from_the_test_sets():
    refused(raw_task(tune=[{**NEAR, "name": "again", "classes": [9]}]), "tune[0] 'again' overlaps test[0]")
    photos = {"name": "china", "kind": "far", "source": "photo_patches", "options": {"image": "china"}}
    refused(raw_task(test=[NEAR, photos], auxiliary={**photos, "name": "aux", "options": {"image": "china",
            "seed": 3}}), "auxiliary 'aux' overlaps test[1] 'china'")
    flower = {**photos, "name": "aux", "options": {"image": "flower"}}
    parse_task(raw_task(test=[NEAR, photos], auxiliary=flower), "x.yaml")


def test_other_mistakes_in_the_ood_section_are_refused():
    shift = {"name": "same", "kind": "shift", "source": "digits"}
    refused(raw_task(test=[NEAR, shift]), "'same' is the in-distribution data itself")
    refused(raw_task(test=[{**NEAR, "name": "mean"}]), "reserved")
    blend_photos = {"name": "bp", "kind": "far", "source": "photo_patches", "corruption": TUNE["corruption"]}
    refused(raw_task(tune=[blend_photos]), "needs the labels of the ID source")
    too_strong = {**NEAR, "corruption": {"kind": "contrast", "strength": 2}}
    refused(raw_task(test=[too_strong]), "expected a value in (0, 1)")


# -- the protocol end to end -----------------------------------------------------------------------
ERM = METHODS.get("erm")


def run(spec, method_cls=ERM, seed=0):
    return ood.run(method_cls, {}, spec, seed, torch.device("cpu"), seed_everything(seed))


def rows(result):
    return {(r.metric, r.scorer, r.domain): r.value for r in result.metrics}


PHOTOS = {"name": "china", "kind": "far", "source": "photo_patches", "options": {"image": "china"}}
SPEC = parse_task(raw_task(test=[NEAR, PHOTOS]), "tasks/toy_ood.yaml")


@pytest.fixture(scope="module")
def erm_result():
    """One tiny ERM run, with every call to Mahalanobis.fit recorded."""
    cls = SCORERS.get("mahalanobis")
    fits, original = [], cls.fit
    cls.fit = lambda self, train, labels: (fits.append((train.features.clone(), labels.clone())),
                                           original(self, train, labels))[1]
    try:
        return run(SPEC), fits
    finally:
        cls.fit = original


def test_every_scorer_reports_every_metric_for_every_test_set_and_the_mean(erm_result):
    result, _ = erm_result
    got = rows(result)
    for scorer in SCORERS.names():
        for metric in ("auroc", "fpr95", "aupr_in", "aupr_out"):
            for domain in ("digits_6_9", "china", "near", "far"):
                assert 0 <= got[(metric, scorer, domain)] <= 1
            mean = (got[(metric, scorer, "digits_6_9")] + got[(metric, scorer, "china")]) / 2
            assert got[(metric, scorer, "mean")] == pytest.approx(mean)
    assert got[("val_acc", "", "")] > 0.5 and got[("id_acc", "", "")] > 0.5
    assert {r.selection for r in result.metrics if r.metric not in DIAGNOSTICS} == {"id_val"}
    assert 0 <= got[("ece", "", "")] <= 1 and got[("nll", "", "")] > 0 and 0 <= got[("brier", "", "")] <= 2
    assert {r.metric for r in result.metrics if r.selection == "last"} == DIAGNOSTICS
    assert not any(r.metric == "shifted_acc" for r in result.metrics)


def test_details_carry_roc_points_tuned_hparams_and_the_default_scorer(erm_result):
    result, _ = erm_result
    d = json.loads(json.dumps(result.details))
    assert d["default_scorer"] == "msp" and "positive" in d["convention"]
    assert set(d["roc"]) == set(SCORERS.names())
    for per_set in d["roc"].values():
        assert set(per_set) == {"digits_6_9", "china"}
        assert all(len(p["fpr"]) <= 50 for p in per_set.values())
    assert set(d["scorers"]["knn"]["hparams"]) == {"k"}
    assert [s["name"] for s in d["ood_sets"]["tune"]] == ["blended"]
    assert d["ood_sets"]["test"][0]["n"] == 100  # ood.limit caps the 6-9 pool


def test_mahalanobis_is_fitted_on_training_features_only(erm_result):
    result, fits = erm_result
    n_train = result.details["sizes"]["train"]
    assert fits and all(len(f) == len(y) == n_train for f, y in fits)
    assert all(set(y.tolist()) == set(range(6)) for _, y in fits)


def test_the_same_seed_gives_the_same_numbers(erm_result):
    again = rows(run(SPEC))
    assert again == rows(erm_result[0])


def test_scorer_tuning_never_reads_the_test_sets(erm_result):
    """Other test sets, same tuning set: every scorer picks the same hyperparameters, same tuning AUROC."""
    noise = {"name": "noise", "kind": "far", "source": "noise_images", "options": {"kind": "uniform"}}
    other = run(parse_task(raw_task(test=[noise]), "x.yaml"))
    assert other.details["scorers"] == erm_result[0].details["scorers"]


class OwnScore(Method):
    """ERM with a score of its own: minus the logit norm (any deterministic function would do)."""

    def score(self, out):
        return -out.logits.norm(dim=1)


class Featureless(Method):
    def predict(self, x):
        out = super().predict(x)
        return Output(logits=out.logits, features=out.logits[:, :0])


def test_a_method_score_of_its_own_is_reported_and_becomes_its_default():
    result = run(SPEC, OwnScore)
    assert result.details["default_scorer"] == "own"
    assert ("auroc", "own", "mean") in rows(result)
    assert set(result.details["roc"]) == {"own", *SCORERS.names()}


def test_a_scorer_needing_features_refuses_a_model_without_them():
    with pytest.raises(BenchmarkError, match="needs features, but method") as err:
        run(SPEC, Featureless)
    assert "\n" not in str(err.value)


def test_covariate_shift_reports_detection_and_accuracy_under_shift():
    shift = lambda name, kind, s: {"name": name, "kind": "shift", "source": "digits",
                                   "corruption": {"kind": kind, "strength": s}}
    spec = parse_task(raw_task(test=[shift("noise", "noise", 0.5), shift("blur", "blur", 1.0)],
                               tune=[shift("impulse", "impulse", 0.1)]), "x.yaml")
    got = rows(run(spec))
    acc = [got[("shifted_acc", "", d)] for d in ("noise", "blur")]
    assert got[("shifted_acc", "", "mean")] == pytest.approx(np.mean(acc))
    assert ("auroc", "msp", "shift") in got and ("auroc", "msp", "near") not in got


def test_auxiliary_outliers_reach_methods_through_the_context():
    seen = {}

    class Spy(Method):
        def setup(self):
            seen.update(self.ctx.extra)

    flower = {"name": "flower", "kind": "far", "source": "photo_patches", "options": {"image": "flower"}}
    run(parse_task({**raw_task(auxiliary=flower), "train": {"epochs": 1}}, "x.yaml"), Spy)
    assert seen["outliers"].shape == (100, 1, 8, 8)
    seen.clear()
    run(parse_task({**raw_task(), "train": {"epochs": 1}}, "x.yaml"), Spy)
    assert "outliers" not in seen


# -- the shipped tasks -----------------------------------------------------------------------------
OOD_TASKS = [t for t in task_names() if load_task(t).family == "ood"]


def test_at_least_three_ood_tasks_each_documented():
    assert len(OOD_TASKS) >= 3
    doc = (ROOT / "docs" / "ood.md").read_text()
    for task in OOD_TASKS:
        assert f"`{task}`" in doc, f"docs/ood.md does not describe {task}"
        load_task(task, "smoke")
