"""`Images`: the agent's one entry point for images (what the pod worker calls "pull").

`resolve(image)` answers with an `ImageSpec` from, in order: the store of imported OCI
images (`<data-dir>/images`), then the host-image catalog (packaged defaults plus
`<data-dir>/images.yaml`, re-read when that file changes). A miss raises ImageNotFound
whose message says how to make the image available; a catalog image whose program is
not installed raises HostProgramMissing (also an ImageNotFound); a malformed reference
raises InvalidImageName. The pod worker maps these to ErrImagePull/ImagePullBackOff and
InvalidImageName, and reports `spec.ref`/`spec.image_id` as the container's image and
imageID. Registry pulls are not implemented yet: `imagePullPolicy: Always` resolves locally
like IfNotPresent.
Neighbours: `images.store`, `images.catalog`, `runtime.runc` (mounts what this returns).
"""

from __future__ import annotations

import logging
import os

from podplane.agent.images.catalog import HostCatalog
from podplane.agent.images.errors import ImageError, ImageNotFound
from podplane.agent.images.reference import parse_reference
from podplane.agent.images.spec import ImageSpec
from podplane.agent.images.store import ImageRecord, ImageStore

__all__ = ["CATALOG_FILE", "IMAGES_DIR", "Images"]

log = logging.getLogger(__name__)

CATALOG_FILE = "images.yaml"
"""The user's host-image catalog, in the data directory."""
IMAGES_DIR = "images"
"""Imported OCI images, in the data directory."""


class Images:
    def __init__(self, data_dir: str, *, catalog_file: str | None = None, host_root: str = "/",
                 default_catalog: str | None = None) -> None:
        self.store = ImageStore(os.path.join(data_dir, IMAGES_DIR))
        self.catalog_file = catalog_file or os.path.join(data_dir, CATALOG_FILE)
        self.host_root = host_root
        self._default_catalog = default_catalog
        self._catalog: HostCatalog | None = None
        self._catalog_stamp: object = None
        self._catalog_error = ""

    def catalog(self) -> HostCatalog:
        """The host catalog, reloaded when the user's file changed. A broken user file is
        reported (log + the ImageNotFound message) and the last good catalog kept."""
        try:
            st = os.stat(self.catalog_file)
            stamp: object = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if self._catalog is None or stamp != self._catalog_stamp:
            try:
                self._catalog = HostCatalog.load(self.catalog_file, host_root=self.host_root,
                                                 default_text=self._default_catalog)
                self._catalog_error = ""
            except ImageError as e:
                self._catalog_error = str(e)
                log.warning("%s (keeping the previous catalog)", e)
                if self._catalog is None:
                    self._catalog = HostCatalog.load(None, host_root=self.host_root,
                                                     default_text=self._default_catalog)
            self._catalog_stamp = stamp
        return self._catalog

    def resolve(self, image: str) -> ImageSpec:
        """The image to run for a container's `image` field (see module docstring)."""
        ref = parse_reference(image)
        spec = self.store.get(image)
        if spec is not None:
            return spec
        if not ref.digest:
            host = self.catalog().resolve(ref)
            if host is not None:
                return host
        hint = f" ({self._catalog_error})" if self._catalog_error else ""
        raise ImageNotFound(
            f"image {ref.familiar} is not available on this node: import it with `podplane image import FILE` "
            f"(an OCI image layout or a `docker save` archive) or add it to the host-image catalog "
            f"{self.catalog_file}{hint}")

    def import_archive(self, path: str, *, name: str | None = None) -> list[ImageRecord]:
        return self.store.import_archive(path, name=name)

    def list(self) -> list[ImageRecord]:
        return self.store.list()
