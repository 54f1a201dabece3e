"""Request bodies and options: YAML hazards, duplicate JSON keys, ListOptions rules."""

from __future__ import annotations

import time

import pytest
import yaml
from multidict import MultiDict

from podplane.api.errors import ApiError
from podplane.apiserver.request import _DepthLimitedLoader, decode_body, duplicate_fields, list_options_error


def alias_bomb(levels: int) -> bytes:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\n" + "\n".join(lines) + "\n").encode()


def bad_yaml(body: bytes | str) -> str:
    with pytest.raises(ApiError) as e:
        decode_body(body if isinstance(body, bytes) else body.encode(), "application/yaml", what="ConfigMap")
    assert e.value.code == 400 and e.value.reason == "BadRequest"
    return e.value.message


def test_yaml_alias_bomb_is_refused_quickly():
    start = time.monotonic()
    assert "document contains excessive aliasing" in bad_yaml(alias_bomb(9))
    assert time.monotonic() - start < 1.0


def test_moderate_aliasing_is_expanded():
    doc = decode_body(alias_bomb(3), "application/yaml")
    assert len(doc["a2"]) == 9
    assert doc["a2"][8][8] == ["lol"] * 9
    doc["a2"][0][0][0] = "changed"  # aliases become independent copies
    assert doc["a2"][1][0][0] == "lol"


@pytest.mark.parametrize("body", ["a: &a [*a, *a, *a]\n", "a: &a {b: *a}\n", "x: &x [1, [2, *x]]\n"])
def test_yaml_alias_cycles_are_refused(body):
    assert "anchor value contains itself" in bad_yaml(body)


@pytest.mark.parametrize("body", [
    "x: " + "[" * 5_000 + "]" * 5_000,
    "x: " + "{a: " * 5_000 + "1" + "}" * 5_000,
    "x: " + "[" * 10_000,
    "\n".join("  " * i + "a:" for i in range(3_000)) + " 1\n",
])
def test_deep_yaml_is_refused_quickly(body):
    start = time.monotonic()
    message = bad_yaml(body)
    assert "exceeded max depth of 1024" in message or "error converting YAML" in message
    # refused, not crunched: a generous bound that only a runaway parser would miss on a busy
    # machine (the figure itself is no benchmark)
    assert time.monotonic() - start < 15.0


def test_yaml_merge_keys_dates_and_keys_become_json():
    doc = decode_body(b"base: &b {k: v}\nm: {<<: *b, z: 1}\nd: 2024-01-02\n2: two\nnull: n\nfalse: f\n",
                      "application/yaml")
    assert doc == {"base": {"k": "v"}, "m": {"k": "v", "z": 1}, "d": "2024-01-02", "2": "two", "null": "n",
                   "false": "f"}


def test_json_nested_beyond_the_limit_is_refused_clearly():
    with pytest.raises(ApiError) as e:
        decode_body(b"[" * 1025 + b"]" * 1025, "application/json")
    assert e.value.code == 400 and "exceeded max depth of 1024" in e.value.message
    assert decode_body(b"[" * 1024 + b"]" * 1024, "application/json")


def test_depth_limited_loader_parses_like_pyyaml():
    docs = ["a: [1, {b: c}, [d, e]]\n", "? [x, y]\n: z\n", "- {a: [b, {c: d}]}\n- 'q: [not, flow]'\n",
            "k: |\n  [literal\n", "a: " + "x" * 1500 + "\nb: [c]\n", "[a, b]: c\n"]
    for text in docs:
        try:
            expected = ("ok", yaml.load(text, Loader=yaml.SafeLoader))
        except yaml.YAMLError as e:
            expected = ("error", str(e))
        try:
            got = ("ok", yaml.load(text, Loader=_DepthLimitedLoader))
        except yaml.YAMLError as e:
            got = ("error", str(e))
        assert got == expected, text


# -- duplicate keys ----------------------------------------------------------------------------
def test_duplicate_fields_are_reported_with_their_paths_in_document_order():
    body = (b'{"metadata":{"name":"a","name":"b"},"spec":{"containers":[{"name":"c","image":"x","image":"y"}]},'
            b'"data":{},"data":{"k":"1","k":"2"}}')
    assert duplicate_fields(body) == ['duplicate field "metadata.name"',
                                      'duplicate field "spec.containers[0].image"',
                                      'duplicate field "data"', 'duplicate field "data.k"']
    assert duplicate_fields(b'[{"a":1,"a":2},[{"b":1,"b":1}]]') == ['duplicate field "[0].a"',
                                                                    'duplicate field "[1][0].b"']
    assert duplicate_fields(b'{"a":{"b":1},"c":[1,2]}') == []


def test_duplicate_scan_of_a_small_object_is_cheap():
    body = (b'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"app":"x"}},"spec":{"containers":'
            b'[{"name":"c","image":"nginx","ports":[{"containerPort":80}],"env":[{"name":"A","value":"1"}]}]}}')
    start = time.perf_counter()
    for _ in range(1000):
        duplicate_fields(body)
    assert (time.perf_counter() - start) / 1000 < 0.001


# -- ListOptions -------------------------------------------------------------------------------
@pytest.mark.parametrize("query,watch,fields", [
    ({}, False, None),
    ({"resourceVersion": "5", "resourceVersionMatch": "Exact"}, False, None),
    ({"resourceVersion": "0", "resourceVersionMatch": "NotOlderThan"}, False, None),
    ({"resourceVersionMatch": "Exact"}, False, ["resourceVersionMatch"]),
    ({"resourceVersion": "0", "resourceVersionMatch": "Exact"}, False, ["resourceVersionMatch"]),
    ({"resourceVersion": "1", "resourceVersionMatch": "Sometime"}, False, ["resourceVersionMatch"]),
    ({"resourceVersion": "1", "resourceVersionMatch": "Exact", "continue": "x"}, False, ["resourceVersionMatch"]),
    ({"sendInitialEvents": "true"}, False, ["sendInitialEvents"]),
    ({"sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan", "allowWatchBookmarks": "true"}, True,
     None),
    ({"resourceVersionMatch": "NotOlderThan", "resourceVersion": "1"}, True, ["resourceVersionMatch"]),
    ({"sendInitialEvents": "true", "allowWatchBookmarks": "true"}, True, ["resourceVersionMatch"]),
    ({"sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan"}, True, ["allowWatchBookmarks"]),
    ({"sendInitialEvents": "false", "resourceVersionMatch": "Exact"}, True,
     ["resourceVersionMatch", "resourceVersionMatch"]),
])
def test_list_options(query, watch, fields):
    error = list_options_error(MultiDict(query), watch)
    if fields is None:
        assert error is None
        return
    assert error is not None and error.code == 422 and (error.kind, error.group) == ("ListOptions", "meta.k8s.io")
    assert [c.field for c in error.causes] == fields
    assert error.message.startswith('ListOptions.meta.k8s.io "" is invalid: ')
