"""runtime.oci: the OCI spec builder, table-driven and pure (no root, no runc)."""

from __future__ import annotations

import pytest

from podplane.agent.images.spec import ImageSpec
from podplane.agent.runtime import oci
from podplane.agent.runtime.oci import (
    ContainerConfig,
    Mount,
    SandboxConfig,
    SpecError,
    SpecOptions,
    build_spec,
)

PASSWD = b"""root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
app:x:1000:1000::/home/app:/bin/sh
"""
GROUP = b"""root:x:0:
www-data:x:33:
audio:x:29:app,www-data
staff:x:50:app
app:x:1000:
"""


class FakeImage(ImageSpec):
    """An ImageSpec whose files come from a dict instead of layer directories."""

    def read_file(self, path: str, limit: int = 1 << 20) -> bytes | None:
        return self.labels.get(path)


def image(entrypoint=(), cmd=("sh",), env=("PATH=/usr/bin:/bin", "LANG=C.UTF-8"), user="", workdir="",
          files=None) -> ImageSpec:
    return FakeImage(ref="docker.io/library/app:1", image_id="docker.io/library/app@sha256:00", kind="oci",
                     lower_dirs=("/x",), entrypoint=tuple(entrypoint), cmd=tuple(cmd), env=tuple(env),
                     working_dir=workdir, user=user,
                     labels={"/etc/passwd": PASSWD, "/etc/group": GROUP} if files is None else files)


def pod(**spec) -> dict:
    return {"metadata": {"name": "web", "namespace": "default", "uid": "uid-1"},
            "spec": {"containers": [{"name": "c"}], **spec}}


def config(container: dict | None = None, *, img: ImageSpec | None = None, p: dict | None = None,
           sandbox: SandboxConfig | None = None, mounts=(), env=None, termination: str = "") -> ContainerConfig:
    c = {"name": "c", **(container or {})}
    p = p or pod(containers=[c])
    return ContainerConfig(pod=p, container=c, image=img or image(), sandbox=sandbox or SandboxConfig(hostname="web"),
                           rootfs="/data/c1/rootfs", cgroups_path="/podplane/poduid-1/c1", mounts=tuple(mounts),
                           env=env, termination_log_path=termination)


NO_TINI = SpecOptions(tini_path="")


@pytest.mark.parametrize(("container", "img", "argv"), [
    pytest.param({}, image(entrypoint=["/ep"], cmd=["a", "b"]), ["/ep", "a", "b"], id="image-entrypoint-and-cmd"),
    pytest.param({"command": ["x"]}, image(entrypoint=["/ep"], cmd=["a"]), ["x"], id="command-drops-entrypoint-and-cmd"),
    pytest.param({"args": ["y", "z"]}, image(entrypoint=["/ep"], cmd=["a"]), ["/ep", "y", "z"], id="args-replace-cmd"),
    pytest.param({"command": ["x"], "args": ["y"]}, image(entrypoint=["/ep"], cmd=["a"]), ["x", "y"],
                 id="command-and-args"),
    pytest.param({"args": ["y"]}, image(entrypoint=[], cmd=["a"]), ["y"], id="args-without-entrypoint"),
    pytest.param({"command": ["echo", "$(GREETING)", "$$(GREETING)", "$(MISSING)", "$(", "a$"],
                  "env": [{"name": "GREETING", "value": "hi"}]}, image(),
                 ["echo", "hi", "$(GREETING)", "$(MISSING)", "$(", "a$"], id="expansion"),
    pytest.param({}, image(entrypoint=["/ep"], cmd=["$(X)"]), ["/ep", "$(X)"], id="image-cmd-not-expanded"),
])
def test_process_args(container, img, argv):
    spec = build_spec(config(container, img=img), NO_TINI)
    assert spec["process"]["args"] == argv


def test_tini_is_pid_1_and_bind_mounted_read_only():
    spec = build_spec(config({"command": ["sleep", "1"]}), SpecOptions(tini_path="/usr/bin/tini-static"))
    assert spec["process"]["args"] == [oci.TINI_IN_CONTAINER, "--", "sleep", "1"]
    tini = [m for m in spec["mounts"] if m["destination"] == oci.TINI_IN_CONTAINER]
    assert tini == [{"destination": "/.podplane/tini", "type": "bind", "source": "/usr/bin/tini-static",
                     "options": ["rbind", "rprivate", "ro"]}]


def test_no_command_is_a_permanent_error():
    with pytest.raises(SpecError, match="no command specified") as e:
        build_spec(config({}, img=image(entrypoint=(), cmd=())))
    assert not e.value.temporary
    assert e.value.reason == "CreateContainerConfigError"


@pytest.mark.parametrize(("container", "resolved", "img_env", "want"), [
    pytest.param({"env": [{"name": "A", "value": "1"}]}, None, ("LANG=C",),
                 ["PATH=" + oci.DEFAULT_PATH, "HOSTNAME=web", "LANG=C", "A=1"], id="default-path-hostname"),
    pytest.param({"env": [{"name": "PATH", "value": "/opt/bin"}]}, None, ("PATH=/usr/bin",),
                 ["PATH=/opt/bin", "HOSTNAME=web"], id="container-overrides-image"),
    pytest.param({"env": [{"name": "A", "value": "x"}, {"name": "B", "value": "$(A)-$(C)"},
                          {"name": "C", "value": "c"}]}, None, (),
                 ["PATH=" + oci.DEFAULT_PATH, "HOSTNAME=web", "A=x", "B=x-$(C)", "C=c"], id="expands-earlier-only"),
    pytest.param({"env": [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]},
                 (("S", "resolved"),), (), ["PATH=" + oci.DEFAULT_PATH, "HOSTNAME=web", "S=resolved"],
                 id="resolved-env-from-caller"),
])
def test_env(container, resolved, img_env, want):
    spec = build_spec(config(container, img=image(env=img_env), env=resolved), NO_TINI)
    assert spec["process"]["env"] == want


@pytest.mark.parametrize(("pod_sc", "sc", "img_user", "want"), [
    pytest.param({}, {}, "", (0, 0, ()), id="root-by-default"),
    pytest.param({}, {}, "www-data", (33, 33, (29,)), id="image-user-name-with-groups"),
    pytest.param({}, {}, "app:staff", (1000, 50, (29,)), id="image-user-and-group-names"),
    pytest.param({}, {}, "4242", (4242, 0, ()), id="unknown-numeric-uid"),
    pytest.param({}, {}, "1000:7", (1000, 7, (29, 50)), id="numeric-uid-gid"),
    pytest.param({"runAsUser": 1000}, {}, "www-data", (1000, 1000, (29, 50)), id="pod-runAsUser-over-image"),
    pytest.param({"runAsUser": 1000}, {"runAsUser": 33, "runAsGroup": 5}, "", (33, 5, (29,)),
                 id="container-over-pod"),
    pytest.param({"supplementalGroups": [100, 101], "fsGroup": 2000}, {}, "", (0, 0, (100, 101, 2000)),
                 id="supplemental-and-fsgroup"),
])
def test_user(pod_sc, sc, img_user, want):
    c = {"name": "c", "command": ["x"], "securityContext": sc}
    p = pod(containers=[c], securityContext=pod_sc)
    spec = build_spec(config(c, p=p, img=image(user=img_user)), NO_TINI)
    user = spec["process"]["user"]
    assert (user["uid"], user["gid"], tuple(user.get("additionalGids", ()))) == want


@pytest.mark.parametrize(("sc", "img_user", "match"), [
    pytest.param({"runAsNonRoot": True}, "", "will run as root", id="nonroot-vs-root"),
    pytest.param({"runAsNonRoot": True}, "app", "non-numeric user", id="nonroot-vs-name"),
    pytest.param({}, "nobody-here", "unable to find user", id="unknown-user"),
    pytest.param({}, "app:nogroup", "unable to find group", id="unknown-group"),
])
def test_user_errors(sc, img_user, match):
    c = {"name": "c", "command": ["x"], "securityContext": sc}
    with pytest.raises(SpecError, match=match):
        build_spec(config(c, img=image(user=img_user)), NO_TINI)


@pytest.mark.parametrize(("resources", "cpu", "memory"), [
    pytest.param({}, {"shares": 2}, None, id="best-effort"),
    pytest.param({"requests": {"cpu": "250m"}}, {"shares": 256}, None, id="request-only"),
    pytest.param({"requests": {"cpu": "1m"}}, {"shares": 2}, None, id="min-shares"),
    pytest.param({"limits": {"cpu": "500m", "memory": "32Mi"}},
                 {"shares": 512, "quota": 50000, "period": 100000}, 33554432, id="limit-only-request-defaults"),
    pytest.param({"requests": {"cpu": "100m"}, "limits": {"cpu": "2"}},
                 {"shares": 102, "quota": 200000, "period": 100000}, None, id="request-and-limit"),
    pytest.param({"limits": {"cpu": "5m"}}, {"shares": 5, "quota": 1000, "period": 100000}, None, id="min-quota"),
    pytest.param({"requests": {"cpu": "0.5"}, "limits": {"memory": "1G"}}, {"shares": 512}, 10**9,
                 id="decimal-units"),
])
def test_resources(resources, cpu, memory):
    spec = build_spec(config({"command": ["x"], "resources": resources}), NO_TINI)
    res = spec["linux"]["resources"]
    assert res["cpu"] == cpu
    if memory is None:
        assert "memory" not in res
    else:
        assert res["memory"] == {"limit": memory, "swap": memory}


def test_bad_quantity_is_a_spec_error():
    with pytest.raises(SpecError, match="limits.memory"):
        build_spec(config({"command": ["x"], "resources": {"limits": {"memory": "lots"}}}))


GUARANTEED = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}


@pytest.mark.parametrize(("containers", "qos", "adj"), [
    pytest.param([{}], "BestEffort", 1000, id="besteffort"),
    pytest.param([GUARANTEED], "Guaranteed", -997, id="guaranteed"),
    pytest.param([{"limits": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed", -997, id="limits-only-guaranteed"),
    pytest.param([{"requests": {"memory": "4Gi"}}], "Burstable", 750, id="burstable-quarter-of-node"),
    pytest.param([{"requests": {"memory": "16Gi"}}], "Burstable", 2, id="burstable-floor"),
    pytest.param([{"requests": {"cpu": "1"}}], "Burstable", 999, id="burstable-no-memory-request"),
    pytest.param([GUARANTEED, {}], "Burstable", 1000 - 62, id="mixed-containers"),
])
def test_qos_and_oom_score(containers, qos, adj):
    cs = [{"name": f"c{i}", "command": ["x"], "resources": r} for i, r in enumerate(containers)]
    p = pod(containers=cs)
    assert oci.qos_class(p) == qos
    spec = build_spec(config(cs[0], p=p), SpecOptions(tini_path="", node_memory_bytes=16 * 2**30))
    assert spec["process"]["oomScoreAdj"] == adj


def test_status_qos_class_wins():
    p = pod()
    p["status"] = {"qosClass": "Guaranteed"}
    assert oci.qos_class(p) == "Guaranteed"


@pytest.mark.parametrize(("sc", "want"), [
    pytest.param({}, list(oci.DEFAULT_CAPABILITIES), id="default"),
    pytest.param({"capabilities": {"add": ["NET_ADMIN"], "drop": ["KILL", "cap_mknod"]}},
                 [c for c in oci.DEFAULT_CAPABILITIES if c not in ("CAP_KILL", "CAP_MKNOD")] + ["CAP_NET_ADMIN"],
                 id="add-drop"),
    pytest.param({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}, ["CAP_NET_BIND_SERVICE"],
                 id="drop-all-add-one"),
    pytest.param({"capabilities": {"add": ["ALL"]}}, list(oci.ALL_CAPABILITIES), id="add-all"),
    pytest.param({"privileged": True}, list(oci.ALL_CAPABILITIES), id="privileged"),
])
def test_capabilities(sc, want):
    spec = build_spec(config({"command": ["x"], "securityContext": sc}), NO_TINI)
    caps = spec["process"]["capabilities"]
    assert caps["bounding"] == caps["effective"] == caps["permitted"] == want
    assert "inheritable" not in caps and "ambient" not in caps


def test_security_defaults_and_privileged():
    spec = build_spec(config({"command": ["x"]}), NO_TINI)
    assert spec["linux"]["maskedPaths"] == list(oci.MASKED_PATHS)
    assert spec["linux"]["readonlyPaths"] == list(oci.READONLY_PATHS)
    assert spec["process"]["noNewPrivileges"] is False
    assert spec["linux"]["resources"]["devices"] == [{"allow": False, "access": "rwm"}]
    assert spec["root"] == {"path": "/data/c1/rootfs", "readonly": False}
    sysfs = next(m for m in spec["mounts"] if m["destination"] == "/sys")
    assert "ro" in sysfs["options"]

    priv = build_spec(config({"command": ["x"], "securityContext": {
        "privileged": True, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False}}), NO_TINI)
    assert "maskedPaths" not in priv["linux"] and "readonlyPaths" not in priv["linux"]
    assert priv["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert priv["root"]["readonly"] is True
    assert priv["process"]["noNewPrivileges"] is False  # privileged always may escalate

    nnp = build_spec(config({"command": ["x"], "securityContext": {"allowPrivilegeEscalation": False}}), NO_TINI)
    assert nnp["process"]["noNewPrivileges"] is True


@pytest.mark.parametrize(("spec_fields", "sandbox", "want", "hostname"), [
    pytest.param({}, SandboxConfig(hostname="web", netns_path="/var/run/netns/pod1"),
                 [{"type": "mount"}, {"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
                  {"type": "network", "path": "/var/run/netns/pod1"}], "web", id="pod-netns"),
    pytest.param({}, SandboxConfig(hostname="web"),
                 [{"type": "mount"}, {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}],
                 "web", id="isolated-network"),
    pytest.param({"hostNetwork": True, "hostPID": True, "hostIPC": True}, SandboxConfig(hostname="node1"),
                 [{"type": "mount"}], None, id="host-namespaces"),
    pytest.param({"shareProcessNamespace": True},
                 SandboxConfig(hostname="web", pid_ns_path="/proc/42/ns/pid", ipc_ns_path="/proc/42/ns/ipc",
                               uts_ns_path="/proc/42/ns/uts", netns_path="/proc/42/ns/net"),
                 [{"type": "mount"}, {"type": "pid", "path": "/proc/42/ns/pid"},
                  {"type": "ipc", "path": "/proc/42/ns/ipc"}, {"type": "uts", "path": "/proc/42/ns/uts"},
                  {"type": "network", "path": "/proc/42/ns/net"}], "web", id="shared-pid"),
])
def test_namespaces(spec_fields, sandbox, want, hostname):
    c = {"name": "c", "command": ["x"]}
    spec = build_spec(config(c, p=pod(containers=[c], **spec_fields), sandbox=sandbox), NO_TINI)
    assert spec["linux"]["namespaces"] == want
    assert spec.get("hostname") == hostname


def test_mounts():
    sandbox = SandboxConfig(hostname="web", hosts_path="/pods/u/hosts", resolv_conf_path="/pods/u/resolv.conf",
                            hostname_path="/pods/u/hostname")
    mounts = [Mount("/data/sub/deeper", "/vol/b", read_only=True),
              Mount("/data", "/vol/a", propagation="HostToContainer"),
              Mount("/etc/resolv.conf", "/custom/resolv.conf")]
    spec = build_spec(config({"command": ["x"], "terminationMessagePath": "/tmp/msg"}, sandbox=sandbox,
                             mounts=mounts, termination="/c/termination-log"), NO_TINI)
    by_dest = {m["destination"]: m for m in spec["mounts"]}
    order = [m["destination"] for m in spec["mounts"]]
    assert order[:7] == ["/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/dev/shm"]
    assert by_dest["/dev/shm"]["type"] == "tmpfs"
    assert by_dest["/etc/hosts"] == {"destination": "/etc/hosts", "type": "bind", "source": "/pods/u/hosts",
                                     "options": ["rbind", "rprivate", "rw"]}
    assert by_dest["/etc/hostname"]["source"] == "/pods/u/hostname"
    # the user's volume at /etc/resolv.conf replaces the sandbox's
    assert [m["source"] for m in spec["mounts"] if m["destination"] == "/etc/resolv.conf"] == ["/custom/resolv.conf"]
    assert by_dest["/tmp/msg"]["source"] == "/c/termination-log"
    assert by_dest["/data"]["options"] == ["rbind", "rslave", "rw"]
    assert by_dest["/data/sub/deeper"]["options"] == ["rbind", "rprivate", "ro"]
    assert order.index("/data") < order.index("/data/sub/deeper")  # parents first


def test_shared_shm_and_bad_propagation():
    spec = build_spec(config({"command": ["x"]}, sandbox=SandboxConfig(shm_path="/pods/u/shm")), NO_TINI)
    shm = next(m for m in spec["mounts"] if m["destination"] == "/dev/shm")
    assert shm["type"] == "bind" and shm["source"] == "/pods/u/shm"
    with pytest.raises(SpecError, match="mountPropagation"):
        build_spec(config({"command": ["x"]}, mounts=[Mount("/d", "/s", propagation="Sideways")]))
    with pytest.raises(SpecError, match="absolute"):
        build_spec(config({"command": ["x"]}, mounts=[Mount("rel", "/s")]))


@pytest.mark.parametrize(("container", "img_dir", "cwd"), [
    pytest.param({}, "", "/", id="root"),
    pytest.param({}, "/srv", "/srv", id="image"),
    pytest.param({"workingDir": "/work"}, "/srv", "/work", id="container-wins"),
])
def test_cwd(container, img_dir, cwd):
    spec = build_spec(config({"command": ["x"], **container}, img=image(workdir=img_dir)), NO_TINI)
    assert spec["process"]["cwd"] == cwd


def test_misc_fields():
    c = {"name": "c", "command": ["x"], "tty": True}
    p = pod(containers=[c], securityContext={"sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]})
    spec = build_spec(config(c, p=p), SpecOptions(tini_path="", nofile=4096, pids_limit=100, swap_accounting=False,
                                                  annotations={"x": "y"}))
    assert spec["process"]["terminal"] is True
    assert spec["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 4096}]
    assert spec["linux"]["sysctl"] == {"net.core.somaxconn": "1024"}
    assert spec["linux"]["resources"]["pids"] == {"limit": 100}
    assert spec["linux"]["cgroupsPath"] == "/podplane/poduid-1/c1"
    assert spec["annotations"]["io.kubernetes.pod.uid"] == "uid-1"
    assert spec["annotations"]["x"] == "y"
    assert spec["ociVersion"] == oci.OCI_VERSION
    limited = build_spec(config({"command": ["x"], "resources": {"limits": {"memory": "1Mi"}}}),
                         SpecOptions(tini_path="", swap_accounting=False))
    assert limited["linux"]["resources"]["memory"] == {"limit": 1048576}
    assert "rlimits" not in build_spec(config({"command": ["x"]}), NO_TINI)["process"]


def test_expand_table():
    env = {"A": "1", "B": "two"}
    assert oci.expand("$(A)$(B)", env) == "1two"
    assert oci.expand("$$(A)", env) == "$(A)"
    assert oci.expand("$$$(A)", env) == "$1"
    assert oci.expand("$A $", env) == "$A $"
    assert oci.expand("$(A", env) == "$(A"
    assert oci.expand("", env) == ""


def test_host_images_hide_the_agents_paths():
    host = ImageSpec(ref="docker.io/library/busybox:latest", image_id="x", kind="host", lower_dirs=("/",),
                     cmd=("sh",))
    opts = SpecOptions(tini_path="", host_masked_paths=("/var/lib/podplane",))
    spec = build_spec(config({}, img=host), opts)
    assert spec["linux"]["maskedPaths"] == [*oci.MASKED_PATHS, "/var/lib/podplane"]
    priv = build_spec(config({"securityContext": {"privileged": True}}, img=host), opts)
    assert priv["linux"]["maskedPaths"] == ["/var/lib/podplane"]  # hidden even from privileged containers
    oci_image = build_spec(config({"command": ["x"]}), opts)
    assert "/var/lib/podplane" not in oci_image["linux"]["maskedPaths"]
