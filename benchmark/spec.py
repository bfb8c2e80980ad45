"""Task specifications: what a `tasks/<name>.yaml` may say, validated by pydantic.

Every family extends `TaskSpec` with its own section (noise, domains,
experiences, OOD sets) in `benchmark/families/<family>.py`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class Strict(BaseModel):
    # strict: `epochs: true` or `lr: "0.1"` is a mistake, not a 1 or a 0.1 (an int still counts as a float)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DataSpec(Strict):
    source: str = Field(description="a registered data source: digits, mnist1d, ...")
    options: dict[str, Any] = Field(default_factory=dict, description="keyword options of the source")
    limit: int | None = Field(default=None, ge=10, description="keep at most this many examples (seeded)")


class ModelSpec(Strict):
    name: str = Field(description="mlp, cnn2d, cnn1d (resnet18, resnet50 with the real extra)")
    options: dict[str, Any] = Field(default_factory=dict)


class TrainSpec(Strict):
    epochs: int = Field(ge=1, le=10_000)
    batch_size: int = Field(default=64, ge=1)
    lr: float = Field(default=1e-3, gt=0, le=10)
    weight_decay: float = Field(default=0.0, ge=0, le=1)
    optimizer: Literal["adam", "sgd"] = "adam"
    momentum: float = Field(default=0.9, ge=0, lt=1)
    clip_grad_norm: float | None = Field(default=None, gt=0, description="gradient-norm clipping threshold")
    schedule: Literal["constant", "one_cycle"] = Field(default="constant", description="learning-rate schedule")


class SplitSpec(Strict):
    val: float = Field(default=0.2, gt=0, lt=1, description="share of the data held out for validation")
    test: float = Field(default=0.2, gt=0, lt=1, description="share of the data held out for testing")

    @model_validator(mode="after")
    def _leaves_training_data(self):
        if self.val + self.test >= 1:
            raise ValueError(f"val + test = {self.val:g} + {self.test:g} = {self.val + self.test:g}; expected "
                             "below 1 (the rest is the training share)")
        return self


class TaskSpec(Strict):
    family: str
    description: str = ""
    data: DataSpec
    model: ModelSpec
    train: TrainSpec
    split: SplitSpec = SplitSpec()
    profiles: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per-profile overrides, merged over the spec (e.g. smoke)"
    )


def describe_error(err: ValidationError) -> str:
    """A pydantic error as one line: field path, offending value, what is expected."""
    parts = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            parts.append(f"unknown key '{where}'")
        elif e["type"] == "missing":
            parts.append(f"missing key '{where}'")
        elif e["type"] == "value_error" and isinstance(e.get("input"), dict):
            # a validator's own message names the problem; echoing the whole section adds nothing
            parts.append(f"field '{where}': {e['msg'].removeprefix('Value error, ')}")
        else:
            parts.append(f"field '{where}' = {e.get('input')!r}: {e['msg']}")
    return "; ".join(parts)


def deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
