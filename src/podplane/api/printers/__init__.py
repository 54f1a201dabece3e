"""Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for.

Role: turn stored objects into the rows kubectl prints, exactly as the upstream
apiserver does, so `kubectl get` (and `-o wide`, `-A`, `--show-labels`, `-w`) look
the same against podplane as against Kubernetes 1.37.

Flow: the apiserver, on `Accept: application/json;as=Table;...`, calls
`build_table(info, objects, now=..., include_object=...)` with the listed (or single)
objects. The printer is chosen from the resource: built-in resources use the
handlers of upstream's printers.go (`_builtin`), a few use the apiserver's default
convertor (Name, Created At), custom resources use their CRD's
additionalPrinterColumns (`_custom`, values through `api.jsonpath`). Cells are
always the wide set; kubectl hides priority>0 columns itself.

Neighbours: `api.registry.ResourceInfo` says what is printed; `api.errors` supplies
the 400 for a bad includeObject; `_format` holds the Go-compatible formatting
(HumanDuration ages, label selectors); `_docs` the column descriptions.
"""

from __future__ import annotations

from datetime import datetime

from ..errors import bad_request
from ..registry import ResourceInfo
from ._builtin import FALLBACK_PRINTER, PRINTERS, Printer
from ._custom import custom_printer
from ._format import human_duration, short_human_duration

__all__ = [
    "build_table",
    "column_definitions",
    "human_duration",
    "row_cells",
    "row_conditions",
    "short_human_duration",
]

TABLE_API_VERSION = "meta.k8s.io/v1"


def _printer(info: ResourceInfo) -> Printer:
    if info.custom:
        return custom_printer(info.printer_columns)
    return PRINTERS.get((info.group, info.plural), FALLBACK_PRINTER)


def column_definitions(info: ResourceInfo) -> list[dict]:
    """The Table's columnDefinitions for `info`: name, type, format, description, priority."""
    return [dict(c) for c in _printer(info).columns]


def row_cells(info: ResourceInfo, obj: dict, now: datetime) -> list:
    """The cells of one object's row (wide set), ages measured against `now`."""
    return _printer(info).cells(obj, now)


def row_conditions(info: ResourceInfo, obj: dict) -> list | None:
    """Row conditions (upstream sets them only for Succeeded/Failed pods), else None."""
    conditions = _printer(info).conditions
    return conditions(obj) if conditions is not None else None


def build_table(
    info: ResourceInfo,
    objects: list[dict],
    *,
    now: datetime,
    include_object: str = "Metadata",
    resource_version: str = "",
    continue_token: str = "",
    remaining: int | None = None,
) -> dict:
    """A meta.k8s.io/v1 Table of `objects`.

    `include_object` is the request's includeObject: "Metadata" (or "") puts a
    PartialObjectMetadata in each row, "Object" the object itself, "None" a null.
    Row objects share (do not copy) the given objects' dicts. Any other value raises
    the 400 upstream answers with.
    """
    if include_object not in ("", "Metadata", "Object", "None"):
        raise bad_request(f'unrecognized includeObject value: "{include_object}"')
    printer = _printer(info)
    rows = []
    for obj in objects:
        row: dict = {"cells": printer.cells(obj, now)}
        conditions = printer.conditions(obj) if printer.conditions is not None else None
        if conditions:
            row["conditions"] = conditions
        if include_object == "Object":
            row["object"] = obj
        elif include_object == "None":
            row["object"] = None
        else:
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": TABLE_API_VERSION,
                             "metadata": obj.get("metadata") or {}}
        rows.append(row)
    metadata: dict = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    return {
        "kind": "Table",
        "apiVersion": TABLE_API_VERSION,
        "metadata": metadata,
        "columnDefinitions": [dict(c) for c in printer.columns],
        "rows": rows,
    }
