"""Server-side apply and managedFields: ownership, pruning, conflicts, and the upstream wire shapes."""

from __future__ import annotations

import copy
import json

import pytest

from podplane.api.apply import LAST_APPLIED_ANNOTATION, fields_of, server_side_apply, update_managed_fields
from podplane.api.errors import ApiError
from podplane.api.schema import node_for_kind

CONFIGMAP = node_for_kind("", "v1", "ConfigMap")
DEPLOYMENT = node_for_kind("apps", "v1", "Deployment")
POD = node_for_kind("", "v1", "Pod")
T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"


# --------------------------------------------------------------------------- builders


def configmap(data: dict | None = None, **metadata) -> dict:
    obj = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "cm", "namespace": "default", **metadata}}
    if data is not None:
        obj["data"] = data
    return obj


def stored(obj: dict, **system) -> dict:
    """`obj` as the registry would store it (system metadata the apply must ignore)."""
    out = copy.deepcopy(obj)
    out["metadata"].update({"uid": "u-1", "resourceVersion": "7", "creationTimestamp": T0, **system})
    return out


def deployment(*containers: dict) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": list(containers)}}}}


def ssa(live, applied, manager="test", schema=CONFIGMAP, force=False, now=T1, api_version="v1", **kw) -> dict:
    return server_side_apply(live, applied, manager=manager, schema=schema, force=force, now=now,
                             api_version=api_version, **kw)


def entries(obj: dict) -> dict[str, dict]:
    return {e["manager"] + ("/" + e["subresource"] if "subresource" in e else ""): e
            for e in obj["metadata"].get("managedFields", [])}


def csa_created(data: dict, last_applied: dict | None = None) -> dict:
    """A ConfigMap created by `kubectl apply` (client-side): POST with fieldManager=kubectl-client-side-apply."""
    obj = configmap(data)
    if last_applied is not None:
        obj["metadata"]["annotations"] = {LAST_APPLIED_ANNOTATION: json.dumps(last_applied)}
    return update_managed_fields(None, stored(obj), manager="kubectl-client-side-apply", schema=CONFIGMAP,
                                 now=T0, api_version="v1")


# --------------------------------------------------------------------------- fields_of


@pytest.mark.parametrize(
    ("obj", "schema", "expected"),
    [
        pytest.param(stored(configmap({"a": "1"}, labels={"app": "x"})), CONFIGMAP,
                     {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}},
                     id="identity-metadata-untracked"),
        pytest.param(
            deployment({"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}],
                        "args": ["-v"]}),
            DEPLOYMENT,
            {"f:spec": {"f:selector": {}, "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {'k:{"name":"nginx"}': {
                    ".": {}, "f:args": {}, "f:image": {}, "f:name": {},
                    "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}}}}}},
            id="list-maps-atomic-selector-defaulted-protocol-key"),
        pytest.param({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["b", "a"]}},
                     POD, {"f:metadata": {"f:finalizers": {'v:"a"': {}, 'v:"b"': {}}}}, id="set-items-by-value"),
        pytest.param({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "x"}, "spec": {"a": {"b": [1]}}},
                     None, {"f:spec": {".": {}, "f:a": {".": {}, "f:b": {}}}}, id="schemaless-deduced"),
    ],
)
def test_fields_of_renders_fieldsv1(obj, schema, expected):
    assert fields_of(obj, schema) == expected


# --------------------------------------------------------------------------- apply


def test_apply_creates_object_with_apply_entry():
    applied = configmap({"a": "1"}, labels={"app": "x"})
    out = ssa(None, applied)
    assert out["data"] == {"a": "1"}
    assert out["metadata"]["managedFields"] == [{
        "manager": "test", "operation": "Apply", "apiVersion": "v1", "time": T1, "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}}]
    assert "managedFields" not in applied["metadata"]


def test_reapply_unchanged_is_a_noop_that_keeps_the_time():
    live = stored(ssa(None, configmap({"a": "1"}), now=T0))
    assert ssa(live, configmap({"a": "1"}), now=T2) == live


@pytest.mark.parametrize(
    ("second_owner", "expected_data"),
    [
        pytest.param(None, {"a": "1"}, id="unowned-field-is-removed"),
        pytest.param("kubectl-edit", {"a": "1", "b": "2"}, id="field-co-owned-by-updater-stays"),
    ],
)
def test_apply_prunes_fields_the_manager_stopped_applying(second_owner, expected_data):
    live = stored(ssa(None, configmap({"a": "1", "b": "2"}), now=T0))
    if second_owner:  # another manager also owns b (e.g. it wrote the same value through an update)
        live["metadata"]["managedFields"].append({
            "manager": second_owner, "operation": "Update", "apiVersion": "v1", "time": T0,
            "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:b": {}}}})
    out = ssa(live, configmap({"a": "1"}), now=T1)
    assert out["data"] == expected_data
    assert entries(out)["test"]["fieldsV1"] == {"f:data": {"f:a": {}}}


def test_conflict_with_client_side_apply_matches_upstream_status():
    live = csa_created({"a": "1"})
    with pytest.raises(ApiError) as err:
        ssa(live, configmap({"a": "2"}))
    assert err.value.to_status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.a',
        "reason": "Conflict",
        "details": {"causes": [{"reason": "FieldManagerConflict",
                                "message": 'conflict with "kubectl-client-side-apply" using v1',
                                "field": ".data.a"}]},
        "code": 409}


def test_same_value_is_shared_ownership_not_a_conflict():
    live = csa_created({"a": "1"})
    out = ssa(live, configmap({"a": "1"}))
    assert entries(out)["test"]["fieldsV1"] == {"f:data": {"f:a": {}}}
    assert entries(out)["kubectl-client-side-apply"]["fieldsV1"]["f:data"] == {".": {}, "f:a": {}}


def test_several_conflicts_are_grouped_by_manager():
    live = ssa(csa_created({"a": "1", "b": "1"}), configmap({"c": "1"}), manager="alpha", now=T0)
    with pytest.raises(ApiError) as err:
        ssa(live, configmap({"a": "2", "b": "2", "c": "2"}), manager="zeta")
    assert err.value.message == (
        'Apply failed with 3 conflicts: conflicts with "alpha":\n- .data.c\n'
        'conflicts with "kubectl-client-side-apply" using v1:\n- .data.a\n- .data.b')
    assert [(c.message, c.field) for c in err.value.causes] == [
        ('conflict with "alpha"', ".data.c"),
        ('conflict with "kubectl-client-side-apply" using v1', ".data.a"),
        ('conflict with "kubectl-client-side-apply" using v1', ".data.b")]


def test_force_takes_ownership_from_the_other_manager():
    live = csa_created({"a": "1", "b": "1"})
    before = copy.deepcopy(live)
    out = ssa(live, configmap({"a": "2"}), force=True)
    assert live == before  # inputs are never mutated
    assert out["data"] == {"a": "2", "b": "1"}
    assert entries(out)["test"]["fieldsV1"] == {"f:data": {"f:a": {}}}
    assert entries(out)["kubectl-client-side-apply"]["fieldsV1"]["f:data"] == {".": {}, "f:b": {}}


def test_kubectl_upgrade_from_client_side_apply_is_allowed_and_syncs_annotation():
    last = configmap({"a": "1"})
    live = csa_created({"a": "1"}, last_applied=last)
    applied = configmap({"a": "2"})
    out = ssa(live, applied, manager="kubectl")
    assert out["data"] == {"a": "2"}
    assert out["metadata"]["annotations"][LAST_APPLIED_ANNOTATION] == (
        '{"apiVersion":"v1","data":{"a":"2"},"kind":"ConfigMap","metadata":{"name":"cm","namespace":"default"}}\n')
    assert "f:a" not in entries(out)["kubectl-client-side-apply"]["fieldsV1"]["f:data"]


def test_kubectl_upgrade_still_conflicts_on_fields_changed_since_last_apply():
    live = csa_created({"a": "1"}, last_applied=configmap({"a": "1"}))
    live = update_managed_fields(live, {**live, "data": {"a": "5"}}, manager="kubectl-edit", schema=CONFIGMAP,
                                 now=T0, api_version="v1")
    with pytest.raises(ApiError) as err:
        ssa(live, configmap({"a": "2"}), manager="kubectl")
    assert err.value.message == 'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.a'


def test_two_appliers_share_a_list_map_by_key():
    live = ssa(None, deployment({"name": "nginx", "image": "nginx:1"}), manager="alice", schema=DEPLOYMENT,
               api_version="apps/v1", now=T0)
    live = ssa(live, deployment({"name": "sidecar", "image": "busybox"}), manager="bob", schema=DEPLOYMENT,
               api_version="apps/v1", now=T1)
    assert [c["name"] for c in live["spec"]["template"]["spec"]["containers"]] == ["nginx", "sidecar"]
    bob = entries(live)["bob"]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert list(bob) == ['k:{"name":"sidecar"}']
    # alice drops her container: only hers goes, bob's stays
    out = ssa(live, deployment({"name": "nginx2", "image": "x"}), manager="alice", schema=DEPLOYMENT,
              api_version="apps/v1", now=T2)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["sidecar", "nginx2"]
    # bob changing alice's image conflicts, naming the list item by key
    with pytest.raises(ApiError) as err:
        ssa(out, deployment({"name": "nginx2", "image": "y"}), manager="bob", schema=DEPLOYMENT,
            api_version="apps/v1")
    assert [c.field for c in err.value.causes] == ['.spec.template.spec.containers[name="nginx2"].image']


def test_apply_to_untracked_object_keeps_its_fields_under_before_first_apply():
    live = stored(deployment({"name": "nginx", "image": "nginx:1", "imagePullPolicy": "Always"}))
    live["spec"]["replicas"] = 3
    applied = deployment({"name": "nginx", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]})
    out = ssa(live, applied, schema=DEPLOYMENT, api_version="apps/v1")
    assert out["spec"]["replicas"] == 3
    assert out["spec"]["template"]["spec"]["containers"] == [
        {"name": "nginx", "image": "nginx:1", "imagePullPolicy": "Always", "env": [{"name": "A", "value": "1"}]}]
    assert out["metadata"]["uid"] == "u-1"
    assert entries(out)["before-first-apply"]["operation"] == "Update"
    with pytest.raises(ApiError) as err:
        ssa(live, deployment({"name": "nginx", "image": "nginx:2"}), schema=DEPLOYMENT, api_version="apps/v1")
    assert err.value.message == ('Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: '
                                 '.spec.template.spec.containers[name="nginx"].image')


def test_status_subresource_entries_carry_the_subresource():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "x"}]}}
    live = update_managed_fields(None, pod, manager="kubectl-run", schema=POD, now=T0, api_version="v1")
    running = {**copy.deepcopy(live), "status": {"phase": "Running"}}
    out = update_managed_fields(live, running, manager="podplane-agent", schema=POD, now=T1, api_version="v1",
                                subresource="status")
    assert entries(out)["podplane-agent/status"] == {
        "manager": "podplane-agent", "operation": "Update", "apiVersion": "v1", "time": T1,
        "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {".": {}, "f:phase": {}}}, "subresource": "status"}
    applied = ssa(out, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                        "status": {"phase": "Succeeded"}}, manager="ctl", schema=POD, subresource="status",
                  force=True, now=T2)
    assert entries(applied)["ctl/status"]["subresource"] == "status"
    assert entries(applied)["ctl/status"]["fieldsV1"] == {"f:status": {"f:phase": {}}}
    assert entries(applied)["podplane-agent/status"]["fieldsV1"] == {"f:status": {}}  # phase was forced away


@pytest.mark.parametrize(
    ("applied", "message"),
    [
        pytest.param({**configmap({"a": "1"}), "apiVersion": "v2"},
                     "Incorrect version specified in apply patch. Specified patch version: v2, expected: v1",
                     id="wrong-version"),
        pytest.param(configmap({"a": "1"}, managedFields=[]), "metadata.managedFields must be nil",
                     id="managed-fields-in-body"),
        pytest.param(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
             "spec": {"containers": [{"name": "c"}, {"name": "c"}]}},
            'failed to create typed patch object (default/p; /v1, Kind=Pod): .spec.containers: '
            'duplicate entries for key [name="c"]', id="duplicate-list-map-keys"),
    ],
)
def test_apply_rejects_malformed_configurations(applied, message):
    with pytest.raises(ApiError) as err:
        ssa(None, applied, schema=POD)
    assert (err.value.code, err.value.message) == (400, message)


def test_ignored_fields_are_neither_owned_nor_conflicting():
    live = update_managed_fields(None, {**configmap(), "status": {"x": 1}}, manager="agent", schema=None, now=T0,
                                 api_version="v1")
    out = ssa(live, {**configmap({"a": "1"}), "status": {"x": 2}}, schema=None, ignored=[("status",)])
    assert entries(out)["test"]["fieldsV1"] == {"f:data": {".": {}, "f:a": {}}}


# --------------------------------------------------------------------------- update (non-apply writes)


def test_update_moves_changed_fields_to_the_writer_and_drops_empty_managers():
    live = stored(ssa(None, configmap({"a": "1"}, labels={"t": "fe"}), now=T0))
    live = update_managed_fields(live, {**live, "data": {"a": "1", "b": "1"}}, manager="kubectl-create",
                                 schema=CONFIGMAP, now=T0, api_version="v1")
    out = update_managed_fields(live, configmap({"a": "2", "b": "2"}), manager="kubectl-edit",
                                schema=CONFIGMAP, now=T1, api_version="v1")
    # "test" lost a (changed) and its label (removed); "kubectl-create" lost b: both are dropped
    assert sorted(entries(out)) == ["kubectl-edit"]
    assert entries(out)["kubectl-edit"]["fieldsV1"] == {"f:data": {"f:a": {}, "f:b": {}}}


def test_update_without_changes_keeps_entries_and_times():
    live = csa_created({"a": "1"})
    same = copy.deepcopy(live)
    same["metadata"]["resourceVersion"] = "8"  # system metadata is never tracked
    assert update_managed_fields(live, same, manager="other", schema=CONFIGMAP, now=T2,
                                 api_version="v1")["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_update_accumulates_fields_of_the_same_manager():
    live = csa_created({"a": "1"})
    out = update_managed_fields(live, configmap({"a": "1", "b": "2"}), manager="kubectl-client-side-apply",
                                schema=CONFIGMAP, now=T1, api_version="v1")
    entry = entries(out)["kubectl-client-side-apply"]
    assert entry["time"] == T1
    assert entry["fieldsV1"] == {"f:data": {".": {}, "f:a": {}, "f:b": {}}}


def test_update_with_reset_managed_fields_starts_over():
    live = csa_created({"a": "1"})
    sent = copy.deepcopy(live)
    sent["metadata"]["managedFields"] = [{}]
    sent["data"]["b"] = "2"
    out = update_managed_fields(live, sent, manager="kubectl-edit", schema=CONFIGMAP, now=T1, api_version="v1")
    assert list(entries(out)) == ["kubectl-edit"]
    assert entries(out)["kubectl-edit"]["fieldsV1"] == {"f:data": {"f:b": {}}}


def test_managed_fields_order_puts_appliers_first_then_oldest():
    live = csa_created({"a": "1"})
    live = update_managed_fields(live, {**live, "data": {"a": "1", "z": "1"}}, manager="aaa-late", schema=CONFIGMAP,
                                 now=T2, api_version="v1")
    out = ssa(live, configmap({"b": "1"}), manager="zzz-applier", now=T1)
    assert [e["manager"] for e in out["metadata"]["managedFields"]] == [
        "zzz-applier", "kubectl-client-side-apply", "aaa-late"]
