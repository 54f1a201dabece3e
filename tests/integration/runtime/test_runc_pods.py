"""Real pods: PodWorkers + RuncPodRuntime on runc, CNI and host images, driven like a node agent.

Every scenario runs in a child process (this file run as a script) inside a network namespace
the test creates, `nsenter --net=/var/run/netns/ppr-host-<id>`, so the CNI bridge, the pod
namespaces, routes, sysctls and iptables rules never touch the real host; the child refuses to
run in the test's own namespace. The child drives the pod workers with a FakeClient-backed
informer (the store mirrored into the cache every 10 ms), asserts, and prints one JSON line.
Each child is a new agent process over the same data directory, which is what the adoption
test needs. Cleanup (containers, cgroups, mounts, namespaces) runs in the test process even
when a scenario fails, and the real host's network state is compared before and after.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import traceback

import pytest

POD_CIDR = "10.244.88.0/24"
SERVICE_CIDR = "10.43.0.0/16"
HOST_IP = "10.244.88.1"
TINI = "/usr/bin/tini-static"
CNI_DIR = "/usr/lib/cni"
RUNNER = os.path.abspath(__file__)


# --------------------------------------------------------------------------------- the child (agent)


class Agent:
    """One agent process: the runtime, the pod workers and a FakeClient holding the pods."""

    def __init__(self, req: dict) -> None:
        from decimal import Decimal

        from podplane.agent.addresses import PodIPAllocator
        from podplane.agent.images import Images
        from podplane.agent.network import PodNetwork
        from podplane.agent.pods import NodeHandle, PodWorkers
        from podplane.agent.runtime.oci import SpecOptions
        from podplane.agent.runtime.runc import RuncConfig, RuncRuntime
        from podplane.agent.runtime.runc_pods import RuncPodRuntime
        from podplane.client.fake import FakeClient
        from podplane.client.informer import InformerFactory

        data = req["data_dir"]
        self.data = data
        self.events: list[tuple[str, str, str, str, str]] = []
        self.client = FakeClient()
        self.info = self.client.resource("", "pods")
        self.informer = InformerFactory(self.client).resource("", "pods")
        self.runc = RuncRuntime(RuncConfig(
            root=os.path.join(data, "runc"), log_dir=os.path.join(data, "pods"),
            cgroup_parent=req["cgroup_parent"], hidden_paths=(data,),
            spec_options=SpecOptions(tini_path=TINI)))
        self.network = PodNetwork(data, pod_cidr=POD_CIDR, netns_prefix=req["prefix"])
        self.runtime = RuncPodRuntime(self.runc, self.network, Images(data),
                                      sandbox_dir=os.path.join(data, "sbx"), client=self.client,
                                      event=self.event, host_ip=HOST_IP,
                                      cluster_dns=["10.43.0.10"], volumes_dir=os.path.join(data, "volumes"),
                                      retry_backoff=0.3, max_retry_backoff=1.0, poll_interval=2.0)
        self.node = NodeHandle("n1", HOST_IP, PodIPAllocator("10.244.99.0/24"),
                               {"pods": Decimal(110), "cpu": Decimal(2), "memory": Decimal(4 << 30)}, self)
        self.workers = PodWorkers(self.client, self.informer, {"n1": self.node}, self.runtime,
                                  backoff_base=lambda pod: 0.3)
        self._rv = 10**6
        self._tasks: list[asyncio.Task] = []

    def event(self, obj: dict, event_type: str, reason: str, message: str, field_path: str = "") -> None:
        self.events.append((obj["metadata"]["name"], event_type, reason, message, field_path))

    def reasons(self, pod: str) -> list[str]:
        return [e[2] for e in self.events if e[0] == pod]

    async def start(self, adopt: bool = False) -> None:
        await self.network.prepare_host(SERVICE_CIDR, POD_CIDR)
        self.refresh()
        if adopt:
            await self.runtime.load()
            self.workers.adopt_existing()

        async def follow() -> None:
            while True:
                self.refresh()
                await asyncio.sleep(0.01)

        self._tasks = [asyncio.ensure_future(follow()), asyncio.ensure_future(self.workers.run())]

    async def stop(self) -> None:
        self.workers.queue.shutdown()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.runtime.close()

    def refresh(self) -> None:
        items = [o for (g, p, _, _), o in self.client.objects.items() if (g, p) == ("", "pods")]
        self.informer.replace(items, "1")

    def add(self, pod: dict) -> dict:
        pod = {"apiVersion": "v1", "kind": "Pod", **pod}
        pod["metadata"] = {"namespace": "it", "uid": secrets.token_hex(8), "generation": 1, **pod["metadata"]}
        pod["spec"] = {"nodeName": "n1", "restartPolicy": "Always", "terminationGracePeriodSeconds": 5,
                       **pod["spec"]}
        pod.setdefault("status", {"phase": "Pending"})
        return self.client.seed(self.info, pod)

    def get(self, name: str) -> dict | None:
        return self.client.stored(self.info, name, "it")

    def status(self, name: str) -> dict:
        return (self.get(name) or {}).get("status") or {}

    def container(self, pod: str, name: str) -> dict:
        status = self.status(pod)
        for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
            if cs["name"] == name:
                return cs
        return {}

    def state(self, pod: str, name: str) -> tuple[str, dict]:
        state = self.container(pod, name).get("state") or {}
        return next(iter(state.items()), ("", {}))

    def reason(self, pod: str, name: str) -> str:
        return self.state(pod, name)[1].get("reason", "")

    def delete(self, name: str, grace: int = 2) -> None:
        """What a graceful DELETE does to the stored pod (a new object: the cache holds the old one)."""
        import copy

        obj = copy.deepcopy(self.get(name))
        self._rv += 1
        obj["metadata"].update(deletionTimestamp="2030-01-01T00:00:00Z", deletionGracePeriodSeconds=grace,
                               resourceVersion=str(self._rv))
        self.client.objects[self.client._key(self.info, "it", name)] = obj

    async def wait_gone(self, *names: str) -> None:
        uids = [self.get(n)["metadata"]["uid"] for n in names]
        for n in names:
            self.delete(n)
        try:
            await eventually(lambda: all(self.get(n) is None for n in names), 30, "deletion")
        except AssertionError as e:
            left = {n: (self.status(n), self.reasons(n)) for n in names if self.get(n) is not None}
            raise AssertionError(f"{e}: {json.dumps(left, indent=1)}") from None
        for uid in uids:
            await self.runtime.wait_removed(uid)
            assert not self.runtime.has_sandbox(uid)
            assert self.runc.list(uid) == [], "containers removed"
            assert not os.path.exists(f"/var/run/netns/{self.network.netns_prefix}{uid}"), \
                "netns removed"  # noqa: ASYNC240

    def log(self, pod: str, name: str) -> str:
        from podplane.agent.runtime.logs import read_log

        uid = self.get(pod)["metadata"]["uid"]
        info = self.runtime.container_info(uid, name)
        return b"".join(read_log(info.log_path)).decode() if info else ""


async def eventually(predicate, seconds: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.02)


# --- scenarios (each runs in a child; returns something JSON-able) ------------------------------------

HTTP_CLIENT = """
import socket, sys, time, urllib.request
for _ in range(200):
    try:
        body = urllib.request.urlopen("http://127.0.0.1:8080/", timeout=1).read()
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit(7)
hosts = open("/etc/hosts").read()
print("status-ok" if b"Directory listing" in body else "bad-body", socket.gethostname())
print(hosts)
"""


async def scenario_localhost(agent: Agent, req: dict) -> dict:
    """Two containers share the pod's network: a client reaches the server over localhost; the
    agent (in the node's namespace) reaches the server at the pod IP; readiness comes from an
    httpGet probe against the pod IP."""
    agent.add({"metadata": {"name": "web"}, "spec": {"restartPolicy": "Never", "hostname": "web-0",
                                                     "containers": [
        {"name": "server", "image": "python", "command": ["python3", "-m", "http.server", "8080"],
         "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}},
        {"name": "client", "image": "python", "command": ["python3", "-c", HTTP_CLIENT]}]}})
    await eventually(lambda: agent.state("web", "client")[0] == "terminated", 30, "the client to finish")
    term = agent.state("web", "client")[1]
    assert (term["exitCode"], term["reason"]) == (0, "Completed"), term
    status = agent.status("web")
    ip = status["podIP"]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(POD_CIDR) and ip != HOST_IP, ip
    out = agent.log("web", "client")
    assert out.startswith("status-ok web-0\n"), out
    assert f"{ip}\tweb-0" in out, out
    await eventually(lambda: agent.container("web", "server").get("ready") is True, 20, "server readiness")
    status = agent.status("web")
    assert status["phase"] == "Running"
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Ready"] == "False" and conditions["PodReadyToStartContainers"] == "True", conditions
    import urllib.request

    body = await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://{ip}:8080/", timeout=5).read())
    assert b"Directory listing" in body
    for name in ("server", "client"):  # the two start side by side; each in this order
        mine = [e[2] for e in agent.events if e[4] == f"spec.containers{{{name}}}"]
        assert mine[:3] == ["Pulled", "Created", "Started"], mine
    uid = agent.get("web")["metadata"]["uid"]
    result = await agent.runtime.exec_sync(uid, "server", ["cat", "/etc/hostname"], timeout=10)
    assert (result.exit_code, result.stdout) == (0, b"web-0\n"), result
    await agent.wait_gone("web")
    return {"ip": ip}


async def scenario_lifecycle(agent: Agent, req: dict) -> dict:
    """Init containers in order (sharing an emptyDir), restart policies and exit codes."""
    vol = [{"name": "work", "emptyDir": {}}]
    mount = [{"name": "work", "mountPath": "/work"}]
    agent.add({"metadata": {"name": "ordered"}, "spec": {"restartPolicy": "Never", "volumes": vol,
               "initContainers": [
                   {"name": "one", "image": "busybox", "volumeMounts": mount,
                    "command": ["sh", "-c", "sleep 0.3; echo one >> /work/order"]},
                   {"name": "two", "image": "busybox", "volumeMounts": mount,
                    "command": ["sh", "-c", "echo two >> /work/order"]}],
               "containers": [{"name": "main", "image": "busybox", "volumeMounts": mount,
                               "command": ["sh", "-c", "cat /work/order; exit 3"]}]}})
    agent.add({"metadata": {"name": "crashing"}, "spec": {"restartPolicy": "OnFailure", "containers": [
        {"name": "app", "image": "busybox", "command": ["sh", "-c", "echo crash; exit 1"]}]}})
    agent.add({"metadata": {"name": "always"}, "spec": {"restartPolicy": "Always", "containers": [
        {"name": "app", "image": "busybox", "command": ["true"]}]}})
    agent.add({"metadata": {"name": "job"}, "spec": {"restartPolicy": "OnFailure", "containers": [
        {"name": "app", "image": "busybox", "command": ["sh", "-c", "exit 0"]}]}})

    await eventually(lambda: agent.status("ordered").get("phase") == "Failed", 30, "ordered to fail")
    main = agent.state("ordered", "main")[1]
    assert (main["exitCode"], main["reason"]) == (3, "Error"), main
    for name in ("one", "two"):
        term = agent.state("ordered", name)[1]
        assert (term["exitCode"], term["reason"]) == (0, "Completed"), term
    log_dir = os.path.join(agent.data, "pods")  # the sandbox is gone once Failed; its logs stay
    (main_log,) = [os.path.join(r, f) for r, _, fs in os.walk(log_dir) for f in fs if "_ordered_" in r
                   and r.endswith("/main")]
    from podplane.agent.runtime.logs import read_log

    assert b"".join(read_log(main_log)) == b"one\ntwo\n", "init containers ran in order, before main"
    assert agent.reasons("ordered")[:9] == ["Pulled", "Created", "Started"] * 3

    await eventually(lambda: agent.container("crashing", "app").get("restartCount", 0) >= 2, 30, "restarts")
    await eventually(lambda: agent.reason("crashing", "app") == "CrashLoopBackOff", 30, "back-off")
    last = agent.container("crashing", "app")["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (1, "Error"), last
    assert "BackOff" in agent.reasons("crashing")

    await eventually(lambda: agent.container("always", "app").get("restartCount", 0) >= 1, 30, "a restart")
    last = agent.container("always", "app")["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (0, "Completed"), last

    await eventually(lambda: agent.status("job").get("phase") == "Succeeded", 30, "job success")
    assert agent.container("job", "app")["restartCount"] == 0
    await agent.wait_gone("ordered", "crashing", "always", "job")
    return {}


async def scenario_images(agent: Agent, req: dict) -> dict:
    """A missing image: ErrImagePull, then ImagePullBackOff saying how to make it available; with
    imagePullPolicy Never: ErrImageNeverPull. Deleting such pods cleans up all the same."""
    agent.add({"metadata": {"name": "missing"}, "spec": {"containers": [
        {"name": "app", "image": "nope:1.0"}]}})
    agent.add({"metadata": {"name": "never"}, "spec": {"containers": [
        {"name": "app", "image": "nope:2.0", "imagePullPolicy": "Never"}]}})
    await eventually(lambda: agent.reason("missing", "app") == "ErrImagePull", 20, "a failure")
    message = agent.state("missing", "app")[1]["message"]
    assert "podplane image import FILE" in message and "host-image catalog" in message, message
    await eventually(lambda: agent.reason("missing", "app") == "ImagePullBackOff", 20, "back-off")
    back_off = agent.state("missing", "app")[1]["message"]
    assert back_off == f'Back-off pulling image "nope:1.0": ErrImagePull: {message}', back_off
    assert agent.status("missing")["phase"] == "Pending"
    assert agent.status("missing")["podIP"], "the sandbox is there, only the image is missing"
    await eventually(lambda: agent.reason("never", "app") == "ErrImageNeverPull", 20, "never")
    assert agent.state("never", "app")[1]["message"] == \
        'Container image "nope:2.0" is not present with pull policy of Never'
    assert {"Pulling", "Failed", "BackOff"} <= set(agent.reasons("missing")), agent.reasons("missing")
    await agent.wait_gone("missing", "never")
    return {}


async def scenario_oom(agent: Agent, req: dict) -> dict:
    agent.add({"metadata": {"name": "hungry"}, "spec": {"restartPolicy": "Never", "containers": [
        {"name": "app", "image": "python", "command": ["python3", "-c", "b = bytearray(256 * 1024 * 1024)"],
         "resources": {"limits": {"memory": "32Mi"}}}]}})
    await eventually(lambda: agent.status("hungry").get("phase") == "Failed", 30, "the OOM kill")
    term = agent.state("hungry", "app")[1]
    assert (term["exitCode"], term["reason"]) == (137, "OOMKilled"), term
    await agent.wait_gone("hungry")
    return {}


async def scenario_hooks_and_probes(agent: Agent, req: dict) -> dict:
    """postStart before readiness, preStop before the stop, a failed postStart and a failed liveness
    probe restart the container; a hostNetwork pod gets the node's address and name."""
    sleeper = {"image": "busybox", "command": ["sleep", "1000"]}
    out = os.path.join(agent.data, "out")
    agent.add({"metadata": {"name": "hooks"}, "spec": {
        "volumes": [{"name": "out", "hostPath": {"path": out, "type": "DirectoryOrCreate"}}],
        "containers": [{
            "name": "app", "image": "busybox", "volumeMounts": [{"name": "out", "mountPath": "/out"}],
            "command": ["sh", "-c",
                        'trap "date +%s.%N > /out/term; exit 0" TERM; while :; do sleep 0.05; done'],
            "lifecycle": {
                "postStart": {"exec": {"command": ["sh", "-c", "sleep 0.3; echo up > /tmp/started"]}},
                "preStop": {"exec": {"command": ["sh", "-c", "date +%s.%N > /out/prestop"]}}},
            "readinessProbe": {"exec": {"command": ["cat", "/tmp/started"]}, "periodSeconds": 1}}]}})
    agent.add({"metadata": {"name": "badhook"}, "spec": {"containers": [{
        "name": "app", **sleeper, "lifecycle": {"postStart": {"exec": {"command": ["false"]}}}}]}})
    agent.add({"metadata": {"name": "liveness"}, "spec": {"containers": [{
        "name": "app", **sleeper,
        "livenessProbe": {"exec": {"command": ["test", "-e", "/tmp/alive"]}, "periodSeconds": 1,
                          "failureThreshold": 1}}]}})
    agent.add({"metadata": {"name": "hostnet"}, "spec": {"hostNetwork": True, "containers": [{
        "name": "app", "image": "busybox",
        "command": ["sh", "-c", "hostname; cat /etc/hostname; sleep 1000"]}]}})

    await eventually(lambda: agent.state("hooks", "app")[0] == "running", 20, "hooks running")
    assert agent.container("hooks", "app")["ready"] is False
    await eventually(lambda: agent.container("hooks", "app").get("ready") is True, 20, "readiness")
    assert "Unhealthy" not in agent.reasons("hooks"), "readiness was not probed before postStart returned"

    await eventually(lambda: agent.container("badhook", "app").get("restartCount", 0) >= 1, 20, "a restart")
    assert ("Warning", "FailedPostStartHook", "PostStartHook failed") in [e[1:4] for e in agent.events
                                                                          if e[0] == "badhook"]
    assert ("Normal", "Killing", "FailedPostStartHook") in [e[1:4] for e in agent.events if e[0] == "badhook"]

    await eventually(lambda: agent.container("liveness", "app").get("restartCount", 0) >= 1, 20, "the kill")
    killing = [e[3] for e in agent.events if e[0] == "liveness" and e[2] == "Killing"]
    assert killing[0] == "Container app failed liveness probe, will be restarted", killing
    assert "Unhealthy" in agent.reasons("liveness")

    await eventually(lambda: agent.state("hostnet", "app")[0] == "running", 20, "hostnet running")
    assert agent.status("hostnet")["podIP"] == HOST_IP
    import socket

    await eventually(lambda: agent.log("hostnet", "app") == f"{socket.gethostname()}\n" * 2, 10, "the log")

    await agent.wait_gone("hooks", "badhook", "liveness", "hostnet")
    with open(os.path.join(out, "prestop")) as f, open(os.path.join(out, "term")) as g:  # noqa: ASYNC230
        prestop, term = float(f.read()), float(g.read())
    assert prestop <= term, "preStop ran before SIGTERM"
    return {}


async def scenario_restore_start(agent: Agent, req: dict) -> dict:
    agent.add({"metadata": {"name": "keep"}, "spec": {"containers": [
        {"name": "app", "image": "busybox", "command": ["sleep", "1000"]}]}})
    await eventually(lambda: agent.container("keep", "app").get("ready") is True, 20, "running")
    return {"pod": agent.get("keep")}


async def scenario_restore_adopt(agent: Agent, req: dict) -> dict:
    pod = req["pod"]
    before = pod["status"]["containerStatuses"][0]
    agent.client.seed(agent.info, pod)
    await agent.start(adopt=True)
    uid = pod["metadata"]["uid"]
    assert agent.runtime.has_sandbox(uid), "adopted"
    await asyncio.sleep(0.5)  # a few syncs: nothing may restart
    cs = agent.container("keep", "app")
    assert (cs["containerID"], cs["restartCount"], cs["ready"]) == (before["containerID"], 0, True), cs
    assert cs["state"] == before["state"], cs
    assert agent.status("keep")["podIP"] == pod["status"]["podIP"]
    assert agent.runtime.pod_ip(uid) == pod["status"]["podIP"]
    assert agent.events == [], agent.events
    # the exit watcher is back: a container killed behind the agent's back is noticed and restarted
    cid = before["containerID"].removeprefix("runc://")
    await asyncio.to_thread(agent.runc.kill, cid, 9)
    await eventually(lambda: agent.container("keep", "app").get("restartCount") == 1, 15, "the restart")
    last = agent.container("keep", "app")["lastState"]["terminated"]
    assert (last["exitCode"], last["containerID"]) == (137, before["containerID"]), last
    await agent.wait_gone("keep")
    return {}


SCENARIOS = {name.removeprefix("scenario_"): fn for name, fn in globals().items()
             if name.startswith("scenario_")}


async def child(req: dict) -> dict:
    agent = Agent(req)
    if req["scenario"] != "restore_adopt":
        await agent.start()
    try:
        return await SCENARIOS[req["scenario"]](agent, req)
    finally:
        await agent.stop()


def child_main() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    req = json.loads(sys.argv[1])
    mine = os.readlink("/proc/self/ns/net")
    if mine == req["forbidden_netns"]:
        print(json.dumps({"error": f"refusing to run in the test's own network namespace {mine}"}))
        sys.exit(3)
    try:
        result = asyncio.run(child(req))
    except BaseException:
        print(json.dumps({"error": traceback.format_exc()}))
        sys.exit(1)
    print(json.dumps({"ok": result}))


# --------------------------------------------------------------------------------- the test side


def _missing() -> str:
    if os.geteuid() != 0:
        return "needs root: runc, mounts, cgroups, network namespaces"
    for tool, package in (("runc", "runc"), ("ip", "iproute2"), ("nsenter", "util-linux"),
                          ("iptables", "iptables")):
        if shutil.which(tool) is None:
            return f"{tool} not found: install the Debian package {package}"
    if not os.path.exists(TINI):
        return "needs tini-static (Debian package tini)"
    missing = [p for p in ("bridge", "host-local", "loopback", "portmap")
               if not os.access(f"{CNI_DIR}/{p}", os.X_OK)]
    if missing:
        return f"CNI plugins {missing} missing: install the Debian package containernetworking-plugins"
    return ""


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done


def _root_network_state() -> dict:
    return {"ip_forward": open("/proc/sys/net/ipv4/ip_forward").read().strip(),
            "bridge": _run("ip", "-o", "link", "show", "podplane0", check=False).returncode,
            # routes of the end-to-end clusters' veths (tests/e2e/realnode.py, "ppe...") come and go
            # with other tests: they are not this lab's doing
            "routes": "".join(line + "\n" for line in _run("ip", "route", "show").stdout.splitlines()
                              if " dev ppe" not in line)}


class Lab:
    def __init__(self, data: str) -> None:
        self.id = secrets.token_hex(3)
        self.host = f"ppr-host-{self.id}"
        self.prefix = f"ppr-{self.id}-"
        self.data = data
        self.cgroup_parent = f"/podplane-it-{self.id}"
        self.forbidden = os.readlink("/proc/self/ns/net")

    def create(self) -> None:
        done = _run("ip", "netns", "add", self.host, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot create network namespaces here: {done.stderr.strip()}")
        _run("ip", "-n", self.host, "link", "set", "lo", "up")

    def run(self, scenario: str, **args) -> dict:
        req = {"scenario": scenario, "data_dir": self.data, "prefix": self.prefix,
               "cgroup_parent": self.cgroup_parent, "forbidden_netns": self.forbidden, **args}
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        done = subprocess.run(["nsenter", f"--net=/var/run/netns/{self.host}", "--", sys.executable, RUNNER,
                               json.dumps(req)], capture_output=True, text=True, timeout=120, env=env)
        try:
            out = json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AssertionError(f"scenario {scenario} exited {done.returncode}: {done.stderr[-3000:]}"
                                 ) from None
        if "ok" not in out:
            raise AssertionError(f"scenario {scenario} failed:\n{out['error']}\n{done.stderr[-3000:]}")
        return out["ok"]

    def destroy(self) -> list[str]:
        from podplane.agent.runtime.cgroups import Cgroups
        from podplane.agent.runtime.runc import RuncConfig, RuncRuntime

        problems = []
        config = RuncConfig(root=os.path.join(self.data, "runc"), log_dir=os.path.join(self.data, "pods"),
                            cgroup_parent=self.cgroup_parent)
        rt = RuncRuntime(config)
        for info in rt.list():
            problems.append(f"container left behind: {info.pod_name}/{info.name}")
            try:
                rt.remove(info.id)
            except Exception as e:
                problems.append(f"remove {info.name}: {e}")
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f if line.split()[4].startswith(self.data)]
        for mp in sorted(mounts, key=len, reverse=True):
            problems.append(f"mount left behind: {mp}")
            subprocess.run(["umount", "-l", mp], capture_output=True)
        cg = Cgroups.detect()
        for tier in ("burstable", "besteffort", ""):
            path = f"{self.cgroup_parent}/{tier}".rstrip("/")
            left = {sub for d in cg.directories(path) if os.path.isdir(d) for sub in os.listdir(d)
                    if sub.startswith("pod")}
            problems += [f"pod cgroup left behind: {path}/{sub}" for sub in sorted(left)]
            try:
                cg.remove(path)
            except Exception as e:
                problems.append(f"cgroup {path}: {e}")
        names = [line.split()[0] for line in _run("ip", "netns", "list").stdout.splitlines() if line.strip()]
        for ns in [n for n in names if n.startswith(self.prefix)]:
            problems.append(f"pod namespace left behind: {ns}")
            if _run("ip", "netns", "delete", ns, check=False).returncode != 0:
                problems.append(f"cannot delete {ns}")
        if self.host in names and _run("ip", "netns", "delete", self.host, check=False).returncode != 0:
            problems.append(f"cannot delete {self.host}")
        return problems


@pytest.fixture
def lab(tmp_path):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    before = _root_network_state()
    lab = Lab(str(tmp_path / "data"))
    try:
        lab.create()
        yield lab
    finally:
        problems = lab.destroy()
        assert not problems, problems
        assert _root_network_state() == before, "the real host's network state changed"


pytestmark = pytest.mark.integration


def test_two_containers_talk_over_localhost_and_the_pod_ip_works(lab):
    lab.run("localhost")


def test_init_containers_in_order_restart_policies_and_exit_codes(lab):
    lab.run("lifecycle")


def test_missing_images(lab):
    lab.run("images")


def test_memory_limit_oom_killed(lab):
    lab.run("oom")


def test_hooks_probes_and_host_network(lab):
    lab.run("hooks_and_probes")


def test_an_agent_restart_adopts_a_running_pod_without_restarting_it(lab):
    first = lab.run("restore_start")
    lab.run("restore_adopt", pod=first["pod"])


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        child_main()
