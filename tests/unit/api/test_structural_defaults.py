"""CRD structural-schema defaulting and request-option validation helpers in `validation`."""

from __future__ import annotations

import pytest

from podplane.api import crd as crd_api
from podplane.api.validation import (
    apply_structural_defaults,
    validate_dry_run,
    validate_field_manager,
    validate_field_validation,
)

SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "policy": {
                    "type": "object",
                    "properties": {
                        "concurrency": {"type": "string", "default": "Allow"},
                        "retries": {"type": "integer", "default": 3},
                        "backoff": {"type": "object", "default": {},
                                    "properties": {"seconds": {"type": "integer", "default": 10}}},
                        "note": {"type": "string"},
                        "maybe": {"type": "string", "nullable": True},
                    },
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string", "default": "x"}},
                "ports": {"type": "array", "items": {
                    "type": "object", "properties": {"protocol": {"type": "string", "default": "TCP"}}}},
            },
        },
    },
}


def test_defaults_fill_missing_fields_of_existing_objects():
    out = apply_structural_defaults({"spec": {"policy": {}}}, SCHEMA)
    assert out["spec"]["policy"] == {"concurrency": "Allow", "retries": 3, "backoff": {"seconds": 10}}


def test_defaults_never_create_a_missing_parent():
    assert apply_structural_defaults({"spec": {}}, SCHEMA) == {"spec": {}}
    assert apply_structural_defaults({}, SCHEMA) == {}


def test_set_values_win_and_the_input_is_not_mutated():
    obj = {"spec": {"policy": {"concurrency": "Forbid", "backoff": {}}}}
    out = apply_structural_defaults(obj, SCHEMA)
    assert out["spec"]["policy"] == {"concurrency": "Forbid", "retries": 3, "backoff": {"seconds": 10}}
    assert obj == {"spec": {"policy": {"concurrency": "Forbid", "backoff": {}}}}


def test_nulls_follow_nullable_semantics():
    obj = {"spec": {"policy": {"retries": None, "note": None, "maybe": None}}}
    policy = apply_structural_defaults(obj, SCHEMA)["spec"]["policy"]
    # non-nullable null with a default: defaulted; without one: pruned; nullable: kept
    assert policy["retries"] == 3 and "note" not in policy and policy["maybe"] is None


def test_defaults_in_maps_and_list_items():
    out = apply_structural_defaults({"spec": {"labels": {"a": None, "b": "set"}, "ports": [{}, {"protocol": "UDP"}]}},
                                    SCHEMA)
    assert out["spec"]["labels"] == {"a": "x", "b": "set"}
    assert out["spec"]["ports"] == [{"protocol": "TCP"}, {"protocol": "UDP"}]


def test_defaults_are_copied_not_shared():
    first = apply_structural_defaults({"spec": {"policy": {}}}, SCHEMA)
    first["spec"]["policy"]["backoff"]["seconds"] = 99
    second = apply_structural_defaults({"spec": {"policy": {}}}, SCHEMA)
    assert second["spec"]["policy"]["backoff"] == {"seconds": 10}
    assert SCHEMA["properties"]["spec"]["properties"]["policy"]["properties"]["backoff"][
        "default"] == {}


def test_defaulting_is_iterative():
    schema: dict = {"type": "object", "properties": {"v": {"type": "integer", "default": 1}}}
    obj: dict = {}
    for _ in range(3000):
        schema = {"type": "object", "properties": {"n": schema}}
        obj = {"n": obj}
    out = apply_structural_defaults(obj, schema)
    for _ in range(3000):
        out = out["n"]
    assert out == {"v": 1}


@pytest.mark.parametrize("values,ok", [([], True), (["All"], True), (["All", "All"], True), (["Yes"], False),
                                       (["All", "x"], False)])
def test_dry_run_values(values, ok):
    causes = validate_dry_run(values)
    assert (not causes) == ok
    if not ok:
        assert causes[0].field == "dryRun" and causes[0].reason == "FieldValueNotSupported"
        assert causes[0].message.startswith("Unsupported value: []string{")
        assert causes[0].message.endswith('supported values: "All"')


def test_field_manager_length_and_printable_characters():
    assert validate_field_manager("m" * 128) == []
    assert [c.reason for c in validate_field_manager("m" * 129)] == ["FieldValueTooLong"]
    causes = validate_field_manager("a\x07b")
    assert causes[0].reason == "FieldValueInvalid" and "invalid character U+0007 (at position 1)" in causes[0].message


def test_field_validation_values():
    for value in ("", "Ignore", "Warn", "Strict"):
        assert validate_field_validation(value) == []
    (cause,) = validate_field_validation("Sometimes")
    assert cause.message == 'Unsupported value: "Sometimes": supported values: "", "Ignore", "Strict", "Warn"'


# -- selectableFields ---------------------------------------------------------------------------
def crd(selectable: list[dict]) -> dict:
    return crd_api.default_crd({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "selectableFields": selectable,
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {
                                   "type": "object", "properties": {
                                       "color": {"type": "string"}, "size": {"type": "integer"},
                                       "tags": {"type": "array", "items": {"type": "string"}}}}}}}}]}})


def test_resource_infos_carry_selectable_fields():
    (info,) = crd_api.resource_infos(crd([{"jsonPath": ".spec.color"}, {"jsonPath": ".spec.size"}]))
    assert info.selectable_fields == (".spec.color", ".spec.size")


@pytest.mark.parametrize("selectable,fragment", [
    ([{"jsonPath": ".spec.tags"}], "must point to a field of type string, boolean or integer"),
    ([{"jsonPath": ".spec.nope"}], "is an invalid path"),
    ([{"jsonPath": "spec.color"}], "is an invalid path"),
    ([{"jsonPath": ".spec.color"}, {"jsonPath": ".spec.color"}], "Duplicate value"),
    ([{}], "Required value"),
    ([{"jsonPath": ".spec.color"}] * 9, "Too many: 9"),
])
def test_invalid_selectable_fields(selectable, fragment):
    causes = crd_api.validate_crd(crd(selectable))
    assert any(c.field.startswith("spec.versions[0].selectableFields") and fragment in c.message for c in causes), \
        causes
