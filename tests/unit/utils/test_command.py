"""The shared asyncio command runner: output, stdin, env, errors, time limit, reaping."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from podplane.utils import command
from podplane.utils.command import CommandFailed, CommandTimeout, Completed, Errors, ToolMissing, check, run


async def test_run_returns_output_and_status_without_raising():
    done = await run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert done == Completed(("sh", "-c", "echo out; echo err >&2; exit 3"), 3, b"out\n", b"err\n")
    assert not done.ok
    assert (done.text(), done.error_text()) == ("out\n", "err\n")


async def test_run_feeds_stdin_and_passes_env():
    assert (await run(["cat"], input=b"hello")).stdout == b"hello"
    assert (await run(["cat"])).stdout == b""  # stdin is /dev/null without input
    done = await run(["sh", "-c", 'echo "$PP_TEST"'], env={"PP_TEST": "x", "PATH": os.environ.get("PATH", "")})
    assert done.stdout == b"x\n"


def test_check_raises_with_stderr_else_returns_the_result():
    ok = Completed(("true",), 0, b"", b"")
    assert check(ok) is ok
    with pytest.raises(CommandFailed, match="exited with status 2: bad") as raised:
        check(Completed(("false",), 2, b"out", b"bad\n"))
    assert (raised.value.returncode, raised.value.stderr, raised.value.stdout) == (2, "bad", "out")
    with pytest.raises(CommandFailed, match="status 1: only stdout"):
        check(Completed(("x",), 1, b"only stdout", b""))


async def test_missing_and_unexecutable_programs(tmp_path):
    with pytest.raises(ToolMissing, match="podplane-tool not found$"):
        await run(["/nonexistent/podplane-tool"])
    with pytest.raises(CommandFailed, match="status 126: cannot execute") as raised:
        await run([str(tmp_path)])  # a directory: not executable, even for root
    assert isinstance(raised.value.__cause__, PermissionError)


def test_tool_missing_names_the_debian_package():
    assert str(ToolMissing("/usr/sbin/nft")) == "/usr/sbin/nft not found: install the Debian package nftables"
    assert ToolMissing("ip").package == "iproute2"
    assert ToolMissing("bridge", "containernetworking-plugins").package == "containernetworking-plugins"


def test_command_failed_quotes_output_up_to_max_detail():
    assert str(CommandFailed(["a", "b"], 1)) == "`a b` exited with status 1: no output"

    class Short(CommandFailed):
        max_detail = 3

    assert str(Short(["a"], 1, "abcdef")) == "`a` exited with status 1: abc ..."
    assert str(CommandTimeout(["sleep", "9"], 0.5)).endswith("status -9: killed after 0.5 s")


async def test_timeout_kills_and_reaps():
    with pytest.raises(CommandTimeout) as raised:
        await run([sys.executable, "-c", "import time; time.sleep(30)"], time_limit=0.2)
    assert raised.value.timeout == 0.2
    assert raised.value.returncode == -9


async def test_cancelled_caller_kills_and_reaps(tmp_path):
    pidfile = tmp_path / "pid"
    task = asyncio.create_task(run(["sh", "-c", f"echo $$ > {pidfile}; exec sleep 30"]))
    for _ in range(200):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        await asyncio.sleep(0.01)
    pid = int(pidfile.read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(ProcessLookupError):  # killed and reaped: not even a zombie
        os.kill(pid, 0)


class _Failed(RuntimeError, CommandFailed):
    pass


class _Timeout(_Failed, CommandTimeout):
    pass


class _Missing(LookupError, ToolMissing):
    pass


async def test_callers_choose_the_error_types():
    errors = Errors(missing=_Missing, failed=_Failed, timeout=_Timeout)
    with pytest.raises(_Missing):
        await run(["/nonexistent/podplane-tool"], errors=errors)
    with pytest.raises(_Timeout):
        await run(["sleep", "5"], time_limit=0.05, errors=errors)
    with pytest.raises(_Failed):
        check(Completed(("false",), 1, b"", b""), errors)
    assert command.GENERIC == Errors()
