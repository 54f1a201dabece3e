"""Running host programs (`ip`, `sysctl`, CNI plugins) from asyncio, with timeouts.

`run(argv, input=, env=, time_limit=)` starts the program, feeds stdin, collects stdout
and stderr and returns a `Completed` whatever the exit status; `check(completed)`
turns a non-zero status into `CommandFailed`. A program that is not installed raises
`ToolMissing`; one that overruns its timeout, or whose caller is cancelled, is killed
and reaped, so no `ip` or plugin process outlives the call. Callers take a `Runner`
(this `run` by default) so unit tests can inject a fake that records argv and answers
like the real programs would.

The runner itself is `podplane.utils.command`; this module binds it to the network
layer's errors (`errors.CommandFailed`, ... all `NetworkError`) and time limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from podplane.agent.network.errors import CommandFailed, CommandTimeout, ToolMissing
from podplane.utils import command
from podplane.utils.command import Completed

__all__ = ["DEFAULT_TIMEOUT", "Completed", "Runner", "check", "run"]

DEFAULT_TIMEOUT = 30.0
"""Seconds an `ip`/`sysctl` call may take; they normally take milliseconds."""

_ERRORS = command.Errors(missing=ToolMissing, failed=CommandFailed, timeout=CommandTimeout)


class Runner(Protocol):
    async def __call__(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        time_limit: float = DEFAULT_TIMEOUT,
    ) -> Completed: ...


async def run(
    argv: Sequence[str],
    *,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    time_limit: float = DEFAULT_TIMEOUT,
) -> Completed:
    return await command.run(argv, input=input, env=env, time_limit=time_limit, errors=_ERRORS)


def check(completed: Completed) -> Completed:
    """`completed` itself when it exited 0, else `CommandFailed` with its stderr."""
    return command.check(completed, _ERRORS)
