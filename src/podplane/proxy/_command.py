"""Running `nft`, `ip` and `conntrack` from asyncio, and the proxy's error hierarchy.

`run(argv, input=, time_limit=)` starts the program, feeds stdin, collects stdout and
stderr and returns a `Completed` whatever the exit status; `check(completed)` turns a
non-zero status into `CommandFailed` carrying the program's stderr. A program that is
not installed raises `ToolMissing`; one that overruns its time limit, or whose caller
is cancelled, is killed and reaped. Every proxy module takes a `Runner` (this `run` by
default) so unit tests inject `fake.FakeHost` and integration tests a runner that
enters a test-owned network namespace. The runner itself is `podplane.utils.command`
(shared with the agent's network layer); this module binds it to the proxy's errors,
which also subclass their generic namesakes there, and time limit.

    ProxyError                 temporary: the next sync retries
      CommandFailed            a program exited non-zero (argv, status, stderr)
        CommandTimeout         ... or did not finish in time
      ToolMissing              permanent: nft/ip/conntrack is not installed
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from podplane.utils import command
from podplane.utils.command import Completed

__all__ = [
    "DEFAULT_TIMEOUT",
    "CommandFailed",
    "CommandTimeout",
    "Completed",
    "ProxyError",
    "Runner",
    "ToolMissing",
    "check",
    "run",
]

DEFAULT_TIMEOUT = 60.0
"""Seconds one program may take; a 10,000-endpoint `nft -f` takes about a second."""


class ProxyError(Exception):
    """The proxy could not program or inspect the node; the next sync retries."""

    temporary: bool = True


class ToolMissing(ProxyError, command.ToolMissing):
    """A program the proxy needs is not installed (names the Debian package)."""

    temporary = False


class CommandFailed(ProxyError, command.CommandFailed):
    """A program exited with a non-zero status; `stderr` is what it said."""

    max_detail = 4000  # nft repeats long input lines in its errors


class CommandTimeout(CommandFailed, command.CommandTimeout):
    """A program did not finish within its time limit and was killed."""


_ERRORS = command.Errors(missing=ToolMissing, failed=CommandFailed, timeout=CommandTimeout)


class Runner(Protocol):
    async def __call__(
        self, argv: Sequence[str], *, input: bytes | None = None, time_limit: float = DEFAULT_TIMEOUT
    ) -> Completed: ...


async def run(argv: Sequence[str], *, input: bytes | None = None, time_limit: float = DEFAULT_TIMEOUT) -> Completed:
    return await command.run(argv, input=input, time_limit=time_limit, errors=_ERRORS)


def check(completed: Completed) -> Completed:
    """`completed` itself when it exited 0, else `CommandFailed` with its stderr."""
    return command.check(completed, _ERRORS)
