"""`podplane killall`: remove everything a stopped node agent left running (k3s-killall.sh's job).

Pods outlive their agent on purpose (an agent restart re-adopts them); this is the way to
really stop a node. In order: every container under the agent's runc state is killed and
removed (`RuncRuntime.remove`: runc delete, shim, overlay mount, cgroup), the pods'
cgroups under the cgroup parent are removed, the pods' named network namespaces (those
with the agent's prefix) are deleted, the Service proxy's nftables table and routes and
the cluster DNS address's local route are removed, and any mount left below the data directory (tmpfs
emptyDirs, volume binds) is unmounted, deepest first. Every step reports what it could
not do and carries on; the exit status says whether anything was left.
Layout it knows (set by `agent.agent`): <data-dir>/runc or <data-dir>/process (runtime state),
<data-dir>/pods
(logs, kept), <data-dir>/volumes, <data-dir>/network.
"""

from __future__ import annotations

import os
import subprocess

from podplane.agent.network import netns
from podplane.agent.runtime.cgroups import CgroupError, Cgroups

__all__ = ["killall"]


def _mounts_below(root: str) -> list[str]:
    root = os.path.realpath(root).rstrip("/") + "/"
    found = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = line.split()[4].replace("\\040", " ")
                if point.startswith(root):
                    found.append(point)
    except OSError:
        return []
    return sorted(set(found), key=lambda p: p.count("/"), reverse=True)


def _cgroup_children(cgroups: Cgroups, parent: str) -> list[str]:
    """Relative cgroup paths below `parent` in any hierarchy, deepest first."""
    seen: set[str] = set()
    for top in cgroups.directories(parent):
        for dirpath, _dirs, _files in os.walk(top):
            rel = os.path.relpath(dirpath, top)
            if rel != ".":
                seen.add(f"{parent.rstrip('/')}/{rel}")
    return sorted(seen, key=lambda p: p.count("/"), reverse=True)


def _run_quiet(argv: list[str], *, want_output: bool = False):
    """Exit status of a command (or, with `want_output`, whether it printed anything)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "" if want_output else 1
    return done.stdout.strip() if want_output else done.returncode


def killall(data_dir: str, *, cgroup_parent: str = "/podplane", netns_prefix: str = "pp-",
            proxy_table: str = "podplane", cluster_dns: str = "10.43.0.10", report=print) -> bool:
    """Stop and remove what the agent under `data_dir` left; True when nothing was left over."""
    from podplane.agent.runtime.process import ProcessConfig, ProcessRuntime
    from podplane.agent.runtime.runc import RuncConfig, RuncError, RuncRuntime

    clean = True
    cgroups = Cgroups.detect()
    log_dir = os.path.join(data_dir, "pods")
    backends = []
    if os.path.isdir(os.path.join(data_dir, "runc")):
        backends.append(RuncRuntime(RuncConfig(root=os.path.join(data_dir, "runc"), log_dir=log_dir,
                                               cgroup_parent=cgroup_parent), cgroups=cgroups))
    if os.path.isdir(os.path.join(data_dir, "process")):
        backends.append(ProcessRuntime(ProcessConfig(root=os.path.join(data_dir, "process"), log_dir=log_dir,
                                                     cgroup_parent=cgroup_parent), cgroups=cgroups))
    for runtime in backends:
        for info in runtime.list():
            try:
                runtime.kill(info.id, "KILL", all_processes=True)
            except Exception:  # noqa: BLE001 (already gone is fine; remove reports real trouble)
                pass
            try:
                runtime.remove(info.id)
                report(f"removed container {info.namespace}/{info.pod_name}/{info.name} ({info.id[:12]})")
            except (RuncError, OSError) as e:
                clean = False
                report(f"could not remove container {info.id[:12]}: {e}")
    for path in [*_cgroup_children(cgroups, cgroup_parent), cgroup_parent]:
        try:
            cgroups.remove(path)
        except CgroupError as e:
            clean = False
            report(f"could not remove cgroup {path}: {e}")
    for name in netns.list_names(netns_prefix):
        done = subprocess.run(["ip", "netns", "delete", name], capture_output=True, text=True)
        if done.returncode != 0:
            clean = False
            report(f"could not delete network namespace {name}: {done.stderr.strip()}")
        else:
            report(f"deleted network namespace {name}")
    # the node's Service plumbing (podplane.proxy): its nftables table, its ClusterIP routes
    # (protocol 158) and the local route of the cluster DNS address
    if _run_quiet(["nft", "list", "table", "ip", proxy_table]) == 0:
        if _run_quiet(["nft", "delete", "table", "ip", proxy_table]) != 0:
            clean = False
            report(f"could not delete the nftables table ip {proxy_table}")
        else:
            report(f"deleted the nftables table ip {proxy_table}")
    if _run_quiet(["ip", "-4", "route", "flush", "proto", "158"]) != 0:
        clean = False
        report("could not remove the service proxy's routes (proto 158)")
    if cluster_dns and _run_quiet(["ip", "-4", "route", "show", "table", "local", f"{cluster_dns}/32"],
                                  want_output=True):
        if _run_quiet(["ip", "-4", "route", "del", "local", f"{cluster_dns}/32", "dev", "lo", "table", "local"]):
            clean = False
            report(f"could not remove the local route of the cluster DNS address {cluster_dns}")
    for point in _mounts_below(data_dir):
        done = subprocess.run(["umount", "-l", point], capture_output=True, text=True)
        if done.returncode != 0:
            clean = False
            report(f"could not unmount {point}: {done.stderr.strip()}")
    return clean
