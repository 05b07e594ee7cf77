"""The ``hiernas`` entry point: runs the command group (``hiernas.commands.group``) and turns every
way it can end into an exit code: 0 success, 2 bad input (one line on stderr naming what is wrong),
1 an internal failure (with its traceback, unless its message says it all), 130 interrupted
(Ctrl-C), 143 terminated (SIGTERM; stopped the same way).
"""

from __future__ import annotations

import errno
import signal
import sys
import threading
import traceback
from collections.abc import Sequence

import click

from hiernas.commands.group import cli
from hiernas.errors import InputError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM: stopped like Ctrl-C (workers stopped, the journal consistent), exit 143."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and turn every way it can end into an exit code."""
    if threading.current_thread() is not threading.main_thread():
        return _run(argv)  # only the main thread may handle signals
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _run(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(argv: Sequence[str] | None) -> int:
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None, prog_name="hiernas", standalone_mode=False
        )
    except click.exceptions.Abort as abort:  # click turns KeyboardInterrupt into Abort
        click.echo("hiernas: interrupted", err=True)
        return EXIT_TERMINATED if isinstance(abort.__cause__, Terminated) else EXIT_INTERRUPTED
    except click.ClickException as error:
        click.echo(f"hiernas: error: {error.format_message()}", err=True)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as interrupt:
        click.echo("hiernas: interrupted", err=True)
        return EXIT_TERMINATED if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            return _internal(error)
        # Every file of a run is written atomically and the journal transactionally: nothing is
        # corrupted, and the same command resumes once there is space.
        where = f" writing {error.filename}" if error.filename else ""
        click.echo(
            f"hiernas: error: no space left on the device{where}; free some and run the same "
            f"command again to resume",
            err=True,
        )
        return EXIT_BAD_INPUT
    except Exception as error:
        if is_bad_input(error):
            click.echo(f"hiernas: error: {one_line(error)}", err=True)
            return EXIT_BAD_INPUT
        if is_explained_failure(error):
            click.echo(f"hiernas: error: {one_line(error)}", err=True)
            return EXIT_INTERNAL
        return _internal(error)
    return result if isinstance(result, int) else EXIT_OK


def _internal(error: BaseException) -> int:
    traceback.print_exc()
    click.echo(f"hiernas: internal error: {one_line(error)}", err=True)
    return EXIT_INTERNAL


def is_bad_input(error: BaseException) -> bool:
    from evolution.journal import JournalError
    from motifs import GenotypeError, SpaceError

    return isinstance(error, InputError | GenotypeError | SpaceError | JournalError)


def is_explained_failure(error: BaseException) -> bool:
    """A failure whose message says what went wrong and what to do: no traceback needed."""
    from evolution.executors.local import ExecutorError

    return isinstance(error, ExecutorError)


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
