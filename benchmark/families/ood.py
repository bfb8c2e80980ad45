"""OOD detection: tell test inputs from outside the training distribution apart from in-distribution ones.

Protocol: the task's data keeps its in-distribution (ID) classes (`ood.id_classes`, default all) and
splits them into train / validation / test with the run's seed; the other classes of the same source
form a held-out pool. The method trains on the ID train split. Every trained model is then scored by
every registered post-hoc scorer (benchmark/scorers/) and, when the method defines `score()`, by its
own score (scorer "own", then the method's default; otherwise the default is MSP).

Three roles of OOD sets; every tune and auxiliary set must be disjoint from every test set (another
source, other source options, another corruption kind or disjoint classes; see `overlaps`):
  test       the sets reported. Sets drawn from the ID source come from the held-out classes, or, for
             covariate shift (kind "shift") and blends, from the ID *test* split.
  tune       scorer hyperparameters (ODIN T and eps, KNN k, ReAct percentile) are searched on ID
             validation inputs against these sets, by mean AUROC; drawn from the ID *validation* split.
  auxiliary  optional outliers for training (Outlier Exposure), handed to methods as ctx.extra["outliers"].

Metrics (ID is the positive class; fpr95 = share of OOD inputs accepted at the threshold that keeps
95% of ID test inputs; see benchmark/metrics/ood.py), per scorer and per test set, plus domains
"mean" (over all test sets) and one per kind present ("near", "far", "shift"):
  auroc (primary), fpr95, aupr_in, aupr_out
and, without a scorer:
  id_acc        accuracy on the clean ID test split
  shifted_acc   accuracy on each covariate-shifted set (labels kept) and their mean
  val_acc       ID validation accuracy after the last epoch: the rule that selects hyperparameter draws
  ece, nll, brier  calibration on the clean ID test split (benchmark/metrics/calibration.py)
Diagnostics of the final model (benchmark/diagnostics.py, selection "last"): hessian_top_eig,
feature_effective_rank, spectral_norm_product, on ID training inputs.
The model evaluated is the one after the last epoch; no test input chooses anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, ValidationInfo, field_validator, model_validator

from benchmark import diagnostics
from benchmark.data import Arrays, load
from benchmark.errors import BenchmarkError
from benchmark.metrics import ood as ood_metrics
from benchmark.metrics.calibration import calibration, probabilities
from benchmark.records import Metric, Result, search_result
from benchmark.scorers import SCORERS, Probe
from benchmark.seeding import data_streams, named_rng
from benchmark.shifts import corruptions
from benchmark.spec import Strict, TaskSpec
from benchmark.train import TensorSet, accuracy, fit_epoch, limit, make_context, predict, split_indices

FAMILY = "ood"
PRIMARY = "auroc"
SELECTION = "id_val"
DEFAULT_SCORER = "msp"
OWN = "own"
KINDS = ("near", "far", "shift")
CONVENTION = ("in-distribution is the positive class; fpr95 = share of OOD inputs accepted at the threshold "
              "that keeps 95% of in-distribution test inputs")
IDENTITY_FREE = ("n", "seed")
"""Source options that change how many samples are drawn, not which distribution they come from."""


class CorruptionSpec(Strict):
    kind: Literal["noise", "blur", "contrast", "impulse", "blend"]
    strength: float = Field(gt=0, description="noise/blur sigma, contrast factor, impulse rate, blend weight")

    @model_validator(mode="after")
    def _fraction(self):
        if self.kind in ("contrast", "impulse", "blend") and self.strength >= 1:
            raise ValueError(f"{self.kind} strength {self.strength}: expected a value in (0, 1)")
        return self


class OODSet(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="how the set is reported (domain column)")
    kind: Literal["near", "far", "shift"] = Field(description="shift = covariate shift: labels kept")
    source: str = Field(description="a registered data source; the task's own source draws from its data")
    options: dict[str, Any] = Field(default_factory=dict)
    classes: list[int] | None = Field(default=None, min_length=1, description="keep only these source labels")
    corruption: CorruptionSpec | None = None
    match_id: bool = Field(default=True, description="inputs from another source than the task's data are "
                           "rescaled to ID training inputs' norms and clipped to their value range")

    @model_validator(mode="after")
    def _consistent(self):
        if self.name in ("mean", *KINDS):
            raise ValueError(f"set name '{self.name}' is reserved for averages; pick another")
        if self.kind == "shift" and self.corruption and self.corruption.kind in corruptions.SEMANTIC:
            raise ValueError(f"set '{self.name}': a {self.corruption.kind} leaves no valid label; "
                             f"use kind near or far, not shift")
        return self

    @property
    def semantic(self) -> bool:
        return self.corruption is not None and self.corruption.kind in corruptions.SEMANTIC


def overlaps(a: OODSet, b: OODSet) -> bool:
    """Whether two sets may share inputs or their distribution: same source, same options (sample
    count and seed aside), same corruption kind, and classes not disjoint."""
    if a.source != b.source:
        return False
    same_options = ({k: v for k, v in a.options.items() if k not in IDENTITY_FREE}
                    == {k: v for k, v in b.options.items() if k not in IDENTITY_FREE})
    same_corruption = (a.corruption and a.corruption.kind) == (b.corruption and b.corruption.kind)
    disjoint_classes = a.classes is not None and b.classes is not None and not set(a.classes) & set(b.classes)
    return same_options and same_corruption and not disjoint_classes


class OODSection(Strict):
    id_classes: list[int] | None = Field(default=None, min_length=2, description="in-distribution classes")
    test: list[OODSet] = Field(min_length=1, description="the OOD sets reported")
    tune: list[OODSet] = Field(min_length=1, description="OOD sets that tune scorer hyperparameters")
    auxiliary: OODSet | None = Field(default=None, description="training outliers (Outlier Exposure)")
    limit: int | None = Field(default=1000, ge=10, description="at most this many inputs per set (seeded)")

    @model_validator(mode="after")
    def _disjoint(self):
        if self.id_classes is not None and len(set(self.id_classes)) != len(self.id_classes):
            raise ValueError(f"id_classes {self.id_classes} repeat a class")
        names = [s.name for s in self.roles().values()]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"OOD set names {repeated} are used twice; expected unique names")
        for where, s in self.roles(test=False).items():
            for i, t in enumerate(self.test):
                if overlaps(s, t):
                    raise ValueError(f"{where} '{s.name}' overlaps test[{i}] '{t.name}' (same source, "
                                     f"options, corruption and classes); tuning and training outliers must "
                                     f"be disjoint from the test OOD sets")
        return self

    def roles(self, test: bool = True) -> dict[str, OODSet]:
        """Every set by its field path (test[0], tune[0], auxiliary)."""
        found = {f"test[{i}]": s for i, s in enumerate(self.test)} if test else {}
        found.update({f"tune[{i}]": s for i, s in enumerate(self.tune)})
        if self.auxiliary is not None:
            found["auxiliary"] = self.auxiliary
        return found


class Spec(TaskSpec):
    family: Literal["ood"]
    ood: OODSection

    @field_validator("ood")
    @classmethod
    def _apart_from_in_distribution(cls, ood: OODSection, info: ValidationInfo) -> OODSection:
        data = info.data.get("data")
        if data is None:
            return ood
        ids = set(ood.id_classes) if ood.id_classes is not None else None
        id_text = sorted(ids) if ids is not None else "all classes"
        for where, s in ood.roles().items():
            if s.source != data.source:
                if s.kind == "shift" or s.semantic:
                    raise ValueError(f"{where} '{s.name}': a shift set or blend needs the labels of the ID "
                                     f"source '{data.source}', not source '{s.source}'")
                continue
            classes = set(s.classes) if s.classes is not None else None
            if s.kind == "shift" or s.semantic:
                if classes is not None and ids is not None and not classes <= ids:
                    raise ValueError(f"{where} '{s.name}': classes {sorted(classes - ids)} are not "
                                     f"in-distribution ({id_text}); a {s.kind} set keeps ID classes only")
                if s.corruption is None and s.options == data.options:
                    raise ValueError(f"{where} '{s.name}' is the in-distribution data itself; give it a "
                                     f"corruption or other source options")
            elif ids is None or classes is None or classes & ids:
                shared = "all classes" if classes is None else sorted(classes & ids if ids else classes)
                raise ValueError(f"{where} '{s.name}' overlaps the in-distribution classes: it draws "
                                 f"{shared} of source '{s.source}', in-distribution is {id_text}; give "
                                 f"held-out `classes` or a blend corruption")
        return ood


def applies(method_cls, spec: Spec) -> str | None:
    if FAMILY not in method_cls.families:
        return f"method '{method_cls.name}' does not declare the {FAMILY} family"
    if method_cls.needs_domains:
        return f"method '{method_cls.name}' needs several training domains; OOD tasks have one"
    if getattr(method_cls, "needs_outliers", False) and spec.ood.auxiliary is None:
        return f"method '{method_cls.name}' trains on auxiliary outliers; the task has no ood.auxiliary set"
    return None


# -- data -------------------------------------------------------------------------------------------------
@dataclass
class SetData:
    spec: OODSet
    where: str
    x: torch.Tensor
    y: np.ndarray | None
    """ID labels (remapped) for covariate-shift sets; None for semantic OOD."""


def _set_rng(seed: int, name: str) -> np.random.Generator:
    """Each set's own stream: adding a set changes no other set's samples."""
    return named_rng(seed, name)


def _labelled(arrays: Arrays, keep: list[int] | None, remap: dict[int, int] | None) -> Arrays:
    """The samples of classes `keep` (all if None), labels mapped through `remap` when given."""
    if keep is not None:
        arrays = arrays.take(np.flatnonzero(np.isin(arrays.y, keep)))
    if remap is not None:
        arrays = Arrays(arrays.x, np.array([remap[int(c)] for c in arrays.y], dtype=np.int64))
    return arrays


def materialize(s: OODSet, where: str, split: str, spec: Spec, pools: dict[str, Arrays],
                remap: dict[int, int], seed: int, device: torch.device, input_shape: tuple) -> SetData:
    """The inputs of one OOD set. `split` names the ID split a shift set or blend is cut from."""
    keeps_labels = s.kind == "shift" or s.semantic
    id_source = s.source == spec.data.source
    if id_source and s.options == spec.data.options:
        if keeps_labels:  # already remapped ID labels
            keep = None if s.classes is None else [remap[c] for c in s.classes if c in remap]
            arrays = _labelled(pools[split], keep, None)
        else:
            arrays = _labelled(pools["heldout"], s.classes, None)
    else:
        arrays = load(s.source, **s.options)
        if keeps_labels:
            arrays = _labelled(arrays, [c for c in (s.classes or remap) if c in remap], remap)
        elif s.classes is not None:
            arrays = _labelled(arrays, s.classes, None)
    rng = _set_rng(seed, s.name)
    arrays = limit(arrays, spec.ood.limit, rng)
    if len(arrays) == 0:
        raise BenchmarkError(f"ood.{where} '{s.name}' is empty: source '{s.source}' has no inputs of classes "
                             f"{s.classes if s.classes is not None else 'any'} here; expected at least one")
    if tuple(arrays.x.shape[1:]) != tuple(input_shape):
        raise BenchmarkError(f"ood.{where} '{s.name}' has inputs of shape {list(arrays.x.shape[1:])}, the "
                             f"task's data {list(input_shape)}; set the source's shape options to match")
    x = arrays.x
    if s.match_id and not id_source:
        x = match_norm_and_range(x, pools["train"].x, rng)
    if s.corruption is not None:
        try:
            x = corruptions.corrupt(x, arrays.y, s.corruption.kind, s.corruption.strength, rng)
        except ValueError as exc:
            raise BenchmarkError(f"ood.{where} '{s.name}': {exc}") from None
    return SetData(s, where, torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32), device=device),
                   arrays.y if s.kind == "shift" else None)


def match_norm_and_range(x: np.ndarray, id_x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each input rescaled to the L2 norm of a random ID training input, then clipped to the ID inputs' value
    range (a few rounds, since clipping shortens it): a set from another source then differs from the ID data
    in content, not in scale, and no scorer wins by reading the input norm (an ReLU network's confidence grows
    with it)."""
    flat = x.reshape(len(x), -1).astype(np.float64)
    id_flat = id_x.reshape(len(id_x), -1)
    target = np.linalg.norm(id_flat, axis=1)[rng.integers(len(id_flat), size=len(flat))]
    low, high = float(id_flat.min()), float(id_flat.max())
    for _ in range(4):
        norm = np.maximum(np.linalg.norm(flat, axis=1), 1e-12)
        flat = np.clip(flat * (target / norm)[:, None], low, high)
    return flat.reshape(x.shape).astype(x.dtype)


# -- scoring ----------------------------------------------------------------------------------------------
def tune_and_score(cls, probe: Probe, outs: dict, inputs: dict, train_y, tune_keys: list[str]):
    """Search the scorer's sweep on ID validation vs the tuning sets; score everything with the winner."""
    best = None
    for hp in cls.grid():
        scorer = cls(probe, **hp)
        scorer.fit(outs["train"], train_y)
        val = scorer.score(inputs["val"], outs["val"]).cpu().numpy()
        auc = float(np.mean([ood_metrics.auroc(val, scorer.score(inputs[k], outs[k]).cpu().numpy())
                             for k in tune_keys]))
        if best is None or auc > best[0]:  # strict: ties keep the earlier (default-first) setting
            best = (auc, hp, scorer)
    auc, hp, scorer = best
    reported = [k for k in outs if k == "test" or k.startswith("ood:")]
    scores = {k: scorer.score(inputs[k], outs[k]).cpu().numpy() for k in reported}
    return scores, {"hparams": hp, "tune_auroc": auc, "paper": cls.paper}


def own_scores(method, outs: dict, tune_keys: list[str]):
    val = method.score(outs["val"])
    if val is None:
        return None, None
    scores = {k: method.score(o).detach().float().cpu().numpy() for k, o in outs.items() if k != "train"}
    auc = float(np.mean([ood_metrics.auroc(scores["val"], scores[k]) for k in tune_keys]))
    return scores, {"hparams": {}, "tune_auroc": auc, "paper": type(method).paper}


def run(method_cls, hp: dict, spec: Spec, seed: int, device: torch.device,
        generator: torch.Generator, search: bool = False) -> Result:
    """One run; `search`: a search run, which stops after training (no test split, no OOD set scored)
    and records its ID val_acc only."""
    rng = data_streams(seed)[0]  # the split's stream (each OOD set draws from its own)
    data = limit(load(spec.data.source, **spec.data.options), spec.data.limit, rng)
    present = sorted(int(c) for c in np.unique(data.y))
    id_classes = spec.ood.id_classes or present
    absent = sorted(set(id_classes) - set(present))
    if absent:
        raise BenchmarkError(f"ood.id_classes: classes {absent} do not occur in data source "
                             f"'{spec.data.source}' (it has {present})")
    remap = {c: i for i, c in enumerate(id_classes)}
    is_id = np.isin(data.y, id_classes)
    id_data = _labelled(data.take(np.flatnonzero(is_id)), None, remap)
    train_i, val_i, test_i = split_indices(id_data.y, spec.split.val, spec.split.test, rng)
    pools = {"train": id_data.take(train_i), "val": id_data.take(val_i), "test": id_data.take(test_i),
             "heldout": data.take(np.flatnonzero(~is_id))}
    shape = tuple(id_data.x.shape[1:])
    build = lambda s, where, split: materialize(s, where, split, spec, pools, remap, seed, device, shape)
    tests = [build(s, f"test[{i}]", "test") for i, s in enumerate(spec.ood.test)]
    tunes = [build(s, f"tune[{i}]", "val") for i, s in enumerate(spec.ood.tune)]
    aux = build(spec.ood.auxiliary, "auxiliary", "train") if spec.ood.auxiliary else None

    train_t, val_t, test_t = (TensorSet.of(pools[k], device) for k in ("train", "val", "test"))
    extra = {"outliers": aux.x} if aux is not None else {}
    ctx = make_context(spec, FAMILY, len(id_classes), shape, len(train_t), generator, device, **extra)
    method = method_cls(ctx, hp)
    curves = {"train_loss": [], "val_acc": []}
    for epoch in range(spec.train.epochs):
        curves["train_loss"].append(fit_epoch(method, train_t.batches(spec.train.batch_size, generator)))
        method.on_epoch_end(epoch)
        curves["val_acc"].append(accuracy(method, val_t))
    if search:
        return search_result(curves["val_acc"][-1], SELECTION)

    inputs = {"train": train_t.x, "val": val_t.x, "test": test_t.x}
    inputs |= {f"tune:{d.spec.name}": d.x for d in tunes} | {f"ood:{d.spec.name}": d.x for d in tests}
    outs = {k: predict(method, x) for k, x in inputs.items()}
    tune_keys = [f"tune:{d.spec.name}" for d in tunes]
    probe = Probe(model=method.model, method=method_cls.name or method_cls.__name__,
                  source=method_cls.source_file or method_cls.__module__)

    by_scorer, scorer_info = {}, {}
    own, info = own_scores(method, outs, tune_keys)
    if own is not None:
        by_scorer[OWN], scorer_info[OWN] = own, info
    for name in SCORERS.names():
        cls = SCORERS.get(name)
        cls.check(probe, outs["train"])
        by_scorer[name], scorer_info[name] = tune_and_score(cls, probe, outs, inputs, train_t.y, tune_keys)

    metrics = [Metric("val_acc", curves["val_acc"][-1], SELECTION),
               Metric("id_acc", _acc(outs["test"], pools["test"].y), SELECTION)]
    id_calibration = calibration(probabilities(outs["test"].logits), pools["test"].y)
    metrics += [Metric(name, value, SELECTION) for name, value in id_calibration.items()]
    metrics += diagnostics.measure(method.model, train_t.x, train_t.y, seed)
    shifted = {d.spec.name: _acc(outs[f"ood:{d.spec.name}"], d.y) for d in tests if d.y is not None}
    metrics += [Metric("shifted_acc", v, SELECTION, domain=k) for k, v in shifted.items()]
    if shifted:
        mean_shifted = float(np.mean(list(shifted.values())))
        metrics.append(Metric("shifted_acc", mean_shifted, SELECTION, domain="mean"))
    groups = {"mean": [d.spec.name for d in tests]}
    groups |= {k: [d.spec.name for d in tests if d.spec.kind == k] for k in KINDS}
    roc = {}
    for scorer, scores in by_scorer.items():
        per_set = {d.spec.name: ood_metrics.detection(scores["test"], scores[f"ood:{d.spec.name}"])
                   for d in tests}
        roc[scorer] = {d.spec.name: ood_metrics.roc_points(scores["test"], scores[f"ood:{d.spec.name}"])
                       for d in tests}
        for domain, values in per_set.items():
            metrics += [Metric(m, v, SELECTION, scorer=scorer, domain=domain) for m, v in values.items()]
        for group, members in groups.items():
            if members:
                metrics += [Metric(m, float(np.mean([per_set[d][m] for d in members])), SELECTION,
                                   scorer=scorer, domain=group) for m in ood_metrics.DETECTION]

    describe = lambda d: {"name": d.spec.name, "kind": d.spec.kind, "source": d.spec.source, "n": len(d.x),
                          "classes": d.spec.classes,
                          "corruption": d.spec.corruption.model_dump() if d.spec.corruption else None}
    details = {
        "curves": curves,
        "convention": CONVENTION,
        "default_scorer": OWN if own is not None else DEFAULT_SCORER,
        "scorers": scorer_info,
        "ood_sets": {"test": [describe(d) for d in tests], "tune": [describe(d) for d in tunes],
                     "auxiliary": describe(aux) if aux else None},
        "sizes": {"train": len(train_t), "val": len(val_t), "test": len(test_t)},
        "roc": roc,
    }
    parameters = sum(p.numel() for p in method.model.parameters())
    return Result(metrics=metrics, details=details, parameters=parameters)


def _acc(out, labels) -> float:
    return ood_metrics.accuracy(out.logits.argmax(1).cpu().numpy(), labels)
