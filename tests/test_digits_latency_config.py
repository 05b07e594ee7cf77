"""configs/digits-latency.yaml is configs/digits.yaml searched for accuracy against measured latency:
only the search, the executor's timeout and the training length differ."""

from __future__ import annotations

from pathlib import Path

from hiernas.config import load_config

ROOT = Path(__file__).resolve().parent.parent


def test_it_is_digits_with_a_latency_front() -> None:
    latency = load_config(str(ROOT / "configs" / "digits-latency.yaml"))
    digits = load_config(str(ROOT / "configs" / "digits.yaml"))
    assert latency.search.strategy == "pareto"
    assert [(o.name, o.direction) for o in latency.search.objectives] == [
        ("accuracy", "max"),
        ("latency_ms", "min"),
    ]
    assert latency.search.latency.backend == "torch" and latency.search.latency.threads == 1
    assert latency.executor.timeout is None
    assert latency.evaluator.steps < digits.evaluator.steps
    same = ("seed", "budget", "space", "network", "data", "evaluation_template", "final")
    for section in same:
        assert getattr(latency, section) == getattr(digits, section), section
