"""JSON values nested deeper than orjson's encoder (254) and Python's recursion limit allow."""

from __future__ import annotations

import json

import orjson
import pytest

from podplane.api.jsonvalue import MAX_DEPTH, TooDeepError, copy_json, depth, dumps, json_equal


def nested(levels: int, leaf: object = None) -> dict:
    value: object = {"leaf": True} if leaf is None else leaf
    for i in range(levels):
        value = {"x": value} if i % 2 else {"y": [value]}
    return value  # type: ignore[return-value]


def test_depth_counts_objects_and_arrays():
    assert depth(1) == 0
    assert depth({}) == depth([]) == 1
    assert depth({"a": [1, {"b": []}]}) == 4
    assert depth(nested(5000)) > 5000  # iterative: no RecursionError


def test_copy_json_is_deep_and_independent_at_any_depth():
    for value in ({"a": [1, {"b": "c"}], "d": None}, nested(3000)):
        copied = copy_json(value)
        assert depth(copied) == depth(value)
        assert copied is not value
    small = {"a": {"b": [1, 2]}}
    copied = copy_json(small)
    copied["a"]["b"].append(3)
    assert small == {"a": {"b": [1, 2]}}


def test_copy_json_keeps_integers_beyond_64_bits():
    value = {"big": 2**70, "list": [2**65]}
    assert copy_json(value) == value


def test_dumps_matches_orjson_when_orjson_can_and_falls_back_when_not():
    small = {"a": [1, 2.5, "é", None, True]}
    assert dumps(small) == orjson.dumps(small)
    deep = nested(600)
    encoded = dumps(deep, max_depth=MAX_DEPTH)
    assert orjson.loads(encoded) == json.loads(encoded)
    assert depth(orjson.loads(encoded)) == depth(deep)


def test_dumps_refuses_what_could_not_be_read_back():
    with pytest.raises(TooDeepError) as e:
        dumps(nested(MAX_DEPTH + 10), max_depth=MAX_DEPTH)
    assert "exceeded max depth of 1024" in str(e.value)
    assert dumps(nested(MAX_DEPTH + 10))  # responses have no cap


def test_dumps_writes_integers_beyond_64_bits():
    assert dumps({"big": 2**70, "neg": -(2**64)}) == b'{"big":1180591620717411303424,"neg":-18446744073709551616}'
    deep = nested(400, leaf={"big": 2**70})
    assert json.loads(dumps(deep)) == deep


@pytest.mark.parametrize(("a", "b", "want"), [
    (1, 1.0, True),
    (True, 1, False),
    (False, False, True),
    ({"a": [1, {"b": 2.0}]}, {"a": [1, {"b": 2}]}, True),
    ({"a": 1}, {"a": 1, "b": None}, False),
    ([1, 2], [2, 1], False),
    ("1", 1, False),
    (None, None, True),
])
def test_json_equal(a, b, want):
    assert json_equal(a, b) is want
    assert json_equal(b, a) is want
