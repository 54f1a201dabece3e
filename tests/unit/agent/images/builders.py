"""Builders for tiny image archives (OCI layouts, docker save tars) made of synthetic files."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile

Entry = tuple  # (name, kind, content) kind: "file" | "dir" | "symlink" | "hardlink"


def layer_tar(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, content in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, content
                tf.addfile(info)
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, content
                tf.addfile(info)
            else:
                data = content if isinstance(content, bytes) else content.encode()
                info.size, info.mode = len(data), 0o755 if name.endswith(".sh") else 0o644
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_config(diff_ids: list[str], **config) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", "config": config,
                       "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()


def oci_layout(root: str, layers: list[list[Entry]], *, ref_name: str | None = "1.0",
               containerd_name: str | None = None, gzip_layers: bool = True, config: dict | None = None,
               index_wrap: bool = False) -> dict:
    """Write an OCI image layout into `root`; returns digests for assertions."""
    blobs = os.path.join(root, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data: bytes) -> str:
        d = digest(data)
        with open(os.path.join(blobs, d.split(":")[1]), "wb") as f:
            f.write(data)
        return d

    diff_ids, descs = [], []
    for entries in layers:
        raw = layer_tar(entries)
        diff_ids.append(digest(raw))
        blob = gzip.compress(raw, mtime=0) if gzip_layers else raw
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gzip_layers else ""),
                      "digest": put(blob), "size": len(blob)})
    cfg = image_config(diff_ids, **(config or {"Cmd": ["sh"]}))
    cfg_digest = put(cfg)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": cfg_digest, "size": len(cfg)},
                           "layers": descs}).encode()
    manifest_digest = put(manifest)
    desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
            "size": len(manifest)}
    if index_wrap:
        inner = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                            "manifests": [
                                {**desc, "platform": {"os": "linux", "architecture": "s390x"}, "digest": cfg_digest},
                                {**desc, "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
        desc = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": put(inner), "size": len(inner)}
    ann = {}
    if ref_name:
        ann["org.opencontainers.image.ref.name"] = ref_name
    if containerd_name:
        ann["io.containerd.image.name"] = containerd_name
    if ann:
        desc["annotations"] = ann
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [desc]}, f)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    return {"config": cfg_digest, "manifest": manifest_digest, "diff_ids": diff_ids}


def docker_save(path: str, layers: list[list[Entry]], repo_tags: list[str], config: dict | None = None) -> dict:
    """A classic `docker save` tar: manifest.json, <id>.json config, <id>/layer.tar."""
    raws = [layer_tar(e) for e in layers]
    diff_ids = [digest(r) for r in raws]
    cfg = image_config(diff_ids, **(config or {"Cmd": ["sh"]}))
    cfg_name = digest(cfg).split(":")[1] + ".json"
    with tarfile.open(path, "w") as tf:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))

        layer_paths = []
        for i, raw in enumerate(raws):
            layer_paths.append(f"{i:064x}/layer.tar")
            add(layer_paths[-1], raw)
        add(cfg_name, cfg)
        add("manifest.json", json.dumps([{"Config": cfg_name, "RepoTags": repo_tags,
                                          "Layers": layer_paths}]).encode())
    return {"config": digest(cfg), "diff_ids": diff_ids}


def tar_dir(src: str, dest: str) -> None:
    with tarfile.open(dest, "w") as tf:
        for name in sorted(os.listdir(src)):
            tf.add(os.path.join(src, name), arcname=name)
