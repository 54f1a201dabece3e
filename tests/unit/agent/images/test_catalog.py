"""images.catalog and images.resolver: host images and the not-found messages."""

from __future__ import annotations

import os

import pytest

from podplane.agent.images import (
    HOST,
    HostCatalog,
    HostProgramMissing,
    ImageInvalid,
    ImageNotFound,
    Images,
    parse_reference,
)
from podplane.agent.images.catalog import default_catalog_text


@pytest.fixture
def host(tmp_path) -> str:
    """A fake host root with python3 and sh but no nginx."""
    root = tmp_path / "host"
    for p in ("usr/bin/python3", "bin/sh", "bin/sleep"):
        (root / p).parent.mkdir(parents=True, exist_ok=True)
        (root / p).write_text("")
    return str(root)


def test_packaged_catalog_covers_the_well_known_images(host):
    cat = HostCatalog.load(None, host_root=host)
    names = {e.name for e in cat.entries()}
    assert {"nginx", "redis", "busybox", "python", "mariadb"} <= names
    assert "images:" in default_catalog_text()


@pytest.mark.parametrize(("ref", "name"), [
    pytest.param("python", "python", id="short"),
    pytest.param("python:3.11-slim", "python", id="any-tag"),
    pytest.param("docker.io/library/python:3.12", "python", id="full"),
    pytest.param("busybox:1.36", "busybox", id="busybox"),
    pytest.param("registry.k8s.io/pause:3.9", "registry.k8s.io/pause", id="pause"),
])
def test_lookup_and_resolve(host, ref, name):
    cat = HostCatalog.load(None, host_root=host)
    r = parse_reference(ref)
    assert cat.lookup(r).name == name
    spec = cat.resolve(r)
    assert spec.kind == HOST and spec.lower_dirs == (host,)
    assert spec.ref == str(r)
    assert spec.image_id.startswith(r.repository + "@sha256:")


def test_missing_program_message(host):
    cat = HostCatalog.load(None, host_root=host)
    with pytest.raises(HostProgramMissing) as e:
        cat.resolve(parse_reference("docker.io/library/nginx:1.27"))
    assert str(e.value) == ("image nginx:1.27 needs /usr/sbin/nginx; install the Debian package nginx or import an "
                            "OCI image with `podplane image import`")
    assert e.value.temporary and e.value.reason == "ErrImagePull"
    assert isinstance(e.value, ImageNotFound)


def test_user_file_overrides_and_adds(host, tmp_path):
    user = tmp_path / "images.yaml"
    user.write_text("""
images:
  - name: python
    cmd: [python3, -m, http.server]
    env: [A=1]
    workingDir: /srv
    user: "1000"
  - name: ghcr.io/acme/tool
    aliases: [acme/tool]
    entrypoint: [/bin/sh, -c]
    cmd: [echo tool]
    requires: [/bin/sh]
""")
    cat = HostCatalog.load(str(user), host_root=host)
    py = cat.resolve(parse_reference("python:3"))
    assert (py.cmd, py.env, py.working_dir, py.user) == (("python3", "-m", "http.server"), ("A=1",), "/srv", "1000")
    tool = cat.resolve(parse_reference("acme/tool:2"))
    assert tool.entrypoint == ("/bin/sh", "-c") and tool.cmd == ("echo tool",)
    assert cat.resolve(parse_reference("unknown/thing")) is None


@pytest.mark.parametrize(("text", "match"), [
    pytest.param("images: [", "not valid YAML", id="yaml"),
    pytest.param("images: {}", "must be a list", id="not-list"),
    pytest.param("images: [{cmd: [x]}]", "needs a `name`", id="no-name"),
    pytest.param("images: [{name: x, colour: red}]", "unknown field", id="unknown-field"),
    pytest.param("images: [{name: x, requires: [usr/bin/x]}]", "must be absolute", id="relative-path"),
    pytest.param("images: [{name: x, env: [NOVALUE]}]", "NAME=value", id="env"),
    pytest.param("images: [{name: Bad}]", "lowercase", id="bad-name"),
])
def test_bad_catalog(tmp_path, text, match):
    f = tmp_path / "images.yaml"
    f.write_text(text)
    with pytest.raises(ImageInvalid, match=match) as e:
        HostCatalog.load(str(f))
    assert str(f) in str(e.value)


def test_resolver_not_found_message_and_reload(host, tmp_path):
    data = tmp_path / "data"
    images = Images(str(data), host_root=host)
    with pytest.raises(ImageNotFound) as e:
        images.resolve("acme/tool:2")
    msg = str(e.value)
    assert "image acme/tool:2 is not available on this node" in msg
    assert "podplane image import FILE" in msg and str(data / "images.yaml") in msg
    # adding it to the user catalog makes it resolvable without a restart
    os.makedirs(data, exist_ok=True)
    (data / "images.yaml").write_text("images: [{name: acme/tool, cmd: [sh], requires: [/bin/sh]}]\n")
    assert images.resolve("acme/tool:2").cmd == ("sh",)
    # a broken edit keeps the last good catalog and says so
    (data / "images.yaml").write_text("images: [")
    assert images.resolve("acme/tool:2").cmd == ("sh",)
    with pytest.raises(ImageNotFound, match="not valid YAML"):
        images.resolve("other/thing")
