"""Fake runtime: annotation-driven behaviour, time-evaluated state, adoption from status."""

from __future__ import annotations

import pytest

from podplane.agent.runtime import CREATED, EXITED, RUNNING
from podplane.agent.runtime.fake import Behaviour, FakeRuntime, behaviour_of, resolve_image

from .builders import T0, make_pod


@pytest.mark.parametrize("policy,annotations,behaviour", [
    pytest.param("Always", {}, Behaviour(), id="runs-forever"),
    pytest.param("Always", {"ready": "false"}, Behaviour(ready=False), id="never-ready"),
    pytest.param("Always", {"exit_code": "3"}, Behaviour(run_seconds=1.0, exit_code=3), id="exit-default-run"),
    pytest.param("Always", {"run_seconds": "2.5"}, Behaviour(run_seconds=2.5), id="run-then-exit-0"),
    pytest.param("Never", {}, Behaviour(run_seconds=1.0), id="job-pods-finish"),
    pytest.param("OnFailure", {"exit_code": "1", "run_seconds": "0", "backoff_seconds": "0.5"},
                 Behaviour(run_seconds=0.0, exit_code=1, backoff_seconds=0.5), id="all-knobs"),
    pytest.param("Always", {"exit_code": "x", "run_seconds": "-1"}, Behaviour(), id="invalid-ignored"),
])
def test_behaviour_from_annotations(policy, annotations, behaviour):
    assert behaviour_of(make_pod("p").policy(policy).annotate(**annotations).obj()) == behaviour


@pytest.mark.parametrize("ref,image,repository", [
    ("nginx", "docker.io/library/nginx:latest", "docker.io/library/nginx"),
    ("nginx:1.27", "docker.io/library/nginx:1.27", "docker.io/library/nginx"),
    ("bitnami/redis", "docker.io/bitnami/redis:latest", "docker.io/bitnami/redis"),
    ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10", "registry.k8s.io/pause"),
    ("localhost:5000/app", "localhost:5000/app:latest", "localhost:5000/app"),
])
def test_images_resolve_like_containerd(ref, image, repository):
    resolved, image_id = resolve_image(ref)
    assert resolved == image
    assert image_id.startswith(f"{repository}@sha256:") and len(image_id.rsplit(":", 1)[1]) == 64
    assert resolve_image(ref) == (resolved, image_id), "the fake digest is stable"


def test_digest_references_keep_their_digest():
    assert resolve_image("busybox@sha256:abc") == ("docker.io/library/busybox@sha256:abc",) * 2


def start(runtime: FakeRuntime, pod: dict, now: float = T0):
    runtime.run_sandbox(pod, "10.244.0.2", now)
    return runtime.start_container(pod, pod["spec"]["containers"][0], attempt=0, init=False, now=now)


def test_a_container_is_created_then_runs_then_exits_on_schedule():
    runtime = FakeRuntime(start_delay=0.5)
    pod = make_pod("p").annotate(exit_code="7", run_seconds="2").obj()
    first = start(runtime, pod)
    assert first.state == CREATED and first.id.startswith("fake://")
    assert runtime.next_change("uid-p", T0) == T0 + 0.5
    view = runtime.status("uid-p", T0 + 1).latest()["app"]
    assert (view.state, view.ready) == (RUNNING, True)
    assert runtime.next_change("uid-p", T0 + 1) == T0 + 2.5
    view = runtime.status("uid-p", T0 + 3).latest()["app"]
    assert (view.state, view.exit_code, view.reason, view.finished_at) == (EXITED, 7, "Error", T0 + 2.5)
    assert runtime.next_change("uid-p", T0 + 3) is None


def test_stopping_exits_zero_within_the_stop_cap_or_grace():
    runtime = FakeRuntime(start_delay=0)
    start(runtime, make_pod("p").obj())
    runtime.stop_container("uid-p", "app", grace=30, now=T0 + 1)
    assert runtime.status("uid-p", T0 + 1.05).latest()["app"].state == RUNNING
    view = runtime.status("uid-p", T0 + 1.1).latest()["app"]
    assert (view.state, view.exit_code, view.reason) == (EXITED, 0, "Completed")


def test_only_two_instances_per_container_are_kept():
    runtime = FakeRuntime(start_delay=0)
    pod = make_pod("p").obj()
    start(runtime, pod)
    for attempt in (1, 2, 3):
        runtime.start_container(pod, pod["spec"]["containers"][0], attempt=attempt, init=False, now=T0 + attempt)
    assert [c.attempt for c in runtime.status("uid-p", T0 + 5).containers] == [2, 3]


def test_restore_rebuilds_running_and_previous_instances():
    runtime = FakeRuntime()
    pod = make_pod("p").annotate(run_seconds="100").status(podIP="10.244.0.5", containerStatuses=[{
        "name": "app", "containerID": "fake://1", "image": "i", "imageID": "d", "restartCount": 2, "ready": True,
        "started": True, "state": {"running": {"startedAt": "2027-01-15T07:59:00Z"}},
        "lastState": {"terminated": {"containerID": "fake://0", "exitCode": 1, "startedAt": "2027-01-15T07:58:00Z",
                                     "finishedAt": "2027-01-15T07:58:30Z"}}}]).obj()
    assert runtime.restore(pod, T0)
    status = runtime.status("uid-p", T0)
    assert status.ip == "10.244.0.5"
    previous, latest = status.containers
    assert (previous.id, previous.attempt, previous.state, previous.exit_code) == ("fake://0", 1, EXITED, 1)
    assert (latest.id, latest.attempt, latest.state, latest.ready) == ("fake://1", 2, RUNNING, True)
    assert runtime.next_change("uid-p", T0) == T0 - 60 + 100, "the planned exit keeps the original start"


def test_restore_ignores_pods_that_never_ran():
    runtime = FakeRuntime()
    assert not runtime.restore(make_pod("p").obj(), T0)
    assert len(runtime) == 0
