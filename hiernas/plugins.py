"""The user's own code named by a config: ``plugins: [package.module, ...]``.

A plug-in module registers primitives when imported (``motifs.operations.register_operation``), so
it must be imported before the config's space is validated, and again in every worker process
before a network is built. Only a config the user hands us on the command line imports anything:
a run directory's stored config never does (it is data; issue 10, "Opening a run directory must
never execute anything").
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hiernas.errors import InputError

if TYPE_CHECKING:
    from evolution.evaluation import EvalContext, EvalResult, Evaluator
    from motifs.genotype import Genotype

MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def check_plugin_names(value: Any) -> tuple[str, ...]:
    """The ``plugins`` value as module names, or ``InputError`` naming the bad entry."""
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise InputError(f"plugins: expected a list of module names, got {type(value).__name__}")
    for position, name in enumerate(value):
        if not isinstance(name, str) or not MODULE_NAME.fullmatch(name):
            raise InputError(f"plugins[{position}]: {name!r} is not a module name (like package.module)")
    return tuple(value)


def import_plugins(modules: Sequence[str]) -> None:
    """Import each module (a no-op when already imported); failures are one line of bad input."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise InputError(f"plugins: cannot import {name!r} ({error})") from None
        except Exception as error:  # the user's module failed while registering its primitives
            raise InputError(f"plugins: importing {name!r} failed: {type(error).__name__}: {error}") from None


class PluginEvaluator:
    """An evaluator that imports the config's plug-ins before its first evaluation, so a worker
    process (local executor) or Ray actor knows the user's primitives before it builds a network.
    Everything else is the wrapped evaluator's."""

    def __init__(self, evaluator: Evaluator, plugins: Sequence[str]) -> None:
        self.evaluator = evaluator
        self.plugins = tuple(plugins)

    def __call__(self, genotype: Genotype, context: EvalContext) -> EvalResult:
        import_plugins(self.plugins)
        return self.evaluator(genotype, context)

    def __getattr__(self, name: str) -> Any:
        # Only reached for names this class lacks; during unpickling ``evaluator`` is not set yet.
        if name.startswith("__") or name in ("evaluator", "plugins"):
            raise AttributeError(name)
        return getattr(self.evaluator, name)
