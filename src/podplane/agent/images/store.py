"""Local store of imported OCI images: import once, unpack once, resolve by name.

`import_archive(path)` accepts an OCI image layout (a directory or a tar of one, as
`skopeo copy ... oci-archive:` or `docker save` from Docker 25+ write) or a classic
`docker save` tar (manifest.json + layer tars), optionally gzip-compressed. For each
image it reads the manifest (choosing linux/<this machine's arch> from an index),
verifies blob digests, unpacks each layer with `images.layers.unpack_layer` into
`layers/sha256/<diffID>/` (content-addressed: a layer shared by images or imported twice
is unpacked once; unpacking goes to a temporary directory renamed into place), keeps the
image config under `configs/`, and records the name in `index.json` (written atomically
under a file lock, so `podplane image import` may run while the agent reads the store).
`get(reference)` returns the `ImageSpec`, or None when the name is not imported.
Layout: <root>/index.json, <root>/configs/sha256/<hex>.json, <root>/layers/sha256/<hex>/,
<root>/tmp/. Neighbours: `images.layers`, `images.resolver`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from podplane.agent.images.errors import ImageError, ImageInvalid, InvalidImageName
from podplane.agent.images.layers import HashingReader, unpack_layer
from podplane.agent.images.reference import parse_reference
from podplane.agent.images.spec import OCI, ImageSpec

__all__ = ["ImageRecord", "ImageStore", "machine_platform"]

_MT_INDEX = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
_MT_MANIFEST = ("application/vnd.oci.image.manifest.v1+json",
                "application/vnd.docker.distribution.manifest.v2+json")
_ANN_REF = "org.opencontainers.image.ref.name"
_ANN_CONTAINERD = "io.containerd.image.name"


def machine_platform() -> tuple[str, str]:
    """(os, architecture) in OCI terms for this machine."""
    arch = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64"}.get(arch, arch)
    return "linux", arch


@dataclass(frozen=True)
class ImageRecord:
    """One imported image name as the index keeps it."""

    name: str
    """Fully qualified reference."""
    config_digest: str
    manifest_digest: str
    """Empty for classic `docker save` archives (they carry no manifest)."""
    layers: tuple[str, ...]
    """diffIDs, bottom-most first (image config order)."""
    size: int
    imported_at: float

    @property
    def image_id(self) -> str:
        repo = parse_reference(self.name).repository
        return f"{repo}@{self.manifest_digest or self.config_digest}"

    def to_json(self) -> dict:
        return {"name": self.name, "configDigest": self.config_digest, "manifestDigest": self.manifest_digest,
                "layers": list(self.layers), "size": self.size, "importedAt": self.imported_at}

    @classmethod
    def from_json(cls, d: dict) -> ImageRecord:
        return cls(name=d["name"], config_digest=d["configDigest"], manifest_digest=d.get("manifestDigest", ""),
                   layers=tuple(d["layers"]), size=int(d.get("size", 0)),
                   imported_at=float(d.get("importedAt", 0)))


# --- archive sources ------------------------------------------------------------------------

class _Source:
    """Files of an archive by relative path: a directory or a tar."""

    def exists(self, rel: str) -> bool:
        raise NotImplementedError

    def open(self, rel: str) -> BinaryIO:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def json(self, rel: str) -> object:
        try:
            with self.open(rel) as f:
                return json.loads(f.read(16 << 20))
        except (ValueError, UnicodeDecodeError) as e:
            raise ImageInvalid(f"{rel} in the archive is not valid JSON") from e


class _DirSource(_Source):
    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    def _path(self, rel: str) -> str:
        full = os.path.realpath(os.path.join(self.root, os.path.normpath(rel).lstrip("/")))
        if not full.startswith(self.root + os.sep):
            raise ImageInvalid(f"archive path {rel!r} points outside the archive")
        return full

    def exists(self, rel: str) -> bool:
        return os.path.isfile(self._path(rel))

    def open(self, rel: str) -> BinaryIO:
        try:
            return open(self._path(rel), "rb")
        except FileNotFoundError as e:
            raise ImageInvalid(f"the archive lacks {rel}") from e


class _TarSource(_Source):
    def __init__(self, path: str) -> None:
        try:
            self.tf = tarfile.open(path, mode="r:*")
            self.members = {os.path.normpath(m.name).lstrip("/"): m for m in self.tf.getmembers()}
        except (tarfile.TarError, OSError, EOFError) as e:
            raise ImageInvalid(f"{os.path.basename(path)} is not a readable tar archive: {e}") from e

    def _member(self, rel: str) -> tarfile.TarInfo | None:
        m = self.members.get(os.path.normpath(rel).lstrip("/"))
        seen = 0
        while m is not None and (m.issym() or m.islnk()) and seen < 10:  # docker save uses symlinked layers
            target = m.linkname if m.islnk() else os.path.join(os.path.dirname(m.name), m.linkname)
            m = self.members.get(os.path.normpath(target).lstrip("/"))
            seen += 1
        return m if m is not None and m.isfile() else None

    def exists(self, rel: str) -> bool:
        return self._member(rel) is not None

    def open(self, rel: str) -> BinaryIO:
        m = self._member(rel)
        f = self.tf.extractfile(m) if m is not None else None
        if f is None:
            raise ImageInvalid(f"the archive lacks {rel}")
        return f  # type: ignore[return-value]

    def close(self) -> None:
        self.tf.close()


def _open_source(path: str) -> _Source:
    if os.path.isdir(path):
        return _DirSource(path)
    if os.path.isfile(path):
        return _TarSource(path)
    raise ImageInvalid(f"{path} does not exist (expected an OCI layout directory or a tar archive)")


def _blob_path(digest: str) -> str:
    algo, _, hexd = digest.partition(":")
    if algo != "sha256" or len(hexd) != 64 or not all(c in "0123456789abcdef" for c in hexd):
        raise ImageInvalid(f"unsupported or malformed digest {digest!r}")
    return f"blobs/sha256/{hexd}"


@dataclass
class _Found:
    names: list[str]
    config: dict
    config_digest: str
    manifest_digest: str
    layers: list[tuple[str, str]]
    """(archive path, expected blob digest or '') per layer, bottom-most first."""


# --- the store ------------------------------------------------------------------------------

class ImageStore:
    """Imported images under `root` (usually `<data-dir>/images`)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self._index: dict[str, dict] = {}
        self._index_stamp: tuple[float, int] | None = None

    # paths
    def _p(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def layer_dir(self, diff_id: str) -> str:
        return self._p("layers", "sha256", diff_id.partition(":")[2])

    def config_path(self, digest: str) -> str:
        return self._p("configs", "sha256", digest.partition(":")[2] + ".json")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        os.makedirs(self.root, exist_ok=True)
        with open(self._p("lock"), "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _load_index(self) -> dict[str, dict]:
        path = self._p("index.json")
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self._index, self._index_stamp = {}, None
            return self._index
        stamp = (st.st_mtime, st.st_size)
        if stamp != self._index_stamp:
            try:
                with open(path) as f:
                    data = json.load(f)
            except ValueError as e:
                raise ImageInvalid(f"image index {path} is corrupt; re-import the images") from e
            self._index = data.get("images", {}) if isinstance(data, dict) else {}
            self._index_stamp = stamp
        return self._index

    def _save_index(self, images: dict[str, dict]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".index.")
        with os.fdopen(fd, "w") as f:
            json.dump({"images": images}, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._p("index.json"))
        self._index_stamp = None

    # queries
    def list(self) -> list[ImageRecord]:
        return [ImageRecord.from_json(v) for _, v in sorted(self._load_index().items())]

    def record(self, reference: str) -> ImageRecord | None:
        ref = parse_reference(reference)
        index = self._load_index()
        if ref.digest:
            for v in index.values():
                if ref.digest in (v.get("manifestDigest"), v.get("configDigest")) and \
                        parse_reference(v["name"]).repository == ref.repository:
                    return ImageRecord.from_json(v)
            return None
        raw = index.get(str(ref))
        return ImageRecord.from_json(raw) if raw else None

    def get(self, reference: str) -> ImageSpec | None:
        """The imported image for `reference`, or None. Raises InvalidImageName for a malformed
        reference and ImageInvalid if the image's files are damaged."""
        rec = self.record(reference)
        if rec is None:
            return None
        try:
            with open(self.config_path(rec.config_digest)) as f:
                config = (json.load(f).get("config") or {})
        except (OSError, ValueError) as e:
            raise ImageInvalid(f"image {rec.name} is damaged in the store (config unreadable); import it "
                               f"again") from e
        lowers = tuple(self.layer_dir(d) for d in reversed(rec.layers))
        for d in lowers:
            if not os.path.isdir(d):
                raise ImageInvalid(f"image {rec.name} is damaged in the store (a layer is missing); import it "
                                   f"again")
        if not lowers:
            # overlayfs needs at least one lower directory
            empty = self._p("layers", "empty")
            os.makedirs(empty, exist_ok=True)
            lowers = (empty,)
        ref = parse_reference(reference)
        return ImageSpec(
            ref=str(ref) if not ref.digest else rec.name, image_id=rec.image_id, kind=OCI, lower_dirs=lowers,
            entrypoint=tuple(config.get("Entrypoint") or ()), cmd=tuple(config.get("Cmd") or ()),
            env=tuple(config.get("Env") or ()), working_dir=config.get("WorkingDir") or "",
            user=config.get("User") or "", labels=dict(config.get("Labels") or {}), size=rec.size)

    def remove(self, reference: str) -> bool:
        """Forget a name (unpacked layers stay until `prune`)."""
        name = str(parse_reference(reference))
        with self._locked():
            images = dict(self._load_index())
            if images.pop(name, None) is None:
                return False
            self._save_index(images)
        return True

    def prune(self) -> list[str]:
        """Delete layers and configs no image refers to; returns the removed diffIDs/digests."""
        removed = []
        with self._locked():
            recs = [ImageRecord.from_json(v) for v in self._load_index().values()]
            used_layers = {d.partition(":")[2] for r in recs for d in r.layers}
            used_configs = {r.config_digest.partition(":")[2] + ".json" for r in recs}
            for sub, used in ((("layers", "sha256"), used_layers), (("configs", "sha256"), used_configs)):
                d = self._p(*sub)
                for n in os.listdir(d) if os.path.isdir(d) else []:
                    if n not in used:
                        p = os.path.join(d, n)
                        shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
                        removed.append("sha256:" + n.removesuffix(".json"))
        return removed

    # import
    def import_archive(self, path: str, *, name: str | None = None) -> list[ImageRecord]:
        """Import every image of an archive (see module docstring). `name` names an image whose
        archive carries only a tag or no name at all (`name` may itself carry the tag).
        Returns the records written. Raises ImageInvalid for a malformed archive."""
        source = _open_source(path)
        try:
            found = self._read_images(source, name)
            if not found:
                raise ImageInvalid(f"{os.path.basename(path)} contains no image for "
                                   f"{'/'.join(machine_platform())}")
            out = []
            for f in found:
                out.extend(self._store(source, f))
            return out
        finally:
            source.close()

    def _read_images(self, source: _Source, name: str | None) -> list[_Found]:
        if source.exists("manifest.json"):
            return self._read_docker(source, name)
        if source.exists("index.json"):
            return self._read_oci(source, name)
        raise ImageInvalid("not an image archive: neither manifest.json (docker save) nor index.json "
                           "(OCI image layout) found")

    @staticmethod
    def _names(candidates: list[str], name: str | None) -> list[str]:
        out = []
        for c in candidates:
            try:
                out.append(str(parse_reference(c)))
            except InvalidImageName:
                continue
        if not out and name:
            out.append(str(parse_reference(name)))
        if not out:
            raise ImageInvalid("the archive does not name its image; pass a name (`podplane image import "
                               "FILE --name NAME`)")
        return out

    def _read_docker(self, source: _Source, name: str | None) -> list[_Found]:
        manifest = source.json("manifest.json")
        if not isinstance(manifest, list):
            raise ImageInvalid("manifest.json of a docker save archive must be a list")
        out = []
        for entry in manifest:
            if not isinstance(entry, dict) or "Config" not in entry:
                raise ImageInvalid("manifest.json entry without Config")
            cfg_path = entry["Config"]
            with source.open(cfg_path) as f:
                raw = f.read()
            config = self._parse_config(raw)
            digest = "sha256:" + hashlib.sha256(raw).hexdigest()
            names = self._names(list(entry.get("RepoTags") or []), name)
            layers = [(p, "") for p in entry.get("Layers") or []]
            out.append(_Found(names, config, digest, "", layers))
        return out

    @staticmethod
    def _parse_config(raw: bytes) -> dict:
        try:
            config = json.loads(raw)
        except ValueError as e:
            raise ImageInvalid("image config is not valid JSON") from e
        if not isinstance(config, dict):
            raise ImageInvalid("image config is not a JSON object")
        return config

    def _read_verified(self, source: _Source, digest: str) -> bytes:
        with source.open(_blob_path(digest)) as f:
            raw = f.read(64 << 20)
        if "sha256:" + hashlib.sha256(raw).hexdigest() != digest:
            raise ImageInvalid(f"blob {digest} does not match its digest")
        return raw

    def _read_oci(self, source: _Source, name: str | None) -> list[_Found]:
        index = source.json("index.json")
        if not isinstance(index, dict):
            raise ImageInvalid("index.json is not a JSON object")
        out = []
        for desc in index.get("manifests") or []:
            ann = desc.get("annotations") or {}
            candidates = []
            if ann.get(_ANN_CONTAINERD):
                candidates.append(ann[_ANN_CONTAINERD])
            ref_name = ann.get(_ANN_REF)
            if ref_name:
                if ":" in ref_name or "/" in ref_name or "@" in ref_name:
                    candidates.append(ref_name)
                elif name:
                    base = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
                    candidates.append(f"{base}:{ref_name}")
            manifest_digest, manifest = self._pick_manifest(source, desc)
            if manifest is None:
                continue
            cfg_digest = (manifest.get("config") or {}).get("digest", "")
            config = self._parse_config(self._read_verified(source, cfg_digest))
            layers = [(_blob_path(layer["digest"]), layer["digest"]) for layer in manifest.get("layers") or []]
            out.append(_Found(self._names(candidates, name), config, cfg_digest, manifest_digest, layers))
        return out

    def _pick_manifest(self, source: _Source, desc: dict, depth: int = 0) -> tuple[str, dict | None]:
        if depth > 4:
            raise ImageInvalid("image index nesting is too deep")
        digest = desc.get("digest", "")
        doc = json.loads(self._read_verified(source, digest))
        media = desc.get("mediaType") or doc.get("mediaType") or ""
        if media in _MT_INDEX or "manifests" in doc:
            want = machine_platform()
            for d in doc.get("manifests") or []:
                plat = d.get("platform") or {}
                if (plat.get("os"), plat.get("architecture")) == want or not plat:
                    return self._pick_manifest(source, d, depth + 1)
            return digest, None
        if media and media not in _MT_MANIFEST:
            raise ImageInvalid(f"unsupported manifest media type {media}")
        return digest, doc

    def _store(self, source: _Source, found: _Found) -> list[ImageRecord]:
        diff_ids = list(((found.config.get("rootfs") or {}).get("diff_ids")) or [])
        if len(diff_ids) != len(found.layers):
            raise ImageInvalid(f"image config lists {len(diff_ids)} layers but the manifest has "
                               f"{len(found.layers)}")
        size = 0
        for (path, blob_digest), diff_id in zip(found.layers, diff_ids, strict=True):
            size += self._unpack_once(source, path, blob_digest, diff_id)
        os.makedirs(self._p("configs", "sha256"), exist_ok=True)
        cfg_path = self.config_path(found.config_digest)
        if not os.path.exists(cfg_path):
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(cfg_path))
            with os.fdopen(fd, "w") as f:
                json.dump(found.config, f)
            os.replace(tmp, cfg_path)
        now = time.time()
        records = [ImageRecord(name=n, config_digest=found.config_digest, manifest_digest=found.manifest_digest,
                               layers=tuple(diff_ids), size=size, imported_at=now) for n in found.names]
        with self._locked():
            images = dict(self._load_index())
            for r in records:
                images[r.name] = r.to_json()
            self._save_index(images)
        return records

    def _unpack_once(self, source: _Source, path: str, blob_digest: str, diff_id: str) -> int:
        final = self.layer_dir(diff_id)
        _blob_path(diff_id)  # validates the diffID's form
        if os.path.isdir(final):
            return _dir_size(final)
        tmp_root = self._p("tmp")
        os.makedirs(tmp_root, exist_ok=True)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        tmp = tempfile.mkdtemp(dir=tmp_root, prefix="layer-")
        try:
            with source.open(path) as blob:
                hashed = HashingReader(blob)
                got_diff, size = unpack_layer(hashed, tmp)  # type: ignore[arg-type]
                hashed.drain()
            if blob_digest and hashed.digest != blob_digest:
                raise ImageInvalid(f"layer {blob_digest} does not match its digest")
            if got_diff != diff_id:
                raise ImageInvalid(f"layer {path} unpacks to {got_diff}, but the image config says {diff_id}")
            try:
                os.rename(tmp, final)
            except OSError:
                if not os.path.isdir(final):  # lost a race with another importer: theirs is identical
                    raise
            return size
        except ImageError:
            raise
        except OSError as e:
            raise ImageInvalid(f"cannot unpack layer {path}: {e.strerror}") from e
        finally:
            if os.path.isdir(tmp):
                shutil.rmtree(tmp, ignore_errors=True)


def _dir_size(root: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(root):
        for n in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, n)).st_size
    return total
