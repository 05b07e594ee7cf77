"""Configuration sections: the space, the networks, the data, training and each evaluator kind.

Every section is a frozen pydantic model that forbids unknown keys, so a misspelt key is an error
that names the allowed ones (``hiernas.config.loading`` words it in one line).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self, Union, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from evolution.registry import Registry
from hiernas.errors import InputError
from motifs.space import PAPER_PRIMITIVES, PRESETS, Space, SpaceError


class ConfigError(InputError):
    """A configuration that cannot be used as it is."""


class _Section(BaseModel):
    # Every number of a configuration is finite: an inf or NaN setting is a typo, never a value
    # (it slipped through range checks into tracebacks, or into comparisons that are always false).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_boolean_numbers(cls, data: Any) -> Any:
        # pydantic reads true as 1; "budget: true" is a mistake, not a budget of one.
        for key, value in data.items() if isinstance(data, Mapping) else ():
            field = cls.model_fields.get(key) if isinstance(value, bool) else None
            kinds = {field.annotation, *get_args(field.annotation)} if field else set()
            if bool not in kinds and kinds & {int, float}:
                raise ValueError(f"{key}: input should be a number, got {value!r}")
        return data


def _registered(registry: Registry[Any]) -> AfterValidator:
    """A name that must be registered in ``registry`` (its error lists the names that are)."""

    def check(name: str) -> str:
        if name not in registry:
            raise ValueError(registry.unknown(name))
        return name

    return AfterValidator(check)


# Settings of each evaluator kind; each has a builder of the same name in hiernas.evaluators.
EVALUATOR_SETTINGS: Registry[type[_Section]] = Registry("evaluator kind")


class LevelConfig(_Section):
    motifs: int = Field(ge=1)
    nodes: int = Field(ge=2)


class SpaceConfig(_Section):
    """The genotype space. ``preset`` fills ``primitives`` and ``levels`` (explicit keys win)."""

    primitives: tuple[str, ...] = PAPER_PRIMITIVES
    # Level 2 upward; the last level holds the cell and must have 1 motif.
    levels: tuple[LevelConfig, ...] = (LevelConfig(motifs=6, nodes=4), LevelConfig(motifs=1, nodes=5))
    # Random mutations applied to the identity chains to diversify each initial individual (paper: 1000).
    init_mutations: int = Field(default=1000, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "preset" in data:
            data = dict(data)
            name = data.pop("preset")
            if name not in PRESETS:
                raise ValueError(f"unknown preset {name!r} (allowed: {', '.join(sorted(PRESETS))})")
            space = PRESETS[name]
            data.setdefault("primitives", space.primitives)
            data.setdefault(
                "levels", [{"motifs": m, "nodes": n} for m, n in zip(space.motifs, space.nodes, strict=True)]
            )
        return data

    @model_validator(mode="after")
    def _check_space(self) -> Self:
        self.to_space()
        return self

    def to_space(self) -> Space:
        try:
            return Space(
                tuple(self.primitives),
                tuple(lv.motifs for lv in self.levels),
                tuple(lv.nodes for lv in self.levels),
            )
        except SpaceError as error:
            raise ValueError(str(error).removeprefix("space.")) from None


class NetworkConfig(_Section):
    """The network template a cell is placed in (DESIGN.md, "Networks"). The paper searches with
    C0 = 16, N = 1 and trains the final network with C0 = 64, N = 2."""

    channels: int = Field(default=16, ge=1)
    cells_per_stage: int = Field(default=1, ge=1)
    stages: int = Field(default=3, ge=1)
    merge: Literal["concat", "sum"] = "concat"


class EvaluationTemplateConfig(_Section):
    """The evaluation template ``hiernas train`` trains a found cell in: the ``network`` section's
    template with this width and depth (the paper: C0 = 64, N = 2)."""

    channels: int = Field(default=64, ge=1)
    cells_per_stage: int = Field(default=2, ge=1)


class DataConfig(_Section):
    dataset: Literal["digits", "cifar10", "folder"] = "digits"
    # cifar10: the python tarball, its extracted folder, or a folder/tarball of train/<class>/*
    # images; downloaded (with checksum) into cache_dir when not given. folder: required.
    path: str | None = None
    # Where decoded data sets are cached as uint8 arrays; default $HIERNAS_CACHE or ~/.cache/hiernas.
    cache_dir: str | None = None
    # Held out of the training set for the fitness: a count of images, or a fraction below 1.
    # The paper: 10,000 of CIFAR-10's 50,000.
    validation: float = Field(default=0.2, gt=0)
    # Seed of the stratified train/validation split. Not the run seed: every run with the same data
    # settings scores genotypes on the same validation images, so fitness values stay comparable.
    split_seed: int = 0
    # Random crop (4-pixel padding on 32×32 images, 1 on the 8×8 digits) and horizontal flip while
    # training.
    augment: bool = True
    # Horizontal flips; None: the data set's default (on for photos, off for digits, whose mirror
    # images are not digits).
    flip: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.dataset == "folder" and not self.path:
            raise ValueError(
                "dataset 'folder' needs data.path (a folder or .tar.gz of train/<class>/* "
                "and test/<class>/* images)"
            )
        if self.validation >= 1 and self.validation != int(self.validation):
            raise ValueError(f"validation: a count must be a whole number, got {self.validation}")
        return self


class TrainingSettings(_Section):
    """SGD training as in the paper's search (section 4.1): 5000 steps of batch 256, momentum 0.9,
    learning rate 0.1 divided by 10 after 4000 steps, weight decay 3e-4."""

    steps: int = Field(default=5000, ge=1)
    batch_size: int = Field(default=256, ge=1)
    lr: float = Field(default=0.1, gt=0)
    momentum: float = Field(default=0.9, ge=0, lt=1)
    nesterov: bool = False
    weight_decay: float = Field(default=3e-4, ge=0)
    schedule: Literal["step", "cosine", "constant"] = "step"
    # For the step schedule: the steps after which the learning rate is multiplied by lr_drop_factor.
    lr_drop_at: tuple[int, ...] = (4000,)
    lr_drop_factor: float = Field(default=0.1, gt=0, le=1)
    warmup_steps: int = Field(default=0, ge=0)
    label_smoothing: float = Field(default=0.0, ge=0, lt=1)
    eval_batch_size: int = Field(default=1024, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # auto: bf16 autocast on CUDA, fp32 on CPU.
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    # torch.compile the network (per genotype, in its worker); off until measured to pay off.
    compile: bool = False


@EVALUATOR_SETTINGS.register("train")
class TrainEvaluatorConfig(TrainingSettings):
    kind: Literal["train"] = "train"
    # Validation images (a fixed, stratified subset) that score a successive-halving rung below the
    # full ``steps``; the top rung always uses the whole validation set. None: every rung uses all.
    # 1000: the standard error of an accuracy near 50% is then about 1.6 points, fine enough to pick
    # the top 1/eta of a rung for promotion, for a tenth of CIFAR-10's 10,000-image pass (issue 13).
    low_rung_validation: int | None = Field(default=1000, ge=1)


@EVALUATOR_SETTINGS.register("table")
class TableEvaluatorConfig(_Section):
    """Look fitness up in a tabular benchmark (NAS-Bench-201 CSV) instead of training."""

    kind: Literal["table"]
    table: str | None = None
    fitness: str = "cifar10-val-12ep"

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.table:
            raise ValueError(
                "table: the table evaluator needs a CSV path "
                "(for example --set evaluator.table=../shared/data/nb201-12epoch.csv)"
            )
        return self


class ObjectiveConfig(_Section):
    name: str = Field(min_length=1)
    direction: Literal["max", "min"] = "max"
    unit: str = "fraction"


@EVALUATOR_SETTINGS.register("python")
class PythonEvaluatorConfig(_Section):
    """The user's own evaluator, ``package.module:function`` (``hiernas.evaluators.python``),
    imported from the user's environment when a run starts, never from a run directory."""

    kind: Literal["python"]
    target: str
    # What the function's metrics hold; the first is the fitness and must be in every done result.
    objectives: tuple[ObjectiveConfig, ...] = Field(default=(ObjectiveConfig(name="accuracy"),), min_length=1)
    # Handed to the function in its context: the step budget, and anything else it wants.
    steps: int | None = Field(default=None, ge=1)
    settings: dict[str, Any] = {}
    # The images a function that asks for ``module`` gets a network for, built in ``network``.
    input_shape: tuple[int, int, int] = (3, 32, 32)
    classes: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", self.target):
            raise ValueError(f"target: expected 'package.module:function', got {self.target!r}")
        return self


EvaluatorConfig = Annotated[
    Union[tuple(EVALUATOR_SETTINGS.get(kind) for kind in EVALUATOR_SETTINGS)],  # noqa: UP007
    Field(discriminator="kind"),
]
