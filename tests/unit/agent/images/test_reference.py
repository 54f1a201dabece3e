"""images.reference: normalising image references like containerd."""

from __future__ import annotations

import pytest

from podplane.agent.images import InvalidImageName, parse_reference

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(("text", "full", "repository", "familiar"), [
    pytest.param("nginx", "docker.io/library/nginx:latest", "docker.io/library/nginx", "nginx:latest", id="short"),
    pytest.param("nginx:1.27", "docker.io/library/nginx:1.27", "docker.io/library/nginx", "nginx:1.27", id="tag"),
    pytest.param("docker.io/library/nginx:1.27", "docker.io/library/nginx:1.27", "docker.io/library/nginx",
                 "nginx:1.27", id="full"),
    pytest.param("index.docker.io/library/redis", "docker.io/library/redis:latest", "docker.io/library/redis",
                 "redis:latest", id="index-alias"),
    pytest.param("bitnami/redis:7", "docker.io/bitnami/redis:7", "docker.io/bitnami/redis", "bitnami/redis:7",
                 id="user-repo"),
    pytest.param("registry.local:5000/team/app", "registry.local:5000/team/app:latest",
                 "registry.local:5000/team/app", "registry.local:5000/team/app:latest", id="registry-port"),
    pytest.param("localhost/app:dev", "localhost/app:dev", "localhost/app", "localhost/app:dev", id="localhost"),
    pytest.param(f"busybox@{D}", f"docker.io/library/busybox@{D}", "docker.io/library/busybox", f"busybox@{D}",
                 id="digest"),
    pytest.param(f"quay.io/x/y:1@{D}", f"quay.io/x/y:1@{D}", "quay.io/x/y", f"quay.io/x/y:1@{D}", id="tag-and-digest"),
])
def test_parse(text, full, repository, familiar):
    ref = parse_reference(text)
    assert (str(ref), ref.repository, ref.familiar) == (full, repository, familiar)


@pytest.mark.parametrize("text", [
    pytest.param("", id="empty"),
    pytest.param("Nginx", id="uppercase"),
    pytest.param("nginx:bad tag", id="space-in-tag"),
    pytest.param("nginx@sha256:xyz", id="bad-digest"),
    pytest.param("a//b", id="empty-component"),
    pytest.param("-lead", id="leading-dash"),
])
def test_invalid(text):
    with pytest.raises(InvalidImageName) as e:
        parse_reference(text)
    assert e.value.reason == "InvalidImageName" and not e.value.temporary
