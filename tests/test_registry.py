"""The one registry type: what the CLI, the config and the builders read names from."""

from __future__ import annotations

import pytest

from evolution.executors import EXECUTORS
from evolution.registry import STRATEGIES, Registry, UnknownName
from hiernas.commands.group import cli
from hiernas.config import EVALUATOR_SETTINGS, RunConfig
from hiernas.evaluators.factory import EVALUATORS
from hiernas.export import FORMATS


def test_get_names_the_known_entries_and_a_name_registers_once() -> None:
    things: Registry[int] = Registry("thing")
    things.register("one")(1)
    things.register("two")(2)
    assert things.get("two") == 2 and things.names() == ("one", "two") and "one" in things
    with pytest.raises(UnknownName, match=r"unknown thing 'three' \(known: one, two\)"):
        things.get("three")
    with pytest.raises(ValueError, match="registered twice"):
        things.register("one")(3)


def test_every_evaluator_kind_has_settings_and_a_builder() -> None:
    assert EVALUATOR_SETTINGS.names() == EVALUATORS.names()
    for kind in EVALUATOR_SETTINGS:
        assert EVALUATOR_SETTINGS.get(kind).model_fields["kind"].annotation.__args__ == (kind,)


def test_the_cli_offers_what_is_registered() -> None:
    def choices(command: str, name: str) -> tuple[str, ...]:
        (option,) = [p for p in cli.commands[command].params if p.name == name]
        return tuple(option.type.choices)  # type: ignore[attr-defined]

    assert choices("evolve", "strategy") == STRATEGIES.names()
    assert choices("export", "fmt") == FORMATS.names()


def test_the_config_accepts_every_registered_strategy_and_executor() -> None:
    for strategy in STRATEGIES:
        assert RunConfig.model_validate({"search": {"strategy": strategy}}).search.strategy == strategy
    for kind in EXECUTORS:
        assert RunConfig.model_validate({"executor": {"kind": kind}}).executor.kind == kind
