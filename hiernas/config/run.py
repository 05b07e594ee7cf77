"""The whole run's configuration: every section, and what a resume may change."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    model_validator,
)

from hiernas.config.search import ExecutorConfig, SearchConfig
from hiernas.config.sections import (
    DataConfig,
    EvaluationTemplateConfig,
    EvaluatorConfig,
    NetworkConfig,
    SpaceConfig,
    TrainEvaluatorConfig,
    TrainingSettings,
    _Section,
)


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
