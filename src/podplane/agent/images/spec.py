"""`ImageSpec`: a resolved image as the runtime consumes it.

Whatever its origin (a host-catalog entry or an imported OCI image), an image is a list
of read-only directories stacked as overlayfs lower layers (`lower_dirs`, top-most first;
`("/",)` for a host image) plus the parts of the OCI image config that shape a container
(Entrypoint, Cmd, Env, WorkingDir, User). `read_file` looks a file up through the layers
(honouring overlay whiteouts) so the spec builder can resolve user names with the image's
own /etc/passwd and /etc/group.
Neighbours: built by `images.catalog` and `images.store`; read by `runtime.oci` and
`runtime.runc` (which mounts the overlay).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

__all__ = ["HOST", "OCI", "ImageSpec"]

HOST = "host"
OCI = "oci"


@dataclass(frozen=True)
class ImageSpec:
    ref: str
    """Fully qualified reference (`docker.io/library/nginx:latest`): a container's `image`."""
    image_id: str
    """`<repository>@sha256:<digest>`: a container's `imageID`."""
    kind: str
    """HOST or OCI."""
    lower_dirs: tuple[str, ...]
    """overlayfs lower directories, top-most first."""
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    """`NAME=value` strings, in image order."""
    working_dir: str = ""
    user: str = ""
    """As in an image config: `name`, `uid`, `name:group`, `uid:gid` or empty (root)."""
    labels: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    size: int = 0
    """Unpacked bytes (0 for host images), reported as the image size."""

    def read_file(self, path: str, limit: int = 1 << 20) -> bytes | None:
        """Content of `path` (absolute in the image) from the top-most layer holding it,
        None if absent, whited out, or not a regular file. At most `limit` bytes."""
        rel = path.lstrip("/")
        for layer in self.lower_dirs:
            full = os.path.join(layer, rel)
            try:
                st = os.lstat(full)
            except (FileNotFoundError, NotADirectoryError):
                continue
            except PermissionError:
                return None
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return None  # overlay whiteout: deleted in this layer
            if not stat.S_ISREG(st.st_mode):
                return None
            with open(full, "rb") as f:
                return f.read(limit)
        return None
