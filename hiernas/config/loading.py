"""Reading a configuration: a YAML file, a bundled config or a preset, plus ``--set KEY=VALUE``
overrides, validated once; every error is one line naming the key, the allowed values and what was
given."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, get_args

from pydantic import (
    BaseModel,
    ValidationError,
)
from pydantic_core import ErrorDetails

from hiernas.config.run import RESUMABLE_KEYS, RunConfig
from hiernas.config.sections import EVALUATOR_SETTINGS, ConfigError, SpaceConfig
from hiernas.plugins import check_plugin_names, import_plugins
from motifs.data_files import DataFileError, load_yaml
from motifs.space import PRESETS

# The bundled configs (digits, cifar, flat, nb201): the checkout's configs/, shipped inside the
# package as hiernas/configs (pyproject.toml), so an installed hiernas finds them too.
CONFIG_DIR: Traversable = resources.files("hiernas") / "configs"


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


def with_current_defaults(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """A configuration written by an earlier version (it lists every setting there was then), read
    through today's model: settings added since take their defaults, so comparing it with today's
    does not count them as changed. None when it no longer validates."""
    try:
        return config_from_dict(data).to_dict()
    except ConfigError:
        return None


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
