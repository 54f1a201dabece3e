"""Container runtimes for the node agent: the CRI-shaped contract and its records.

The agent's pod logic (`agent.pods`) decides *what* should run (init order, restart
policy, back-off, termination); a runtime only runs pod sandboxes and containers and
reports their state, like a CRI runtime does for the kubelet. The contract is small:
`run_sandbox`, `start_container`, `stop_container`, `remove_sandbox`, `status(uid, now)`
(a `SandboxStatus` with one `ContainerStatus` per container instance, newest last),
`next_change(uid, now)` (when the state will next change by itself, so the agent can
sleep until then instead of polling) and `restore(pod, now)` (adoption after an agent
restart).

Optional capabilities a runtime may add (the pod workers look for them with getattr, so
the fake runtime needs none of them):
- `assigns_pod_ips = True`: the runtime gives pods their address itself (CNI host-local)
  and reports it in `SandboxStatus.ip`; the pod workers then allocate none;
- `emits_container_events = True`: the runtime records Pulled/Created/Started (and image
  and hook failures) when they really happen; otherwise the pod workers record them;
- `set_listener(callback)`: `callback(pod_uid)` whenever a pod's state changed by itself
  (a container started or exited, a probe result changed), so the agent syncs at once.
A container being prepared is CREATED; its `reason`/`message` then carry the waiting reason
(ErrImagePull, CreateContainerConfigError, ...) shown in the pod's container statuses.

Implementations: `runtime.fake` (simulated nodes, nothing runs) and `runtime.runc_pods`
(real pods: runc containers, CNI network, volumes, probes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "CREATED",
    "EXITED",
    "RUNNING",
    "ContainerStatus",
    "Runtime",
    "SandboxStatus",
]

CREATED = "created"
"""Created but not yet running (the image is being prepared / the process is starting)."""
RUNNING = "running"
EXITED = "exited"


@dataclass(frozen=True)
class ContainerStatus:
    """One container instance as the runtime sees it at a moment (CRI ContainerStatus)."""

    name: str
    id: str
    """`<runtime>://<id>`, as the kubelet reports `containerID`."""
    image: str
    """Image reference as the runtime resolved it (`docker.io/library/nginx:latest`)."""
    image_id: str
    attempt: int
    """Restart count of this instance: 0 for the first run, +1 per restart."""
    state: str
    created_at: float
    started_at: float
    finished_at: float = 0.0
    exit_code: int = 0
    reason: str = ""
    """Exited: Completed/Error/OOMKilled/...; created: the waiting reason, if any (ErrImagePull)."""
    message: str = ""
    ready: bool = False
    """Outcome of the readiness probe (the runtime simulates it for fake containers)."""
    started: bool | None = None
    """Running and past its startup probe and postStart hook; None: started whenever running."""


@dataclass(frozen=True)
class SandboxStatus:
    uid: str
    ip: str
    created_at: float
    containers: tuple[ContainerStatus, ...] = field(default_factory=tuple)
    """Every kept instance, oldest first (at most two per name: the latest and the one before)."""
    ready: bool = True
    """The sandbox (network, volumes, pod files) is set up: PodReadyToStartContainers."""

    def latest(self) -> dict[str, ContainerStatus]:
        """name → newest instance."""
        out: dict[str, ContainerStatus] = {}
        for c in self.containers:
            out[c.name] = c
        return out

    def previous(self) -> dict[str, ContainerStatus]:
        """name → the instance before the newest one, when kept."""
        seen: dict[str, list[ContainerStatus]] = {}
        for c in self.containers:
            seen.setdefault(c.name, []).append(c)
        return {name: items[-2] for name, items in seen.items() if len(items) > 1}


class Runtime(Protocol):
    name: str
    version: str

    def has_sandbox(self, uid: str) -> bool: ...

    def run_sandbox(self, pod: dict, ip: str, now: float) -> None: ...

    def start_container(self, pod: dict, container: dict, *, attempt: int, init: bool, now: float
                        ) -> ContainerStatus: ...

    def stop_container(self, uid: str, name: str, grace: float, now: float) -> None: ...

    def remove_sandbox(self, uid: str) -> None: ...

    def status(self, uid: str, now: float) -> SandboxStatus | None: ...

    def next_change(self, uid: str, now: float) -> float | None: ...

    def restore(self, pod: dict, now: float) -> bool:
        """Recover the sandbox of a pod that an earlier agent process ran (a real runtime finds
        its containers; the fake one rebuilds them from the pod's status). False if none."""
        ...
