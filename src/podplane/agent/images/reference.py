"""Image references: parse and normalise `nginx`, `redis:7`, `docker.io/library/nginx:1.27`,
`registry.local:5000/team/app@sha256:...` the way containerd/docker do.

`parse_reference(text)` returns a `Reference` whose `str()` is the fully qualified form
(`docker.io/library/nginx:latest`) that the runtime reports as a container's `image`;
`repository` drops tag and digest (the key the host catalog matches on) and `familiar`
is the short form people type (`nginx:latest`). Malformed input raises InvalidImageName.
Neighbours: used by `images.catalog`, `images.store` and `images.resolver`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from podplane.agent.images.errors import InvalidImageName

__all__ = ["DEFAULT_DOMAIN", "Reference", "parse_reference"]

DEFAULT_DOMAIN = "docker.io"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_RE_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_RE_DOMAIN = re.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
                        r"(?::[0-9]+)?$")
_RE_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_RE_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$")


@dataclass(frozen=True)
class Reference:
    domain: str
    path: str
    tag: str = ""
    """Empty when only a digest was given; `latest` is filled in when neither was."""
    digest: str = ""

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}"

    @property
    def familiar(self) -> str:
        repo = self.path
        if self.domain != DEFAULT_DOMAIN:
            repo = self.repository
        elif repo.startswith("library/"):
            repo = repo[len("library/"):]
        return repo + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.repository + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


def parse_reference(text: str) -> Reference:
    """Normalise an image reference (see module docstring); raises InvalidImageName."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidImageName("image reference is empty")
    ref = text.strip()
    name, at, digest = ref.partition("@")
    if at and not _RE_DIGEST.match(digest):
        raise InvalidImageName(f"invalid image reference {ref!r}: malformed digest")
    tag = ""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        if not _RE_TAG.match(tag):
            raise InvalidImageName(f"invalid image reference {ref!r}: malformed tag")
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        domain, path = first, rest
        if not _RE_DOMAIN.match(domain):
            raise InvalidImageName(f"invalid image reference {ref!r}: malformed registry host")
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain in ("index.docker.io", "registry-1.docker.io"):
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = f"library/{path}"
    if not _RE_PATH.match(path):
        hint = " (repository names must be lowercase)" if path != path.lower() else ""
        raise InvalidImageName(f"invalid image reference {ref!r}{hint}")
    if not tag and not digest:
        tag = "latest"
    return Reference(domain=domain, path=path, tag=tag, digest=digest)
