"""Informer cache: replace deltas, handlers, indexes, selectors, expectations."""

from __future__ import annotations

from podplane.api.selectors import parse_label_selector
from podplane.client.expectations import Expectations
from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory, key_of, split_key


def cm(name: str, rv: str = "1", ns: str = "default", **labels) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "resourceVersion": rv, "labels": labels}}


def make():
    client = FakeClient()
    informer = InformerFactory(client).resource("", "configmaps")
    events = []
    informer.add_handler(on_add=lambda o: events.append(("add", key_of(o))),
                         on_update=lambda old, new: events.append(("update", key_of(new))),
                         on_delete=lambda o: events.append(("delete", key_of(o))))
    return informer, events


def test_replace_delivers_the_difference():
    informer, events = make()
    informer.replace([cm("a"), cm("b")], "10")
    assert informer.has_synced and informer.resource_version == "10"
    events.clear()
    informer.replace([cm("b", rv="2"), cm("c")], "11")
    assert sorted(events) == [("add", "default/c"), ("delete", "default/a"), ("update", "default/b")]
    assert sorted(informer.keys()) == ["default/b", "default/c"]


def test_unchanged_objects_are_not_redelivered():
    informer, events = make()
    informer.replace([cm("a")], "1")
    events.clear()
    informer.replace([cm("a")], "2")
    assert events == []


def test_namespace_index_and_selector():
    informer, _ = make()
    informer.replace([cm("a", tier="web"), cm("b", tier="db"), cm("c", ns="other", tier="web")], "1")
    assert sorted(o["metadata"]["name"] for o in informer.list("default")) == ["a", "b"]
    web = informer.list(None, parse_label_selector("tier=web"))
    assert sorted(o["metadata"]["name"] for o in web) == ["a", "c"]
    assert informer.get("other", "c")["metadata"]["name"] == "c"


def test_custom_index_follows_updates_and_deletes():
    informer, _ = make()
    informer.add_indexer("tier", lambda o: [o["metadata"]["labels"].get("tier", "")])
    informer.replace([cm("a", tier="web")], "1")
    informer._apply("MODIFIED", cm("a", rv="2", tier="db"))
    assert informer.by_index("tier", "web") == [] and len(informer.by_index("tier", "db")) == 1
    informer._apply("DELETED", cm("a", rv="3", tier="db"))
    assert informer.by_index("tier", "db") == []


def test_late_handlers_see_current_objects():
    informer, _ = make()
    informer.replace([cm("a")], "1")
    seen = []
    informer.add_handler(on_add=lambda o: seen.append(o["metadata"]["name"]))
    assert seen == ["a"]


def test_keys_round_trip():
    assert split_key(key_of(cm("x", ns="n"))) == ("n", "x")
    assert split_key("cluster-scoped") == (None, "cluster-scoped")


def test_expectations_wait_for_observations_or_ttl():
    now = [0.0]
    exp = Expectations(ttl=10, clock=lambda: now[0])
    exp.expect_creations("k", 2)
    assert not exp.satisfied("k")
    exp.creation_observed("k")
    assert not exp.satisfied("k")
    exp.creation_observed("k")
    assert exp.satisfied("k")
    exp.expect_deletions("k", 1)
    assert not exp.satisfied("k")
    now[0] = 11
    assert exp.satisfied("k"), "a lost watch event must not wedge the controller forever"
