"""Running `nft`, `ip` and `conntrack` from asyncio, and the proxy's error hierarchy.

`run(argv, input=, time_limit=)` starts the program, feeds stdin, collects stdout and
stderr and returns a `Completed` whatever the exit status; `check(completed)` turns a
non-zero status into `CommandFailed` carrying the program's stderr. A program that is
not installed raises `ToolMissing`; one that overruns its time limit, or whose caller
is cancelled, is killed and reaped. Every proxy module takes a `Runner` (this `run` by
default) so unit tests inject `fake.FakeHost` and integration tests a runner that
enters a test-owned network namespace. (The agent has its own runner; components do
not import each other.)

    ProxyError                 temporary: the next sync retries
      CommandFailed            a program exited non-zero (argv, status, stderr)
        CommandTimeout         ... or did not finish in time
      ToolMissing              permanent: nft/ip/conntrack is not installed
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

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

_PACKAGES = {"nft": "nftables", "ip": "iproute2", "conntrack": "conntrack", "nsenter": "util-linux"}


class ProxyError(Exception):
    """The proxy could not program or inspect the node; the next sync retries."""

    temporary: bool = True


class ToolMissing(ProxyError):
    """A program the proxy needs is not installed (names the Debian package)."""

    temporary = False

    def __init__(self, program: str) -> None:
        self.program = program
        package = _PACKAGES.get(program.rsplit("/", 1)[-1], "")
        super().__init__(f"{program} not found" + (f": install the Debian package {package}" if package else ""))


class CommandFailed(ProxyError):
    """A program exited with a non-zero status; `stderr` is what it said."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str = "", stdout: str = "") -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr = stderr.strip()
        self.stdout = stdout.strip()
        detail = self.stderr or self.stdout or "no output"
        if len(detail) > 4000:  # nft repeats long input lines in its errors
            detail = detail[:4000] + " ..."
        super().__init__(f"`{' '.join(self.argv)}` exited with status {returncode}: {detail}")


class CommandTimeout(CommandFailed):
    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        self.timeout = timeout
        super().__init__(argv, -9, f"killed after {timeout:g} s")


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


class Runner(Protocol):
    async def __call__(
        self, argv: Sequence[str], *, input: bytes | None = None, time_limit: float = DEFAULT_TIMEOUT
    ) -> Completed: ...


async def run(argv: Sequence[str], *, input: bytes | None = None, time_limit: float = DEFAULT_TIMEOUT) -> Completed:
    argv = tuple(argv)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
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
    await asyncio.shield(proc.wait())  # reap it even while being cancelled


def check(completed: Completed) -> Completed:
    """`completed` itself when it exited 0, else `CommandFailed` with its stderr."""
    if completed.returncode != 0:
        raise CommandFailed(
            completed.argv, completed.returncode, completed.error_text(), completed.stdout.decode(errors="replace")
        )
    return completed
