"""Host-image catalog: well-known image names mapped to programs installed on the node.

A host image's root filesystem is the host's `/` as a read-only overlay lower layer (the
runtime adds a private writable layer per container); the catalog supplies what an image
config would (entrypoint, cmd, env, workingDir, user) and the host paths the image needs.
The packaged `catalog.yaml` (nginx, redis, busybox, python, mariadb, ...) is read first,
then the user's `<data-dir>/images.yaml`, whose entries override same-named ones.
Flow: `HostCatalog.load(user_file)` → `lookup(reference)` (by repository, any tag) →
`resolve(reference)` → `ImageSpec`, or HostProgramMissing naming the missing path and the
Debian package that provides it.
Neighbours: `images.resolver` (tries imported OCI images first), `images.spec`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib import resources

import yaml

from podplane.agent.images.errors import HostProgramMissing, ImageInvalid
from podplane.agent.images.reference import Reference, parse_reference
from podplane.agent.images.spec import HOST, ImageSpec

__all__ = ["CatalogEntry", "HostCatalog", "default_catalog_text"]

_FIELDS = {"name", "aliases", "entrypoint", "cmd", "env", "workingDir", "user", "requires", "package",
           "description"}


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    repositories: tuple[str, ...]
    """Normalised repositories this entry answers for (name first, then aliases)."""
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    requires: tuple[str, ...] = ()
    package: str = ""
    source: str = ""
    """Which file defined it (for messages)."""

    def digest(self) -> str:
        body = json.dumps([self.name, self.entrypoint, self.cmd, self.env, self.working_dir, self.user],
                          separators=(",", ":"))
        return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def default_catalog_text() -> str:
    """The packaged catalog (catalog.yaml next to this module)."""
    return resources.files("podplane.agent.images").joinpath("catalog.yaml").read_text()


def _strings(value: object, what: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise ImageInvalid(f"{where}: {what} must be a list of strings")
    return tuple(str(v) for v in value)


def _entries(text: str, source: str) -> list[CatalogEntry]:
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ImageInvalid(f"host-image catalog {source} is not valid YAML: {e}") from e
    items = doc.get("images") if isinstance(doc, dict) else None
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ImageInvalid(f"host-image catalog {source}: `images` must be a list")
    out = []
    for i, item in enumerate(items):
        where = f"host-image catalog {source}, entry {i + 1}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ImageInvalid(f"{where}: each entry needs a `name`")
        unknown = set(item) - _FIELDS
        if unknown:
            raise ImageInvalid(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        names = (item["name"], *_strings(item.get("aliases"), "aliases", where))
        try:
            repos = tuple(parse_reference(n).repository for n in names)
        except Exception as e:
            raise ImageInvalid(f"{where}: {e}") from e
        for path in _strings(item.get("requires"), "requires", where):
            if not path.startswith("/"):
                raise ImageInvalid(f"{where}: required path {path!r} must be absolute")
        for kv in _strings(item.get("env"), "env", where):
            if "=" not in kv:
                raise ImageInvalid(f"{where}: env entries are NAME=value")
        out.append(CatalogEntry(
            name=item["name"], repositories=repos,
            entrypoint=_strings(item.get("entrypoint"), "entrypoint", where),
            cmd=_strings(item.get("cmd"), "cmd", where),
            env=_strings(item.get("env"), "env", where),
            working_dir=str(item.get("workingDir") or ""), user=str(item.get("user") or ""),
            requires=_strings(item.get("requires"), "requires", where),
            package=str(item.get("package") or ""), source=source))
    return out


class HostCatalog:
    """Repository → entry; later entries (the user's file) override earlier ones."""

    def __init__(self, entries: list[CatalogEntry], *, host_root: str = "/", user_file: str | None = None
                 ) -> None:
        self.host_root = host_root
        self.user_file = user_file
        self._by_repo: dict[str, CatalogEntry] = {}
        for e in entries:
            for repo in e.repositories:
                self._by_repo[repo] = e

    @classmethod
    def load(cls, user_file: str | None = None, *, host_root: str = "/",
             default_text: str | None = None) -> HostCatalog:
        """The packaged defaults plus `user_file` when it exists. Raises ImageInvalid for a
        malformed file (naming the file and the entry)."""
        entries = _entries(default_catalog_text() if default_text is None else default_text, "(packaged)")
        if user_file and os.path.exists(user_file):
            with open(user_file) as f:
                entries += _entries(f.read(), user_file)
        return cls(entries, host_root=host_root, user_file=user_file)

    def entries(self) -> list[CatalogEntry]:
        seen: list[CatalogEntry] = []
        for e in self._by_repo.values():
            if e not in seen:
                seen.append(e)
        return seen

    def lookup(self, ref: Reference) -> CatalogEntry | None:
        return self._by_repo.get(ref.repository)

    def missing(self, entry: CatalogEntry) -> list[str]:
        """Required paths absent on this host."""
        return [p for p in entry.requires if not os.path.exists(os.path.join(self.host_root, p.lstrip("/")))]

    def resolve(self, ref: Reference) -> ImageSpec | None:
        """The host image for `ref`, None if the catalog has no entry for it. Raises
        HostProgramMissing when the entry's program is not installed."""
        entry = self.lookup(ref)
        if entry is None:
            return None
        missing = self.missing(entry)
        if missing:
            pkg = f"install the Debian package {entry.package}" if entry.package else "install it"
            raise HostProgramMissing(
                f"image {ref.familiar} needs {missing[0]}; {pkg} or import an OCI image with "
                f"`podplane image import`")
        return ImageSpec(
            ref=str(ref), image_id=f"{ref.repository}@{entry.digest()}", kind=HOST,
            lower_dirs=(self.host_root,), entrypoint=entry.entrypoint, cmd=entry.cmd, env=entry.env,
            working_dir=entry.working_dir, user=entry.user, labels={"podplane.io/host-image": entry.name})
