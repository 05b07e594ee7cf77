"""The README's quick start is what CI runs: two commands, the second one verbatim in .ci/run."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from hiernas.commands.group import cli

ROOT = Path(__file__).resolve().parent.parent


def quick_start() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```\n(.*?)```", section, re.DOTALL)
    assert block, "the quick start has no code block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_is_two_commands_install_first() -> None:
    run, test = quick_start()
    for command in (run, test):
        # The CPU build from the local disk before anything can ask for a multi-GB CUDA one.
        assert command.startswith("pip install torch==2.13.0 && pip install -e ")
    assert run.endswith("hiernas evolve configs/digits.yaml")
    assert (ROOT / "configs" / "digits.yaml").is_file()
    assert test.endswith("python -m pytest -q")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, test = quick_start()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test in ci


def test_every_command_in_the_readme_exists() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`hiernas (\w+)", readme)) | set(
        re.findall(r"^hiernas (\w+)", readme, re.MULTILINE)
    )
    assert named, "the README names no commands"
    for name in sorted(named):
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, f"hiernas {name}: {result.output}"


def test_every_bundled_config_in_the_readme_exists() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^- `(\w+)\.yaml`", readme, re.MULTILINE))
    assert {"digits", "cifar", "flat", "nb201"} <= listed
    for name in listed:
        assert (ROOT / "configs" / f"{name}.yaml").is_file(), name
