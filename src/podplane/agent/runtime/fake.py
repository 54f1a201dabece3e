"""Fake runtime: containers that run on paper, for simulated nodes (like kwok).

Nothing is executed. A container "starts" `start_delay` seconds after the agent asks
for it and then follows the behaviour that the pod's annotations describe:

- `sim.podplane.io/ready: "false"`: runs but its readiness probe never succeeds;
- `sim.podplane.io/exit-code: "N"`, `sim.podplane.io/run-seconds: "S"`: exits with N
  after S seconds (S defaults to 1). Pods with restartPolicy OnFailure/Never exit 0
  after `run-seconds` even without annotations, so Jobs complete;
- `sim.podplane.io/backoff-seconds: "B"`: base of the restart back-off (the agent's
  side, upstream's is 10 s), so tests can watch CrashLoopBackOff quickly.
Init containers exit 0 after `start_delay`; sidecars (restartable init containers) run
until stopped. A readiness probe's `initialDelaySeconds` delays readiness. State is a
pure function of time: each instance stores when it starts, exits and becomes ready,
and `status(uid, now)` evaluates it, so 10,000 pods cost no timers here.

`restore(pod, now)` rebuilds a sandbox from the pod's reported status (pod IP,
`fake://` container IDs, start times, restart counts): the API is this runtime's
checkpoint, so an agent restart adopts its pods without restarting them.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field

from podplane.agent.runtime import CREATED, EXITED, RUNNING, ContainerStatus, SandboxStatus
from podplane.api.meta import parse_time

__all__ = [
    "ANNOTATION_BACKOFF_SECONDS",
    "ANNOTATION_EXIT_CODE",
    "ANNOTATION_READY",
    "ANNOTATION_RUN_SECONDS",
    "Behaviour",
    "FakeRuntime",
    "behaviour_of",
    "resolve_image",
]

log = logging.getLogger(__name__)

ANNOTATION_READY = "sim.podplane.io/ready"
ANNOTATION_EXIT_CODE = "sim.podplane.io/exit-code"
ANNOTATION_RUN_SECONDS = "sim.podplane.io/run-seconds"
ANNOTATION_BACKOFF_SECONDS = "sim.podplane.io/backoff-seconds"

DEFAULT_RUN_SECONDS = 1.0
"""How long a container with a planned exit runs when `run-seconds` is not given."""


@dataclass(frozen=True)
class Behaviour:
    """What the simulated program of a pod's regular containers does."""

    run_seconds: float | None = None
    """Seconds from start to exit; None runs until stopped."""
    exit_code: int = 0
    ready: bool = True
    backoff_seconds: float | None = None
    """Base of the restart back-off when set (the agent's default otherwise)."""


def _number(annotations: dict, key: str, kind: type) -> float | int | None:
    raw = annotations.get(key)
    if raw is None:
        return None
    try:
        value = kind(str(raw).strip())
    except ValueError:
        value = -1
    if value < 0:
        log.warning("ignoring annotation %s=%r: not a non-negative number", key, raw)
        return None
    return value


def behaviour_of(pod: dict) -> Behaviour:
    """Read the simulation annotations of a pod (invalid values are ignored, with a warning)."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    exit_code = _number(annotations, ANNOTATION_EXIT_CODE, int)
    run_seconds = _number(annotations, ANNOTATION_RUN_SECONDS, float)
    backoff = _number(annotations, ANNOTATION_BACKOFF_SECONDS, float)
    planned_exit = exit_code is not None or run_seconds is not None or policy != "Always"
    if planned_exit:
        run_seconds = DEFAULT_RUN_SECONDS if run_seconds is None else float(run_seconds)
    return Behaviour(
        run_seconds=run_seconds,
        exit_code=int(exit_code or 0),
        ready=str(annotations.get(ANNOTATION_READY, "true")).strip().lower() != "false",
        backoff_seconds=float(backoff) if backoff else None,
    )


def resolve_image(ref: str) -> tuple[str, str]:
    """(image, imageID) as containerd reports them: `nginx` → `docker.io/library/nginx:latest`
    and `docker.io/library/nginx@sha256:<digest>` (a stable fake digest of the name)."""
    name, _, digest = ref.partition("@")
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = "docker.io", name
    if domain == "docker.io" and "/" not in path:
        path = f"library/{path}"
    tag = ""
    if ":" in path.rsplit("/", 1)[-1]:
        path, tag = path.rsplit(":", 1)
    repository = f"{domain}/{path}"
    if digest:
        return f"{repository}@{digest}", f"{repository}@{digest}"
    image = f"{repository}:{tag or 'latest'}"
    return image, f"{repository}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _readiness_delay(container: dict) -> float:
    probe = container.get("readinessProbe") or {}
    try:
        return max(0.0, float(probe.get("initialDelaySeconds") or 0))
    except (TypeError, ValueError):
        return 0.0


@dataclass
class _Instance:
    name: str
    id: str
    image: str
    image_id: str
    attempt: int
    created_at: float
    started_at: float
    exits_at: float | None
    exit_code: int
    ready_at: float | None

    def state(self, now: float) -> str:
        if self.exits_at is not None and now >= self.exits_at:
            return EXITED
        return RUNNING if now >= self.started_at else CREATED

    def view(self, now: float) -> ContainerStatus:
        state = self.state(now)
        exited = state == EXITED
        return ContainerStatus(
            name=self.name, id=self.id, image=self.image, image_id=self.image_id, attempt=self.attempt,
            state=state, created_at=self.created_at, started_at=self.started_at,
            finished_at=self.exits_at if exited and self.exits_at is not None else 0.0,
            exit_code=self.exit_code if exited else 0,
            reason=("Completed" if self.exit_code == 0 else "Error") if exited else "",
            ready=state == RUNNING and self.ready_at is not None and now >= self.ready_at)

    def next_change(self, now: float) -> float | None:
        times = [t for t in (self.started_at, self.exits_at, self.ready_at) if t is not None and t > now]
        return min(times) if times else None


@dataclass
class _Sandbox:
    uid: str
    ip: str
    created_at: float
    behaviour: Behaviour
    instances: list[_Instance] = field(default_factory=list)

    def latest(self, name: str) -> _Instance | None:
        for inst in reversed(self.instances):
            if inst.name == name:
                return inst
        return None

    def add(self, inst: _Instance) -> None:
        self.instances.append(inst)
        same = [i for i in self.instances if i.name == inst.name]
        for old in same[:-2]:  # keep the newest two, like the kubelet's container GC
            self.instances.remove(old)


def _new_id() -> str:
    return f"fake://{secrets.token_hex(32)}"


def _timestamp(text: object) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return parse_time(text).timestamp()
    except ValueError:
        return None


class FakeRuntime:
    """The runtime of simulated nodes; see the module docstring for the behaviour."""

    name = "fake"

    def __init__(self, *, start_delay: float = 0.05, stop_delay: float = 0.1, version: str = "0.1.0") -> None:
        self.start_delay = max(0.0, start_delay)
        self.stop_delay = max(0.0, stop_delay)
        """Cap on how long a stopped container takes to exit (it honours a shorter grace period)."""
        self.version = version
        self._sandboxes: dict[str, _Sandbox] = {}

    def __len__(self) -> int:
        return len(self._sandboxes)

    # -- sandboxes -------------------------------------------------------------------------
    def has_sandbox(self, uid: str) -> bool:
        return uid in self._sandboxes

    def run_sandbox(self, pod: dict, ip: str, now: float) -> None:
        uid = pod["metadata"]["uid"]
        self._sandboxes[uid] = _Sandbox(uid, ip, now, behaviour_of(pod))

    def remove_sandbox(self, uid: str) -> None:
        self._sandboxes.pop(uid, None)

    def behaviour(self, uid: str) -> Behaviour | None:
        sandbox = self._sandboxes.get(uid)
        return sandbox.behaviour if sandbox else None

    # -- containers ------------------------------------------------------------------------
    def _plan(self, sandbox: _Sandbox, container: dict, init: bool, started: float
              ) -> tuple[float | None, int, float | None]:
        """(exits_at, exit_code, ready_at) of a new instance."""
        if init and container.get("restartPolicy") == "Always":  # sidecar: runs, ready at once
            return None, 0, started + _readiness_delay(container)
        if init:
            return started + self.start_delay, 0, None
        b = sandbox.behaviour
        exits = started + b.run_seconds if b.run_seconds is not None else None
        return exits, b.exit_code, (started + _readiness_delay(container)) if b.ready else None

    def start_container(self, pod: dict, container: dict, *, attempt: int, init: bool, now: float
                        ) -> ContainerStatus:
        sandbox = self._sandboxes[pod["metadata"]["uid"]]
        image, image_id = resolve_image(container.get("image") or "")
        started = now + self.start_delay
        exits, code, ready_at = self._plan(sandbox, container, init, started)
        inst = _Instance(container["name"], _new_id(), image, image_id, attempt, now, started, exits, code, ready_at)
        sandbox.add(inst)
        return inst.view(now)

    def stop_container(self, uid: str, name: str, grace: float, now: float) -> None:
        """Ask the container to stop: it exits 0 after min(grace, stop_delay) unless it exits sooner."""
        sandbox = self._sandboxes.get(uid)
        inst = sandbox.latest(name) if sandbox else None
        if inst is None or inst.state(now) == EXITED:
            return
        stop_at = now + min(max(0.0, grace), self.stop_delay)
        if inst.exits_at is None or stop_at < inst.exits_at:
            inst.exits_at = stop_at
            inst.exit_code = 0
        inst.started_at = min(inst.started_at, inst.exits_at)

    # -- state -----------------------------------------------------------------------------
    def status(self, uid: str, now: float) -> SandboxStatus | None:
        sandbox = self._sandboxes.get(uid)
        if sandbox is None:
            return None
        return SandboxStatus(uid, sandbox.ip, sandbox.created_at, tuple(i.view(now) for i in sandbox.instances))

    def next_change(self, uid: str, now: float) -> float | None:
        sandbox = self._sandboxes.get(uid)
        if sandbox is None:
            return None
        times = [t for t in (i.next_change(now) for i in sandbox.instances) if t is not None]
        return min(times) if times else None

    # -- adoption --------------------------------------------------------------------------
    def restore(self, pod: dict, now: float) -> bool:
        """Rebuild the sandbox of a pod that an earlier agent process ran, from its status.

        True when the status shows an earlier incarnation (a pod IP or `fake://` containers).
        Running containers keep their start time and restart count, and a planned exit
        stays planned relative to the original start.
        """
        meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        statuses = [(s, True) for s in status.get("initContainerStatuses") or []] + \
                   [(s, False) for s in status.get("containerStatuses") or []]
        ours = [(s, init) for s, init in statuses if str(s.get("containerID", "")).startswith("fake://")
                or str(((s.get("lastState") or {}).get("terminated") or {}).get("containerID", "")).startswith(
                    "fake://")]
        if not ours and not status.get("podIP"):
            return False
        sandbox = _Sandbox(meta["uid"], status.get("podIP") or "", now, behaviour_of(pod))
        specs = {c["name"]: c for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])}
        for cs, init in ours:
            container = specs.get(cs.get("name"))
            if container is None:
                continue
            for inst in self._restore_container(sandbox, container, cs, init):
                sandbox.add(inst)
        self._sandboxes[meta["uid"]] = sandbox
        return True

    def _restore_container(self, sandbox: _Sandbox, container: dict, cs: dict, init: bool) -> list[_Instance]:
        name = container["name"]
        image, image_id = cs.get("image") or "", cs.get("imageID") or ""
        restarts = int(cs.get("restartCount") or 0)
        state, last = cs.get("state") or {}, (cs.get("lastState") or {}).get("terminated")
        out: list[_Instance] = []

        def exited(term: dict, attempt: int) -> _Instance | None:
            started, finished = _timestamp(term.get("startedAt")), _timestamp(term.get("finishedAt"))
            if finished is None:
                return None
            started = finished if started is None else started
            return _Instance(name, term.get("containerID") or _new_id(), image, image_id, attempt, started, started,
                             finished, int(term.get("exitCode") or 0), None)

        if "running" in state:
            if last:
                previous = exited(last, max(0, restarts - 1))
                if previous:
                    out.append(previous)
            started = _timestamp((state["running"] or {}).get("startedAt"))
            if started is None:
                return out
            exits, code, ready_at = self._plan(sandbox, container, init, started)
            if cs.get("ready"):
                ready_at = started
            out.append(_Instance(name, cs["containerID"], image, image_id, restarts, started, started, exits, code,
                                 ready_at))
        elif "terminated" in state:
            if last:
                previous = exited(last, max(0, restarts - 1))
                if previous:
                    out.append(previous)
            term = dict(state["terminated"] or {})
            term.setdefault("containerID", cs.get("containerID"))
            inst = exited(term, restarts)
            if inst:
                out.append(inst)
        elif last:  # waiting to restart (CrashLoopBackOff): the latest instance is the exited one
            inst = exited(last, restarts)
            if inst:
                out.append(inst)
        return out
