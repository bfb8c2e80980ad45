"""The method contract: a small class with narrow hooks.

The family protocol owns the loop, the data and the evaluation. A method sees
its model(s), its hyperparameters, its random generator and the batches the
protocol hands it -- never the test data, never the trainer.

Hooks, from the most common to the rarest:
  loss(batch, out)            the training objective; default cross-entropy
  forward(batch)              how a training batch goes through the model
  step(batch)                 a whole update (SAM, Fish, Co-teaching override it)
  on_epoch_end(epoch)         lifecycle: after every epoch
  on_experience_end(exp, data) lifecycle (continual): after every experience
  score(out)                  an OOD score of the method's own (higher = more in-distribution)
  predict(x)                  evaluation-time forward; default the trained model
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmark import FAMILIES
from benchmark.citation import bibtex_entry
from benchmark.hparams import HParam


@dataclass
class Batch:
    """A training minibatch. `index` are positions in the training set (for per-sample state)."""

    x: Tensor
    y: Tensor
    index: Tensor
    domain: Tensor
    experience: Tensor
    logit_mask: Tensor | None = None
    """Boolean [num_classes]: the classes this batch may predict (task-incremental heads); or
    [batch, num_classes], one row per sample, when replayed samples of older experiences keep their own."""

    def subset(self, keep: Tensor) -> Batch:
        per_sample = self.logit_mask is not None and self.logit_mask.dim() == 2
        return replace(
            self,
            x=self.x[keep],
            y=self.y[keep],
            index=self.index[keep],
            domain=self.domain[keep],
            experience=self.experience[keep],
            logit_mask=self.logit_mask[keep] if per_sample else self.logit_mask,
        )

    def by_domain(self) -> list[Batch]:
        """One sub-batch per domain present, in domain-id order (for DG penalties)."""
        return [self.subset(self.domain == d) for d in torch.unique(self.domain)]


@dataclass
class Output:
    logits: Tensor
    features: Tensor


@dataclass
class Context:
    """What the protocol tells a method about the problem. No data, no labels."""

    family: str
    num_classes: int
    input_shape: tuple[int, ...]
    num_train: int
    epochs: int
    steps_per_epoch: int
    num_domains: int = 1
    num_experiences: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    generator: torch.Generator = field(default_factory=torch.Generator)
    build_model: Callable[..., nn.Module] | None = None
    make_optimizer: Callable[..., torch.optim.Optimizer] | None = None
    """make_optimizer(params, **overrides): the task's optimizer (lr, weight_decay, ...) over params."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Family-specific facts a method may need (e.g. the continual replay budget)."""


class Method:
    """Base class; a registered method overrides only the hooks it needs."""

    name: ClassVar[str] = ""
    families: ClassVar[tuple[str, ...]] = FAMILIES
    hparams: ClassVar[dict[str, HParam]] = {}
    paper: ClassVar[str] = ""
    """Short citation, "Surname et al., Venue Year"; the fields below say it in full."""
    title: ClassVar[str] = ""
    authors: ClassVar[str] = ""
    """Comma-separated "First Last" names in the paper's order ("and others" ends a partial list)."""
    venue: ClassVar[str] = ""
    year: ClassVar[int] = 0
    url: ClassVar[str] = ""
    """An arXiv or DOI link; empty where the paper has no stable one."""
    bibtex: ClassVar[str] = ""
    """Derived from the fields above unless a method sets its own."""
    uses: ClassVar[tuple[str, ...]] = ()
    """What it uses that ERM does not: some of benchmark.citation.USES."""
    extra_cost: ClassVar[str] = "none"
    """What it costs beyond ERM, in words (e.g. "2 forward/backward passes per step")."""
    needs_domains: ClassVar[bool] = False
    """True for methods that only make sense with several training domains."""
    source_file: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.title and "bibtex" not in cls.__dict__:
            cls.bibtex = bibtex_entry(cls.title, cls.authors, cls.venue, cls.year, cls.url)

    def __init__(self, ctx: Context, hp: dict[str, Any]):
        self.ctx = ctx
        self.hp = hp
        self.generator = ctx.generator
        self.model = ctx.build_model(**self.model_options())
        self.setup()
        self.optimizer = ctx.make_optimizer(self.parameters(), **self.optimizer_options())

    # -- construction ----------------------------------------------------------------------------------
    def model_options(self) -> dict[str, Any]:
        """Keyword arguments for the model builder (e.g. dropout)."""
        return {}

    def optimizer_options(self) -> dict[str, Any]:
        """Overrides of the task's optimizer settings (e.g. {"weight_decay": 1e-4})."""
        return {}

    def setup(self) -> None:
        """Extra state: a second model, per-sample buffers... Called before the optimizer is built."""

    def parameters(self) -> Iterable[Tensor]:
        return self.model.parameters()

    # -- training --------------------------------------------------------------------------------------
    def forward(self, batch: Batch) -> Output:
        return masked(self.model(batch.x), batch.logit_mask)

    def loss(self, batch: Batch, out: Output) -> Tensor:
        return F.cross_entropy(out.logits, batch.y)

    def step(self, batch: Batch) -> dict[str, Tensor]:
        self.model.train()
        out = self.forward(batch)
        loss = self.loss(batch, out)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach()}

    def on_epoch_end(self, epoch: int) -> None:
        pass

    def on_experience_end(self, experience: int, data: Any) -> None:
        """Continual learning: `data` is an iterable of this experience's training batches.

        It is re-iterable: every `for` pass yields the whole experience again, in a fixed order, with
        the experience's `logit_mask` (task-incremental) and `index` into the union training set;
        `len(data)` is its sample count. Only this experience's training samples: no validation or
        test data, no other experience. Called after the experience's last epoch, before evaluation.
        """

    # -- evaluation ------------------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, x: Tensor) -> Output:
        self.model.eval()
        return self.model(x)

    def score(self, out: Output) -> Tensor | None:
        """An OOD score of the method's own, higher = more in-distribution; None = use the scorers."""
        return None


def masked(out: Output, logit_mask: Tensor | None) -> Output:
    """Restrict logits to the allowed classes (a head per experience in task-incremental learning)."""
    if logit_mask is None:
        return out
    # A large finite value, not -inf: entropy-style terms (p * log p) stay finite at p = 0.
    return Output(logits=out.logits.masked_fill(~logit_mask, -1e4), features=out.features)
