"""Unpack one image layer (a tar stream, maybe gzip) into a directory usable as an overlay lower layer.

OCI layers express deletions as whiteout files: `.wh.<name>` deletes `<name>` from the
layers below, `.wh..wh..opq` hides everything below in its directory. overlayfs spells
these as a character device 0/0 named `<name>` and the `trusted.overlay.opaque=y` xattr
on the directory, so `unpack_layer` converts them while extracting; the layer directories
can then be stacked as they are (`lowerdir=top:...:bottom`) and are shared by every image
that has the same layer. The uncompressed stream's sha256 (the layer's diffID) is
computed on the way and returned so the caller can check it against the image config.
Entries may not escape the target: absolute paths, `..`, writing through a symlink and
hard links pointing outside are rejected (ImageInvalid). Needs root (device nodes,
ownership, trusted.* xattrs), like any real unpacker.
Neighbours: `images.store` (the only caller).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import stat
import tarfile
import zlib
from typing import BinaryIO

from podplane.agent.images.errors import ImageInvalid

__all__ = ["OPAQUE_XATTR", "WHITEOUT_OPAQUE", "WHITEOUT_PREFIX", "HashingReader", "unpack_layer"]

WHITEOUT_PREFIX = ".wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"

_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"


class HashingReader:
    """A read-only stream that hashes what passes through it (sha256) and counts bytes."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.hash.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


class _Peek:
    """Put back the first bytes read to sniff the compression format."""

    def __init__(self, raw: BinaryIO, head: bytes) -> None:
        self.raw, self.head = raw, head

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                data, self.head = self.head + self.raw.read(), b""
                return data
            data, self.head = self.head[:n], self.head[n:]
            if len(data) < n:
                data += self.raw.read(n - len(data))
            return data
        return self.raw.read(n)


def _decompressed(blob: BinaryIO) -> BinaryIO:
    head = blob.read(4)
    stream = _Peek(blob, head)
    if head.startswith(_GZIP):
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[arg-type]
    if head.startswith(_ZSTD):
        raise ImageInvalid("zstd-compressed layers are not supported; re-export the image with gzip "
                           "layers (e.g. `docker save`)")
    return stream  # type: ignore[return-value]


def _check_inside(root: str, name: str) -> str:
    """Target path of a member name, refusing anything that leaves `root`."""
    norm = os.path.normpath(name.lstrip("/"))
    if norm == ".." or norm.startswith("../"):
        raise ImageInvalid(f"layer entry {name!r} points outside the image")
    if norm == ".":
        return root
    parent = os.path.realpath(os.path.join(root, os.path.dirname(norm)))
    if parent != root and not parent.startswith(root + os.sep):
        raise ImageInvalid(f"layer entry {name!r} escapes the image through a symlink")
    return os.path.join(parent, os.path.basename(norm))


def _remove(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def unpack_layer(blob: BinaryIO, dest: str) -> tuple[str, int]:
    """Extract a layer stream (tar, tar+gzip) into the empty directory `dest`, converting
    whiteouts for overlayfs. Returns (diffID, unpacked bytes)."""
    root = os.path.realpath(dest)
    os.makedirs(root, exist_ok=True)
    raw = HashingReader(_decompressed(blob))
    opaque: list[str] = []
    total = 0
    try:
        with tarfile.open(fileobj=raw, mode="r|") as tf:  # type: ignore[call-overload]
            for member in tf:
                target = _check_inside(root, member.name)
                base = os.path.basename(target)
                parent = os.path.dirname(target)
                if base == WHITEOUT_OPAQUE:
                    os.makedirs(parent, exist_ok=True)
                    opaque.append(parent)
                    continue
                if base.startswith(WHITEOUT_PREFIX):
                    os.makedirs(parent, exist_ok=True)
                    victim = os.path.join(parent, base[len(WHITEOUT_PREFIX):])
                    _remove(victim)
                    os.mknod(victim, stat.S_IFCHR | 0o000, os.makedev(0, 0))
                    continue
                if member.islnk():
                    _check_inside(root, member.linkname)
                # A later entry replaces an earlier one; never write through an existing symlink.
                if os.path.lexists(target) and not (member.isdir() and os.path.isdir(target)
                                                    and not os.path.islink(target)):
                    _remove(target)
                rel = os.path.relpath(target, root)
                member.name = rel
                if member.islnk():
                    member.linkname = os.path.relpath(_check_inside(root, member.linkname), root)
                tf.extract(member, root, set_attrs=True, numeric_owner=True, filter="fully_trusted")
                if member.isfile():
                    total += member.size
        raw.drain()  # trailing padding belongs to the diffID too
    except tarfile.TarError as e:
        raise ImageInvalid(f"layer is not a valid tar archive: {e}") from e
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise ImageInvalid(f"layer is truncated or corrupt: {e}") from e
    except PermissionError as e:
        raise ImageInvalid(f"unpacking image layers needs root ({e.strerror})") from e
    for d in opaque:
        os.setxattr(d, OPAQUE_XATTR, b"y")
    return raw.digest, total

