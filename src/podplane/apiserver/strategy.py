"""Per-kind write strategy: what create and update reset, default, count and validate.

Upstream every kind has a `rest.RESTCreateStrategy`/`RESTUpdateStrategy`; here one
table-driven `Strategy` covers them: system metadata on create (uid,
creationTimestamp, generation), status reset on create for kinds with a status
subresource, spec/metadata protection on status writes (and status protection on
main-resource writes), generation bumps when anything but metadata and status
changes, defaulting (`api.defaults`) and validation (`api.validation`, CRD schemas).

Called by `apiserver.rest` for every write; pure apart from the clock.
"""

from __future__ import annotations

import base64

from podplane.api import defaults, validation
from podplane.api.errors import Cause
from podplane.api.jsonvalue import copy_json
from podplane.api.meta import new_uid, now_rfc3339
from podplane.api.registry import ResourceInfo
from podplane.api.schema import SchemaNode, node_for_kind

__all__ = ["Strategy"]

# Kinds whose status survives create: nodes report their own status when registering,
# and events/leases have no status subresource anyway.
KEEP_STATUS_ON_CREATE = {("", "Node")}
# metadata fields a status write may not change (upstream ResetObjectMetaForStatus)
STATUS_PROTECTED_META = ("labels", "annotations", "finalizers", "ownerReferences", "deletionTimestamp",
                         "generation")
SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
               "generation", "namespace", "name", "selfLink")
NO_GENERATION_KINDS = {("", "ConfigMap"), ("", "Secret"), ("", "Event"), ("", "Endpoints"),
                       ("", "ServiceAccount"), ("apps", "ControllerRevision"),
                       ("coordination.k8s.io", "Lease"), ("discovery.k8s.io", "EndpointSlice"),
                       ("storage.k8s.io", "StorageClass"), ("rbac.authorization.k8s.io", "Role"),
                       ("rbac.authorization.k8s.io", "ClusterRole"),
                       ("rbac.authorization.k8s.io", "RoleBinding"),
                       ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
                       ("scheduling.k8s.io", "PriorityClass")}


def _without(obj: dict, *keys: str) -> dict:
    return {k: v for k, v in obj.items() if k not in keys}


def _merge_string_data(secret: dict) -> None:
    """v1 Secret conversion: stringData is write-only, merged into data (base64) and dropped.

    Upstream does this when decoding a v1 Secret, so it applies to every create, update
    and patch result; stringData keys win over data keys of the same name.
    """
    string_data = secret.pop("stringData", None)
    if not isinstance(string_data, dict) or not string_data:
        return
    data = secret.get("data")
    if not isinstance(data, dict):
        data = secret["data"] = {}
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value if value is not None else "").encode("utf-8")).decode("ascii")


class Strategy:
    """Create/update preparation and validation shared by every resource."""

    def __init__(self, *, default_toleration_seconds: int = 300) -> None:
        self.default_toleration_seconds = default_toleration_seconds
        self._crd_nodes: dict[int, tuple[dict, SchemaNode]] = {}

    def schema_for(self, info: ResourceInfo) -> SchemaNode | None:
        if info.custom:
            if not info.schema:
                return None
            # one root node per registered CRD version (the entry keeps the schema alive, so
            # its id cannot be reused while cached)
            cached = self._crd_nodes.get(id(info.schema))
            if cached is None or cached[0] is not info.schema:
                if len(self._crd_nodes) > 256:
                    self._crd_nodes.clear()
                cached = (info.schema, SchemaNode.from_crd_schema(info.schema))
                self._crd_nodes[id(info.schema)] = cached
            return cached[1]
        return node_for_kind(info.group, info.version, info.kind)

    def has_generation(self, info: ResourceInfo) -> bool:
        return (info.group, info.kind) not in NO_GENERATION_KINDS

    def has_status(self, info: ResourceInfo) -> bool:
        return info.subresource("status") is not None

    # -- create --------------------------------------------------------------------------
    def prepare_for_create(self, info: ResourceInfo, obj: dict) -> dict:
        obj = copy_json(obj)
        meta = obj.setdefault("metadata", {})
        for key in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                    "selfLink"):
            meta.pop(key, None)
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = now_rfc3339()
        if self.has_generation(info):
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if self.has_status(info) and (info.group, info.kind) not in KEEP_STATUS_ON_CREATE:
            obj.pop("status", None)
        if info.custom:
            obj = self._default_custom(info, obj)
        else:
            obj = defaults.apply_defaults(info, obj)
            kind = (info.group, info.kind)
            if kind == ("", "Secret"):
                _merge_string_data(obj)
            elif kind == ("", "Pod"):
                obj = defaults.pod_prepare_for_create(obj, self.default_toleration_seconds)
            elif kind == ("", "Namespace"):
                obj = defaults.namespace_prepare_for_create(obj)
            elif kind == ("batch", "Job"):
                obj = defaults.job_prepare_for_create(obj)
        return obj

    # -- update --------------------------------------------------------------------------
    def prepare_for_update(self, info: ResourceInfo, new: dict, old: dict, subresource: str = "") -> dict:
        new = copy_json(new)
        if info.custom:
            # structural defaults apply to the whole decoded object, status writes included
            new = self._default_custom(info, new)
        old_meta = old.get("metadata") or {}
        meta = new.setdefault("metadata", {})
        for key in SYSTEM_META:
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        if subresource == "status":
            # a status write changes status only
            for key in list(new):
                if key not in ("apiVersion", "kind", "metadata", "status"):
                    new.pop(key)
            for key in list(old):
                if key not in ("apiVersion", "kind", "metadata", "status"):
                    new[key] = copy_json(old[key])
            for key in STATUS_PROTECTED_META:
                if key in old_meta:
                    meta[key] = copy_json(old_meta[key])
                else:
                    meta.pop(key, None)
            return new
        if self.has_status(info) and subresource == "":
            if "status" in old:
                new["status"] = copy_json(old["status"])
            else:
                new.pop("status", None)
        if not info.custom:
            if (info.group, info.kind) == ("", "Secret"):
                _merge_string_data(new)
            new = defaults.apply_defaults(info, new)
            if (info.group, info.kind) == ("", "Pod") and "status" in old:
                new["status"] = copy_json(old["status"])
        if self.has_generation(info):
            generation = int(old_meta.get("generation") or 1)
            if _without(new, "metadata", "status") != _without(old, "metadata", "status"):
                generation += 1
            new["metadata"]["generation"] = generation
        return new

    @staticmethod
    def _default_custom(info: ResourceInfo, obj: dict) -> dict:
        """Structural-schema defaults of the CRD version (after pruning, as upstream decodes)."""
        if not info.schema:
            return obj
        return validation.apply_structural_defaults(obj, info.schema, copy=False)

    # -- validation ----------------------------------------------------------------------
    def validate(self, info: ResourceInfo, obj: dict, old: dict | None = None, *,
                 decoded: bool = False) -> list[Cause]:
        # one entry point: built-ins, custom resources (schema, metadata) and CRDs themselves
        return validation.validate(info, obj, old, decoded=decoded)
