"""The hiernas CLI run inside the test process, as a shell would see it: the exit code, stdout and
stderr (``hiernas.cli.main`` turns every error into a code and a line, so nothing escapes it)."""

from __future__ import annotations

import contextlib
import io

from hiernas.cli import main


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()
