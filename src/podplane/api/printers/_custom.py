"""Tables for custom resources, as apiextensions-apiserver's `tableconvertor` builds them.

Columns: Name (format "name"), then the version's `additionalPrinterColumns`; a
version without any gets upstream's logical default, a single `Age` column of type
`date` over `.metadata.creationTimestamp` (`serveDefaultColumnsIfEmpty`). A column
whose jsonPath does not parse ends the column list there, as upstream's convertor
does. Each cell evaluates `{<jsonPath>}` with missing keys allowed via
`api.jsonpath`, takes the first match, and renders it by column type
(`cellForJSONValue`): strings as printed by JSONPath, integers and numbers as JSON
numbers, dates as ages; no match, or a value of the wrong type, is null.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from ..jsonpath import JSONPath, JSONPathError
from ._builtin import NAME, Printer, column
from ._docs import DOCS
from ._format import ZERO_TIME, as_int, as_str, aware, get, human_duration, parse_time

__all__ = ["custom_printer"]

_DEFAULT_COLUMNS = ({"name": "Age", "type": "date", "description": DOCS["ObjectMeta.creationTimestamp"],
                     "jsonPath": ".metadata.creationTimestamp"},)


@functools.lru_cache(maxsize=1024)
def _parse(json_path: str) -> JSONPath:
    return JSONPath("{" + json_path + "}", allow_missing_keys=True)


def custom_printer(printer_columns: tuple[dict, ...] | list[dict]) -> Printer:
    """The Printer for a custom resource version with these additionalPrinterColumns."""
    compiled: list[tuple[dict, JSONPath]] = []
    for col in printer_columns or _DEFAULT_COLUMNS:
        json_path = as_str(col.get("jsonPath"))
        try:
            path = _parse(json_path)
        except JSONPathError:
            break
        description = as_str(col.get("description")) or (
            f"Custom resource definition column (in JSONPath format): {json_path}")
        compiled.append((column(as_str(col.get("name")), as_str(col.get("type")), description,
                                as_int(col.get("priority")), as_str(col.get("format"))), path))

    def cells(obj: dict, now: datetime) -> list:
        out: list[Any] = [as_str(get(obj, "metadata", "name"))]
        for definition, path in compiled:
            try:
                results = path.find_results(obj)
            except JSONPathError:
                out.append(None)
                continue
            if not results or not results[0]:
                out.append(None)
                continue
            value = results[0][0]
            if definition["type"] == "string":
                out.append(path.print_results([value]))
            else:
                out.append(_cell_for_json_value(definition["type"], value, now))
        return out

    return Printer((NAME, *(definition for definition, _ in compiled)), cells)


def _cell_for_json_value(type_: str, value: Any, now: datetime) -> Any:
    if value is None:
        return None
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_ == "integer" and is_number:
        return int(value)
    if type_ == "number" and is_number:
        return float(value)
    if type_ == "boolean" and isinstance(value, bool):
        return value
    if type_ == "string" and isinstance(value, str):
        return value
    if type_ == "date" and isinstance(value, str):
        if value in ("", "null"):
            return "<unknown>"
        t = parse_time(value)
        if t is None:
            return "<invalid>"
        if t == ZERO_TIME:
            return "<unknown>"
        return human_duration(aware(now) - t)
    return None
