"""Pod volumes (agent.volumes): every kind set up in a tmp dir from FakeClient objects.

Each test builds a pod with volumes, runs `VolumeManager.setup`, and asserts the files on
disk (contents, modes, the AtomicWriter symlink layout), the kubelet's error messages, the
mounts handed to the runtime, and that teardown removes pod state but never hostPath or
persistent data. Time is an injected clock. tmpfs and ownership tests need root.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import socket
import stat
from decimal import Decimal

import pytest

from podplane.agent.runtime.oci import Mount
from podplane.agent.volumes import (
    DATA_DIR,
    FileProjection,
    VolumeError,
    VolumeManager,
    _mountinfo,
    _unmount,
    atomic_write,
)
from podplane.client.fake import FakeClient

from .builders import T0, Clock

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="mounting tmpfs and chown to another group need root")
GI = Decimal(2**30)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class TokenClient(FakeClient):
    """FakeClient that answers TokenRequests like the apiserver (expiry from the clock)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.issued = 0

    async def create_subresource(self, info, name, subresource, body, namespace=None):
        if subresource != "token":
            return await super().create_subresource(info, name, subresource, body, namespace)
        self._record("create", info, namespace, name, body, subresource=subresource)
        self._get(info, namespace, name)
        self.issued += 1
        seconds = body["spec"]["expirationSeconds"]
        exp = dt.datetime.fromtimestamp(self.clock() + seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "spec": {**body["spec"], "expirationSeconds": seconds},
                "status": {"token": f"token-{self.issued}", "expirationTimestamp": exp}}


def make_pod(*volumes: dict, mounts=(), uid: str = "uid-1", fs_group: int | None = None, **container) -> dict:
    spec: dict = {"nodeName": "n1", "serviceAccountName": "default", "volumes": list(volumes),
                  "containers": [{"name": "app", "image": "busybox", "volumeMounts": list(mounts), **container}]}
    if fs_group is not None:
        spec["securityContext"] = {"fsGroup": fs_group}
    return {"metadata": {"name": "web", "namespace": "default", "uid": uid, "labels": {"app": "web"},
                         "annotations": {"a": "1"}},
            "spec": spec}


def cm_vol(name: str = "cfg", **source) -> dict:
    return {"name": name, "configMap": {"name": source.pop("cm", name), **source}}


class Env:
    def __init__(self, tmp_path) -> None:
        self.tmp = tmp_path
        self.clock = Clock()
        self.client = TokenClient(self.clock)
        self.pods_dir = str(tmp_path / "pods")
        self.manager = VolumeManager(self.client, self.pods_dir, clock=self.clock,
                                     node_allocatable={"cpu": Decimal(4), "memory": 8 * GI}, memory_backed=False)
        self.client.seed(self.client.resource("", "serviceaccounts"),
                         {"metadata": {"name": "default", "namespace": "default"}})

    def seed(self, plural: str, obj: dict) -> dict:
        obj.setdefault("metadata", {}).setdefault("namespace", "default")
        return self.client.seed(self.client.resource("", plural), obj)

    def config_map(self, name: str = "cfg", data: dict | None = None, binary: dict | None = None) -> None:
        obj: dict = {"metadata": {"name": name}, "data": data if data is not None else {"a.conf": "A", "b": "B"}}
        if binary:
            obj["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary.items()}
        info = self.client.resource("", "configmaps")
        if self.client.stored(info, name, "default"):
            del self.client.objects[("", "configmaps", "default", name)]
        self.seed("configmaps", obj)

    def vol_dir(self, plugin: str, name: str, uid: str = "uid-1") -> str:
        return os.path.join(self.pods_dir, uid, "volumes", f"kubernetes.io~{plugin}", name)


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    # never leave a mount behind, even when a test failed half-way
    real = os.path.realpath(tmp_path)
    for point, _ in sorted(_mountinfo(), key=lambda m: -m[0].count("/")):
        if point.startswith(real + "/"):
            _unmount(point)


def mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def write(path: str, text: str = "") -> None:
    with open(path, "w") as f:
        f.write(text)


# sync wrappers: the async tests only inspect small tmp files
exists, lexists, isdir, islink, realpath = (os.path.exists, os.path.lexists, os.path.isdir, os.path.islink,
                                            os.path.realpath)


async def setup_error(env: Env, pod: dict) -> VolumeError:
    with pytest.raises(VolumeError) as e:
        await env.manager.setup(pod)
    return e.value


# --- emptyDir ---------------------------------------------------------------------------------

async def test_empty_dir_is_a_world_writable_dir_and_setup_is_idempotent(env):
    paths = await env.manager.setup(make_pod({"name": "scratch", "emptyDir": {}}, {"name": "default-kind"}))
    assert paths == {"scratch": env.vol_dir("empty-dir", "scratch"), "default-kind": env.vol_dir("empty-dir",
                                                                                               "default-kind")}
    assert mode(paths["scratch"]) == 0o777
    write(os.path.join(paths["scratch"], "data"), "kept")
    env.manager._static.clear()  # as after an agent restart
    assert await env.manager.setup(make_pod({"name": "scratch", "emptyDir": {}})) == {"scratch": paths["scratch"]}
    assert read(os.path.join(paths["scratch"], "data")) == "kept"
    assert env.manager.pod_dirs() == ["uid-1"]


@needs_root
async def test_empty_dir_fs_group_sets_group_and_setgid(env):
    paths = await env.manager.setup(make_pod({"name": "scratch", "emptyDir": {}}, fs_group=4321))
    st = os.stat(paths["scratch"])
    assert st.st_gid == 4321 and st.st_mode & stat.S_ISGID and stat.S_IMODE(st.st_mode) & 0o070 == 0o070


@needs_root
async def test_memory_empty_dir_is_a_sized_tmpfs_unmounted_at_teardown(env):
    pod = make_pod({"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                   {"name": "unsized", "emptyDir": {"medium": "Memory"}})
    pod["spec"]["containers"][0]["resources"] = {"limits": {"memory": "128Mi"}}
    paths = await env.manager.setup(pod)
    await env.manager.setup(pod)  # re-entrant: no second mount on top
    mounts = [(p, t) for p, t in _mountinfo() if p in (paths["mem"], paths["unsized"])]
    assert sorted(mounts) == sorted([(paths["mem"], "tmpfs"), (paths["unsized"], "tmpfs")])
    vfs = os.statvfs(paths["mem"])
    assert vfs.f_blocks * vfs.f_frsize == 64 * 2**20
    vfs = os.statvfs(paths["unsized"])  # no sizeLimit: the pod's memory limit
    assert vfs.f_blocks * vfs.f_frsize == 128 * 2**20
    await env.manager.teardown("uid-1")
    assert not [p for p, _ in _mountinfo() if p.startswith(env.pods_dir)]
    assert not exists(os.path.join(env.pods_dir, "uid-1"))


async def test_unknown_empty_dir_medium(env):
    e = await setup_error(env, make_pod({"name": "x", "emptyDir": {"medium": "Tape"}}))
    assert str(e) == 'MountVolume.SetUp failed for volume "x" : unknown storage medium "Tape"'
    assert e.volume == "x" and e.reason == "FailedMount"


# --- hostPath ---------------------------------------------------------------------------------

@pytest.fixture
def host(tmp_path):
    h = tmp_path / "host"
    h.mkdir()
    (h / "dir").mkdir()
    (h / "file").write_text("x")
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(h / "sock"))
    yield h
    s.close()


@pytest.mark.parametrize("name, kind, message", [
    pytest.param("dir", "", None, id="untyped"),
    pytest.param("missing", "", None, id="untyped-missing"),
    pytest.param("dir", "Directory", None, id="dir"),
    pytest.param("file", "Directory", "hostPath type check failed: {p} is not a directory", id="dir-is-file"),
    pytest.param("missing", "Directory", "hostPath type check failed: {p} is not a directory", id="dir-missing"),
    pytest.param("file", "File", None, id="file"),
    pytest.param("dir", "File", "hostPath type check failed: {p} is not a file", id="file-is-dir"),
    pytest.param("file", "FileOrCreate", None, id="file-or-create-exists"),
    pytest.param("dir", "FileOrCreate", "hostPath type check failed: {p} is not a file", id="file-or-create-dir"),
    pytest.param("file", "DirectoryOrCreate", "hostPath type check failed: {p} is not a directory",
                 id="dir-or-create-file"),
    pytest.param("sock", "Socket", None, id="socket"),
    pytest.param("file", "Socket", "hostPath type check failed: {p} is not a socket file", id="not-socket"),
    pytest.param("/dev/null", "CharDevice", None, id="chardev"),
    pytest.param("file", "CharDevice", "hostPath type check failed: {p} is not a character device", id="not-char"),
    pytest.param("/dev/null", "BlockDevice", "hostPath type check failed: {p} is not a block device",
                 id="not-block"),
    pytest.param("dir", "Weird", "Weird is an invalid volume type", id="invalid-type"),
])
async def test_host_path_types(env, host, name, kind, message):
    path = name if name.startswith("/") else str(host / name)
    pod = make_pod({"name": "h", "hostPath": {"path": path, "type": kind}})
    if message is None:
        assert await env.manager.setup(pod) == {"h": path}
    else:
        e = await setup_error(env, pod)
        assert str(e) == 'MountVolume.SetUp failed for volume "h" : ' + message.format(p=path)


async def test_host_path_or_create(env, host):
    pod = make_pod({"name": "d", "hostPath": {"path": str(host / "new" / "deep"), "type": "DirectoryOrCreate"}},
                   {"name": "f", "hostPath": {"path": str(host / "new.txt"), "type": "FileOrCreate"}})
    await env.manager.setup(pod)
    assert isdir(host / "new" / "deep") and mode(str(host / "new" / "deep")) & 0o700 == 0o700
    assert (host / "new.txt").read_text() == ""
    e = await setup_error(env, make_pod({"name": "f", "hostPath": {"path": str(host / "no" / "f"),
                                                                   "type": "FileOrCreate"}}, uid="uid-2"))
    assert str(e).endswith(f"open {host / 'no' / 'f'}: no such file or directory")


# --- configMap and secret ---------------------------------------------------------------------

async def test_config_map_files_behind_the_data_symlink(env):
    env.config_map(binary={"blob": b"\x00\xff"})
    paths = await env.manager.setup(make_pod(cm_vol()))
    root = paths["cfg"]
    assert root == env.vol_dir("configmap", "cfg")
    assert sorted(os.listdir(root)) == sorted(["..data", "a.conf", "b", "blob",
                                               os.readlink(os.path.join(root, DATA_DIR))])
    ts = os.readlink(os.path.join(root, DATA_DIR))
    assert ts.startswith("..2027_01_15_08_00_00.")
    assert os.readlink(os.path.join(root, "a.conf")) == "..data/a.conf"
    assert read(os.path.join(root, "a.conf")) == "A"
    assert read_bytes(os.path.join(root, "blob")) == b"\x00\xff"
    assert mode(os.path.join(root, "b")) == 0o644


async def test_items_paths_and_modes(env):
    env.config_map()
    pod = make_pod(cm_vol(defaultMode=0o600, items=[{"key": "a.conf", "path": "etc/app/a.conf", "mode": 0o440},
                                                   {"key": "b", "path": "b.txt"}]))
    root = (await env.manager.setup(pod))["cfg"]
    assert sorted(e for e in os.listdir(root) if not e.startswith("..")) == ["b.txt", "etc"]
    assert os.readlink(os.path.join(root, "etc")) == "..data/etc"
    assert read(os.path.join(root, "etc/app/a.conf")) == "A"
    assert mode(os.path.join(root, "etc/app/a.conf")) == 0o440
    assert mode(os.path.join(root, "b.txt")) == 0o600


@pytest.mark.parametrize("volume, message", [
    pytest.param(cm_vol(cm="nope"), 'configmap "nope" not found', id="configmap-missing"),
    pytest.param(cm_vol(items=[{"key": "zzz", "path": "z"}]), "configmap references non-existent config key: zzz",
                 id="configmap-key"),
    pytest.param({"name": "cfg", "secret": {"secretName": "nope"}}, 'secret "nope" not found', id="secret-missing"),
    pytest.param({"name": "cfg", "secret": {"secretName": "s", "items": [{"key": "zzz", "path": "z"}]}},
                 "references non-existent secret key: zzz", id="secret-key"),
    pytest.param(cm_vol(items=[{"key": "b", "path": "../escape"}]), "invalid path: must not contain '..': ../escape",
                 id="path-escape"),
    pytest.param(cm_vol(items=[{"key": "b", "path": "/abs"}]), "invalid path: must be relative path: /abs",
                 id="path-absolute"),
    pytest.param(cm_vol(items=[{"key": "b", "path": "..data"}]), "invalid path: must not start with '..': ..data",
                 id="path-reserved"),
])
async def test_config_map_and_secret_errors(env, volume, message):
    env.config_map()
    env.seed("secrets", {"metadata": {"name": "s"}, "data": {"k": b64("v")}})
    e = await setup_error(env, make_pod(volume))
    assert str(e) == f'MountVolume.SetUp failed for volume "cfg" : {message}'


async def test_optional_sources_and_keys(env):
    env.config_map()
    pod = make_pod(cm_vol("gone", optional=True),
                   cm_vol("partial", cm="cfg", optional=True, items=[{"key": "b", "path": "b"},
                                                                      {"key": "zzz", "path": "z"}]),
                   {"name": "sec", "secret": {"secretName": "nope", "optional": True}})
    paths = await env.manager.setup(pod)
    assert [e for e in os.listdir(paths["gone"]) if not e.startswith("..")] == []
    assert [e for e in os.listdir(paths["partial"]) if not e.startswith("..")] == ["b"]
    assert islink(os.path.join(paths["sec"], DATA_DIR))


async def test_secret_is_decoded_with_default_mode(env):
    env.seed("secrets", {"metadata": {"name": "s"}, "data": {"password": b64("hunter2"), "user": b64("root")}})
    pod = make_pod({"name": "creds", "secret": {"secretName": "s", "defaultMode": 0o400}})
    root = (await env.manager.setup(pod))["creds"]
    assert root == env.vol_dir("secret", "creds")
    assert read(os.path.join(root, "password")) == "hunter2"
    assert mode(os.path.join(root, "user")) == 0o400


async def test_refresh_replaces_contents_atomically(env):
    env.config_map(data={"keep": "1", "drop": "x"})
    pod = make_pod(cm_vol())
    root = (await env.manager.setup(pod))["cfg"]
    first = os.readlink(os.path.join(root, DATA_DIR))
    env.clock.advance(1)
    await env.manager.setup(pod)  # unchanged: nothing rewritten
    assert os.readlink(os.path.join(root, DATA_DIR)) == first

    env.config_map(data={"keep": "2", "new": "n"})
    env.clock.advance(60)
    await env.manager.setup(pod)
    second = os.readlink(os.path.join(root, DATA_DIR))
    assert second != first and second.startswith("..2027_01_15_08_01_01.")
    assert not exists(os.path.join(root, first))
    assert not lexists(os.path.join(root, "drop"))
    assert read(os.path.join(root, "keep")) == "2" and read(os.path.join(root, "new")) == "n"
    assert sorted(os.listdir(root)) == sorted(["..data", second, "keep", "new"])


def test_atomic_write_keeps_the_old_version_when_a_write_fails(tmp_path):
    target = str(tmp_path)
    assert atomic_write(target, {"a": FileProjection(b"1")}, now=T0)
    old = os.readlink(os.path.join(target, DATA_DIR))
    with pytest.raises(OSError):
        atomic_write(target, {"a": FileProjection(b"2"), "a/b": FileProjection(b"conflict")}, now=T0 + 1)
    assert os.readlink(os.path.join(target, DATA_DIR)) == old and read(os.path.join(target, "a")) == "1"
    assert sorted(os.listdir(target)) == sorted(["..data", old, "a"])  # the half-written dir is gone
    os.mkdir(os.path.join(target, "..2020_01_01_00_00_00.crashed"))  # left by a crash before the swap
    assert atomic_write(target, {"a": FileProjection(b"3")}, now=T0 + 2)
    new = os.readlink(os.path.join(target, DATA_DIR))
    assert sorted(os.listdir(target)) == sorted(["..data", new, "a"]) and read(os.path.join(target, "a")) == "3"
    assert not atomic_write(target, {"a": FileProjection(b"3")}, now=T0 + 3)


@needs_root
async def test_fs_group_on_projected_kinds(env):
    env.config_map()
    pod = make_pod(cm_vol(defaultMode=0o400), fs_group=4321)
    root = (await env.manager.setup(pod))["cfg"]
    st = os.stat(os.path.join(root, "b"))
    assert st.st_gid == 4321 and stat.S_IMODE(st.st_mode) == 0o440  # group read added, never write
    ts = os.path.join(root, os.readlink(os.path.join(root, DATA_DIR)))
    assert os.stat(ts).st_mode & stat.S_ISGID


@needs_root
async def test_secrets_are_kept_on_tmpfs_when_memory_backed(env):
    env.manager.memory_backed = True
    env.seed("secrets", {"metadata": {"name": "s"}, "data": {"k": b64("v")}})
    env.config_map()
    paths = await env.manager.setup(make_pod({"name": "sec", "secret": {"secretName": "s"}}, cm_vol()))
    kinds = dict(_mountinfo())
    assert kinds.get(paths["sec"]) == "tmpfs" and paths["cfg"] not in kinds
    await env.manager.setup(make_pod({"name": "sec", "secret": {"secretName": "s"}}))
    assert [p for p, _ in _mountinfo()].count(paths["sec"]) == 1
    await env.manager.teardown("uid-1")
    assert paths["sec"] not in dict(_mountinfo())


# --- downwardAPI and projected ----------------------------------------------------------------

async def test_downward_api_files(env):
    pod = make_pod({"name": "info", "downwardAPI": {"items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "sub/name", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 0o400},
        {"path": "mem", "resourceFieldRef": {"containerName": "app", "resource": "limits.memory", "divisor": "1Mi"}},
        {"path": "cpu", "resourceFieldRef": {"containerName": "app", "resource": "requests.cpu", "divisor": "1m"}},
    ]}}, resources={"requests": {"cpu": "250m"}})
    root = (await env.manager.setup(pod))["info"]
    assert root == env.vol_dir("downward-api", "info")
    assert read(os.path.join(root, "labels")) == 'app="web"'
    assert read(os.path.join(root, "sub/name")) == "web"
    assert mode(os.path.join(root, "sub/name")) == 0o400
    assert read(os.path.join(root, "mem")) == "8192"  # limit unset: node allocatable
    assert read(os.path.join(root, "cpu")) == "250"


async def test_downward_api_errors_are_aggregated(env):
    pod = make_pod({"name": "info", "downwardAPI": {"items": [
        {"path": "a", "fieldRef": {"fieldPath": "spec.nodeName"}},
        {"path": "b", "resourceFieldRef": {"containerName": "ghost", "resource": "limits.cpu"}}]}})
    e = await setup_error(env, pod)
    assert str(e) == ('MountVolume.SetUp failed for volume "info" : '
                      '[unsupported fieldPath: spec.nodeName, container ghost not found]')


def token_volume(**token) -> dict:
    return {"name": "kube-api-access", "projected": {"defaultMode": 0o644, "sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600, **token}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
        {"secret": {"name": "extra", "optional": True}},
    ]}}


async def test_projected_service_account_volume(env):
    env.config_map("kube-root-ca.crt", {"ca.crt": "CERT"})
    pod = make_pod(token_volume(audience="vault"))
    root = (await env.manager.setup(pod))["kube-api-access"]
    assert root == env.vol_dir("projected", "kube-api-access")
    assert {n: read(os.path.join(root, n)) for n in ("token", "ca.crt", "namespace")} == {
        "token": "token-1", "ca.crt": "CERT", "namespace": "default"}
    assert mode(os.path.join(root, "token")) == 0o644
    [request] = env.client.actions_for("create", "serviceaccounts/token")
    assert request.name == "default" and request.obj == {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"audiences": ["vault"], "expirationSeconds": 3600,
                 "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "uid-1"}}}


async def test_tokens_are_cached_and_refreshed_at_80_percent(env):
    env.config_map("kube-root-ca.crt", {"ca.crt": "CERT"})
    pod = make_pod(token_volume())
    root = (await env.manager.setup(pod))["kube-api-access"]
    env.clock.advance(2879)
    await env.manager.setup(pod)
    assert env.client.issued == 1 and read(os.path.join(root, "token")) == "token-1"
    env.clock.advance(2)
    await env.manager.setup(pod)
    assert env.client.issued == 2 and read(os.path.join(root, "token")) == "token-2"
    assert "audiences" not in env.client.actions_for("create", "serviceaccounts/token")[0].obj["spec"]


async def test_a_failed_refresh_keeps_a_valid_token_and_fails_once_expired(env):
    from podplane.api import errors

    env.config_map("kube-root-ca.crt", {"ca.crt": "CERT"})
    pod = make_pod(token_volume())
    root = (await env.manager.setup(pod))["kube-api-access"]
    env.clock.advance(3000)
    env.client.fail("create", "serviceaccounts/token", errors.internal_error("boom"))
    await env.manager.setup(pod)
    assert read(os.path.join(root, "token")) == "token-1"
    env.clock.advance(700)
    env.client.fail("create", "serviceaccounts/token", errors.internal_error("boom"))
    e = await setup_error(env, pod)
    assert str(e) == ('MountVolume.SetUp failed for volume "kube-api-access" : token default expired and refresh '
                      'failed: Internal error occurred: boom')


@needs_root
async def test_token_mode_with_fs_group(env):
    env.config_map("kube-root-ca.crt", {"ca.crt": "CERT"})
    pod = make_pod(token_volume(), fs_group=2000)
    root = (await env.manager.setup(pod))["kube-api-access"]
    st = os.stat(os.path.join(root, "token"))
    assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_gid == 2000


async def test_projected_errors(env):
    pod = make_pod({"name": "p", "projected": {"sources": [
        {"configMap": {"name": "nope"}}, {"clusterTrustBundle": {"name": "b", "path": "b"}}]}})
    pod["spec"]["serviceAccountName"] = "ghost"
    pod["spec"]["volumes"][0]["projected"]["sources"].append({"serviceAccountToken": {"path": "t"}})
    e = await setup_error(env, pod)
    assert str(e) == ('MountVolume.SetUp failed for volume "p" : [configmap "nope" not found, clusterTrustBundle '
                      'projections are not supported on this node, failed to fetch token: serviceaccounts "ghost" '
                      'not found]')


# --- persistent volumes -----------------------------------------------------------------------

def seed_claim(env: Env, name: str = "data", *, phase: str = "Bound", pv: dict | None = None, **meta) -> dict:
    claim = env.seed("persistentvolumeclaims", {"metadata": {"name": name, **meta},
                                                "spec": {"volumeName": f"pv-{name}"}, "status": {"phase": phase}})
    if pv is not None:
        pv.setdefault("claimRef", {"uid": claim["metadata"]["uid"]})
        env.client.seed(env.client.resource("", "persistentvolumes"),
                        {"metadata": {"name": f"pv-{name}", "annotations": pv.pop("annotations", {})}, "spec": pv})
    return claim


async def test_bound_claim_uses_the_volume_path(env, host):
    seed_claim(env, pv={"hostPath": {"path": str(host / "dir")}})
    assert await env.manager.setup(make_pod({"name": "d", "persistentVolumeClaim": {"claimName": "data"}})) == {
        "d": str(host / "dir")}


async def test_local_path_volume_directory_is_created(env, host):
    path = host / "local-path" / "pvc-1"
    seed_claim(env, pv={"hostPath": {"path": str(path)},
                        "annotations": {"pv.kubernetes.io/provisioned-by": "podplane.io/local-path"}})
    seed_claim(env, "other", pv={"local": {"path": str(host / "nowhere")}})
    paths = await env.manager.setup(make_pod({"name": "d", "persistentVolumeClaim": {"claimName": "data"}}))
    assert paths == {"d": str(path)} and path.is_dir()
    e = await setup_error(env, make_pod({"name": "o", "persistentVolumeClaim": {"claimName": "other"}}))
    assert str(e) == f'MountVolume.SetUp failed for volume "o" : path "{host / "nowhere"}" does not exist'


@pytest.mark.parametrize("setup, message", [
    pytest.param(lambda env, host: None, 'persistentvolumeclaim "data" not found', id="no-claim"),
    pytest.param(lambda env, host: seed_claim(env, phase="Pending"), "PVC is not bound", id="unbound"),
    pytest.param(lambda env, host: seed_claim(env, pv={"hostPath": {"path": str(host)}},
                                              deletionTimestamp="2027-01-15T08:00:00Z"),
                 "PVC is being deleted", id="deleting"),
    pytest.param(lambda env, host: seed_claim(env), "failed to fetch PV pv-data from API server: "
                 'persistentvolumes "pv-data" not found', id="no-pv"),
    pytest.param(lambda env, host: seed_claim(env, pv={"hostPath": {"path": str(host)}, "claimRef": {"uid": "x"}}),
                 "found PV object pv-data but its pv.Spec.ClaimRef.UID (x) does not point to claim.UID (",
                 id="pv-bound-elsewhere"),
    pytest.param(lambda env, host: seed_claim(env, pv={"nfs": {"server": "s", "path": "/"}}),
                 "no volume plugin matched: nfs persistent volumes are not supported on this node", id="nfs"),
])
async def test_claim_errors(env, host, setup, message):
    setup(env, host)
    e = await setup_error(env, make_pod({"name": "d", "persistentVolumeClaim": {"claimName": "data"}}))
    prefix = 'MountVolume.SetUp failed for volume "d" : '
    if not message.startswith("no volume plugin"):
        prefix += "error processing PVC default/data: "
    assert str(e).startswith(prefix + message)


async def test_ephemeral_volume_claim_must_belong_to_the_pod(env, host):
    seed_claim(env, "web-scratch", pv={"hostPath": {"path": str(host / "dir")}},
               ownerReferences=[{"kind": "Pod", "name": "web", "uid": "someone-else", "controller": True}])
    e = await setup_error(env, make_pod({"name": "scratch", "ephemeral": {"volumeClaimTemplate": {}}}))
    assert str(e).endswith("PVC default/web-scratch was not created for pod default/web (pod is not owner)")
    pod = make_pod({"name": "scratch", "ephemeral": {"volumeClaimTemplate": {}}}, uid="someone-else")
    assert await env.manager.setup(pod) == {"scratch": str(host / "dir")}


# --- unsupported kinds and several failures ---------------------------------------------------

async def test_unsupported_kind_and_all_failures_reported(env):
    pod = make_pod({"name": "n", "nfs": {"server": "s", "path": "/"}}, {"name": "ok", "emptyDir": {}},
                   cm_vol("cfg"))
    e = await setup_error(env, pod)
    assert str(e) == ('MountVolume.SetUp failed for volume "n" : no volume plugin matched: nfs volumes are not '
                      'supported on this node')
    assert [(x.volume, str(x)) for x in e.errors][1:] == [
        ("cfg", 'MountVolume.SetUp failed for volume "cfg" : configmap "cfg" not found')]
    assert isdir(env.vol_dir("empty-dir", "ok"))  # the others were still set up


# --- container mounts -------------------------------------------------------------------------

async def test_mounts_read_only_and_propagation(env, host):
    env.config_map()
    seed_claim(env, pv={"hostPath": {"path": str(host / "dir")}})
    vols = [{"name": "scratch", "emptyDir": {}}, cm_vol(), {"name": "h", "hostPath": {"path": str(host)}},
            {"name": "d", "persistentVolumeClaim": {"claimName": "data", "readOnly": True}}]
    mounts = [{"name": "scratch", "mountPath": "/tmp/s"}, {"name": "cfg", "mountPath": "/etc/cfg"},
              {"name": "h", "mountPath": "/host", "readOnly": True, "mountPropagation": "HostToContainer"},
              {"name": "d", "mountPath": "/data", "mountPropagation": "None"},
              {"name": "scratch", "mountPath": "/bi", "mountPropagation": "Bidirectional"}]
    pod = make_pod(*vols, mounts=mounts)
    paths = await env.manager.setup(pod)
    assert env.manager.mounts(pod, pod["spec"]["containers"][0], paths) == (
        Mount("/tmp/s", paths["scratch"], False, ""), Mount("/etc/cfg", paths["cfg"], True, ""),
        Mount("/host", str(host), True, "HostToContainer"), Mount("/data", str(host / "dir"), True, ""),
        Mount("/bi", paths["scratch"], False, "Bidirectional"))


async def test_sub_paths(env):
    env.config_map()
    pod = make_pod({"name": "scratch", "emptyDir": {}}, cm_vol(), mounts=[
        {"name": "scratch", "mountPath": "/a", "subPath": "x/y"},
        {"name": "cfg", "mountPath": "/etc/a.conf", "subPath": "a.conf"},
        {"name": "scratch", "mountPath": "/b", "subPathExpr": "$(POD)/logs"}])
    container = pod["spec"]["containers"][0]
    paths = await env.manager.setup(pod)
    mounts = env.manager.mounts(pod, container, paths, env=[("POD", "web")])
    root = realpath(paths["scratch"])
    assert mounts[0].source == os.path.join(root, "x/y") and isdir(mounts[0].source)
    assert mode(mounts[0].source) == 0o777 and mode(os.path.join(root, "x")) == 0o777  # the volume root's mode
    cfg = realpath(paths["cfg"])
    assert mounts[1].source.startswith(cfg + "/..2027") and read(mounts[1].source) == "A" and mounts[1].read_only
    assert mounts[2].source == os.path.join(root, "web/logs")


@pytest.mark.parametrize("mount, env_vars, message", [
    pytest.param({"subPath": "/etc"}, None, "error SubPath `/etc` must not be an absolute path", id="absolute"),
    pytest.param({"subPath": "a/../../x"}, None, "unable to provision SubPath `a/../../x`: must not contain '..'",
                 id="backsteps"),
    pytest.param({"subPathExpr": "$(A)/$(B)"}, [("A", "")], "missing value for A, B", id="expr-missing"),
    pytest.param({"subPathExpr": "$(A)"}, [("A", "..")], "unable to provision SubPath `..`: must not contain '..'",
                 id="expr-backsteps"),
    pytest.param({"subPath": "link/inner"}, None,
                 'failed to create subPath directory for volumeMount "scratch" of container "app"', id="symlink-dir"),
    pytest.param({"subPath": "link"}, None, 'failed to prepare subPath for volumeMount "scratch" of container "app"',
                 id="symlink-escape"),
    pytest.param({"mountPropagation": "Sideways"}, None, 'invalid MountPropagation mode: "Sideways"',
                 id="propagation"),
    pytest.param({"name": "ghost"}, None, 'cannot find volume "ghost" to mount into container "app"', id="volume"),
])
async def test_sub_path_and_mount_errors(env, host, mount, env_vars, message):
    pod = make_pod({"name": "scratch", "emptyDir": {}}, mounts=[{"name": "scratch", "mountPath": "/m", **mount}])
    paths = await env.manager.setup(pod)
    os.symlink(str(host), os.path.join(paths["scratch"], "link"))
    with pytest.raises(VolumeError) as e:
        env.manager.mounts(pod, pod["spec"]["containers"][0], paths, env=env_vars)
    assert str(e.value) == message
    assert e.value.reason == "CreateContainerConfigError"
    assert sorted(os.listdir(host)) == ["dir", "file", "sock"]  # nothing created outside the volume


async def test_sub_path_expr_defaults_to_literal_env(env):
    pod = make_pod({"name": "scratch", "emptyDir": {}}, mounts=[
        {"name": "scratch", "mountPath": "/m", "subPathExpr": "$(DIR)"}], env=[{"name": "DIR", "value": "d"}])
    paths = await env.manager.setup(pod)
    [mount] = env.manager.mounts(pod, pod["spec"]["containers"][0], paths)
    assert mount.source == os.path.join(realpath(paths["scratch"]), "d")


# --- teardown ---------------------------------------------------------------------------------

async def test_teardown_removes_pod_state_but_not_host_or_persistent_data(env, host):
    env.config_map()
    seed_claim(env, pv={"hostPath": {"path": str(host / "dir")}})
    (host / "dir" / "precious").write_text("keep")
    pod = make_pod({"name": "scratch", "emptyDir": {}}, cm_vol(), {"name": "h", "hostPath": {"path": str(host)}},
                   {"name": "d", "persistentVolumeClaim": {"claimName": "data"}})
    paths = await env.manager.setup(pod)
    # links from pod state into host data must not be followed
    os.symlink(str(host), os.path.join(paths["scratch"], "to-host"))
    os.mkdir(os.path.join(paths["scratch"], "ro"), 0o500)
    await env.manager.setup(make_pod({"name": "scratch", "emptyDir": {}}, uid="uid-2"))
    assert env.manager.pod_dirs() == ["uid-1", "uid-2"]
    await env.manager.teardown("uid-1")
    await env.manager.teardown("uid-1")  # idempotent
    assert env.manager.pod_dirs() == ["uid-2"]
    assert (host / "dir" / "precious").read_text() == "keep" and (host / "file").read_text() == "x"
    assert sorted(os.listdir(host)) == ["dir", "file", "sock"]


@needs_root
async def test_teardown_unmounts_and_refuses_to_cross_a_busy_mount(env):
    paths = await env.manager.setup(make_pod({"name": "mem", "emptyDir": {"medium": "Memory"}}))
    write(os.path.join(paths["mem"], "f"))
    await env.manager.teardown("uid-1")
    assert env.manager.pod_dirs() == []
    # a filesystem that cannot be unmounted in between is never descended into
    from podplane.agent import volumes

    paths = await env.manager.setup(make_pod({"name": "mem", "emptyDir": {"medium": "Memory"}}))
    write(os.path.join(paths["mem"], "keep"), "data")
    original = volumes._unmount
    volumes._unmount = lambda target: None
    try:
        with pytest.raises(VolumeError, match="still mounted"):
            await env.manager.teardown("uid-1")
    finally:
        volumes._unmount = original
    assert read(os.path.join(paths["mem"], "keep")) == "data"
    # and the tree removal itself stops at a filesystem boundary
    pod_dir = os.path.join(env.pods_dir, "uid-1")
    with pytest.raises(OSError, match="another filesystem"):
        volumes._remove_tree(pod_dir, os.lstat(pod_dir).st_dev)
    assert read(os.path.join(paths["mem"], "keep")) == "data"
    await env.manager.teardown("uid-1")
    assert env.manager.pod_dirs() == []


async def test_invalid_uid_is_rejected(env):
    with pytest.raises(VolumeError):
        await env.manager.teardown("../etc")
    assert env.manager.pod_dirs() == []
