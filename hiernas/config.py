"""Run configuration: YAML → validated, typed, immutable objects.

A config file (or a preset name) plus ``--set KEY=VALUE`` overrides is merged into one mapping and
validated once; every error is one line naming the key, the allowed values and what was given. The
resolved configuration (every default spelled out) is what a run directory records.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Annotated, Any, Literal, Self, Union, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from evolution.executors import EXECUTORS
from evolution.registry import STRATEGIES, Registry
from hiernas.errors import InputError
from hiernas.plugins import check_plugin_names, import_plugins
from motifs.data_files import DataFileError, load_yaml
from motifs.space import PAPER_PRIMITIVES, PRESETS, Space, SpaceError

# The bundled configs (digits, cifar, flat, nb201): the checkout's configs/, shipped inside the
# package as hiernas/configs (pyproject.toml), so an installed hiernas finds them too.
CONFIG_DIR: Traversable = resources.files("hiernas") / "configs"


class ConfigError(InputError):
    """A configuration that cannot be used as it is."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

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


class RLConfig(_Section):
    """The controller of Zoph & Le 2017: a 2-layer LSTM of 35 units, Adam at 6e-4, REINFORCE with an
    exponential-moving-average baseline."""

    hidden: int = Field(default=35, ge=1)
    layers: int = Field(default=2, ge=1)
    lr: float = Field(default=6e-4, gt=0)
    baseline_decay: float = Field(default=0.95, ge=0, lt=1)
    entropy: float = Field(default=0.0, ge=0)
    # Update the controller after every this many finished evaluations (never waits for a batch).
    update_every: int = Field(default=5, ge=1)
    init_range: float = Field(default=0.08, gt=0)
    # "scaled": fitness over a running spread; "paper": Zoph & Le's accuracy cubed, R − b unscaled.
    reward: Literal["paper", "scaled"] = "scaled"


class PredictorConfig(_Section):
    """Evolution guided by a fitness predictor learned from the journal (evolution/guided.py)."""

    # Children made per ask (one tournament and one mutation each); the acquisition picks one.
    candidates: int = Field(default=100, ge=1)
    # ucb: mean + beta · ensemble spread; thompson: one ensemble member's best; mean: exploit.
    acquisition: Literal["ucb", "thompson", "mean"] = "ucb"
    # Fresh successful results needed before the predictor chooses (before: plain evolution).
    start_after: int = Field(default=20, ge=2)
    beta: float = Field(default=1.0, ge=0)


class SearchObjective(_Section):
    name: str = Field(min_length=1)
    direction: Literal["max", "min"] = "max"


class ConstraintBounds(_Section):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("a constraint needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"a constraint's min {self.min} is above its max {self.max}")
        return self


def _number_or_same(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


class LatencyConfig(_Section):
    threads: int = Field(default=1, ge=1)
    repeats: int = Field(default=30, ge=1)
    warmup: int = Field(default=5, ge=0)
    backend: Literal["torch", "onnxruntime"] = "torch"


class SearchConfig(_Section):
    strategy: Annotated[str, _registered(STRATEGIES)] = "evolution"
    # Initial population size P (the paper: 200).
    population: int = Field(default=200, ge=1)
    # Tournament size as a fraction of the current population (the paper: 5%), at least 2.
    tournament: float = Field(default=0.05, gt=0, le=1)
    # Regularised evolution (Real et al. 2019): drop the oldest member beyond P.
    aging: bool = False
    # A proposal whose architecture was already evaluated: reuse its result, resample, or evaluate.
    dedup: Literal["reuse", "resample", "off"] = "reuse"
    # A failed network proposed again is evaluated again this many times; then its failure is reused.
    retry_failed: int = Field(default=1, ge=0)
    # A mutated child whose network was evaluated before (a dead edge or unused motif changed):
    # join the population as an individual of its own, or drop it (see evolution/tournament.py).
    neutral: Literal["join", "drop"] = "drop"
    # Unset: the paper's evolution. Set (even to {}): guided evolution, see PredictorConfig.
    predictor: PredictorConfig | None = None
    rl: RLConfig = RLConfig()
    # What the front is made of: [{name, direction}], the first one primary. Names: the evaluator's
    # declared objectives, params, flops, latency_ms. Empty: the primary objective against params.
    objectives: tuple[SearchObjective, ...] = ()
    # Bounds on metrics: {params: 1.0e6} is an upper bound, {accuracy: {min: 0.9}} a lower one.
    # Broken: never on the front; params/flops are checked before training (evolution/front.py).
    constraints: dict[str, ConstraintBounds] = {}
    # How latency_ms is measured, when an objective or constraint names it (hiernas/latency.py).
    latency: LatencyConfig = LatencyConfig()

    @field_validator("constraints", mode="before")
    @classmethod
    def _upper_bounds(cls, value: Any) -> Any:
        # A bare number is an upper bound: {params: 1.0e6} means {params: {max: 1.0e6}}. PyYAML reads
        # 1.0e6 (no sign in the exponent) as a string, so a string that is a number counts as one.
        if not isinstance(value, Mapping):
            return value
        return {
            name: {"max": _number_or_same(bound)}
            for name, bound in value.items()
            if not isinstance(bound, Mapping)
        } | {
            name: {k: _number_or_same(v) for k, v in bound.items()}
            for name, bound in value.items()
            if isinstance(bound, Mapping)
        }

    @field_validator("objectives")
    @classmethod
    def _distinct_objectives(cls, value: tuple[SearchObjective, ...]) -> tuple[SearchObjective, ...]:
        names = [objective.name for objective in value]
        if len(set(names)) != len(names):
            raise ValueError(f"an objective is listed twice: {', '.join(names)}")
        return value

    @field_validator("dedup", mode="before")
    @classmethod
    def _dedup_off(cls, value: Any) -> Any:
        return "off" if value is False else value  # YAML 1.1 reads a bare off as false


class ExecutorConfig(_Section):
    kind: Annotated[str, _registered(EXECUTORS)] = "local"
    workers: int = Field(default=1, ge=1)
    # Several small networks share one GPU well; each worker still sees exactly one GPU.
    workers_per_gpu: int = Field(default=1, ge=1)
    # Seconds one evaluation may take before its worker is stopped and it is recorded as failed.
    timeout: float | None = Field(default=None, gt=0)
    # ray: the cluster to join; None uses RAY_ADDRESS or starts a local instance.
    ray_address: str | None = None
    # Run more local workers than this machine's cores, GPUs and memory hold (refused otherwise).
    oversubscribe: bool = False

    @model_validator(mode="after")
    def _check_inline(self) -> Self:
        # The inline executor runs one evaluation at a time in the driver, and cannot stop one.
        if self.kind == "inline" and self.workers != 1:
            raise ValueError(
                f"workers: the inline executor runs one evaluation at a time, got {self.workers} "
                "(set executor.workers=1, or executor.kind=local)"
            )
        if self.kind == "inline" and self.timeout is not None:
            raise ValueError(
                "timeout: the inline executor cannot stop an evaluation "
                "(set executor.timeout=null, or executor.kind=local)"
            )
        return self


class FinalConfig(TrainingSettings):
    """``hiernas train``: the evaluation template's longer schedule."""

    steps: int = Field(default=80000, ge=1)
    schedule: Literal["step", "cosine", "constant"] = "cosine"


class RunConfig(_Section):
    seed: int = 0
    # The user's modules that register primitives (hiernas.plugins); imported by load_config.
    plugins: tuple[str, ...] = ()
    # Finished evaluations (done or failed) a search runs for; cache hits are free.
    budget: int = Field(default=100, ge=1)
    space: SpaceConfig = SpaceConfig()
    network: NetworkConfig = NetworkConfig()
    evaluation_template: EvaluationTemplateConfig = EvaluationTemplateConfig()
    data: DataConfig = DataConfig()
    evaluator: EvaluatorConfig = TrainEvaluatorConfig()
    search: SearchConfig = SearchConfig()
    executor: ExecutorConfig = ExecutorConfig()
    final: FinalConfig = FinalConfig()

    @model_validator(mode="before")
    @classmethod
    def _default_evaluator_kind(cls, data: Any) -> Any:
        # The union is told apart by 'kind'; an evaluator section without one means training.
        evaluator = data.get("evaluator") if isinstance(data, Mapping) else None
        if isinstance(evaluator, Mapping) and "kind" not in evaluator:
            data = {**data, "evaluator": {**evaluator, "kind": "train"}}
        return data

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# Keys that may change when a run is resumed: they decide how much and where, not what is computed.
RESUMABLE_KEYS = ("budget", "executor")


def load_config(
    source: str | Path, overrides: Sequence[str] = (), *, prefer_preset: bool = False, plugins: bool = True
) -> RunConfig:
    """A YAML file, the name of a bundled config (``cifar``, ``digits``...), or a space preset
    (``paper``, ``flat``, ``nb201``: every other setting at its default), plus overrides.

    A name that is both a bundled config and a preset means the config, unless ``prefer_preset``
    (commands that only need the space, like ``sample``). ``plugins=False`` for a run directory's
    config, which must never make us import code."""
    is_preset = isinstance(source, str) and source in PRESETS and not Path(source).exists()
    if is_preset and (prefer_preset or not (CONFIG_DIR / f"{source}.yaml").is_file()):
        data: dict[str, Any] = {"space": {"preset": source}}
    else:
        data = _read_yaml(_resolve_source(source))
    for override in overrides:
        _apply_override(data, override)
    if plugins and isinstance(data, Mapping):
        import_plugins(check_plugin_names(data.get("plugins")))
    return config_from_dict(data)


def config_from_dict(data: Any) -> RunConfig:
    if not isinstance(data, Mapping):
        raise ConfigError(f"config: expected a mapping of sections, got {type(data).__name__}")
    data = _moved_template_keys(data)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_one_line(error)) from None


def config_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Dotted keys whose values differ, ignoring ``RESUMABLE_KEYS``."""
    flat_old, flat_new = _flatten(_moved_template_keys(old)), _flatten(_moved_template_keys(new))
    return sorted(
        key
        for key in set(flat_old) | set(flat_new)
        if key.split(".")[0] not in RESUMABLE_KEYS
        and flat_old.get(key, "<unset>") != flat_new.get(key, "<unset>")
    )


def bundled_configs() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in CONFIG_DIR.iterdir() if p.name.endswith(".yaml"))


def _moved_template_keys(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Configs (and run directories) written before the evaluation template's shape moved out of the
    training settings name it ``final.channels`` and ``final.cells_per_stage``: read them as
    ``evaluation_template.*``."""
    final = data.get("final")
    if not isinstance(final, Mapping) or not {"channels", "cells_per_stage"} & set(final):
        return data
    moved = {k: final[k] for k in ("channels", "cells_per_stage") if k in final}
    template = data.get("evaluation_template")
    if isinstance(template, Mapping) and set(moved) & set(template):
        key = sorted(set(moved) & set(template))[0]
        raise ConfigError(f"final.{key}: moved to evaluation_template.{key}; give it there only")
    return {
        **data,
        "final": {k: v for k, v in final.items() if k not in moved},
        "evaluation_template": {**(template if isinstance(template, Mapping) else {}), **moved},
    }


def _resolve_source(source: str | Path) -> Path | Traversable:
    path = Path(source)
    if path.exists():
        return path
    candidate = CONFIG_DIR / f"{source}.yaml"
    if not path.suffix and candidate.is_file():
        return candidate
    raise ConfigError(
        f"{source}: no such config file, bundled config or preset "
        f"(bundled: {', '.join(bundled_configs()) or 'none'}; presets: {', '.join(sorted(PRESETS))})"
    )


def _read_yaml(path: Path | Traversable) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a YAML config file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot be read ({getattr(error, 'strerror', None) or error})") from None
    try:
        data = load_yaml(text)
    except DataFileError as error:
        raise ConfigError(f"{path}: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    return data


def _apply_override(data: dict[str, Any], override: str) -> None:
    key, sep, text = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {override!r}: expected KEY=VALUE, for example --set search.population=50")
    try:
        value = load_yaml(text) if text.strip() else None
    except DataFileError as error:
        if "not valid YAML" not in str(error):
            raise ConfigError(f"--set {key}: {error}") from None
        value = text
    parts = key.strip().split(".")
    target = data
    for depth, part in enumerate(parts[:-1]):
        child = target.get(part)
        if child is None:
            child = target[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {key}: {'.'.join(parts[: depth + 1])} is not a section")
        target = child
    target[parts[-1]] = value


def _one_line(error: ValidationError) -> str:
    """pydantic's first error as ``key: what is wrong, got VALUE`` (an unknown key first: a
    misspelt key is what usually causes the other errors)."""
    errors = error.errors()
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = first["loc"]
    # The evaluator union puts the kind into the location (evaluator.train.steps): drop it.
    if len(loc) > 1 and loc[0] == "evaluator" and loc[1] in EVALUATOR_SETTINGS:
        loc = (loc[0], *loc[2:])
    where = ".".join(map(str, loc))
    message = first["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    kind, given = first["type"], first.get("input")
    if kind == "extra_forbidden":
        return f"{where}: unknown key (allowed: {', '.join(_allowed_keys(first))})"
    if kind == "missing":
        return f"{where}: required key is missing"
    if kind == "union_tag_invalid":
        return f"{where}.kind: {EVALUATOR_SETTINGS.unknown(first['ctx']['tag'])}"
    if kind.startswith(("value_error", "assertion_error")):
        # A section's own check may name a key inside it ("table: ..."): join it to the section.
        return f"{where}.{message}" if where and _names_key(message) else f"{where}: {message}".lstrip(": ")
    if isinstance(given, Mapping):
        return f"{where}: {message}"
    return f"{where}: {message[:1].lower()}{message[1:]}, got {given!r}"


def _allowed_keys(error: ErrorDetails) -> list[str]:
    """The keys of the section an unknown key was found in, from the error's location."""
    section: type[BaseModel] = RunConfig
    for part in error["loc"][:-1]:
        if section is RunConfig and part == "evaluator":
            continue  # the next part is the kind, naming the settings model
        if isinstance(part, str) and part in EVALUATOR_SETTINGS and section is RunConfig:
            section = EVALUATOR_SETTINGS.get(part)
        elif isinstance(part, str):
            annotation = section.model_fields[part].annotation
            section = next(t for t in (annotation, *get_args(annotation)) if _is_section(t))
    return sorted([*section.model_fields, *(["preset"] if section is SpaceConfig else [])])


def _is_section(candidate: Any) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, BaseModel)


def _names_key(message: str) -> bool:
    return _KEYED_MESSAGE.match(message) is not None


_KEYED_MESSAGE = re.compile(r"^[A-Za-z_][A-Za-z_0-9.\[\]]*: ")


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): data}
