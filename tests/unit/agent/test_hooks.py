"""Lifecycle hooks: exec, httpGet, sleep and the unsupported tcpSocket, with upstream's messages.

HTTP hooks go to real aiohttp servers on 127.0.0.1 that the test starts; exec hooks go to a
fake exec_fn; sleep hooks use an injected sleep.
"""

from __future__ import annotations

import asyncio

import pytest

from podplane.agent.hooks import (
    POST_START_HOOK_FAILED,
    PRE_STOP_HOOK_FAILED,
    HookError,
    HookTimeoutError,
    run_hook,
)

from .test_probes import Recorder, free_port, make_container, make_pod, serve, text

POD = make_pod(make_container())
IN_POD = 'for Container "web" in Pod "p_default(uid-p)"'


class FakeExec:
    def __init__(self, code: int = 0, output: bytes = b"", error: BaseException | None = None) -> None:
        self.code, self.output, self.error = code, output, error
        self.calls: list[tuple[str, list[str], float]] = []

    async def __call__(self, instance_id: str, argv: list[str], limit: float) -> tuple[int, bytes]:
        self.calls.append((instance_id, argv, limit))
        if self.error is not None:
            raise self.error
        return self.code, self.output


async def hook(handler: dict, *, container: dict | None = None, exec_fn=None, **kwargs) -> None:
    await run_hook(handler, pod=POD, container=container or make_container(), instance_id="c1",
                   pod_ip="127.0.0.1", exec_fn=exec_fn or FakeExec(), **kwargs)


def test_events_stay_generic_like_upstream():
    assert (POST_START_HOOK_FAILED, PRE_STOP_HOOK_FAILED) == ("PostStartHook failed", "PreStopHook failed")


# ----------------------------------------------------------------------------- exec


async def test_exec_hook_runs_the_command_in_the_container():
    fake = FakeExec()
    await hook({"exec": {"command": ["sh", "-c", "echo $(HOME)"]}}, exec_fn=fake)
    instance_id, argv, timeout = fake.calls[0]
    assert (instance_id, argv) == ("c1", ["sh", "-c", "echo $(HOME)"])  # hooks do not expand $(VAR)
    assert timeout >= 3600  # upstream runs exec hooks without a timeout


@pytest.mark.parametrize(("fake", "error", "output"), [
    pytest.param(FakeExec(3, b"boom\n"), "command 'sh -c echo boom; exit 3' exited with 3: ", r'"boom\n"',
                 id="non-zero-exit"),
    pytest.param(FakeExec(error=TimeoutError()), 'command "sh -c echo boom; exit 3" timed out', '""',
                 id="exec-timeout"),
    pytest.param(FakeExec(error=RuntimeError("container not running")), "container not running", '""',
                 id="runtime-error"),
])
async def test_exec_hook_failures_carry_the_handler_runner_message(fake, error, output):
    with pytest.raises(HookError) as caught:
        await hook({"exec": {"command": ["sh", "-c", "echo boom; exit 3"]}}, exec_fn=fake)
    assert not isinstance(caught.value, HookTimeoutError)
    assert str(caught.value) == caught.value.message == (
        f"Exec lifecycle hook ([sh -c echo boom; exit 3]) {IN_POD} failed - error: {error}, message: {output}")


# ----------------------------------------------------------------------------- httpGet


async def test_http_hook_gets_the_named_port_and_ignores_the_status_code():
    seen = Recorder()
    async with serve(seen.app({"/hook": text("no", status=500)})) as port:
        container = make_container(ports=[{"name": "admin", "containerPort": port}])
        await hook({"httpGet": {"path": "/hook", "port": "admin",
                                "httpHeaders": [{"name": "X-Token", "value": "t"}]}}, container=container)
    path, headers = seen.requests[0]
    assert (path, headers["User-Agent"], headers["X-Token"]) == ("/hook", "kube-lifecycle/1.37", "t")


async def test_http_hook_connection_errors_fail_the_hook():
    port = free_port()
    with pytest.raises(HookError) as caught:
        await hook({"httpGet": {"path": "/hook", "port": port}})
    assert str(caught.value) == (
        f'HTTP lifecycle hook (/hook) {IN_POD} failed - error: Get "http://127.0.0.1:{port}/hook": '
        f"dial tcp 127.0.0.1:{port}: connect: connection refused")


async def test_http_hook_with_an_unknown_port_name_fails():
    with pytest.raises(HookError) as caught:
        await hook({"httpGet": {"path": "/stop", "port": "admin"}})
    assert str(caught.value) == (
        f'HTTP lifecycle hook (/stop) {IN_POD} failed - error: strconv.Atoi: parsing "admin": invalid syntax')


async def test_https_hook_answered_in_plain_http_falls_back_without_credentials():
    seen = Recorder()
    events = []
    async with serve(seen.app({"/hook": text("ok")})) as port:
        await hook({"httpGet": {"path": "/hook", "port": port, "scheme": "HTTPS",
                                "httpHeaders": [{"name": "Authorization", "value": "Bearer x"}]}},
                   on_event=lambda *event: events.append(event))
    assert len(seen.requests) == 1
    assert "Authorization" not in seen.requests[0][1]
    assert events == [(POD, "Warning", "LifecycleHTTPFallback",
                       f"request to HTTPS lifecycle hook 127.0.0.1:{port} got HTTP response, retry with HTTP "
                       "succeeded", "")]


# ----------------------------------------------------------------------------- sleep, tcpSocket, timeout


async def test_sleep_hook_sleeps_the_given_seconds():
    slept = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    await hook({"sleep": {"seconds": 5}}, sleep=fake_sleep)
    await hook({"sleep": {"seconds": 0}})
    assert slept == [5.0]


@pytest.mark.parametrize(("handler", "shown"), [
    pytest.param({"tcpSocket": {"port": 8080}}, "&TCPSocketAction{Port:{0 8080 },Host:,}", id="tcpSocket"),
    pytest.param({}, "nil", id="empty"),
])
async def test_tcp_socket_and_empty_handlers_fail_at_runtime_like_upstream(handler, shown):
    with pytest.raises(HookError) as caught:
        await hook(handler)
    assert str(caught.value) == ("Cannot run handler: invalid handler: "
                                 f"&LifecycleHandler{{Exec:nil,HTTPGet:nil,TCPSocket:{shown},Sleep:nil,}}")


async def test_a_hook_running_past_its_timeout_is_abandoned():
    never = asyncio.Event()

    async def hanging_exec(instance_id, argv, limit):
        await never.wait()
        return 0, b""

    with pytest.raises(HookTimeoutError, match="^lifecycle hook did not complete within 50ms$"):
        await hook({"exec": {"command": ["sleep", "1000"]}}, exec_fn=hanging_exec, timeout=0.05)
    with pytest.raises(HookTimeoutError):
        await hook({"sleep": {"seconds": 1000}}, timeout=0.05)
