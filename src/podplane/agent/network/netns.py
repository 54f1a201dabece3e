"""Named network namespaces (`/var/run/netns/<name>`), managed with iproute2.

A pod's sandbox is one named network namespace: `ip netns add` creates it and
bind-mounts it at `/var/run/netns/<name>`, which is the path runc joins and the CNI
plugins get as CNI_NETNS; `ip netns delete` unmounts and removes it. Every command's
exit status is checked (`CommandFailed`, `ToolMissing` from `_command`). `create` and
`delete` are idempotent, so a pod worker can repeat them after a crash.

The agent names its pod namespaces `<prefix><pod uid>`; `list_names(prefix)` and `gc`
find namespaces left behind by pods that no longer exist (`orphans` is the pure rule).
iproute2 always uses /var/run/netns; `netns_dir` exists so unit tests can point the
existence checks at a temporary directory while a fake runner plays `ip`.
Used by `sandbox.PodNetwork`; the CNI plugins (`cni`) work inside these namespaces.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence

from podplane.agent.network._command import DEFAULT_TIMEOUT, Completed, Runner, check, run
from podplane.agent.network.errors import CommandFailed, NetworkConfigError

__all__ = [
    "NETNS_DIR",
    "create",
    "delete",
    "exec_in",
    "exists",
    "gc",
    "is_live",
    "list_names",
    "netns_path",
    "orphans",
    "set_link_up",
    "validate_name",
]

log = logging.getLogger(__name__)

NETNS_DIR = "/var/run/netns"
"""Where `ip netns` keeps its bind mounts (compiled into iproute2)."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")


def validate_name(name: str) -> str:
    """`name` if it is a safe namespace file name (no `/`, no leading dot), else an error."""
    if not _NAME.match(name):
        raise NetworkConfigError(f"invalid network namespace name {name!r}")
    return name


def netns_path(name: str, netns_dir: str = NETNS_DIR) -> str:
    return os.path.join(netns_dir, validate_name(name))


def exists(name: str, netns_dir: str = NETNS_DIR) -> bool:
    """A file of that name exists (possibly a stale one that is no longer a mount)."""
    return os.path.lexists(netns_path(name, netns_dir))


def is_live(name: str, netns_dir: str = NETNS_DIR) -> bool:
    """The name refers to a mounted namespace, not a stale file left after a failure.

    A live entry is an nsfs bind mount, so its device differs from the directory's.
    """
    path = netns_path(name, netns_dir)
    try:
        return os.stat(path).st_dev != os.stat(netns_dir).st_dev
    except FileNotFoundError:
        return False


def list_names(prefix: str = "", netns_dir: str = NETNS_DIR) -> list[str]:
    """Names under `netns_dir` that start with `prefix`, sorted; none if the dir is absent."""
    try:
        names = os.listdir(netns_dir)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.startswith(prefix) and _NAME.match(n))


def orphans(names: Iterable[str], prefix: str, keep: Iterable[str]) -> list[str]:
    """Names with `prefix` whose suffix (the pod uid) is not in `keep` (pure)."""
    wanted = set(keep)
    return sorted(n for n in names if n.startswith(prefix) and n[len(prefix) :] not in wanted)


async def create(
    name: str, *, exist_ok: bool = True, runner: Runner = run, netns_dir: str = NETNS_DIR
) -> str:
    """Create the namespace and return its path; an existing live one is kept if `exist_ok`.

    A stale entry (a file that is no longer a mount, e.g. after a crash during
    `ip netns add`) is removed first.
    """
    path = netns_path(name, netns_dir)
    if is_live(name, netns_dir):
        if exist_ok:
            return path
        raise CommandFailed(("ip", "netns", "add", name), 1, f"network namespace {name} already exists")
    if exists(name, netns_dir):
        log.warning("removing stale network namespace entry %s", path)
        await delete(name, runner=runner, netns_dir=netns_dir)
    result = await runner(("ip", "netns", "add", name), time_limit=DEFAULT_TIMEOUT)
    if not result.ok and not (exist_ok and is_live(name, netns_dir)):  # lost a race: fine
        check(result)
    return path


async def delete(name: str, *, runner: Runner = run, netns_dir: str = NETNS_DIR) -> bool:
    """Delete the namespace; False when there was nothing to delete (idempotent).

    The kernel frees the namespace, and with it the pod ends of veth pairs, once the
    last process inside has exited.
    """
    if not exists(name, netns_dir):
        return False
    result = await runner(("ip", "netns", "delete", name), time_limit=DEFAULT_TIMEOUT)
    if not result.ok and exists(name, netns_dir):
        check(result)
    return True


async def exec_in(
    name: str,
    argv: Sequence[str],
    *,
    input: bytes | None = None,
    time_limit: float = DEFAULT_TIMEOUT,
    checked: bool = True,
    runner: Runner = run,
) -> Completed:
    """Run `argv` inside the namespace (`ip netns exec`); checked unless `checked=False`."""
    result = await runner(
        ("ip", "netns", "exec", validate_name(name), *argv), input=input, time_limit=time_limit
    )
    return check(result) if checked else result


async def set_link_up(name: str, link: str = "lo", *, runner: Runner = run) -> None:
    check(await runner(("ip", "-n", validate_name(name), "link", "set", link, "up")))


async def gc(
    prefix: str, keep: Iterable[str], *, runner: Runner = run, netns_dir: str = NETNS_DIR
) -> list[str]:
    """Delete namespaces named `<prefix><uid>` whose uid is not in `keep`; return their names.

    Only the namespaces are removed; `sandbox.PodNetwork.gc` also releases their CNI
    state (addresses, port mappings) and should be preferred for pod namespaces.
    """
    if not prefix:
        raise NetworkConfigError("refusing to garbage-collect network namespaces without a prefix")
    removed = []
    for name in orphans(list_names(prefix, netns_dir), prefix, keep):
        if await delete(name, runner=runner, netns_dir=netns_dir):
            removed.append(name)
    return removed
