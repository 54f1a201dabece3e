"""CustomResourceDefinitions (apiextensions.k8s.io/v1): defaults, validation, serving facts.

The apiserver stores a CRD like any object; this module holds the CRD-specific logic,
all of it pure:
- `default_crd` fills what upstream defaults (names.singular/listKind, conversion None);
- `validate_crd` checks what upstream's apiextensions validation checks (name is
  `<plural>.<group>`, group with a dot, exactly one storage version, names, scope,
  structural schemas, scale paths, printer columns, conversion), as `Cause`s;
- `resource_infos` turns a CRD into one `ResourceInfo` per served version, ordered by
  upstream's kube-aware version priority (`version_priority_sort`), ready for
  `Registry.add`; the apiserver then serves the custom resources generically and
  `openapi.OpenAPIDocs` documents them;
- `established_status` is the status the naming/establishing controllers would write.
Field-error builders and name validators come from `validation.py`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from podplane.api.errors import Cause
from podplane.api.registry import ALL_VERBS, ResourceInfo, Subresource
from podplane.api.validation import (
    decode_errors,
    field_duplicate,
    field_forbidden,
    field_invalid,
    field_not_supported,
    field_required,
    field_too_many,
    is_dns1035_label,
    is_dns1123_subdomain,
)

__all__ = [
    "default_crd",
    "established_status",
    "resource_infos",
    "storage_version",
    "validate_crd",
    "version_priority_sort",
]

_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")
_VERSION_TYPE = {"alpha": 0, "beta": 1, None: 2}
_PRINTER_TYPES = ("boolean", "date", "integer", "number", "string")
_PRINTER_FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")
_CRD_INFO = ResourceInfo("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
                         namespaced=False)
_STATUS = Subresource("status")
_SCALE = Subresource("scale", group="autoscaling", version="v1", kind="Scale")


def _version_key(version: str) -> tuple:
    m = _KUBE_VERSION.match(version)
    if m is None:
        return (1, 0, 0, 0, version)
    return (0, -_VERSION_TYPE[m.group(2)], -int(m.group(1)), -int(m.group(3) or 0), version)


def version_priority_sort(versions: Iterable[str]) -> list[str]:
    """Upstream's kube-aware order, preferred first: v2, v1, v1beta2, v1beta1, v1alpha1, then others A-Z."""
    return sorted(versions, key=_version_key)


def _spec(crd: dict) -> dict:
    spec = crd.get("spec")
    return spec if isinstance(spec, dict) else {}


def _versions(crd: dict) -> list[dict]:
    return [v for v in _spec(crd).get("versions") or () if isinstance(v, dict)]


def storage_version(crd: dict) -> str:
    """The name of the version marked `storage: true` ('' if none)."""
    for version in _versions(crd):
        if version.get("storage"):
            return str(version.get("name") or "")
    return ""


def _child_obj(parent: dict, key: str) -> dict:
    if not isinstance(parent.get(key), dict):
        parent[key] = {}
    return parent[key]


def default_crd(crd: dict) -> dict:
    """A copy with upstream's defaults: names.singular and listKind, conversion strategy None."""
    out = copy.deepcopy(crd)
    spec = _child_obj(out, "spec")
    names = _child_obj(spec, "names")
    kind = names.get("kind") or ""
    if kind and not names.get("singular"):
        names["singular"] = kind.lower()
    if kind and not names.get("listKind"):
        names["listKind"] = kind + "List"
    conversion = _child_obj(spec, "conversion")
    if not conversion.get("strategy"):
        conversion["strategy"] = "None"
    webhook = conversion.get("webhook")
    client = webhook.get("clientConfig") if isinstance(webhook, dict) else None
    service = client.get("service") if isinstance(client, dict) else None
    if isinstance(service, dict) and service.get("port") is None:
        service["port"] = 443
    return out


# ---------------------------------------------------------------- validation

def _label_errors(value: str, path: str, mixed_case: bool = False) -> list[Cause]:
    msgs = is_dns1035_label(value.lower() if mixed_case else value)
    if not msgs:
        return []
    detail = ",".join(msgs)
    if mixed_case:
        detail = "may have mixed case, but should otherwise match: " + detail
    return [field_invalid(path, value, detail)]


def _validate_names(names: dict, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for key in ("plural", "singular", "kind", "listKind"):
        value = names.get(key) or ""
        if not value:
            errs.append(field_required(f"{path}.{key}"))
        else:
            errs.extend(_label_errors(value, f"{path}.{key}", mixed_case=key in ("kind", "listKind")))
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        errs.append(field_invalid(f"{path}.listKind", names["listKind"], "kind and listKind may not be the same"))
    for key in ("shortNames", "categories"):
        for i, value in enumerate(names.get(key) or ()):
            errs.extend(_label_errors(str(value), f"{path}.{key}[{i}]"))
    return errs


def _structural(schema: Any, path: str, errs: list[Cause], where: str) -> None:
    """The structural-schema rules that matter for serving: every specified node has a type."""
    if not isinstance(schema, dict):
        return
    exempt = schema.get("x-kubernetes-int-or-string") or schema.get("x-kubernetes-preserve-unknown-fields")
    if not schema.get("type") and not exempt:
        errs.append(field_required(f"{path}.type", f"must not be empty for specified {where}"))
    props = schema.get("properties")
    if isinstance(props, dict):
        if isinstance(schema.get("additionalProperties"), dict | bool) and schema.get("additionalProperties") \
                is not False:
            errs.append(field_forbidden(f"{path}.additionalProperties",
                                        "additionalProperties and properties are mutual exclusive"))
        for name, child in props.items():
            _structural(child, f"{path}.properties[{name}]", errs, "object fields")
    items = schema.get("items")
    if isinstance(items, dict):
        _structural(items, f"{path}.items", errs, "array items")
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        _structural(additional, f"{path}.additionalProperties", errs, "object fields")


def _validate_schema(schema: Any, path: str, preserve_unknown: bool) -> list[Cause]:
    errs: list[Cause] = []
    if not isinstance(schema, dict):
        if not preserve_unknown:
            errs.append(field_required(path, "schemas are required"))
        return errs
    root_type = schema.get("type")
    if not root_type:
        errs.append(field_required(f"{path}.type", "must not be empty at the root"))
    elif root_type != "object":
        errs.append(field_invalid(f"{path}.type", root_type, "must be object at the root"))
    metadata = (schema.get("properties") or {}).get("metadata")
    if isinstance(metadata, dict):
        extra = set(metadata) - {"type", "description", "properties"}
        extra_props = set(metadata.get("properties") or ()) - {"name", "generateName"}
        if extra or extra_props or metadata.get("type", "object") != "object":
            errs.append(field_forbidden(f"{path}.properties[metadata]",
                                        "must not specify anything other than name and generateName, but metadata "
                                        "is implicitly specified"))
    for name, child in (schema.get("properties") or {}).items():
        if name != "metadata":
            _structural(child, f"{path}.properties[{name}]", errs, "object fields")
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        _structural(additional, f"{path}.additionalProperties", errs, "object fields")
    return errs


def _validate_subresources(sub: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not isinstance(sub, dict):
        return errs
    scale = sub.get("scale")
    if isinstance(scale, dict):
        for key, prefix, where in (("specReplicasPath", ".spec.", ".spec"),
                                   ("statusReplicasPath", ".status.", ".status")):
            value = scale.get(key) or ""
            field = f"{path}.scale.{key}"
            if not value:
                errs.append(field_required(field))
            elif not value.startswith(prefix):
                errs.append(field_invalid(field, value, f"should be a json path under {where}"))
        selector = scale.get("labelSelectorPath") or ""
        if selector and not selector.startswith((".spec.", ".status.")):
            errs.append(field_invalid(f"{path}.scale.labelSelectorPath", selector,
                                      "should be a json path under either .spec or .status"))
    return errs


def _validate_columns(columns: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, col in enumerate(columns or ()):
        if not isinstance(col, dict):
            continue
        cpath = f"{path}[{i}]"
        if not col.get("name"):
            errs.append(field_required(f"{cpath}.name"))
        kind = col.get("type") or ""
        if not kind:
            errs.append(field_required(f"{cpath}.type", "must be one of " + ",".join(_PRINTER_TYPES)))
        elif kind not in _PRINTER_TYPES:
            errs.append(field_not_supported(f"{cpath}.type", kind, _PRINTER_TYPES))
        fmt = col.get("format") or ""
        if fmt and fmt not in _PRINTER_FORMATS:
            errs.append(field_not_supported(f"{cpath}.format", fmt, _PRINTER_FORMATS))
        if not col.get("jsonPath"):
            errs.append(field_required(f"{cpath}.JSONPath"))
        priority = col.get("priority")
        if isinstance(priority, int) and priority < 0:
            errs.append(field_invalid(f"{cpath}.priority", priority, "cannot be negative"))
    return errs


_MAX_SELECTABLE_FIELDS = 8
_SELECTABLE_TYPES = ("string", "boolean", "integer")


def _validate_selectable_fields(fields: Any, schema: Any, path: str) -> list[Cause]:
    """Upstream validateSelectableFields: at most 8 unique jsonPaths to scalar fields outside metadata."""
    errs: list[Cause] = []
    if not isinstance(fields, list) or not fields:
        return errs
    if len(fields) > _MAX_SELECTABLE_FIELDS:
        errs.append(field_too_many(path, len(fields), _MAX_SELECTABLE_FIELDS))
    seen: set[str] = set()
    for i, item in enumerate(fields):
        fpath = f"{path}[{i}].jsonPath"
        json_path = item.get("jsonPath") if isinstance(item, dict) else None
        if not isinstance(json_path, str) or not json_path:
            errs.append(field_required(fpath))
            continue
        parts = json_path[1:].split(".") if json_path.startswith(".") else []
        node = schema if isinstance(schema, dict) else {}
        problem = "" if parts and all(parts) else "must be a dot-separated path starting with '.'"
        for part in parts if not problem else ():
            props = node.get("properties") if isinstance(node.get("properties"), dict) else {}
            if part not in props or not isinstance(props[part], dict):
                problem = f"does not refer to a field of the schema: {part!r} is not defined"
                break
            node = props[part]
        if problem:
            errs.append(field_invalid(fpath, json_path, f"is an invalid path: {problem}"))
            continue
        if parts[0] == "metadata":
            errs.append(field_invalid(fpath, json_path, "must not point to fields in metadata"))
        if node.get("type") not in _SELECTABLE_TYPES:
            errs.append(field_invalid(fpath, json_path, "must point to a field of type string, boolean or integer. "
                                                        "Enum string fields and strings with formats are allowed."))
        if json_path in seen:
            errs.append(field_duplicate(fpath, json_path))
        seen.add(json_path)
    return errs


def _validate_conversion(conversion: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not isinstance(conversion, dict):
        return errs
    strategy = conversion.get("strategy") or "None"
    webhook = conversion.get("webhook")
    if strategy not in ("None", "Webhook"):
        errs.append(field_not_supported(f"{path}.strategy", strategy, ("None", "Webhook")))
    elif strategy == "Webhook":
        if not isinstance(webhook, dict) or not webhook.get("clientConfig"):
            errs.append(field_required(f"{path}.webhook", "required when strategy is set to Webhook"))
        elif not webhook.get("conversionReviewVersions"):
            errs.append(field_required(f"{path}.webhook.conversionReviewVersions",
                                       "must include at least one of v1, v1beta1"))
    elif webhook is not None:
        errs.append(field_forbidden(f"{path}.webhook", "should not be set when strategy is not set to Webhook"))
    return errs


def validate_crd(crd: dict, old: dict | None = None) -> list[Cause]:
    """apiextensions validation of a (defaulted) CRD; ObjectMeta itself is `validation.validate`'s job."""
    decode = decode_errors(_CRD_INFO, crd) if isinstance(crd, dict) else "a CustomResourceDefinition is an object"
    if decode:
        return [Cause("FieldValueTypeInvalid", decode, "")]
    spec = _spec(crd)
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    group = spec.get("group") or ""
    errs: list[Cause] = []
    name = (crd.get("metadata") or {}).get("name") or ""
    if name != f"{names.get('plural') or ''}.{group}":
        errs.append(field_invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not group:
        errs.append(field_required("spec.group"))
    else:
        errs.extend(field_invalid("spec.group", group, m) for m in is_dns1123_subdomain(group))
        if len(group.split(".")) < 2:
            errs.append(field_invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope") or ""
    if not scope:
        errs.append(field_required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        errs.append(field_not_supported("spec.scope", scope, ("Cluster", "Namespaced")))

    versions = _versions(crd)
    raw_versions = spec.get("versions") or []
    if not versions:
        errs.append(field_required("spec.versions"))
    else:
        seen: set[str] = set()
        unique = True
        for i, version in enumerate(versions):
            vname = str(version.get("name") or "")
            vpath = f"spec.versions[{i}]"
            if vname in seen:
                unique = False
            seen.add(vname)
            msgs = is_dns1035_label(vname)
            if msgs:
                errs.append(field_invalid(f"{vpath}.name", vname, ",".join(msgs)))
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            errs.extend(_validate_schema(schema, f"{vpath}.schema.openAPIV3Schema",
                                         bool(spec.get("preserveUnknownFields"))))
            errs.extend(_validate_subresources(version.get("subresources"), f"{vpath}.subresources"))
            errs.extend(_validate_columns(version.get("additionalPrinterColumns"),
                                          f"{vpath}.additionalPrinterColumns"))
            errs.extend(_validate_selectable_fields(version.get("selectableFields"), schema,
                                                    f"{vpath}.selectableFields"))
        if not unique:
            errs.append(field_invalid("spec.versions", raw_versions, "must contain unique version names"))
        if sum(1 for v in versions if v.get("storage")) != 1:
            errs.append(field_invalid("spec.versions", raw_versions,
                                      "must have exactly one version marked as storage version"))
        if not any(v.get("served") for v in versions):
            errs.append(field_invalid("spec.versions", raw_versions, "must have at least one served version"))
    errs.extend(_validate_names(names, "spec.names"))
    errs.extend(_validate_conversion(spec.get("conversion"), "spec.conversion"))

    stored = ((crd.get("status") or {}).get("storedVersions")) or []
    version_names = {str(v.get("name") or "") for v in versions}
    for i, stored_version in enumerate(stored):
        if stored_version not in version_names:
            errs.append(field_invalid(f"status.storedVersions[{i}]", stored_version, "must appear in spec.versions"))
    if old is not None:
        old_spec = _spec(old)
        if old_spec.get("scope") and scope and old_spec.get("scope") != scope:
            errs.append(field_invalid("spec.scope", scope, "field is immutable"))
        if old_spec.get("group") and group and old_spec.get("group") != group:
            errs.append(field_invalid("spec.group", group, "field is immutable"))
    return errs


# ---------------------------------------------------------------- serving

def resource_infos(crd: dict) -> list[ResourceInfo]:
    """One ResourceInfo per served version, preferred version first (expects a defaulted CRD)."""
    crd = default_crd(crd)
    spec = _spec(crd)
    names = spec.get("names") or {}
    kind = names.get("kind") or ""
    storage = storage_version(crd)
    served = {str(v.get("name")): v for v in _versions(crd) if v.get("served")}
    out = []
    for name in version_priority_sort(served):
        version = served[name]
        sub = version.get("subresources") or {}
        subresources = []
        if "status" in sub:
            subresources.append(_STATUS)
        scale = sub.get("scale") if isinstance(sub.get("scale"), dict) else None
        if scale is not None:
            subresources.append(_SCALE)
        out.append(ResourceInfo(
            group=spec.get("group") or "",
            version=name,
            kind=kind,
            plural=names.get("plural") or "",
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()),
            subresources=tuple(subresources),
            verbs=ALL_VERBS,
            singular=names.get("singular") or kind.lower(),
            list_kind=names.get("listKind") or kind + "List",
            custom=True,
            storage_version=storage or name,
            schema=(version.get("schema") or {}).get("openAPIV3Schema"),
            printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
            scale_paths=dict(scale) if scale is not None else None,
            selectable_fields=tuple(str(f["jsonPath"]) for f in version.get("selectableFields") or ()
                                    if isinstance(f, dict) and isinstance(f.get("jsonPath"), str)),
        ))
    return out


def _timestamp(now: datetime | str) -> str:
    if isinstance(now, str):
        return now
    if now.tzinfo is not None:
        now = now.astimezone(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def established_status(crd: dict, now: datetime | str) -> dict:
    """The status once names are accepted and the CRD is established: conditions, acceptedNames,
    storedVersions (previous ones plus the current storage version)."""
    crd = default_crd(crd)
    names = _spec(crd).get("names") or {}
    status = copy.deepcopy(crd.get("status") or {})
    stamp = _timestamp(now)
    wanted = [
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"},
        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
         "message": "the initial names have been accepted"},
    ]
    previous = {c.get("type"): c for c in status.get("conditions") or () if isinstance(c, dict)}
    conditions = []
    for cond in wanted:
        before = previous.get(cond["type"])
        since = before.get("lastTransitionTime") if before and before.get("status") == "True" else None
        conditions.append({"type": cond["type"], "status": "True", "lastTransitionTime": since or stamp,
                           "reason": cond["reason"], "message": cond["message"]})
    conditions.extend(c for t, c in previous.items() if t not in ("NamesAccepted", "Established"))
    accepted: dict[str, Any] = {"plural": names.get("plural", "")}
    if names.get("singular"):
        accepted["singular"] = names["singular"]
    if names.get("shortNames"):
        accepted["shortNames"] = list(names["shortNames"])
    accepted["kind"] = names.get("kind", "")
    if names.get("listKind"):
        accepted["listKind"] = names["listKind"]
    if names.get("categories"):
        accepted["categories"] = list(names["categories"])
    stored = list(status.get("storedVersions") or [])
    storage = storage_version(crd)
    if storage and storage not in stored:
        stored.append(storage)
    status["conditions"] = conditions
    status["acceptedNames"] = accepted
    status["storedVersions"] = stored
    return status
