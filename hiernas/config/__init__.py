"""Run configuration: YAML → validated, typed, immutable objects.

A config file (or a preset name) plus ``--set KEY=VALUE`` overrides is merged into one mapping and
validated once; every error is one line naming the key, the allowed values and what was given. The
resolved configuration (every default spelled out) is what a run directory records.

``sections`` holds the space, network, data, training and evaluator sections; ``search`` the
search and executor sections; ``run`` the whole configuration; ``loading`` reading and wording.
"""

from hiernas.config.loading import (
    CONFIG_DIR,
    bundled_configs,
    config_differences,
    config_from_dict,
    load_config,
    with_current_defaults,
)
from hiernas.config.run import RESUMABLE_KEYS, FinalConfig, RunConfig
from hiernas.config.search import ExecutorConfig, SearchConfig
from hiernas.config.sections import (
    EVALUATOR_SETTINGS,
    ConfigError,
    DataConfig,
    EvaluationTemplateConfig,
    NetworkConfig,
    PythonEvaluatorConfig,
    SpaceConfig,
    TableEvaluatorConfig,
    TrainEvaluatorConfig,
    TrainingSettings,
)

__all__ = [
    "CONFIG_DIR",
    "EVALUATOR_SETTINGS",
    "RESUMABLE_KEYS",
    "ConfigError",
    "DataConfig",
    "EvaluationTemplateConfig",
    "ExecutorConfig",
    "FinalConfig",
    "NetworkConfig",
    "PythonEvaluatorConfig",
    "RunConfig",
    "SearchConfig",
    "SpaceConfig",
    "TableEvaluatorConfig",
    "TrainEvaluatorConfig",
    "TrainingSettings",
    "bundled_configs",
    "config_differences",
    "config_from_dict",
    "load_config",
    "with_current_defaults",
]
