"""CustomResourceDefinitions: version priority, defaults, validation, served resources, status."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from podplane.api.crd import (
    default_crd,
    established_status,
    resource_infos,
    storage_version,
    validate_crd,
    version_priority_sort,
)
from podplane.api.registry import ALL_VERBS, Registry, Subresource, default_registry
from podplane.api.validation import validate

SCHEMA = {"type": "object", "properties": {
    "spec": {"type": "object", "properties": {"replicas": {"type": "integer"}, "cron": {"type": "string"}}},
    "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}


def crd(versions=None, **spec) -> dict:
    body = {
        "group": "stable.example.com",
        "scope": "Namespaced",
        "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab", "listKind": "CronTabList",
                  "shortNames": ["ct"], "categories": ["all"]},
        "versions": versions if versions is not None else [version("v1", storage=True)],
    }
    body.update(spec)
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "crontabs.stable.example.com"}, "spec": body}


def version(name: str, served: bool = True, storage: bool = False, schema=None, **extra) -> dict:
    return {"name": name, "served": served, "storage": storage,
            "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA) if schema is None else schema}, **extra}


@pytest.mark.parametrize(("versions", "expected"), [
    pytest.param(["v1", "v2"], ["v2", "v1"], id="ga-by-major"),
    pytest.param(["v1beta1", "v1", "v1alpha1", "v1beta2"], ["v1", "v1beta2", "v1beta1", "v1alpha1"], id="stability"),
    pytest.param(["v2alpha1", "v1beta1"], ["v1beta1", "v2alpha1"], id="beta-beats-newer-alpha"),
    pytest.param(["foo10", "v1", "foo1"], ["v1", "foo1", "foo10"], id="non-kube-last-alphabetical"),
    pytest.param(["v10", "v2", "v11beta2", "v10beta3", "v3beta1", "v12alpha1", "v11alpha2", "foo1", "foo10"],
                 ["v10", "v2", "v11beta2", "v10beta3", "v3beta1", "v12alpha1", "v11alpha2", "foo1", "foo10"],
                 id="upstream-documented-example"),
])
def test_version_priority_sort(versions, expected):
    assert version_priority_sort(versions) == expected


def test_default_crd_fills_names_and_conversion_without_mutating():
    obj = crd()
    del obj["spec"]["names"]["singular"]
    del obj["spec"]["names"]["listKind"]
    before = copy.deepcopy(obj)
    out = default_crd(obj)
    assert out["spec"]["names"]["singular"] == "crontab"
    assert out["spec"]["names"]["listKind"] == "CronTabList"
    assert out["spec"]["conversion"] == {"strategy": "None"}
    assert obj == before
    assert default_crd(out) == out


def edit(path: str, value) -> dict:
    obj = crd()
    target = obj
    *parents, last = path.split(".")
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is _DELETE:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return obj


_DELETE = object()


@pytest.mark.parametrize(("obj", "expected"), [
    pytest.param(crd(), [], id="valid"),
    pytest.param(edit("metadata.name", "tabs.stable.example.com"),
                 [("metadata.name", 'Invalid value: "tabs.stable.example.com": must be spec.names.plural+"."+spec.group')],
                 id="name-is-plural-dot-group"),
    pytest.param({**crd(group="example"), "metadata": {"name": "crontabs.example"}},
                 [("spec.group", 'Invalid value: "example": should be a domain with at least one dot')],
                 id="group-needs-a-dot"),
    pytest.param(edit("spec.scope", "Global"),
                 [("spec.scope", 'Unsupported value: "Global": supported values: "Cluster", "Namespaced"')],
                 id="scope"),
    pytest.param(crd([version("v1"), version("v2")]),
                 [("spec.versions", None)], id="no-storage-version"),
    pytest.param(crd([version("v1", storage=True), version("v2", storage=True)]),
                 [("spec.versions", None)], id="two-storage-versions"),
    pytest.param(crd([version("v1", served=False, storage=True)]),
                 [("spec.versions", None)], id="nothing-served"),
    pytest.param(crd([version("v1", storage=True), version("v1")]),
                 [("spec.versions", None)], id="duplicate-version"),
    pytest.param(crd([version("V1", storage=True)]), [("spec.versions[0].name", None)], id="version-name"),
    pytest.param(crd([{"name": "v1", "served": True, "storage": True}]),
                 [("spec.versions[0].schema.openAPIV3Schema", "Required value: schemas are required")],
                 id="schema-required"),
    pytest.param(crd([version("v1", storage=True, schema={"type": "string"})]),
                 [("spec.versions[0].schema.openAPIV3Schema.type", 'Invalid value: "string": must be object at the root')],
                 id="root-type-object"),
    pytest.param(crd([version("v1", storage=True, schema={"type": "object", "properties": {"spec": {"properties": {}}}})]),
                 [("spec.versions[0].schema.openAPIV3Schema.properties[spec].type",
                   "Required value: must not be empty for specified object fields")], id="structural-types"),
    pytest.param(crd([version("v1", storage=True, schema={"type": "object", "properties": {
        "spec": {"x-kubernetes-preserve-unknown-fields": True}, "port": {"x-kubernetes-int-or-string": True}}})]),
        [], id="exempt-from-type"),
    pytest.param(crd([version("v1", storage=True, schema={"type": "object", "properties": {
        "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}})]),
        [("spec.versions[0].schema.openAPIV3Schema.properties[metadata]", None)], id="metadata-restricted"),
    pytest.param(crd([version("v1", storage=True, subresources={"scale": {"specReplicasPath": ".status.replicas",
                                                                          "statusReplicasPath": ".status.replicas"}})]),
                 [("spec.versions[0].subresources.scale.specReplicasPath",
                   'Invalid value: ".status.replicas": should be a json path under .spec')], id="scale-path"),
    pytest.param(crd([version("v1", storage=True, additionalPrinterColumns=[
        {"name": "Cron", "type": "text", "jsonPath": ".spec.cron"}])]),
        [("spec.versions[0].additionalPrinterColumns[0].type",
          'Unsupported value: "text": supported values: "boolean", "date", "integer", "number", "string"')],
        id="printer-column-type"),
    pytest.param(edit("spec.names.kind", "cron_tab"), [("spec.names.kind", None)], id="kind-name"),
    pytest.param(edit("spec.names.listKind", "CronTab"),
                 [("spec.names.listKind", 'Invalid value: "CronTab": kind and listKind may not be the same')],
                 id="kind-equals-list-kind"),
    pytest.param(edit("spec.names.plural", _DELETE),
                 [("metadata.name", None), ("spec.names.plural", "Required value")], id="plural-required"),
    pytest.param(crd(conversion={"strategy": "Magic"}), [("spec.conversion.strategy", None)], id="conversion"),
])
def test_validate_crd(obj, expected):
    got = [(c.field, c.message) for c in validate_crd(default_crd(obj))]
    # a None message in the table means "this field, any wording"
    assert [(f, m if want is not None else None) for (f, m), (_, want) in zip(got, expected, strict=False)] == \
        expected
    assert len(got) == len(expected)


def test_validate_crd_update_rules():
    old = crd()
    old["status"] = {"storedVersions": ["v1beta1", "v1"]}
    new = copy.deepcopy(old)
    new["spec"]["scope"] = "Cluster"
    fields = {(c.field, c.message) for c in validate_crd(default_crd(new), old)}
    assert ("spec.scope", 'Invalid value: "Cluster": field is immutable') in fields
    assert ("status.storedVersions[0]", 'Invalid value: "v1beta1": must appear in spec.versions') in fields


def test_generic_validate_routes_crds_and_adds_object_meta_checks():
    info = default_registry().get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    obj = edit("spec.group", "example")
    obj["metadata"]["namespace"] = "default"
    fields = [c.field for c in validate(info, default_crd(obj))]
    assert fields == ["metadata.namespace", "metadata.name", "spec.group"]


def test_resource_infos_one_per_served_version_preferred_first():
    obj = crd([
        version("v1beta1", storage=True),
        version("v1", subresources={"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                            "statusReplicasPath": ".status.replicas"}},
                additionalPrinterColumns=[{"name": "Cron", "type": "string", "jsonPath": ".spec.cron"}]),
        version("v1alpha1", served=False),
    ])
    infos = resource_infos(obj)
    assert [i.version for i in infos] == ["v1", "v1beta1"]
    v1 = infos[0]
    assert (v1.group, v1.kind, v1.plural, v1.singular, v1.list_kind) == \
        ("stable.example.com", "CronTab", "crontabs", "crontab", "CronTabList")
    assert v1.custom and v1.namespaced and v1.verbs == ALL_VERBS
    assert v1.short_names == ("ct",) and v1.categories == ("all",)
    assert v1.storage_version == "v1beta1"
    assert v1.subresources == (Subresource("status"), Subresource("scale", group="autoscaling", version="v1",
                                                                  kind="Scale"))
    assert v1.scale_paths == {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}
    assert v1.printer_columns == ({"name": "Cron", "type": "string", "jsonPath": ".spec.cron"},)
    assert v1.schema == SCHEMA
    assert infos[1].subresources == () and infos[1].scale_paths is None


def test_resource_infos_register_with_preferred_version_first():
    registry = Registry(())
    for info in resource_infos(crd([version("v1alpha1"), version("v2", storage=True), version("v1")],
                                   scope="Cluster")):
        registry.add(info)
    assert registry.groups() == {"stable.example.com": ["v2", "v1", "v1alpha1"]}
    assert not registry.get("stable.example.com", "v1", "crontabs").namespaced


def test_storage_version():
    assert storage_version(crd([version("v1"), version("v2", storage=True)])) == "v2"
    assert storage_version(crd([version("v1")])) == ""


def test_established_status():
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    obj = crd()
    obj["status"] = {"storedVersions": ["v1beta1"]}
    status = established_status(obj, now)
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
        ("NamesAccepted", "True", "NoConflicts"), ("Established", "True", "InitialNamesAccepted")]
    assert {c["lastTransitionTime"] for c in status["conditions"]} == {"2026-01-02T03:04:05Z"}
    assert status["acceptedNames"] == {"plural": "crontabs", "singular": "crontab", "shortNames": ["ct"],
                                       "kind": "CronTab", "listKind": "CronTabList", "categories": ["all"]}
    assert status["storedVersions"] == ["v1beta1", "v1"]
    assert "status" in obj and obj["status"] == {"storedVersions": ["v1beta1"]}


def test_established_status_keeps_transition_times():
    obj = crd()
    obj["status"] = established_status(obj, "2026-01-01T00:00:00Z")
    again = established_status(obj, "2026-06-01T00:00:00Z")
    assert {c["lastTransitionTime"] for c in again["conditions"]} == {"2026-01-01T00:00:00Z"}
    assert again["storedVersions"] == ["v1"]
