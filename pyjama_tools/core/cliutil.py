"""Helpers shared by the three command-line interfaces.

:class:`MirGroup` is a click group that turns :class:`~pyjama_tools.core.errors.MirError`
into one line on stderr and exit code 1 (no traceback), and a subcommand's usage mistakes
(missing or unknown option, bad choice) into one line and exit code 2 (click's own code for
them), so every subcommand of ``pyjama-convert``, ``mirfeat`` and ``mirmodels`` reports user
mistakes the same way.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

import click

from pyjama_tools.core.errors import MirError


def fail(message: str, code: int = 1) -> None:
    """Print ``error: message`` on stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _interrupted_after_the_command(signum, frame) -> None:  # noqa: ARG001 (a signal handler's signature)
    """SIGINT once the command has finished: one line and exit 130, even while the interpreter is
    joining worker-pool threads at exit (Python would print a KeyboardInterrupt traceback there)."""
    try:
        sys.stderr.write("error: interrupted\n")
        sys.stderr.flush()
        sys.stdout.flush()
    finally:
        os._exit(130)


def _real_process_stdio() -> bool:
    """True when stdout is this process's own file (not click's CliRunner capture in a test)."""
    try:
        sys.stdout.fileno()
        return True
    except (AttributeError, OSError, ValueError):
        return False


def quiet_ctrl_c_at_exit() -> None:
    """From now on a Ctrl-C ends the process with ``error: interrupted`` and exit 130, no traceback
    (called when a command has finished; only in a real command-line process, main thread)."""
    if threading.current_thread() is threading.main_thread() and _real_process_stdio():
        signal.signal(signal.SIGINT, _interrupted_after_the_command)


class MirGroup(click.Group):
    """A click group whose subcommands report :class:`MirError` as one line, exit 1, and usage
    mistakes as one line naming the command, exit 2."""

    def invoke(self, ctx: click.Context):
        try:
            result = super().invoke(ctx)
            quiet_ctrl_c_at_exit()  # the interpreter's exit may still wait for pool threads
            return result
        except click.UsageError as error:  # raised while parsing the subcommand's arguments
            where = (error.ctx or ctx).command_path
            fail(f"{where}: {error.format_message()} (see {where} --help)", code=2)
        except MirError as error:
            fail(str(error).splitlines()[0] if str(error) else type(error).__name__)
        except FileNotFoundError as error:
            fail(f"{error.filename}: no such file" if error.filename else str(error))
        except OSError as error:  # no permission, disk full, a folder where a file belongs
            fail(f"{error.filename}: {error.strerror or error}" if error.filename else f"I/O error: {error}")
        except KeyboardInterrupt:
            fail("interrupted", code=130)


def parse_key_values(pairs: tuple[str, ...] | list[str], option: str = "--param") -> dict[str, str]:
    """Parse ``KEY=VALUE`` strings into a dict of strings.

    Raises
    ------
    MirError
        When an item has no ``=`` or an empty key; the message names the option and the item.
    """
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise MirError(f"{option} {pair!r}: expected KEY=VALUE")
        result[key.strip()] = value.strip()
    return result
