"""Pod status generation: phase, conditions and container statuses as the kubelet writes them."""

from __future__ import annotations

import pytest

from podplane.agent.podstatus import (
    generate_pod_status,
    get_phase,
    go_duration,
    parse_go_duration,
    status_patch,
)
from podplane.agent.runtime import CREATED, EXITED, RUNNING, ContainerStatus, SandboxStatus

from .builders import T0, make_pod


def running(name: str = "app", ready: bool = True) -> dict:
    return {"name": name, "ready": ready, "started": True, "state": {"running": {"startedAt": "t"}}}


def terminated(name: str = "app", code: int = 0) -> dict:
    return {"name": name, "state": {"terminated": {"exitCode": code}}}


def waiting(name: str = "app", last_code: int | None = None) -> dict:
    out = {"name": name, "state": {"waiting": {"reason": "X"}}}
    if last_code is not None:
        out["lastState"] = {"terminated": {"exitCode": last_code}}
    return out


@pytest.mark.parametrize("policy,statuses,terminal,phase", [
    pytest.param("Always", [waiting()], False, "Pending", id="waiting-first-start"),
    pytest.param("Always", [running()], False, "Running", id="running"),
    pytest.param("Always", [terminated(code=0)], False, "Running", id="always-restarts-completed"),
    pytest.param("Always", [waiting(last_code=1)], False, "Running", id="crash-loop-is-running"),
    pytest.param("Never", [terminated(code=0)], False, "Succeeded", id="never-exit-0"),
    pytest.param("Never", [terminated(code=1)], False, "Failed", id="never-exit-1"),
    pytest.param("OnFailure", [terminated(code=1)], False, "Running", id="on-failure-restarting"),
    pytest.param("OnFailure", [terminated(code=0)], False, "Succeeded", id="on-failure-done"),
    pytest.param("Always", [terminated(code=0)], True, "Succeeded", id="deleted-clean"),
    pytest.param("Always", [terminated(code=137)], True, "Failed", id="deleted-killed"),
    pytest.param("Always", [], False, "Pending", id="unknown"),
])
def test_get_phase_matches_the_kubelet(policy, statuses, terminal, phase):
    pod = make_pod("p").policy(policy).obj()
    assert get_phase(pod, [], statuses, terminal) == phase


def test_failed_init_container_fails_a_never_pod():
    pod = make_pod("p").policy("Never").init("setup").obj()
    assert get_phase(pod, [terminated("setup", 2)], [waiting()], False) == "Failed"


def test_pending_until_init_containers_finish():
    pod = make_pod("p").init("setup").obj()
    assert get_phase(pod, [running("setup")], [waiting()], False) == "Pending"


def instance(name: str = "app", state: str = RUNNING, *, attempt: int = 0, ready: bool = True, code: int = 0,
             started: float = T0, finished: float = 0.0) -> ContainerStatus:
    return ContainerStatus(name=name, id=f"fake://{name}{attempt}", image="docker.io/library/nginx:latest",
                           image_id="docker.io/library/nginx@sha256:0", attempt=attempt, state=state,
                           created_at=started, started_at=started, finished_at=finished, exit_code=code,
                           reason=("Completed" if code == 0 else "Error") if state == EXITED else "",
                           ready=ready and state == RUNNING)


def sandbox(*instances: ContainerStatus) -> SandboxStatus:
    return SandboxStatus("uid-p", "10.244.0.9", T0, tuple(instances))


def conditions(status: dict) -> dict:
    return {c["type"]: {k: v for k, v in c.items() if k in ("status", "reason", "message")}
            for c in status["conditions"]}


def test_a_pod_without_sandbox_is_pending_with_default_waiting_states():
    status = generate_pod_status(make_pod("p").obj(), None, host_ip="127.1.0.1", now=T0)
    assert status["phase"] == "Pending" and "podIP" not in status
    assert status["containerStatuses"] == [{
        "image": "nginx", "imageID": "", "lastState": {}, "name": "app", "ready": False, "restartCount": 0,
        "started": False, "state": {"waiting": {"reason": "ContainerCreating"}}}]
    assert conditions(status)["PodReadyToStartContainers"] == {"status": "False"}
    assert conditions(status)["Ready"] == {"status": "False", "reason": "ContainersNotReady",
                                           "message": "containers with unready status: [app]"}


def test_a_running_restarted_container_reports_its_last_termination():
    status = generate_pod_status(
        make_pod("p").obj(),
        sandbox(instance(state=EXITED, code=1, started=T0, finished=T0 + 1), instance(attempt=1, started=T0 + 2)),
        host_ip="127.1.0.1", now=T0 + 3)
    cs = status["containerStatuses"][0]
    assert cs["restartCount"] == 1 and cs["containerID"] == "fake://app1"
    assert cs["state"] == {"running": {"startedAt": "2027-01-15T08:00:02Z"}}
    assert cs["lastState"] == {"terminated": {
        "containerID": "fake://app0", "exitCode": 1, "finishedAt": "2027-01-15T08:00:01Z", "reason": "Error",
        "startedAt": "2027-01-15T08:00:00Z"}}
    assert status["phase"] == "Running" and conditions(status)["Ready"] == {"status": "True"}


def test_crash_loop_back_off_is_a_waiting_state_with_the_last_termination():
    status = generate_pod_status(
        make_pod("p").obj(), sandbox(instance(state=EXITED, code=1, attempt=3, finished=T0 + 1)),
        host_ip="127.1.0.1", now=T0 + 2, waiting={"app": ("CrashLoopBackOff", "back-off 40s ...")})
    cs = status["containerStatuses"][0]
    assert cs["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s ..."}}
    assert cs["lastState"]["terminated"]["exitCode"] == 1 and cs["restartCount"] == 3
    assert (cs["ready"], cs["started"]) == (False, False)


def test_containers_that_never_ran_in_a_deleted_pod_are_unknown():
    status = generate_pod_status(make_pod("p").obj(), sandbox(), host_ip="127.1.0.1", now=T0, terminal=True)
    assert status["containerStatuses"][0]["state"] == {"terminated": {
        "exitCode": 137, "reason": "ContainerStatusUnknown",
        "message": "The container could not be located when the pod was terminated"}}
    assert status["phase"] == "Failed"
    assert conditions(status)["Ready"] == {"status": "False", "reason": "PodFailed"}


def test_readiness_gates_hold_ready_back():
    pod = make_pod("p").obj()
    pod["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}]
    status = generate_pod_status(pod, sandbox(instance()), host_ip="127.1.0.1", now=T0)
    assert conditions(status)["Ready"] == {
        "status": "False", "reason": "ReadinessGatesNotReady",
        "message": 'corresponding condition of pod readiness gate "example.com/lb" does not exist.'}
    assert conditions(status)["ContainersReady"] == {"status": "True"}


def test_transition_times_are_kept_while_a_condition_holds():
    pod = make_pod("p").obj()
    first = generate_pod_status(pod, sandbox(instance()), host_ip="127.1.0.1", now=T0)
    pod["status"].update(first)
    later = generate_pod_status(pod, sandbox(instance(ready=False)), host_ip="127.1.0.1", now=T0 + 60)
    times = {c["type"]: c["lastTransitionTime"] for c in later["conditions"]}
    assert times["Initialized"] == "2027-01-15T08:00:00Z"
    assert times["Ready"] == "2027-01-15T08:01:00Z"
    assert later["startTime"] == "2027-01-15T08:00:00Z"


def test_a_terminal_phase_never_changes():
    pod = make_pod("p").status(phase="Failed", reason="Evicted", message="gone").obj()
    status = generate_pod_status(pod, sandbox(instance()), host_ip="127.1.0.1", now=T0)
    assert (status["phase"], status["reason"], status["message"]) == ("Failed", "Evicted", "gone")


def test_created_instance_reports_container_creating_and_volume_mounts():
    pod = make_pod("p").obj()
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"},
                                                    {"name": "token", "mountPath": "/var/run", "readOnly": True}]
    status = generate_pod_status(pod, sandbox(instance(state=CREATED)), host_ip="127.1.0.1", now=T0)
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    running_status = generate_pod_status(pod, sandbox(instance()), host_ip="127.1.0.1", now=T0)
    assert running_status["containerStatuses"][0]["volumeMounts"] == [
        {"mountPath": "/data", "name": "data"},
        {"mountPath": "/var/run", "name": "token", "readOnly": True, "recursiveReadOnly": "Disabled"}]


def test_status_patch_is_none_when_nothing_changed():
    pod = make_pod("p").obj()
    status = generate_pod_status(pod, sandbox(instance()), host_ip="127.1.0.1", now=T0)
    current = {**pod["status"], **status,
               "conditions": pod["status"]["conditions"] + status["conditions"]}  # merged by type, as the server
    assert status_patch(current, generate_pod_status({**pod, "status": current}, sandbox(instance()),
                                                     host_ip="127.1.0.1", now=T0 + 30)) is None


def test_status_patch_nulls_what_disappears():
    current = {"phase": "Pending", "reason": "X", "conditions": [
        {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "message": "m",
         "lastTransitionTime": "a"}]}
    desired = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "b"}]}
    assert status_patch(current, desired) == {
        "phase": "Running", "reason": None,
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "b", "reason": None,
                        "message": None}]}


@pytest.mark.parametrize("seconds,text", [
    (0.5, "500ms"), (10, "10s"), (80, "1m20s"), (300, "5m0s"), (2.5, "2.5s"), (3600, "1h0m0s")])
def test_go_durations(seconds, text):
    assert go_duration(seconds) == text
    assert parse_go_duration(text) == seconds


def test_parse_go_duration_rejects_garbage():
    assert parse_go_duration("10 seconds") is None
    assert parse_go_duration("") is None
