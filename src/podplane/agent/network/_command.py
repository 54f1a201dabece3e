"""Running host programs (`ip`, `sysctl`, CNI plugins) from asyncio, with timeouts.

`run(argv, input=, env=, time_limit=)` starts the program, feeds stdin, collects stdout
and stderr and returns a `Completed` whatever the exit status; `check(completed)`
turns a non-zero status into `CommandFailed`. A program that is not installed raises
`ToolMissing`; one that overruns its timeout, or whose caller is cancelled, is killed
and reaped, so no `ip` or plugin process outlives the call. Callers take a `Runner`
(this `run` by default) so unit tests can inject a fake that records argv and answers
like the real programs would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from podplane.agent.network.errors import CommandFailed, CommandTimeout, ToolMissing

__all__ = ["DEFAULT_TIMEOUT", "Completed", "Runner", "check", "run"]

DEFAULT_TIMEOUT = 30.0
"""Seconds an `ip`/`sysctl` call may take; they normally take milliseconds."""


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def text(self) -> str:
        return self.stdout.decode(errors="replace")


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
    argv = tuple(argv)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env) if env is not None else None,
        )
    except FileNotFoundError as e:
        raise ToolMissing(argv[0]) from e
    except PermissionError as e:
        raise CommandFailed(argv, 126, f"cannot execute: {e}") from e
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(input), time_limit)
    except TimeoutError as e:
        await _kill(proc)
        raise CommandTimeout(argv, time_limit) from e
    except BaseException:
        await _kill(proc)
        raise
    assert proc.returncode is not None
    return Completed(argv, proc.returncode, stdout, stderr)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        try:
            proc.kill()
        except ProcessLookupError:
            pass
    # Reap it even while being cancelled, so no zombie is left behind.
    await asyncio.shield(proc.wait())


def check(completed: Completed) -> Completed:
    """`completed` itself when it exited 0, else `CommandFailed` with its stderr."""
    if completed.returncode != 0:
        raise CommandFailed(
            completed.argv,
            completed.returncode,
            completed.stderr.decode(errors="replace"),
            completed.stdout.decode(errors="replace"),
        )
    return completed
