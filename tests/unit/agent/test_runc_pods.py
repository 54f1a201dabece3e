"""RuncPodRuntime over fakes: background set-up, waiting reasons, events, exits, hooks, probes,
removal and adoption, and the pod workers driven by its listener.

`FakeRunc` plays `RuncRuntime` in memory (an exit is a byte on a pipe, so the runtime's
pidfd watcher sees it on the event loop); the network is `FakePodNetwork`, images come
from a real `Images` with a test catalog. Back-offs are a few milliseconds; tests wait for
conditions (`eventually`), never for fixed times.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import functools
import os
import secrets
import threading
import time
from types import SimpleNamespace

import pytest

from podplane.agent.images import Images
from podplane.agent.network import CNIError, FakePodNetwork
from podplane.agent.pods import PodWorkers
from podplane.agent.podstatus import generate_pod_status
from podplane.agent.probes import ProbeManager
from podplane.agent.runtime import CREATED, EXITED, RUNNING, ContainerStatus, SandboxStatus, runc_pods
from podplane.agent.runtime.fake import FakeRuntime
from podplane.agent.runtime.oci import SpecError
from podplane.agent.runtime.runc import ContainerInfo, ContainerNotFound, ExecResult, RuncError
from podplane.agent.runtime.runc_pods import RuncPodRuntime, default_pull_policy
from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.client.workqueue import WorkQueue

from .builders import T0, Clock, RecordingQueue, make_pod, node_handle

CATALOG = """
images:
  - name: busybox
    cmd: [sh]
    requires: [/bin/sh]
"""


class FakeRunc:
    """`RuncRuntime` in memory. Running containers have a pipe; `finish` writes to it."""

    name = "runc"

    def __init__(self, log_dir: str) -> None:
        self.config = SimpleNamespace(log_dir=log_dir)
        self.infos: dict[str, ContainerInfo] = {}
        self.requests: dict[str, object] = {}
        self.pipes: dict[str, tuple[int, int]] = {}
        self.calls: list[tuple] = []
        self.failures: dict[str, Exception] = {}
        self.exec_handler = lambda cid, argv: (0, b"")
        self.lock = threading.Lock()

    def version(self) -> str:
        return "1.1.5"

    def _fail(self, op: str) -> None:
        error = self.failures.pop(op, None)
        if error is not None:
            raise error

    def create(self, req) -> ContainerInfo:
        with self.lock:
            self.calls.append(("create", req.container["name"]))
            self._fail("create")
            cid = secrets.token_hex(8)
            meta = req.pod["metadata"]
            info = ContainerInfo(id=cid, pod_uid=meta["uid"], namespace=meta.get("namespace", ""),
                                 pod_name=meta["name"], name=req.container["name"], attempt=req.attempt,
                                 image=req.image.ref, image_id=req.image.image_id, init=req.init,
                                 state=CREATED, pid=0, created_at=time.time(),
                                 log_path=f"{self.config.log_dir}/{cid}.log")
            self.infos[cid] = info
            self.requests[cid] = req
            return info

    def start(self, cid: str) -> ContainerInfo:
        with self.lock:
            self.calls.append(("start", cid))
            self._fail("start")
            return self._run(cid)

    def _run(self, cid: str) -> ContainerInfo:
        info = self.infos[cid] = ContainerInfo(**{**self.infos[cid].__dict__, "state": RUNNING, "pid": 4242,
                                                  "started_at": time.time()})
        self.pipes[cid] = os.pipe()
        return info

    def adopt_running(self, pod: dict, name: str, attempt: int = 0) -> str:
        """A container an earlier agent process started."""
        cid = secrets.token_hex(8)
        meta = pod["metadata"]
        self.infos[cid] = ContainerInfo(id=cid, pod_uid=meta["uid"], namespace=meta["namespace"],
                                        pod_name=meta["name"], name=name, attempt=attempt,
                                        image="docker.io/library/busybox:latest", image_id="sha", init=False,
                                        state=CREATED, pid=0, created_at=time.time() - 60)
        self._run(cid)
        return cid

    def finish(self, cid: str, code: int = 0, reason: str = "") -> None:
        with self.lock:
            info = self.infos[cid]
            if info.state == EXITED:
                return
            self.infos[cid] = ContainerInfo(**{**info.__dict__, "state": EXITED, "exit_code": code,
                                               "reason": reason or ("Completed" if code == 0 else "Error"),
                                               "finished_at": time.time()})
            read, write = self.pipes.pop(cid)
            os.write(write, b"x")
            os.close(write)
            os.close(read)

    def inspect(self, cid: str) -> ContainerInfo:
        with self.lock:
            if cid not in self.infos:
                raise ContainerNotFound(cid)
            return self.infos[cid]

    def list(self, pod_uid: str | None = None) -> list[ContainerInfo]:
        with self.lock:
            return sorted((i for i in self.infos.values() if pod_uid in (None, i.pod_uid)),
                          key=lambda i: i.created_at)

    def exit_fd(self, cid: str) -> int | None:
        with self.lock:
            pipe = self.pipes.get(cid)
            return os.dup(pipe[0]) if pipe else None

    def stop(self, cid: str, grace: float) -> ContainerInfo:
        self.calls.append(("stop", cid, round(grace, 1)))
        self.finish(cid, 143 if grace else 137)
        return self.inspect(cid)

    def remove(self, cid: str) -> None:
        with self.lock:
            self.calls.append(("remove", cid))
            self.infos.pop(cid, None)
            pipe = self.pipes.pop(cid, None)
        if pipe:
            os.close(pipe[0])
            os.close(pipe[1])

    def remove_pod(self, pod: dict) -> None:
        self.calls.append(("remove_pod", pod["metadata"]["uid"]))
        for info in self.list(pod["metadata"]["uid"]):
            self.remove(info.id)

    def exec_sync(self, cid: str, argv: list[str], *, timeout=None, input=None) -> ExecResult:
        self.calls.append(("exec", cid, tuple(argv)))
        code, out = self.exec_handler(cid, argv)
        return ExecResult(code, out, b"")

    def close(self) -> None:
        for read, write in self.pipes.values():
            os.close(read)
            os.close(write)
        self.pipes.clear()

    def verbs(self) -> list[str]:
        return [c[0] for c in self.calls]


async def eventually(predicate, timeout: float = 3.0, what: str = "") -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.005)


class Env:
    def __init__(self, tmp_path, *, volumes: bool = False, client=None, runc: FakeRunc | None = None,
                 network: FakePodNetwork | None = None, **kw) -> None:
        self.tmp = tmp_path
        self.runc = runc or FakeRunc(str(tmp_path / "logs"))
        self.network = network or FakePodNetwork("10.244.0.0/24")
        self.images = Images(str(tmp_path / "data"), default_catalog=CATALOG)
        self.events: list[tuple[str, str, str, str]] = []
        self.woken: list[str] = []
        self.client = client or FakeClient()
        resolv = tmp_path / "resolv.conf"
        resolv.write_text("nameserver 192.0.2.53\nsearch example.test\n")
        options = dict(client=self.client, event=self.event, host_ip="192.0.2.10", cluster_dns=["10.43.0.10"],
                       resolv_conf=str(resolv), retry_backoff=0.02, max_retry_backoff=0.05, poll_interval=0,
                       probe_manager=functools.partial(ProbeManager, time_scale=0.01))
        if volumes:
            options["volumes_dir"] = str(tmp_path / "volumes")
        options.update(kw)
        self.rt = RuncPodRuntime(self.runc, self.network, self.images,
                                 sandbox_dir=str(tmp_path / "sandboxes"), **options)
        self.rt.set_listener(self.woken.append)

    def event(self, pod, event_type, reason, message, field_path) -> None:
        self.events.append((event_type, reason, message, field_path))

    def reasons(self) -> list[str]:
        return [e[1] for e in self.events]

    def latest(self, uid: str, name: str = "app") -> ContainerStatus:
        return self.rt.status(uid, time.time()).latest()[name]

    async def close(self) -> None:
        await self.rt.close()
        self.runc.close()


@pytest.fixture
async def env(tmp_path):
    e = Env(tmp_path)
    yield e
    await e.close()


class FakeHooks:
    """`hook_runner` in memory: each run is appended to `log` (the FakeRunc's calls, so that it shows
    in order with them) as (hook, instance id, timeout), and takes `takes` seconds of `clock`."""

    def __init__(self, log: list, clock: Clock | None = None, takes: float = 0.0) -> None:
        self.log, self.clock, self.takes = log, clock, takes

    async def __call__(self, handler, *, pod, container, instance_id, pod_ip, exec_fn,
                       timeout=None, on_event=None) -> None:  # noqa: ASYNC109 (run_hook's signature)
        lifecycle = container.get("lifecycle") or {}
        self.log.append(("preStop" if handler is lifecycle.get("preStop") else "postStart", instance_id, timeout))
        if self.clock is not None:
            self.clock.advance(self.takes)


def hooked_env(tmp_path, clock: Clock | None = None, takes: float = 0.0) -> Env:
    """An Env whose hooks are FakeHooks logging into `env.runc.calls`."""
    runc = FakeRunc(str(tmp_path / "logs"))
    return Env(tmp_path, runc=runc, hook_runner=FakeHooks(runc.calls, clock, takes))


@pytest.fixture
def monotonic(monkeypatch) -> Clock:
    """The monotonic clock the runtime times preStop hooks with; only FakeHooks move it."""
    clock = Clock(1000.0)
    monkeypatch.setattr(runc_pods, "time", SimpleNamespace(monotonic=clock, time=time.time))
    return clock


PRE_STOP = {"preStop": {"exec": {"command": ["drain"]}}}


def pod_with(*containers: dict, name: str = "p", **spec) -> dict:
    pod = make_pod(name).obj()
    pod["spec"]["containers"] = [{"name": "app", "image": "busybox", "command": ["sleep", "1d"]}] \
        if not containers else list(containers)
    pod["spec"].update(spec)
    return pod


async def running_pod(env: Env, pod: dict | None = None, name: str = "app") -> dict:
    pod = pod or pod_with()
    env.rt.run_sandbox(pod, "", T0)
    container = next(c for c in pod["spec"]["containers"] if c["name"] == name)
    env.rt.start_container(pod, container, attempt=0, init=False, now=T0)
    uid = pod["metadata"]["uid"]
    await eventually(lambda: env.latest(uid, name).state == RUNNING, what="running")
    return pod


# ------------------------------------------------------------------------------------ sandbox


async def test_the_sandbox_gets_its_ip_and_dns_files_in_the_background(env):
    pod = pod_with(hostname="web-0", subdomain="web", hostAliases=[{"ip": "192.0.2.9", "hostnames": ["db"]}])
    env.rt.run_sandbox(pod, "", T0)
    status = env.rt.status("uid-p", T0)
    assert (status.ip, status.ready, env.rt.has_sandbox("uid-p")) == ("", False, True), "returns at once"
    await eventually(lambda: env.rt.status("uid-p", T0).ready)
    assert env.rt.pod_ip("uid-p") == "10.244.0.2" == env.rt.status("uid-p", T0).ip
    assert env.rt.netns_path("uid-p") == "/var/run/netns/pp-uid-p"
    assert env.woken == ["uid-p"]
    files = env.tmp / "sandboxes" / "uid-p"
    assert "10.244.0.2\tweb-0.web.default.svc.cluster.local\tweb-0" in (files / "hosts").read_text()
    assert "192.0.2.9\tdb" in (files / "hosts").read_text()
    assert (files / "hostname").read_text() == "web-0\n"
    assert (files / "resolv.conf").read_text().splitlines() == [
        "search default.svc.cluster.local svc.cluster.local cluster.local example.test",
        "nameserver 10.43.0.10", "options ndots:5"]


async def test_host_network_pods_use_the_host_address_and_no_cni(env):
    pod = pod_with(hostNetwork=True)
    env.rt.run_sandbox(pod, "192.0.2.10", T0)
    await eventually(lambda: env.rt.status("uid-p", T0).ready)
    assert env.rt.pod_ip("uid-p") == "192.0.2.10" and env.rt.netns_path("uid-p") is None
    assert env.network.calls == []
    assert (env.tmp / "sandboxes" / "uid-p" / "hosts").read_text().startswith(
        "# Kubernetes-managed hosts file (host network).")


async def test_a_failed_network_setup_is_an_event_and_is_retried(env):
    env.network.fail_next("setup", CNIError("bridge", "ADD", 11, "no IP addresses available"))
    env.rt.run_sandbox(pod_with(), "", T0)
    await eventually(lambda: env.rt.status("uid-p", T0).ready)
    assert env.events[0] == ("Warning", "FailedCreatePodSandBox",
                             "Failed to create pod sandbox: CNI plugin bridge ADD failed (code 11): "
                             "no IP addresses available", "")
    assert [c[0] for c in env.network.calls] == ["setup", "setup"]


async def test_a_volume_that_cannot_be_mounted_is_a_failed_mount_event(tmp_path):
    e = Env(tmp_path, volumes=True)
    try:
        pod = pod_with(volumes=[{"name": "cfg", "configMap": {"name": "settings"}}])
        e.rt.run_sandbox(pod, "", T0)
        await eventually(lambda: "FailedMount" in e.reasons())
        event = e.events[0]
        assert event[:2] == ("Warning", "FailedMount")
        assert 'volume "cfg"' in event[2] and "settings" in event[2]
        assert not e.rt.status("uid-p", T0).ready and e.network.calls == []
        e.client.seed(e.client.resource("", "configmaps"),
                      {"metadata": {"name": "settings", "namespace": "default"}, "data": {"k": "v"}})
        await eventually(lambda: e.rt.status("uid-p", T0).ready, what="the retry once the ConfigMap exists")
    finally:
        await e.close()


# ------------------------------------------------------------------------------------ containers


async def test_a_container_is_created_then_started_with_its_events(env):
    pod = pod_with({"name": "app", "image": "busybox", "command": ["sh", "-c", "echo $(A)"],
                    "env": [{"name": "A", "value": "1$$2"}, {"name": "B", "value": "x$(A)"}]})
    env.rt.run_sandbox(pod, "", T0)
    first = env.rt.start_container(pod, pod["spec"]["containers"][0], attempt=0, init=False, now=T0)
    assert (first.state, first.id, first.started) == (CREATED, "", False)
    await eventually(lambda: env.latest("uid-p").state == RUNNING)
    cs = env.latest("uid-p")
    assert cs.id.startswith("runc://") and (cs.ready, cs.started) == (True, True)
    assert cs.image == "docker.io/library/busybox:latest"
    assert cs.image_id.startswith("docker.io/library/busybox@sha256:")
    assert env.events == [
        ("Normal", "Pulled", 'Container image "busybox" already present on machine', "spec.containers{app}"),
        ("Normal", "Created", "Created container: app", "spec.containers{app}"),
        ("Normal", "Started", "Started container app", "spec.containers{app}"),
    ]
    req = env.runc.requests[cs.id.removeprefix("runc://")]
    assert req.sandbox.netns_path == "/var/run/netns/pp-uid-p" and req.sandbox.hostname == "p"
    assert req.sandbox.hosts_path.endswith("sandboxes/uid-p/hosts")
    from podplane.agent.runtime.oci import container_env

    assert container_env(req.container, req.env) == [("A", "1$2"), ("B", "x1$2")], "expanded exactly once"


async def test_an_exit_is_seen_without_polling(env):
    await running_pod(env)
    cid = env.latest("uid-p").id.removeprefix("runc://")
    env.woken.clear()
    env.runc.finish(cid, 3)
    await eventually(lambda: env.latest("uid-p").state == EXITED, timeout=1)
    cs = env.latest("uid-p")
    assert (cs.exit_code, cs.reason, cs.started) == (3, "Error", None)
    assert env.woken == ["uid-p"]


async def test_a_missing_image_is_err_image_pull_then_image_pull_back_off(env):
    pod = pod_with({"name": "app", "image": "registry.test/nope:1"})
    env.rt.run_sandbox(pod, "", T0)
    env.rt.start_container(pod, pod["spec"]["containers"][0], attempt=0, init=False, now=T0)
    await eventually(lambda: env.latest("uid-p").reason == "ErrImagePull")
    cs = env.latest("uid-p")
    assert cs.state == CREATED
    assert "podplane image import FILE" in cs.message and "host-image catalog" in cs.message
    await eventually(lambda: env.latest("uid-p").reason == "ImagePullBackOff")
    assert env.latest("uid-p").message == \
        f'Back-off pulling image "registry.test/nope:1": ErrImagePull: {cs.message}'
    path = "spec.containers{app}"
    assert env.events[:5] == [
        ("Normal", "Pulling", 'Pulling image "registry.test/nope:1"', path),
        ("Warning", "Failed", f'Failed to pull image "registry.test/nope:1": {cs.message}', path),
        ("Warning", "Failed", "Error: ErrImagePull", path),
        ("Normal", "BackOff", 'Back-off pulling image "registry.test/nope:1"', path),
        ("Warning", "Failed", "Error: ImagePullBackOff", path),
    ]
    assert env.runc.calls == []
    # adding it to the host-image catalog makes the next retry succeed
    (env.tmp / "data").mkdir(exist_ok=True)
    (env.tmp / "data" / "images.yaml").write_text("images:\n  - name: registry.test/nope\n    cmd: [sh]\n")
    await eventually(lambda: env.latest("uid-p").state == RUNNING, what="the retry")
    assert (env.latest("uid-p").reason, env.latest("uid-p").message) == ("", "")


async def test_pull_policy_never_with_a_missing_image(env):
    pod = pod_with({"name": "app", "image": "nope", "imagePullPolicy": "Never"})
    env.rt.run_sandbox(pod, "", T0)
    env.rt.start_container(pod, pod["spec"]["containers"][0], attempt=0, init=False, now=T0)
    await eventually(lambda: env.latest("uid-p").reason == "ErrImageNeverPull")
    assert env.latest("uid-p").message == 'Container image "nope" is not present with pull policy of Never'
    assert env.events[0][:2] == ("Warning", "ErrImageNeverPull") and "Pulling" not in env.reasons()


@pytest.mark.parametrize("image,policy", [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.27", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent")])
def test_default_pull_policy(image, policy):
    assert default_pull_policy(image) == policy


@pytest.mark.parametrize("op,error,reason,message", [
    pytest.param("create", SpecError("no command specified"), "CreateContainerConfigError",
                 "no command specified", id="spec-error"),
    pytest.param("create", RuncError("runc create failed: boom"), "CreateContainerError",
                 "runc create failed: boom", id="create-error"),
    pytest.param("start", RuncError("runc start failed: exec: no such file"), "RunContainerError",
                 "runc start failed: exec: no such file", id="start-error"),
])
async def test_runtime_failures_are_waiting_reasons_and_retried(env, op, error, reason, message):
    env.runc.failures[op] = error
    pod = pod_with()
    env.rt.run_sandbox(pod, "", T0)
    env.rt.start_container(pod, pod["spec"]["containers"][0], attempt=0, init=False, now=T0)
    await eventually(lambda: env.latest("uid-p").reason == reason)
    assert (env.latest("uid-p").state, env.latest("uid-p").message) == (CREATED, message)
    assert ("Warning", "Failed", f"Error: {message}", "spec.containers{app}") in env.events
    await eventually(lambda: env.latest("uid-p").state == RUNNING, what="the retry")
    if op == "start":
        assert env.runc.verbs()[:3] == ["create", "start", "remove"], "one that did not start is removed"


async def test_an_env_error_is_create_container_config_error(env):
    pod = pod_with({"name": "app", "image": "busybox", "env": [
        {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "x"}}}]})
    env.rt.run_sandbox(pod, "", T0)
    env.rt.start_container(pod, pod["spec"]["containers"][0], attempt=0, init=False, now=T0)
    await eventually(lambda: env.latest("uid-p").reason == "CreateContainerConfigError")
    assert env.latest("uid-p").message == 'configmap "settings" not found'
    env.client.seed(env.client.resource("", "configmaps"),
                    {"metadata": {"name": "settings", "namespace": "default"}, "data": {"x": "42"}})
    await eventually(lambda: env.latest("uid-p").state == RUNNING)
    assert env.runc.requests[env.latest("uid-p").id.removeprefix("runc://")].env == (("X", "42"),)


async def test_two_instances_per_name_are_kept(env):
    pod = await running_pod(env)
    ids = [env.latest("uid-p").id]
    for attempt in (1, 2):
        env.runc.finish(ids[-1].removeprefix("runc://"), 1)
        await eventually(lambda: env.latest("uid-p").state == EXITED)
        env.rt.start_container(pod, pod["spec"]["containers"][0], attempt=attempt, init=False, now=T0)
        await eventually(lambda: env.latest("uid-p").state == RUNNING)
        ids.append(env.latest("uid-p").id)
    status = env.rt.status("uid-p", T0)
    assert [c.id for c in status.containers] == ids[1:] and status.previous()["app"].exit_code == 1
    await eventually(lambda: ("remove", ids[0].removeprefix("runc://")) in env.runc.calls)


# ------------------------------------------------------------------------------------ stopping


async def test_stopping_a_container_that_never_ran_abandons_it(env):
    pod = pod_with({"name": "app", "image": "nope"})
    env.rt.run_sandbox(pod, "", T0)
    env.rt.start_container(pod, pod["spec"]["containers"][0], attempt=0, init=False, now=T0)
    await eventually(lambda: env.latest("uid-p").reason == "ErrImagePull")
    env.rt.stop_container("uid-p", "app", 30, T0)
    assert env.rt.status("uid-p", T0).containers == ()
    await asyncio.sleep(0.1)
    assert env.runc.calls == [] and env.rt.status("uid-p", T0).containers == ()


async def test_stop_runs_pre_stop_then_terminates_within_the_grace_period(env):
    container = {"name": "app", "image": "busybox", "command": ["sleep", "1d"],
                 "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "exit 3"]}}}}
    await running_pod(env, pod_with(container))
    cid = env.latest("uid-p").id.removeprefix("runc://")
    env.runc.exec_handler = lambda cid, argv: (3, b"nope")
    env.rt.stop_container("uid-p", "app", 10, T0)
    await eventually(lambda: env.latest("uid-p").state == EXITED)
    assert env.runc.calls[-2:] == [("exec", cid, ("sh", "-c", "exit 3")), ("stop", cid, 10.0)]
    assert ("Warning", "FailedPreStopHook", "PreStopHook failed", "spec.containers{app}") in env.events
    assert env.latest("uid-p").exit_code == 143


@pytest.mark.parametrize("grace,pre_stop_takes,stop_grace", [
    pytest.param(30, None, 30.0, id="no-preStop"),
    pytest.param(1, None, 2.0, id="no-preStop-1s-gets-the-2s-minimum"),
    pytest.param(0, None, 2.0, id="no-preStop-0s-gets-the-2s-minimum"),
    pytest.param(10, 0.9, 10.0, id="preStop-under-1s-deducts-nothing"),
    pytest.param(10, 3.7, 7.0, id="preStop-deducts-its-whole-seconds"),
    pytest.param(5, 4.0, 2.0, id="preStop-leaves-1s-gets-the-2s-minimum"),
    pytest.param(3, 3.0, 2.0, id="preStop-used-it-all-gets-the-2s-minimum"),
])
async def test_stop_deducts_the_pre_stop_time_and_gives_sigterm_at_least_2s(tmp_path, monotonic, grace,
                                                                           pre_stop_takes, stop_grace):
    e = hooked_env(tmp_path, monotonic, pre_stop_takes or 0.0)
    try:
        container = {"name": "app", "image": "busybox", "command": ["sleep", "1d"]}
        if pre_stop_takes is not None:
            container["lifecycle"] = PRE_STOP
        await running_pod(e, pod_with(container, terminationGracePeriodSeconds=grace))
        cid = e.latest("uid-p").id.removeprefix("runc://")
        before = len(e.runc.calls)
        e.rt.stop_container("uid-p", "app", grace, T0)
        await eventually(lambda: e.latest("uid-p").state == EXITED)
        hook = [] if pre_stop_takes is None else [("preStop", cid, grace)]
        assert e.runc.calls[before:] == [*hook, ("stop", cid, stop_grace)]
    finally:
        await e.close()


async def test_post_start_holds_started_and_a_failure_kills_the_container(env):
    gate = threading.Event()

    def hook(cid, argv):
        gate.wait(5)
        return (1, b"bad config")

    env.runc.exec_handler = hook
    container = {"name": "app", "image": "busybox", "command": ["sleep", "1d"],
                 "lifecycle": {"postStart": {"exec": {"command": ["setup"]}}}}
    pod = pod_with(container)
    env.rt.run_sandbox(pod, "", T0)
    env.rt.start_container(pod, container, attempt=0, init=False, now=T0)
    await eventually(lambda: env.latest("uid-p").state == RUNNING)
    cs = env.latest("uid-p")
    assert (cs.started, cs.ready) == (False, False), "not started until postStart returns"
    gate.set()
    await eventually(lambda: env.latest("uid-p").state == EXITED)
    cs = env.latest("uid-p")
    assert cs.exit_code == 137 or cs.exit_code == 143
    assert 'Exec lifecycle hook ([setup]) for Container "app"' in cs.message and "bad config" in cs.message
    assert [e[1:3] for e in env.events[3:]] == [("FailedPostStartHook", "PostStartHook failed"),
                                                ("Killing", "FailedPostStartHook")]


async def test_readiness_and_liveness_probes(env):
    results = {"ready": 1, "live": 0}
    env.runc.exec_handler = lambda cid, argv: (results[argv[0]], b"")
    container = {"name": "app", "image": "busybox", "command": ["sleep", "1d"],
                 "readinessProbe": {"exec": {"command": ["ready"]}, "periodSeconds": 1},
                 "livenessProbe": {"exec": {"command": ["live"]}, "periodSeconds": 1, "failureThreshold": 1}}
    await running_pod(env, pod_with(container))
    assert (env.latest("uid-p").started, env.latest("uid-p").ready) == (True, False)
    env.woken.clear()
    results["ready"] = 0
    await eventually(lambda: env.latest("uid-p").ready, what="readiness")
    assert "uid-p" in env.woken
    results["live"] = 1
    await eventually(lambda: env.latest("uid-p").state == EXITED, what="the liveness kill")
    assert ("Normal", "Killing", "Container app failed liveness probe, will be restarted",
            "spec.containers{app}") in env.events
    stop = next(c for c in env.runc.calls if c[0] == "stop")
    assert stop[2] == 30.0, "the pod's grace period"


# ------------------------------------------------------------------------------------ removal, adoption


async def test_remove_sandbox_tears_everything_down_and_then_the_logs(env):
    pod = await running_pod(env)
    logs = env.tmp / "logs" / "default_p_uid-p"
    logs.mkdir(parents=True)
    env.rt.remove_sandbox("uid-p")
    assert not env.rt.has_sandbox("uid-p") and env.rt.status("uid-p", T0) is None
    await env.rt.wait_removed("uid-p")
    assert env.runc.list() == [] and ("remove_pod", "uid-p") in env.runc.calls
    assert ("teardown", "uid-p") in env.network.calls and env.network.networks == {}
    assert not (env.tmp / "sandboxes" / "uid-p").exists()
    assert logs.exists(), "kept while the pod exists (kubectl logs of a finished pod)"
    env.rt.remove_sandbox("uid-p")  # the pod left the API
    await eventually(lambda: not logs.exists())
    assert pod["metadata"]["uid"] == "uid-p"


@pytest.mark.parametrize("lifecycle,exited,stopping", [
    pytest.param(PRE_STOP, False, [("preStop", 1.0), ("stop", 2.0)], id="running-with-preStop"),
    pytest.param(None, False, [("stop", 2.0)], id="running-without-preStop"),
    pytest.param(PRE_STOP, True, None, id="exited-already"),
])
async def test_removing_a_pod_that_left_the_api_stops_its_running_containers_first(tmp_path, lifecycle, exited,
                                                                                  stopping):
    e = hooked_env(tmp_path)
    calls = e.network.calls = e.runc.calls  # one timeline: runc, hooks, network and events

    def event(pod, event_type, reason, message, field_path) -> None:
        calls.append(("event", event_type, reason, message, field_path))

    e.rt.event = event
    try:
        container = {"name": "app", "image": "busybox", "command": ["sleep", "1d"]}
        if lifecycle:
            container["lifecycle"] = lifecycle
        await running_pod(e, pod_with(container))
        cid = e.latest("uid-p").id.removeprefix("runc://")
        if exited:
            e.runc.finish(cid, 0)
            await eventually(lambda: e.latest("uid-p").state == EXITED)
        before = len(calls)
        e.rt.remove_sandbox("uid-p")  # a forced deletion: no stop_container before
        await e.rt.wait_removed("uid-p")
        graceful = [] if stopping is None else [
            ("event", "Normal", "Killing", "Stopping container app", "spec.containers{app}"),
            *[(verb, cid, grace) for verb, grace in stopping]]
        assert calls[before:] == [*graceful, ("remove_pod", "uid-p"), ("remove", cid), ("teardown", "uid-p")]
    finally:
        await e.close()


async def test_restore_adopts_running_containers_and_the_network(tmp_path):
    first = Env(tmp_path)
    pod = await running_pod(first)
    cid = first.latest("uid-p").id.removeprefix("runc://")
    await first.rt.close()  # the agent stops; the container keeps running

    second = Env(tmp_path, runc=first.runc, network=first.network)
    try:
        assert not second.rt.restore(pod_with(name="other"), T0)
        await second.rt.load()
        assert second.rt.restore(pod, T0)
        cs = second.latest("uid-p")
        assert (cs.state, cs.id, cs.attempt) == (RUNNING, f"runc://{cid}", 0)
        status = second.rt.status("uid-p", T0)
        assert (status.ip, status.ready) == ("10.244.0.2", True)
        await eventually(lambda: second.rt.netns_path("uid-p") is not None)
        assert first.runc.verbs() == ["create", "start"], "nothing restarted"
        assert second.events == []
        first.runc.finish(cid, 0)
        await eventually(lambda: second.latest("uid-p").state == EXITED, timeout=1,
                         what="the re-registered watcher")
        assert not second.rt.restore(pod_with(name="late"), T0), "answers from what load() found"
    finally:
        await second.close()


async def test_restore_without_load_lists_the_containers(tmp_path):
    e = Env(tmp_path)
    try:
        pod = pod_with()
        cid = e.runc.adopt_running(pod, "app", attempt=2)
        assert e.rt.restore(pod, T0)
        assert e.latest("uid-p").id == f"runc://{cid}" and e.latest("uid-p").attempt == 2
        await eventually(lambda: e.rt.status("uid-p", T0).ip == "10.244.0.2", what="the network set-up")
    finally:
        await e.close()


# ------------------------------------------------------------------------------------ status


def test_pod_status_shows_the_runtimes_waiting_reason_and_sandbox_readiness():
    pod = make_pod("p").obj()
    waiting = ContainerStatus("app", "", "nginx", "", 0, CREATED, T0, 0.0, reason="ErrImagePull",
                              message="image nginx is not available", started=False)
    status = generate_pod_status(pod, SandboxStatus("uid-p", "", T0, (waiting,), ready=False),
                                 host_ip="192.0.2.10", now=T0)
    cs = status["containerStatuses"][0]
    assert cs["state"] == {"waiting": {"reason": "ErrImagePull", "message": "image nginx is not available"}}
    assert "containerID" not in cs
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["PodReadyToStartContainers"] == "False" and "podIP" not in status

    running = ContainerStatus("app", "runc://1", "nginx", "", 0, RUNNING, T0, T0, ready=False, started=False)
    status = generate_pod_status(pod, SandboxStatus("uid-p", "10.244.0.2", T0, (running,)), host_ip="h",
                                 now=T0)
    cs = status["containerStatuses"][0]
    assert (cs["started"], cs["ready"], list(cs["state"])) == (False, False, ["running"])
    assert status["podIP"] == "10.244.0.2"


# ------------------------------------------------------------------------------------ with the pod workers


class Workers:
    """PodWorkers on the runtime with a live queue; the informer follows the FakeClient store."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.client = env.client
        self.info = self.client.resource("", "pods")
        self.informer = InformerFactory(self.client).resource("", "pods")
        self.node = node_handle("n1", recorder=SimpleNamespace(event=env.event))
        self.queue = WorkQueue("pods")
        self.workers = PodWorkers(self.client, self.informer, {"n1": self.node}, env.rt, queue=self.queue)
        self.tasks: list[asyncio.Task] = []

    def refresh(self) -> None:
        items = [o for (g, p, _, _), o in self.client.objects.items() if (g, p) == ("", "pods")]
        self.informer.replace(items, "1")

    async def __aenter__(self) -> Workers:
        async def follow() -> None:
            while True:
                self.refresh()
                await asyncio.sleep(0.01)

        self.tasks = [asyncio.ensure_future(follow()), asyncio.ensure_future(self.workers.run())]
        return self

    async def __aexit__(self, *exc) -> None:
        self.queue.shutdown()
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def status(self, name: str) -> dict:
        obj = self.client.stored(self.info, name, "default")
        return (obj or {}).get("status") or {}


async def test_pod_workers_run_a_pod_on_the_runtime_and_its_address(env):
    async with Workers(env) as w:
        w.client.seed(w.info, pod_with())
        await eventually(lambda: w.status("p").get("phase") == "Running")
        status = w.status("p")
        assert status["podIP"] == "10.244.0.2", "the runtime's address"
        assert len(w.node.ips) == 0, "none allocated by the workers"
        assert status["containerStatuses"][0]["ready"] is True
        assert env.reasons() == ["Pulled", "Created", "Started"], "recorded once, by the runtime"
        cid = status["containerStatuses"][0]["containerID"].removeprefix("runc://")
        env.runc.finish(cid, 2)  # woken by the listener: no requeue timer involved
        await eventually(lambda: w.status("p")["containerStatuses"][0]["restartCount"] == 1)
        last = w.status("p")["containerStatuses"][0]["lastState"]["terminated"]
        assert (last["exitCode"], last["reason"]) == (2, "Error")


async def test_pod_workers_report_image_pull_back_off_and_delete_a_pod_that_never_ran(env):
    async with Workers(env) as w:
        w.client.seed(w.info, pod_with({"name": "app", "image": "nope"}))
        await eventually(lambda: ((w.status("p").get("containerStatuses") or [{}])[0].get("state") or {})
                         .get("waiting", {}).get("reason") == "ImagePullBackOff")
        assert w.status("p")["phase"] == "Pending"
        deleting = copy.deepcopy(w.client.stored(w.info, "p", "default"))
        deleting["metadata"].update(deletionTimestamp="2027-01-15T08:00:30Z", deletionGracePeriodSeconds=30,
                                    resourceVersion="99")
        w.client.objects[w.client._key(w.info, "default", "p")] = deleting  # what a graceful DELETE does
        await eventually(lambda: w.client.stored(w.info, "p", "default") is None, what="the deletion")
        patch = w.client.actions_for("patch", "pods/status")[-1].obj["status"]
        assert patch["containerStatuses"][0]["state"]["terminated"]["reason"] == "ContainerStatusUnknown"
        await env.rt.wait_removed("uid-p")
        assert ("teardown", "uid-p") in env.network.calls
        assert env.runc.verbs() == ["remove_pod"], "nothing was ever created"


@pytest.mark.parametrize("deletion_grace,hook_timeout,stop_grace", [
    pytest.param(0, 1.0, 2.0, id="0s-becomes-1s"),
    pytest.param(5, 5.0, 5.0, id="5s"),
])
async def test_pod_workers_stop_a_deleted_pod_with_at_least_1s_of_grace(tmp_path, deletion_grace, hook_timeout,
                                                                       stop_grace):
    e = hooked_env(tmp_path)
    try:
        async with Workers(e) as w:
            w.client.seed(w.info, pod_with({"name": "app", "image": "busybox", "command": ["sleep", "1d"],
                                            "lifecycle": PRE_STOP}))
            await eventually(lambda: (w.status("p").get("containerStatuses") or [{}])[0].get("ready") is True)
            cid = e.latest("uid-p").id.removeprefix("runc://")
            deleting = copy.deepcopy(w.client.stored(w.info, "p", "default"))
            deleting["metadata"].update(deletionTimestamp="2027-01-15T08:00:30Z",
                                        deletionGracePeriodSeconds=deletion_grace, resourceVersion="99")
            w.client.objects[w.client._key(w.info, "default", "p")] = deleting
            await eventually(lambda: w.client.stored(w.info, "p", "default") is None, what="the deletion")
        assert [c for c in e.runc.calls if c[0] in ("preStop", "stop")] == [
            ("preStop", cid, hook_timeout), ("stop", cid, stop_grace)], "preStop runs: the grace is not 0"
        assert ("Normal", "Killing", "Stopping container app", "spec.containers{app}") in e.events
    finally:
        await e.close()


async def test_pod_workers_adopt_a_pod_without_restarting_it_or_reserving_an_address(tmp_path):
    first = Env(tmp_path)
    async with Workers(first) as w:
        w.client.seed(w.info, pod_with())
        await eventually(lambda: (w.status("p").get("containerStatuses") or [{}])[0].get("ready") is True)
    pod = copy.deepcopy(w.client.stored(w.info, "p", "default"))
    await first.rt.close()

    second = Env(tmp_path, runc=first.runc, network=first.network)
    try:
        w2 = Workers(second)
        w2.client.seed(w2.info, pod)
        w2.refresh()
        await second.rt.load()
        assert w2.workers.adopt_existing() == 1
        assert len(w2.node.ips) == 0, "the runtime owns the address"
        await w2.workers.sync("default/p")
        assert w2.client.verbs() == [], "nothing changed, nothing written"
        assert first.runc.verbs() == ["create", "start"] and second.events == []
    finally:
        await second.close()


class UnstartedSidecar(FakeRuntime):
    """The fake runtime, but the sidecar `side` runs without having started (startup probe pending)."""

    def __init__(self) -> None:
        super().__init__(start_delay=0.05)
        self.pending = True

    def status(self, uid: str, now: float):
        s = super().status(uid, now)
        if s is None or not self.pending:
            return s
        return dataclasses.replace(s, containers=tuple(
            dataclasses.replace(c, started=False) if c.name == "side" and c.state == RUNNING else c
            for c in s.containers))


async def test_the_next_init_container_waits_until_a_sidecar_has_started():
    client, clock, runtime = FakeClient(), Clock(), UnstartedSidecar()
    info = client.resource("", "pods")
    informer = InformerFactory(client).resource("", "pods")
    workers = PodWorkers(client, informer, {"n1": node_handle("n1")}, runtime, clock=clock, queue=RecordingQueue())
    pod = make_pod("p").init("side", sidecar=True).init("setup").obj()
    client.seed(info, pod)

    async def sync() -> None:
        informer.replace([o for (g, p, _, _), o in client.objects.items() if (g, p) == ("", "pods")], "1")
        await workers.sync("default/p")

    await sync()
    clock.advance(0.1)
    await sync()
    assert set(runtime.status("uid-p", clock.now).latest()) == {"side"}, "setup waits for the sidecar"
    side = client.stored(info, "p", "default")["status"]["initContainerStatuses"][0]
    assert (list(side["state"]), side["started"]) == (["running"], False)
    runtime.pending = False
    await sync()
    assert set(runtime.status("uid-p", clock.now).latest()) == {"side", "setup"}
