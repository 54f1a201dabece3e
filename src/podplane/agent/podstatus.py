"""Pod status as the kubelet reports it: pure functions from (pod, runtime state) to status.

`generate_pod_status` mirrors upstream's `generateAPIPodStatus`: container statuses
from the runtime's instances (latest state, the previous instance as `lastState`,
restart counts, default `ContainerCreating`/`PodInitializing` waiting states, and
`CrashLoopBackOff` for containers waiting out a restart back-off, or the runtime's own
waiting reason such as ErrImagePull for a container it cannot create yet), the phase from
`get_phase` (a port of the kubelet's `getPhase`), the kubelet-owned conditions
(PodReadyToStartContainers, Initialized, Ready, ContainersReady, plus PodScheduled)
with the upstream reasons and messages, host and pod IPs and startTime. Transition
times are kept from the current status while a condition's status is unchanged.

`status_patch(current, desired)` turns the difference into the strategic merge patch
the agent sends to `pods/status` (conditions merge by type; fields that disappear are
sent as null), or None when nothing changed, which is what keeps status writes to
real changes only. No I/O and no clock reads: `now` is passed in.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from podplane.agent.runtime import CREATED, EXITED, RUNNING, ContainerStatus, SandboxStatus
from podplane.api.meta import format_time

__all__ = [
    "KUBELET_CONDITIONS",
    "TERMINAL_PHASES",
    "generate_pod_status",
    "get_phase",
    "go_duration",
    "is_sidecar",
    "parse_go_duration",
    "pod_ref",
    "rfc3339",
    "status_patch",
]

TERMINAL_PHASES = ("Succeeded", "Failed")
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")
"""Conditions the kubelet owns (upstream `PodConditionByKubelet`); others are left alone."""
_STATUS_FIELDS = ("observedGeneration", "phase", "reason", "message", "hostIP", "hostIPs", "podIP", "podIPs",
                  "startTime", "initContainerStatuses", "containerStatuses")


def rfc3339(seconds: float) -> str:
    return format_time(datetime.fromtimestamp(seconds, UTC))


def go_duration(seconds: float) -> str:
    """A duration as Go's time.Duration.String() prints it: 10s, 1m20s, 5m0s, 500ms."""
    if seconds < 1:
        ms = round(seconds * 1000)
        return f"{ms}ms" if ms else "0s"
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    secs = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    if minutes:
        return f"{minutes}m{secs}"
    return secs


def pod_ref(pod: dict) -> str:
    """`name_namespace(uid)`, upstream's format.Pod used in kubelet messages."""
    meta = pod["metadata"]
    return f"{meta['name']}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def is_sidecar(container: dict) -> bool:
    """A restartable init container (restartPolicy: Always), upstream's sidecar."""
    return container.get("restartPolicy") == "Always"


# ------------------------------------------------------------------ container statuses


def _terminated(cs: ContainerStatus) -> dict:
    out = {"containerID": cs.id, "exitCode": cs.exit_code, "finishedAt": rfc3339(cs.finished_at),
           "reason": cs.reason or ("Completed" if cs.exit_code == 0 else "Error"),
           "startedAt": rfc3339(cs.started_at)}
    if cs.message:
        out["message"] = cs.message
    return out


def _waiting(cs: ContainerStatus | None, default_reason: str) -> dict:
    """The waiting state of a container being created: the runtime's reason (ErrImagePull,
    CreateContainerConfigError, ...) with its message, else the default one."""
    if cs is not None and cs.reason:
        return {"reason": cs.reason, **({"message": cs.message} if cs.message else {})}
    return {"reason": default_reason}


def _volume_mounts(container: dict) -> list[dict]:
    out = []
    for m in container.get("volumeMounts") or []:
        item = {"mountPath": m.get("mountPath", ""), "name": m.get("name", "")}
        if m.get("readOnly"):
            item.update(readOnly=True, recursiveReadOnly="Disabled")
        out.append(item)
    return out


def _container_statuses(containers: list[dict], sandbox: SandboxStatus | None, old: list[dict], *,
                        init: bool, has_init: bool, waiting: dict[str, tuple[str, str]], terminal: bool
                        ) -> list[dict]:
    latest = sandbox.latest() if sandbox else {}
    previous = sandbox.previous() if sandbox else {}
    old_by_name = {s.get("name"): s for s in old}
    default_reason = "PodInitializing" if has_init else "ContainerCreating"
    out = []
    for c in containers:
        name = c["name"]
        cs = latest.get(name)
        if cs is None or (cs.state == CREATED and previous.get(name) is None):
            prior = old_by_name.get(name) or {}
            if cs is None and "terminated" in (prior.get("state") or {}):
                out.append(prior)  # finished before and nothing newer: keep what was reported
                continue
            status = {"image": c.get("image", ""), "imageID": "", "lastState": prior.get("lastState") or {},
                      "name": name, "ready": False, "restartCount": int(prior.get("restartCount") or 0),
                      "started": False, "state": {"waiting": _waiting(cs, default_reason)}}
            if cs is not None:
                status["restartCount"] = max(status["restartCount"], cs.attempt)
            if terminal and cs is None:
                status["state"] = {"terminated": {
                    "exitCode": 137, "reason": "ContainerStatusUnknown",
                    "message": "The container could not be located when the pod was terminated"}}
            if name in waiting:
                reason, message = waiting[name]
                status["state"] = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
            out.append(status)
            continue
        before = previous.get(name)
        started = cs.state == RUNNING and cs.started is not False
        status = {"containerID": cs.id or (before.id if before is not None else ""), "image": cs.image,
                  "imageID": cs.image_id, "lastState": {}, "name": name, "ready": False,
                  "restartCount": cs.attempt, "started": started}
        if not status["containerID"]:
            del status["containerID"]
        if cs.state == RUNNING:
            state = {"running": {"startedAt": rfc3339(cs.started_at)}}
            if before is not None and before.state == EXITED:
                status["lastState"] = {"terminated": _terminated(before)}
        elif cs.state == EXITED:
            state = {"terminated": _terminated(cs)}
            if before is not None and before.state == EXITED:
                status["lastState"] = {"terminated": _terminated(before)}
        else:  # a restart being created: the instance before it is the last termination
            state = {"waiting": _waiting(cs, default_reason)}
            if before is not None and before.state == EXITED:
                status["lastState"] = {"terminated": _terminated(before)}
        if name in waiting and cs.state == EXITED:
            reason, message = waiting[name]
            status["lastState"] = {"terminated": _terminated(cs)}
            state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        status["state"] = state
        if init and not is_sidecar(c):
            status["ready"] = cs.state == EXITED and cs.exit_code == 0 and name not in waiting
        else:
            status["ready"] = cs.ready and started
        mounts = _volume_mounts(c)
        if mounts:
            status["volumeMounts"] = mounts
        out.append(status)
    return out


# ------------------------------------------------------------------------------ phase


def _state(cs: dict | None) -> str:
    state = (cs or {}).get("state") or {}
    for key in ("running", "terminated", "waiting"):
        if key in state:
            return key
    return ""


def get_phase(pod: dict, init_statuses: list[dict], statuses: list[dict], terminal: bool) -> str:
    """Port of the kubelet's getPhase: the pod phase from its container statuses."""
    spec = pod.get("spec") or {}
    policy = spec.get("restartPolicy") or "Always"
    init_by_name = {s.get("name"): s for s in init_statuses}
    by_name = {s.get("name"): s for s in statuses}

    def last_terminated(cs: dict) -> dict | None:
        return ((cs.get("lastState") or {}).get("terminated")) if cs else None

    pending_init = failed_init = 0
    unknown = running = waiting = stopped = succeeded = 0
    for c in spec.get("initContainers") or []:
        cs = init_by_name.get(c["name"])
        state = _state(cs)
        if not is_sidecar(c):
            if state == "terminated":
                if int(cs["state"]["terminated"].get("exitCode") or 0) != 0:
                    failed_init += 1
            elif state == "waiting" and last_terminated(cs):
                if int(last_terminated(cs).get("exitCode") or 0) != 0:
                    failed_init += 1
            else:
                pending_init += 1
            continue
        if state == "running":
            if not cs.get("started"):
                pending_init += 1
            running += 1
        elif state == "terminated":
            pass
        elif state == "waiting":
            if not last_terminated(cs):
                pending_init += 1
                waiting += 1
        else:
            pending_init += 1
            unknown += 1
    for c in spec.get("containers") or []:
        cs = by_name.get(c["name"])
        state = _state(cs)
        if state == "running":
            running += 1
        elif state == "terminated":
            stopped += 1
            if int(cs["state"]["terminated"].get("exitCode") or 0) == 0:
                succeeded += 1
        elif state == "waiting":
            if last_terminated(cs):
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1

    if failed_init > 0 and policy == "Never":
        return "Failed"
    any_regular_started = any(_state(by_name.get(c["name"])) in ("running", "terminated")
                              or last_terminated(by_name.get(c["name"]) or {})
                              for c in spec.get("containers") or [])
    if (pending_init > 0 and not any_regular_started) or waiting > 0:
        return "Pending"
    if running > 0 and unknown == 0:
        return "Running"
    if running == 0 and stopped > 0 and unknown == 0:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


# ------------------------------------------------------------------------- conditions


def _names(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"  # Go's %s of a []string


def _cond(kind: str, ok: bool, reason: str = "", message: str = "") -> dict:
    out = {"type": kind, "status": "True" if ok else "False"}
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


def _containers_ready(pod: dict, init_statuses: list[dict], statuses: list[dict], phase: str) -> dict:
    spec = pod.get("spec") or {}
    unknown, unready = [], []
    init_by_name = {s["name"]: s for s in init_statuses}
    by_name = {s["name"]: s for s in statuses}
    for c in spec.get("initContainers") or []:
        if not is_sidecar(c):
            continue
        cs = init_by_name.get(c["name"])
        if cs is None:
            unknown.append(c["name"])
        elif not cs.get("ready"):
            unready.append(c["name"])
    for c in spec.get("containers") or []:
        cs = by_name.get(c["name"])
        if cs is None:
            unknown.append(c["name"])
        elif not cs.get("ready"):
            unready.append(c["name"])
    if (phase == "Succeeded" and not unknown) or phase == "Failed":
        return _cond("ContainersReady", False, "PodCompleted" if phase == "Succeeded" else "PodFailed")
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_names(unknown)}")
    if unready:
        messages.append(f"containers with unready status: {_names(unready)}")
    if messages:
        return _cond("ContainersReady", False, "ContainersNotReady", ", ".join(messages))
    return _cond("ContainersReady", True)


def _pod_ready(pod: dict, containers_ready: dict, conditions: list[dict]) -> dict:
    if containers_ready["status"] != "True":
        return {**containers_ready, "type": "Ready"}
    messages = []
    by_type = {c.get("type"): c for c in conditions}
    for gate in (pod.get("spec") or {}).get("readinessGates") or []:
        kind = gate.get("conditionType", "")
        cond = by_type.get(kind)
        if cond is None:
            messages.append(f'corresponding condition of pod readiness gate "{kind}" does not exist.')
        elif cond.get("status") != "True":
            messages.append(f'the status of pod readiness gate "{kind}" is not "True", but {cond.get("status")}')
    if messages:
        return _cond("Ready", False, "ReadinessGatesNotReady", ", ".join(messages))
    return _cond("Ready", True)


def _initialized(pod: dict, init_statuses: list[dict], statuses: list[dict], phase: str) -> dict:
    spec = pod.get("spec") or {}
    by_name = {s["name"]: s for s in init_statuses}
    unknown, incomplete = [], []
    for c in spec.get("initContainers") or []:
        cs = by_name.get(c["name"])
        if cs is None:
            unknown.append(c["name"])
        elif (is_sidecar(c) and not cs.get("started")) or (not is_sidecar(c) and not cs.get("ready")):
            incomplete.append(c["name"])
    if phase == "Succeeded" and not unknown:
        return _cond("Initialized", True, "PodCompleted")
    if any(_state(s) in ("running", "terminated") or (s.get("lastState") or {}).get("terminated")
           for s in statuses):
        return _cond("Initialized", True)
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_names(unknown)}")
    if incomplete:
        messages.append(f"containers with incomplete status: {_names(incomplete)}")
    if messages:
        return _cond("Initialized", False, "ContainersNotInitialized", ", ".join(messages))
    return _cond("Initialized", True)


# ---------------------------------------------------------------------------- status


def generate_pod_status(pod: dict, sandbox: SandboxStatus | None, *, host_ip: str, now: float,
                        terminal: bool = False, waiting: dict[str, tuple[str, str]] | None = None) -> dict:
    """The kubelet-owned part of a pod's status for the runtime state `sandbox` at `now`.

    `terminal`: the pod's containers were stopped for good (deletion); containers that
    never ran are then reported as terminated with ContainerStatusUnknown, as upstream.
    `waiting`: container name → (reason, message) for containers waiting to restart.
    """
    spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
    old = pod.get("status") or {}
    waiting = waiting or {}
    init_containers, containers = spec.get("initContainers") or [], spec.get("containers") or []
    has_init = bool(init_containers)
    init_statuses = _container_statuses(init_containers, sandbox, old.get("initContainerStatuses") or [],
                                        init=True, has_init=has_init, waiting=waiting, terminal=terminal)
    statuses = _container_statuses(containers, sandbox, old.get("containerStatuses") or [],
                                   init=False, has_init=has_init, waiting=waiting, terminal=terminal)
    phase = get_phase(pod, init_statuses, statuses, terminal)
    if old.get("phase") in TERMINAL_PHASES:  # pods never leave a terminal phase
        phase = old["phase"]

    status: dict = {}
    generation = meta.get("generation")
    if generation is not None:
        status["observedGeneration"] = generation
    status["phase"] = phase
    if phase == old.get("phase"):  # the reason and message belong to the phase
        for key in ("reason", "message"):
            if old.get(key):
                status[key] = old[key]

    # the sandbox is torn down once the pod is terminal, so the condition turns False again
    conditions = [_cond("PodReadyToStartContainers",
                        sandbox is not None and sandbox.ready and phase not in TERMINAL_PHASES)]
    conditions.append(_initialized(pod, init_statuses, statuses, phase))
    containers_ready = _containers_ready(pod, init_statuses, statuses, phase)
    conditions.append(_pod_ready(pod, containers_ready, old.get("conditions") or []))
    conditions.append(containers_ready)
    stamp = rfc3339(now)
    old_conditions = {c.get("type"): c for c in old.get("conditions") or []}
    for cond in conditions:
        if generation is not None:
            cond["observedGeneration"] = generation
        before = old_conditions.get(cond["type"])
        same = before is not None and before.get("status") == cond["status"] and before.get("lastTransitionTime")
        cond["lastTransitionTime"] = before["lastTransitionTime"] if same else stamp
    scheduled = old_conditions.get("PodScheduled")
    if scheduled is None or scheduled.get("status") != "True":
        conditions.append({"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp})
    status["conditions"] = conditions

    status["hostIP"] = host_ip
    status["hostIPs"] = [{"ip": host_ip}]
    pod_ip = host_ip if spec.get("hostNetwork") and sandbox is not None else (sandbox.ip if sandbox else "")
    pod_ip = pod_ip or old.get("podIP") or ""
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    status["startTime"] = old.get("startTime") or stamp
    if has_init:
        status["initContainerStatuses"] = init_statuses
    status["containerStatuses"] = statuses
    return status


def _condition_differs(before: dict | None, after: dict) -> bool:
    if before is None:
        return True
    return any(before.get(k) != after.get(k)
               for k in ("status", "reason", "message", "lastTransitionTime", "observedGeneration"))


def status_patch(current: dict, desired: dict) -> dict | None:
    """The strategic merge patch of `status` that turns `current` into `desired`, or None.

    Only kubelet-owned fields and the conditions in `desired` are compared; conditions
    merge by type, so other writers' conditions (DisruptionTarget, readiness gates) stay.
    """
    patch: dict = {}
    for key in _STATUS_FIELDS:
        if current.get(key) != desired.get(key):
            if key in desired:
                patch[key] = desired[key]
            elif key in current:
                patch[key] = None
    old_conditions = {c.get("type"): c for c in current.get("conditions") or []}
    changed = []
    for cond in desired.get("conditions") or []:
        before = old_conditions.get(cond["type"])
        if _condition_differs(before, cond):
            entry = dict(cond)
            for key in ("reason", "message"):
                if before and before.get(key) and key not in cond:
                    entry[key] = None
            changed.append(entry)
    if changed:
        patch["conditions"] = changed
    return patch or None


def parse_go_duration(text: str) -> float | None:
    """Seconds of a Go duration string (`10s`, `1m20s`, `5m0s`, `500ms`), or None."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", text or "")
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * scale[u] for n, u in parts)
