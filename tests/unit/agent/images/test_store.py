"""images.store and images.layers: importing OCI layouts and docker save archives, unpacking once,
whiteouts, digest checks and path-escape rejection (synthetic layers, no network)."""

from __future__ import annotations

import io
import os
import stat

import pytest

from podplane.agent.images import OCI, ImageInvalid, Images, ImageStore, InvalidImageName
from podplane.agent.images.layers import OPAQUE_XATTR, unpack_layer

from .builders import docker_save, layer_tar, oci_layout, tar_dir

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="whiteouts need mknod and trusted.* xattrs (root)")

BASE = [("etc", "dir", None), ("etc/passwd", "file", "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n"),
        ("bin", "dir", None), ("bin/hello.sh", "file", "#!/bin/sh\necho hello\n"),
        ("bin/link", "symlink", "hello.sh"), ("bin/hard", "hardlink", "bin/hello.sh")]
TOP = [("etc/motd", "file", "hi\n")]


def test_import_oci_layout_directory(tmp_path):
    layout = tmp_path / "layout"
    info = oci_layout(str(layout), [BASE, TOP], ref_name="1.0", containerd_name="docker.io/acme/app:1.0",
                      config={"Entrypoint": ["/bin/hello.sh"], "Cmd": ["--loud"], "Env": ["A=1"],
                              "WorkingDir": "/srv", "User": "app"})
    store = ImageStore(str(tmp_path / "images"))
    recs = store.import_archive(str(layout))
    assert [r.name for r in recs] == ["docker.io/acme/app:1.0"]
    assert recs[0].layers == tuple(info["diff_ids"])
    assert recs[0].manifest_digest == info["manifest"]
    spec = store.get("acme/app:1.0")
    assert spec.kind == OCI
    assert spec.ref == "docker.io/acme/app:1.0"
    assert spec.image_id == f"docker.io/acme/app@{info['manifest']}"
    assert (spec.entrypoint, spec.cmd, spec.env, spec.working_dir, spec.user) == \
        (("/bin/hello.sh",), ("--loud",), ("A=1",), "/srv", "app")
    # top-most layer first, as overlayfs wants it
    assert spec.lower_dirs == tuple(store.layer_dir(d) for d in reversed(info["diff_ids"]))
    base = spec.lower_dirs[1]
    assert open(os.path.join(base, "bin/hello.sh")).read() == "#!/bin/sh\necho hello\n"
    assert os.readlink(os.path.join(base, "bin/link")) == "hello.sh"
    assert os.stat(os.path.join(base, "bin/hard")).st_ino == os.stat(os.path.join(base, "bin/hello.sh")).st_ino
    assert spec.read_file("/etc/motd") == b"hi\n"
    assert spec.read_file("/etc/passwd").startswith(b"root:")
    assert spec.read_file("/nope") is None
    assert store.get("acme/app:2.0") is None
    assert store.get(f"acme/app@{info['manifest']}").ref == "docker.io/acme/app:1.0"


def test_import_is_content_addressed_and_idempotent(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    oci_layout(str(a), [BASE], ref_name="docker.io/acme/a:1")
    oci_layout(str(b), [BASE, TOP], ref_name="docker.io/acme/b:1")
    store = ImageStore(str(tmp_path / "images"))
    store.import_archive(str(a))
    store.import_archive(str(b))
    store.import_archive(str(b))  # again: nothing new
    layers = os.listdir(tmp_path / "images" / "layers" / "sha256")
    assert len(layers) == 2  # BASE shared
    assert not os.listdir(tmp_path / "images" / "tmp")
    assert sorted(r.name for r in store.list()) == ["docker.io/acme/a:1", "docker.io/acme/b:1"]
    assert store.remove("acme/a:1") and not store.remove("acme/a:1")
    assert len(store.prune()) == 1  # a's config; BASE is still used by b
    assert len(os.listdir(tmp_path / "images" / "layers" / "sha256")) == 2
    store.remove("acme/b:1")
    assert len(store.prune()) == 3  # two layers, b's config


def test_import_tarred_layout_with_index_and_name(tmp_path):
    layout = tmp_path / "layout"
    oci_layout(str(layout), [BASE], ref_name="3.0", gzip_layers=False, index_wrap=True)
    archive = tmp_path / "app.tar"
    tar_dir(str(layout), str(archive))
    store = ImageStore(str(tmp_path / "images"))
    with pytest.raises(ImageInvalid, match="pass a name"):
        store.import_archive(str(archive))
    recs = store.import_archive(str(archive), name="registry.local:5000/app")
    assert [r.name for r in recs] == ["registry.local:5000/app:3.0"]
    assert store.get("registry.local:5000/app:3.0").cmd == ("sh",)


def test_import_docker_save(tmp_path):
    archive = tmp_path / "save.tar"
    info = docker_save(str(archive), [BASE, TOP], ["acme/app:1", "acme/app:latest"],
                       config={"Cmd": ["/bin/hello.sh"]})
    images = Images(str(tmp_path / "data"))
    recs = images.import_archive(str(archive))
    assert sorted(r.name for r in recs) == ["docker.io/acme/app:1", "docker.io/acme/app:latest"]
    spec = images.resolve("acme/app")
    assert spec.kind == OCI and spec.cmd == ("/bin/hello.sh",)
    assert spec.image_id == f"docker.io/acme/app@{info['config']}"
    # the store wins over the host catalog for the same name
    images.import_archive(str(archive), name="python:3")
    assert images.resolve("acme/app:1").kind == OCI


@needs_root
def test_whiteouts_become_overlay_whiteouts(tmp_path):
    lower = [("a", "dir", None), ("a/keep", "file", "k"), ("a/gone", "file", "g"), ("b", "dir", None),
             ("b/old", "file", "o")]
    upper = [("a/.wh.gone", "file", ""), ("b/.wh..wh..opq", "file", ""), ("b/new", "file", "n"),
             ("c/.wh.ghost", "file", "")]
    layout = tmp_path / "layout"
    info = oci_layout(str(layout), [lower, upper], ref_name="docker.io/acme/wh:1")
    store = ImageStore(str(tmp_path / "images"))
    store.import_archive(str(layout))
    top = store.layer_dir(info["diff_ids"][1])
    st = os.lstat(os.path.join(top, "a/gone"))
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert not os.path.exists(os.path.join(top, "a/.wh.gone"))
    assert os.getxattr(os.path.join(top, "b"), OPAQUE_XATTR) == b"y"
    assert not os.path.exists(os.path.join(top, "b/.wh..wh..opq"))
    assert stat.S_ISCHR(os.lstat(os.path.join(top, "c/ghost")).st_mode)
    spec = store.get("acme/wh:1")
    assert spec.read_file("/a/gone") is None and spec.read_file("/a/keep") == b"k"


@pytest.mark.parametrize(("entries", "match"), [
    pytest.param([("../evil", "file", "x")], "outside the image", id="dotdot"),
    pytest.param([("a/../../evil", "file", "x")], "outside the image", id="dotdot-nested"),
    pytest.param([("lnk", "symlink", "/"), ("lnk/etc/evil", "file", "x")], "through a symlink", id="via-symlink"),
    pytest.param([("lnk", "symlink", "../../.."), ("lnk/evil", "file", "x")], "through a symlink",
                 id="via-relative-symlink"),
    pytest.param([("h", "hardlink", "../../etc/passwd")], "outside the image", id="hardlink-out"),
])
def test_unpack_rejects_escapes(tmp_path, entries, match):
    dest = tmp_path / "layer"
    with pytest.raises(ImageInvalid, match=match):
        unpack_layer(io.BytesIO(layer_tar(entries)), str(dest))
    assert not (tmp_path / "evil").exists()


def test_unpack_replaces_symlink_instead_of_writing_through_it(tmp_path):
    target = tmp_path / "outside"
    target.write_text("precious")
    entries = [("f", "symlink", str(target)), ("f", "file", "new")]
    unpack_layer(io.BytesIO(layer_tar(entries)), str(tmp_path / "layer"))
    assert target.read_text() == "precious"
    assert (tmp_path / "layer" / "f").read_text() == "new"


def test_leading_slash_and_dot_entries_are_relative(tmp_path):
    diff, size = unpack_layer(io.BytesIO(layer_tar([("./x", "file", "1"), ("/y", "file", "22")])),
                              str(tmp_path / "layer"))
    assert (tmp_path / "layer" / "x").read_text() == "1" and (tmp_path / "layer" / "y").read_text() == "22"
    assert size == 3 and diff.startswith("sha256:")


def test_corrupt_archives(tmp_path):
    store = ImageStore(str(tmp_path / "images"))
    with pytest.raises(ImageInvalid, match="does not exist"):
        store.import_archive(str(tmp_path / "missing.tar"))
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(ImageInvalid, match="not a readable tar"):
        store.import_archive(str(junk))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageInvalid, match="not an image archive"):
        store.import_archive(str(empty))
    # a layer blob that does not match its digest
    layout = tmp_path / "layout"
    info = oci_layout(str(layout), [BASE], ref_name="docker.io/acme/x:1")
    blobs = layout / "blobs" / "sha256"
    layer_blob = next(p for p in blobs.iterdir() if p.name not in (info["config"][7:], info["manifest"][7:])
                      and p.stat().st_size > 100 and b"schemaVersion" not in p.read_bytes())
    data = bytearray(layer_blob.read_bytes())
    data[-1] ^= 0xFF
    layer_blob.write_bytes(bytes(data))
    with pytest.raises(ImageInvalid):
        store.import_archive(str(layout))
    assert store.list() == []
    assert not os.listdir(tmp_path / "images" / "tmp")
    with pytest.raises(InvalidImageName):
        store.get("Bad/Name")
