"""Running host programs from asyncio: feed stdin, collect output, time limit, reap.

`run(argv, input=, env=, time_limit=)` starts the program, feeds stdin, collects stdout
and stderr and returns a `Completed` whatever the exit status; `check(completed)` turns
a non-zero status into `CommandFailed` carrying the program's stderr. A program that is
not installed raises `ToolMissing` (naming its Debian package); one that overruns its
time limit, or whose caller is cancelled, is killed and reaped, so no child outlives
the call.

A component keeps its own error hierarchy by subclassing the three errors (for example
`class CommandFailed(NetworkError, command.CommandFailed)`) and passing them as
`Errors(...)` to `run` and `check`; the agent's network layer (`agent.network._command`)
and the Service proxy (`proxy._command`) are thin wrappers doing just that.

    ToolMissing           a program is not installed
    CommandFailed         a program exited non-zero (argv, status, stderr, stdout)
      CommandTimeout      ... or did not finish in time and was killed
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "DEBIAN_PACKAGES",
    "DEFAULT_TIMEOUT",
    "GENERIC",
    "CommandFailed",
    "CommandTimeout",
    "Completed",
    "Errors",
    "ToolMissing",
    "check",
    "run",
]

DEFAULT_TIMEOUT = 30.0
"""Seconds a program may take unless the caller says otherwise."""

DEBIAN_PACKAGES = {
    "ip": "iproute2",
    "sysctl": "procps",
    "nft": "nftables",
    "conntrack": "conntrack",
    "iptables": "iptables",
    "nsenter": "util-linux",
}
"""Where each program podplane runs comes from on Debian (named by `ToolMissing`)."""


class ToolMissing(Exception):
    """A program is not installed; `package` is the Debian package that has it, if known."""

    def __init__(self, program: str, package: str = "") -> None:
        self.program = program
        self.package = package or DEBIAN_PACKAGES.get(program.rsplit("/", 1)[-1], "")
        hint = f": install the Debian package {self.package}" if self.package else ""
        super().__init__(f"{program} not found{hint}")


class CommandFailed(Exception):
    """A program exited with a non-zero status; `stderr` is what it said."""

    max_detail: ClassVar[int | None] = None
    """Characters of output the message quotes at most (None: all of it)."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str = "", stdout: str = "") -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr = stderr.strip()
        self.stdout = stdout.strip()
        detail = self.stderr or self.stdout or "no output"
        if self.max_detail is not None and len(detail) > self.max_detail:
            detail = detail[: self.max_detail] + " ..."
        super().__init__(f"`{' '.join(self.argv)}` exited with status {returncode}: {detail}")


class CommandTimeout(CommandFailed):
    """A program did not finish within its time limit and was killed."""

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        self.timeout = timeout
        super().__init__(argv, -9, f"killed after {timeout:g} s")


@dataclass(frozen=True)
class Errors:
    """The exception types `run` and `check` raise: a component passes its subclasses."""

    missing: type[ToolMissing] = ToolMissing
    failed: type[CommandFailed] = CommandFailed
    timeout: type[CommandTimeout] = CommandTimeout


GENERIC = Errors()


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

    def error_text(self) -> str:
        return self.stderr.decode(errors="replace")


async def run(
    argv: Sequence[str],
    *,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    time_limit: float = DEFAULT_TIMEOUT,
    errors: Errors = GENERIC,
) -> Completed:
    """Run `argv` to completion; a `Completed` whatever its exit status."""
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
        raise errors.missing(argv[0]) from e
    except PermissionError as e:
        raise errors.failed(argv, 126, f"cannot execute: {e}") from e
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(input), time_limit)
    except TimeoutError as e:
        await _kill(proc)
        raise errors.timeout(argv, time_limit) from e
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


def check(completed: Completed, errors: Errors = GENERIC) -> Completed:
    """`completed` itself when it exited 0, else `errors.failed` with its stderr."""
    if completed.returncode != 0:
        raise errors.failed(completed.argv, completed.returncode, completed.error_text(), completed.text())
    return completed
