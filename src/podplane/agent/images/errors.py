"""Image errors: what the pod worker turns into ErrImagePull / ImagePullBackOff / InvalidImageName.

`ImageError` is the base. `temporary` tells whether the same request may succeed later
without changing the pod: a missing image may be imported or its host program installed
(ErrImagePull, retried with ImagePullBackOff), a malformed reference never resolves
(InvalidImageName, not retried), a corrupt archive must be fixed by whoever imports it.
`reason` is the upstream waiting reason to report. Messages say how to make an image
available and never include file contents or credentials.
Neighbours: raised by `images.reference`, `images.catalog`, `images.store`, `images.resolver`.
"""

from __future__ import annotations

__all__ = ["HostProgramMissing", "ImageError", "ImageInvalid", "ImageNotFound", "InvalidImageName"]


class ImageError(Exception):
    """Base of the image errors."""

    temporary = False
    reason = "ErrImagePull"


class ImageNotFound(ImageError):
    """The image is neither imported nor in the host-image catalog (or its program is missing)."""

    temporary = True
    reason = "ErrImagePull"


class HostProgramMissing(ImageNotFound):
    """A host-catalog image whose program is not installed on this machine."""


class InvalidImageName(ImageError):
    """The reference does not parse (upstream's InvalidImageName: the pod must change)."""

    reason = "InvalidImageName"


class ImageInvalid(ImageError):
    """An archive or a stored image is malformed, unsupported or fails its digest check."""
