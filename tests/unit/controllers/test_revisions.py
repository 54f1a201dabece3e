"""ControllerRevision helpers: data shape, naming, equality, listing, collisions, truncation."""

from __future__ import annotations

import pytest

from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.controllers.revisions import (
    HISTORY_HASH_LABEL,
    POD_REVISION_LABEL,
    apply_revision,
    create_revision,
    equal_revision,
    find_equal_revisions,
    hash_revision,
    new_revision,
    next_revision_number,
    revision_data,
    revision_matches,
    revisions_for,
    set_revision_number,
    truncate_history,
)


def make_sts(image: str = "nginx:1", name: str = "web", uid: str = "uid-web", **annotations) -> dict:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": "ns", "uid": uid, "annotations": annotations or None},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web", "tier": "db"}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


def rev(name: str, number: int, owner: dict | None = None, data: dict | None = None, ns: str = "ns",
        labels: dict | None = None, created: str = "2026-01-01T00:00:00Z") -> dict:
    meta: dict = {"name": name, "namespace": ns, "uid": f"uid-{name}", "creationTimestamp": created,
                  "labels": {"app": "web"} if labels is None else labels}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner["kind"], "name": owner["metadata"]["name"],
                                    "uid": owner["metadata"]["uid"], "controller": True}]
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": meta,
            "data": data if data is not None else {"n": name}, "revision": number}


def test_revision_data_is_the_template_replace_patch_kubectl_applies():
    data = revision_data(make_sts())
    assert data == {"spec": {"template": {"$patch": "replace", "metadata": {"labels": {"app": "web", "tier": "db"}},
                                          "spec": {"containers": [{"image": "nginx:1", "name": "c"}]}}}}
    # keys sorted like Go's json.Marshal, so kubectl's byte comparison of data can match
    assert list(data["spec"]["template"]) == sorted(data["spec"]["template"])


def test_new_revision_is_owned_labelled_and_named_by_hash():
    sts = make_sts(**{"kubernetes.io/change-cause": "bump"})
    data = revision_data(sts)
    r = new_revision(sts, data, 4, 0)
    hash_value = hash_revision(data, 0)
    assert r["metadata"]["name"] == f"web-{hash_value}"
    assert r["metadata"]["labels"] == {"app": "web", "tier": "db", HISTORY_HASH_LABEL: hash_value}
    assert r["metadata"]["annotations"] == {"kubernetes.io/change-cause": "bump"}
    assert r["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web",
                                                 "uid": "uid-web", "controller": True, "blockOwnerDeletion": True}]
    assert (r["revision"], r["data"]) == (4, data)


def test_new_revision_daemonset_style_hash_and_label():
    ds = make_sts(name="agent")
    r = new_revision(ds, revision_data(ds), 1, hash_value="abc123", hash_label=POD_REVISION_LABEL)
    assert r["metadata"]["name"] == "agent-abc123"
    assert r["metadata"]["labels"][POD_REVISION_LABEL] == "abc123"
    assert HISTORY_HASH_LABEL not in r["metadata"]["labels"]


@pytest.mark.parametrize("collision_a,collision_b,same", [
    pytest.param(0, 0, True, id="same-count"),
    pytest.param(0, 1, False, id="collision-count-changes-hash"),
])
def test_hash_depends_on_collision_count(collision_a, collision_b, same):
    data = revision_data(make_sts())
    assert (hash_revision(data, collision_a) == hash_revision(data, collision_b)) is same


@pytest.mark.parametrize("a,b,equal", [
    pytest.param(rev("a", 1, data={"x": 1}), rev("b", 2, data={"x": 1}), True, id="same-data"),
    pytest.param(rev("a", 1, data={"x": 1}), rev("b", 2, data={"x": 2}), False, id="other-data"),
    pytest.param(rev("a", 1, data={"x": 1}, labels={HISTORY_HASH_LABEL: "h1"}),
                 rev("b", 2, data={"x": 1}, labels={HISTORY_HASH_LABEL: "h2"}), False, id="hash-labels-differ"),
    pytest.param(None, None, True, id="both-none"),
    pytest.param(rev("a", 1), None, False, id="one-none"),
])
def test_equal_revision(a, b, equal):
    assert equal_revision(a, b) is equal


def test_find_equal_keeps_order_and_next_number():
    revs = [rev("a", 1, data={"x": 1}), rev("b", 5, data={"x": 2}), rev("c", 3, data={"x": 1})]
    assert [r["metadata"]["name"] for r in find_equal_revisions(revs, rev("n", 9, data={"x": 1}))] == ["a", "c"]
    assert next_revision_number(revs) == 6
    assert next_revision_number([]) == 1


def test_revisions_for_owned_and_adoptable_orphans_sorted():
    sts = make_sts()
    other = make_sts(name="other", uid="uid-other")
    informer = InformerFactory(FakeClient()).resource("apps", "controllerrevisions")
    informer.replace([
        rev("owned-2", 2, owner=sts), rev("owned-1", 1, owner=sts),
        rev("orphan", 3),                                    # matches the selector: adoptable
        rev("orphan-other-labels", 4, labels={"app": "x"}),  # does not match
        rev("foreign", 5, owner=other),                      # someone else's
        rev("elsewhere", 6, owner=sts, ns="other-ns"),
    ], "1")
    assert [r["metadata"]["name"] for r in revisions_for(informer, sts)] == ["owned-1", "owned-2", "orphan"]
    as_list = revisions_for([rev("b", 2, owner=sts), rev("a", 2, owner=sts, created="2025-01-01T00:00:00Z")], sts)
    assert [r["metadata"]["name"] for r in as_list] == ["a", "b"]  # same number: older first


async def test_create_revision_reuses_identical_and_renames_on_collision():
    client = FakeClient()
    info = client.resource("apps", "controllerrevisions")
    sts = make_sts()
    candidate = new_revision(sts, revision_data(sts), 1, 0)
    created, count = await create_revision(client, sts, candidate, 0)
    assert count == 0 and created["metadata"]["name"] == candidate["metadata"]["name"]

    again, count = await create_revision(client, sts, candidate, 0)  # same name, same data: reuse
    assert count == 0 and again["metadata"]["uid"] == created["metadata"]["uid"]

    clashing = FakeClient()  # a different revision already holds the name
    clashing.seed(info, {**candidate, "data": {"something": "else"}})
    renamed, count = await create_revision(clashing, sts, candidate, 0)
    assert count == 1
    assert renamed["metadata"]["name"] == f"web-{hash_revision(candidate['data'], 1)}"
    assert renamed["metadata"]["labels"][HISTORY_HASH_LABEL] == hash_revision(candidate["data"], 1)


async def test_set_revision_number_patches_only_when_needed():
    client = FakeClient()
    info = client.resource("apps", "controllerrevisions")
    stored = client.seed(info, rev("web-a", 1))
    await set_revision_number(client, stored, 1)
    assert client.verbs() == []
    moved = await set_revision_number(client, stored, 7)
    assert moved["revision"] == 7 and client.verbs() == ["patch controllerrevisions"]


@pytest.mark.parametrize("numbers,live,limit,count_live,deleted", [
    pytest.param([1, 2, 3, 4], set(), 2, False, ["r1", "r2"], id="oldest-first"),
    pytest.param([1, 2, 3, 4], {"r1"}, 2, False, ["r2"], id="live-by-name-kept"),
    pytest.param([1, 2, 3, 4], {"hash-r2"}, 1, False, ["r1", "r3"], id="live-by-hash-label-kept"),
    pytest.param([1, 2, 3], set(), 5, False, [], id="under-limit"),
    pytest.param([1, 2, 3, 4], {"r4", "r3"}, 3, True, ["r1"], id="daemonset-counts-live"),
    pytest.param([1, 2, 3, 4], {"r4", "r3"}, 3, False, [], id="statefulset-counts-history-only"),
    pytest.param([1, 2], set(), 0, False, ["r1", "r2"], id="zero-limit"),
])
async def test_truncate_history(numbers, live, limit, count_live, deleted):
    client = FakeClient()
    info = client.resource("apps", "controllerrevisions")
    revs = [client.seed(info, rev(f"r{n}", n, labels={POD_REVISION_LABEL: f"hash-r{n}"})) for n in numbers]
    assert await truncate_history(client, list(reversed(revs)), live, limit, count_live=count_live) == deleted
    assert [a.name for a in client.actions_for("delete", "controllerrevisions")] == deleted


def test_apply_revision_restores_the_template_and_matches():
    old, new = make_sts("nginx:1"), make_sts("nginx:2")
    r = new_revision(old, revision_data(old), 1, 0)
    restored = apply_revision(new, r)
    assert restored["spec"]["template"] == old["spec"]["template"]
    assert restored["spec"]["replicas"] == 3 and new["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert revision_matches(old, r) and not revision_matches(new, r)
