"""API errors: the small hierarchy every component raises, rendered as metav1.Status.

`ApiError` carries an HTTP code, a machine-readable `reason` and the Status
`details`; `to_status()` renders the upstream body with Go's field order and
empty fields omitted, because clients compare and print it verbatim (kubectl's
"Error from server (NotFound): ..." lines, the Python client's exact-bytes checks).

Helpers build the common cases the way the upstream apiserver words them:
`not_found`, `already_exists`, `conflict`, `invalid` (422 with causes naming the
field), `bad_request`, `gone` (410 Expired), `method_not_supported`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ApiError",
    "Cause",
    "already_exists",
    "bad_request",
    "conflict",
    "forbidden",
    "gone",
    "internal_error",
    "invalid",
    "method_not_supported",
    "not_found",
    "request_entity_too_large",
    "status_success",
    "unauthorized",
    "unsupported_media_type",
]


@dataclass
class Cause:
    reason: str
    message: str
    field: str = ""

    def to_dict(self) -> dict:
        out = {"reason": self.reason, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


@dataclass
class ApiError(Exception):
    code: int
    reason: str
    message: str
    name: str = ""
    group: str = ""
    kind: str = ""
    causes: list[Cause] = field(default_factory=list)
    retry_after: int = 0

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        return self.message

    def to_status(self) -> dict:
        details: dict = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after:
            details["retryAfterSeconds"] = self.retry_after
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if details:
            status["details"] = details
        status["code"] = self.code
        return status


def status_success(details: dict | None = None) -> dict:
    out = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details:
        out["details"] = details
    return out


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    return ApiError(404, "NotFound", f'{_qualified(resource, group)} "{name}" not found',
                    name=name, group=group, kind=resource)


def already_exists(resource: str, name: str, group: str = "") -> ApiError:
    return ApiError(409, "AlreadyExists", f'{_qualified(resource, group)} "{name}" already exists',
                    name=name, group=group, kind=resource)


def conflict(resource: str, name: str, group: str = "", message: str = "") -> ApiError:
    msg = message or "the object has been modified; please apply your changes to the latest version and try again"
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {msg}',
                    name=name, group=group, kind=resource)


def invalid(kind: str, name: str, causes: list[Cause], group: str = "") -> ApiError:
    """422 Invalid. `kind` is the Kind (not the resource), as upstream reports it."""
    if len(causes) == 1:
        summary = f"{causes[0].field}: {causes[0].message}" if causes[0].field else causes[0].message
    else:
        parts = [f"{c.field}: {c.message}" if c.field else c.message for c in causes]
        summary = "[" + ", ".join(parts) + "]"
    qualified = f"{kind}.{group}" if group else kind
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {summary}',
                    name=name, group=group, kind=kind, causes=causes)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unauthorized(message: str = "Unauthorized") -> ApiError:
    return ApiError(401, "Unauthorized", message)


def forbidden(message: str) -> ApiError:
    return ApiError(403, "Forbidden", message)


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def method_not_supported(resource: str, verb: str, group: str = "") -> ApiError:
    return ApiError(405, "MethodNotAllowed",
                    f"{verb} is not supported on resources of kind {_qualified(resource, group)!r}",
                    group=group, kind=resource)


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                    f"accepted media types include: application/json, application/yaml, "
                    f"application/vnd.kubernetes.protobuf (got {content_type!r})")


def request_entity_too_large(limit: int) -> ApiError:
    return ApiError(413, "RequestEntityTooLarge",
                    f"the request body is too large: limit is {limit} bytes")


def internal_error(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")
