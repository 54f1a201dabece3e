"""Images for the node agent: imported OCI images and the host-image catalog.

`Images(data_dir).resolve(image) -> ImageSpec` is what the pod worker calls before
creating a container; `Images.import_archive(path)` backs `podplane image import FILE`.
An `ImageSpec` is a stack of read-only directories (overlay lower layers) plus the image
config (entrypoint, cmd, env, workingDir, user); the runtime adds a writable layer per
container. Modules: `reference` (name parsing/normalisation), `spec` (ImageSpec),
`catalog` (host images: the host's / plus a known entrypoint, YAML catalog), `layers`
(unpacking a layer with OCI whiteouts → overlayfs whiteouts), `store` (content-addressed
cache of imported images), `resolver` (the `Images` facade), `errors` (ImageError and its
temporary/permanent kinds with their upstream reasons).
Neighbours: `agent.runtime.oci` builds the container spec from an ImageSpec,
`agent.runtime.runc` mounts it.
"""

from podplane.agent.images.catalog import CatalogEntry, HostCatalog
from podplane.agent.images.errors import (
    HostProgramMissing,
    ImageError,
    ImageInvalid,
    ImageNotFound,
    InvalidImageName,
)
from podplane.agent.images.reference import Reference, parse_reference
from podplane.agent.images.resolver import Images
from podplane.agent.images.spec import HOST, OCI, ImageSpec
from podplane.agent.images.store import ImageRecord, ImageStore

__all__ = [
    "HOST",
    "OCI",
    "CatalogEntry",
    "HostCatalog",
    "HostProgramMissing",
    "ImageError",
    "ImageInvalid",
    "ImageNotFound",
    "ImageRecord",
    "ImageSpec",
    "ImageStore",
    "Images",
    "InvalidImageName",
    "Reference",
    "parse_reference",
]
