"""Fixtures for the real-runc runtime tests: a runtime in a temporary data dir with its own cgroup
parent, throwaway network namespaces, and cleanup of mounts, cgroups and namespaces even when a
test fails. Everything is skipped with the reason when the machine cannot run containers."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess

import pytest

from podplane.agent.images import Images
from podplane.agent.runtime.cgroups import Cgroups
from podplane.agent.runtime.oci import SandboxConfig, SpecOptions
from podplane.agent.runtime.runc import ContainerInfo, ContainerRequest, RuncConfig, RuncRuntime

TINI = "/usr/bin/tini-static"


def missing_requirement() -> str:
    if os.geteuid() != 0:
        return "needs root (mounts, cgroups, namespaces)"
    if not shutil.which("runc"):
        return "needs runc (Debian package runc)"
    if not os.path.exists(TINI):
        return "needs tini-static (Debian package tini)"
    try:
        with open("/proc/filesystems") as f:
            if "overlay" not in f.read():
                return "needs overlayfs in the kernel"
    except OSError:
        return "cannot read /proc/filesystems"
    return ""


REASON = missing_requirement()
requires_runc = pytest.mark.skipif(bool(REASON), reason=REASON or "ok")


def check(argv: list[str]) -> None:
    """Run a command and fail loudly on a non-zero exit status (ip, umount, ...)."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")


def _mounts_under(prefix: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(prefix)]


class Harness:
    def __init__(self, data: str, cgroup_parent: str) -> None:
        self.data = data
        self.cgroup_parent = cgroup_parent
        self.config = RuncConfig(root=os.path.join(data, "runc"), log_dir=os.path.join(data, "pods"),
                                 cgroup_parent=cgroup_parent, spec_options=SpecOptions(tini_path=TINI))
        self.rt = RuncRuntime(self.config)
        self.images = Images(data)
        self.pods: list[dict] = []
        os.makedirs(os.path.join(data, "sandbox"), exist_ok=True)
        for name, text in (("hosts", "127.0.0.1 localhost\n"), ("resolv.conf", "nameserver 127.0.0.1\n"),
                           ("hostname", "pod\n")):
            with open(os.path.join(data, "sandbox", name), "w") as f:
                f.write(text)

    def pod(self, name: str = "pod", **spec) -> dict:
        p = {"metadata": {"name": name, "namespace": "it", "uid": secrets.token_hex(8)}, "spec": spec}
        self.pods.append(p)
        return p

    def sandbox(self, netns: str | None = None, hostname: str = "pod") -> SandboxConfig:
        s = os.path.join(self.data, "sandbox")
        return SandboxConfig(hostname=hostname, netns_path=netns, hosts_path=f"{s}/hosts",
                             resolv_conf_path=f"{s}/resolv.conf", hostname_path=f"{s}/hostname")

    def request(self, container: dict, *, pod: dict | None = None, netns: str | None = None,
                image: str | None = None, **kw) -> ContainerRequest:
        container = {"name": "c", "image": image or "busybox", **container}
        if pod is None:
            pod = self.pod(containers=[container])
        else:
            pod["spec"].setdefault("containers", []).append(container)
        return ContainerRequest(pod=pod, container=container, image=self.images.resolve(container["image"]),
                                sandbox=self.sandbox(netns), **kw)

    def run(self, container: dict, **kw) -> ContainerInfo:
        return self.rt.run(self.request(container, **kw))

    def log(self, info: ContainerInfo) -> str:
        from podplane.agent.runtime.logs import read_log

        return b"".join(read_log(info.log_path)).decode()

    def cleanup(self) -> list[str]:
        problems = []
        for info in self.rt.list():
            try:
                self.rt.remove(info.id)
            except Exception as e:  # keep cleaning, report at the end
                problems.append(f"remove {info.name}: {e}")
        for p in self.pods:
            try:
                self.rt.remove_pod(p)
            except Exception as e:
                problems.append(f"remove_pod: {e}")
        for mp in reversed(_mounts_under(self.data)):
            problems.append(f"mount left behind: {mp}")
            subprocess.run(["umount", "-l", mp], capture_output=True)
        cg = Cgroups.detect()
        for tier in ("burstable", "besteffort", ""):
            path = f"{self.cgroup_parent}/{tier}".rstrip("/")
            try:
                cg.remove(path)
            except Exception as e:
                problems.append(f"cgroup {path}: {e}")
        return problems


@pytest.fixture
def harness(tmp_path):
    if REASON:
        pytest.skip(REASON)
    h = Harness(str(tmp_path / "data"), f"/podplane-it-{secrets.token_hex(4)}")
    try:
        yield h
    finally:
        problems = h.cleanup()
    assert not problems, problems


@pytest.fixture
def netns():
    """A throwaway network namespace with only loopback up; deleted afterwards, whatever happens."""
    if REASON:
        pytest.skip(REASON)
    if not shutil.which("ip"):
        pytest.skip("needs ip (Debian package iproute2)")
    name = f"pp-it-{secrets.token_hex(4)}"
    check(["ip", "netns", "add", name])
    try:
        check(["ip", "-n", name, "link", "set", "lo", "up"])
        yield f"/var/run/netns/{name}"
    finally:
        check(["ip", "netns", "delete", name])
