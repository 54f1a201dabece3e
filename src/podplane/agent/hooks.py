"""Container lifecycle hooks: postStart and preStop handlers, run as the kubelet's handler runner does.

`run_hook(handler, ...)` runs one LifecycleHandler (upstream pkg/kubelet/lifecycle/handlers.go):
- exec: the command through the runtime's `exec_fn`; a non-zero exit fails the hook;
- httpGet: GET from the node with "kube-lifecycle/<major>.<minor>", no certificate checks and
  same-host redirects followed (`agent.probes` HTTP helpers); only a transport error fails it,
  status codes are not checked (as upstream). An HTTPS hook answered in plain HTTP is retried
  over HTTP and reported with a "LifecycleHTTPFallback" event;
- sleep: waits `seconds`;
- tcpSocket (deprecated, never supported) and empty handlers fail at runtime, as upstream.
A failure raises `HookError`; its text is the handler runner's message ("Exec lifecycle hook
([sh -c exit 3]) for Container "web" in Pod "p_ns(uid)" failed - error: ..., message: ..."), which
the kubelet logs and keeps as the container's waiting message. Events upstream 1.37 records for
hooks are generic on purpose, so no secret reaches an event: FailedPostStartHook "PostStartHook
failed" and FailedPreStopHook "PreStopHook failed" (constants below). `timeout` bounds the whole
hook (preStop: the grace period); running out raises `HookTimeoutError`, which upstream only logs.
Called by the runtime adapter after a container starts (postStart; on failure the container is
killed) and before it is stopped (preStop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from podplane.agent.podstatus import go_duration, pod_ref
from podplane.agent.probes import (
    HTTP_RESPONSE_TO_HTTPS,
    BodyReadError,
    ExecFn,
    NetError,
    build_http_request,
    do_http_get,
    go_quote,
    http_session,
)

__all__ = [
    "FAILED_POST_START_HOOK",
    "FAILED_PRE_STOP_HOOK",
    "POST_START_HOOK_ERROR",
    "POST_START_HOOK_FAILED",
    "PRE_STOP_HOOK_FAILED",
    "HookError",
    "HookTimeoutError",
    "run_hook",
]

FAILED_POST_START_HOOK = "FailedPostStartHook"
"""Event reason (Warning) when postStart fails; the Killing event that follows says the same."""
POST_START_HOOK_FAILED = "PostStartHook failed"
"""The FailedPostStartHook event message (upstream keeps the handler's output out of events)."""
FAILED_PRE_STOP_HOOK = "FailedPreStopHook"
PRE_STOP_HOOK_FAILED = "PreStopHook failed"
POST_START_HOOK_ERROR = "PostStartHookError"
"""Upstream ErrPostStartHook: the waiting reason of a container whose postStart failed."""

_NO_TIMEOUT = 24 * 3600.0
"""Upstream runs exec hooks with no timeout (0 to the CRI); a day means the same to any exec_fn."""


class HookError(Exception):
    """A lifecycle handler failed; `message` is the kubelet handler runner's text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class HookTimeoutError(HookError):
    """The hook did not finish within `timeout` (upstream logs this for preStop; no event)."""


async def run_hook(handler: dict, *, pod: dict, container: dict, instance_id: str, pod_ip: str,
                   exec_fn: ExecFn, timeout: float | None = None,  # noqa: ASYNC109 (the fixed interface)
                   on_event: Callable[[dict, str, str, str, str], None] | None = None,
                   sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """Run `handler` (container.lifecycle.postStart or .preStop) for one container instance.

    `on_event(pod, type, reason, message, field_path)` receives the LifecycleHTTPFallback event;
    `sleep` is injected for tests. Raises HookError / HookTimeoutError; cancellation propagates.
    """
    limit = asyncio.timeout(timeout)
    try:
        async with limit:
            await _run(handler, pod, container, instance_id, pod_ip, exec_fn,
                       timeout if timeout is not None else _NO_TIMEOUT, on_event, sleep)
    except TimeoutError as e:
        if not limit.expired():
            raise
        raise HookTimeoutError(f"lifecycle hook did not complete within {go_duration(timeout or 0)}") from e


async def _run(handler: dict, pod: dict, container: dict, instance_id: str, pod_ip: str, exec_fn: ExecFn,
               exec_limit: float, on_event: Callable[[dict, str, str, str, str], None] | None,
               sleep: Callable[[float], Awaitable[None]]) -> None:
    name = go_quote(container.get("name", ""))
    where = f"for Container {name} in Pod {go_quote(pod_ref(pod))}"
    if isinstance(handler.get("exec"), dict):
        command = [str(arg) for arg in handler["exec"].get("command") or []]
        joined = " ".join(command)
        output = b""
        try:
            code, output = await exec_fn(instance_id, command, exec_limit)
            # The CRI's ExecSync error; stderr is not told apart from stdout here.
            error = None if code == 0 else f"command '{joined}' exited with {code}: "
        except TimeoutError:
            error = f"command {go_quote(joined)} timed out"
        except Exception as e:  # the runtime could not exec: the hook failed
            error = str(e) or type(e).__name__
        if error is not None:
            text = output.decode("utf-8", errors="surrogateescape")
            raise HookError(f"Exec lifecycle hook ([{joined}]) {where} failed - error: {error}, "
                            f"message: {go_quote(text)}")
        return
    if isinstance(handler.get("httpGet"), dict):
        http_get = handler["httpGet"]
        error = await _http_hook(http_get, pod, container, pod_ip, on_event)
        if error is not None:
            raise HookError(f"HTTP lifecycle hook ({http_get.get('path', '')}) {where} failed - error: {error}")
        return
    if isinstance(handler.get("sleep"), dict):
        await sleep(float(handler["sleep"].get("seconds") or 0))
        return
    raise HookError(f"Cannot run handler: invalid handler: {_go_handler(handler)}")


async def _http_hook(http_get: dict, pod: dict, container: dict, pod_ip: str,
                     on_event: Callable[[dict, str, str, str, str], None] | None) -> str | None:
    """Upstream runHTTPHandler: the error text, or None when a response (any status) came back."""
    host = http_get.get("host") or pod_ip
    if not host:
        return f"failed to find networking container: no IP for pod {pod_ref(pod)}"
    try:
        url, headers, skip = build_http_request(http_get, container, host, "lifecycle")
    except ValueError as e:
        return str(e)
    async with http_session() as session:
        try:
            await do_http_get(session, url, headers, skip, time_limit=None)
            return None
        except BodyReadError:
            return None  # a response came back: upstream discards the body, errors included
        except NetError as e:
            error = str(e)
        if url.scheme != "https" or HTTP_RESPONSE_TO_HTTPS not in error:
            return error
        # The server speaks plain HTTP: retry over HTTP without credentials, as upstream.
        plain = headers.copy()
        plain.popall("Authorization", None)
        try:
            await do_http_get(session, url.with_scheme("http"), plain, skip, time_limit=None)
        except BodyReadError:
            pass
        except NetError:
            return error
    if on_event is not None:
        on_event(pod, "Warning", "LifecycleHTTPFallback",
                 f"request to HTTPS lifecycle hook {url.raw_authority} got HTTP response, "
                 "retry with HTTP succeeded", "")
    return None


def _go_intstr(value) -> str:
    """An IntOrString as Go's %v prints the struct: {0 8080 } or {1 0 http}."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{{0 {value} }}"
    return f"{{1 0 {value if value is not None else ''}}}"


def _go_handler(handler: dict) -> str:
    """The LifecycleHandler as Go prints a *v1.LifecycleHandler with %v (only tcpSocket matters here)."""
    tcp = handler.get("tcpSocket")
    tcp_text = "nil"
    if isinstance(tcp, dict):
        tcp_text = f"&TCPSocketAction{{Port:{_go_intstr(tcp.get('port'))},Host:{tcp.get('host', '')},}}"
    return f"&LifecycleHandler{{Exec:nil,HTTPGet:nil,TCPSocket:{tcp_text},Sleep:nil,}}"
