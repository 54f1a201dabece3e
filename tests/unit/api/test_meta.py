"""Metadata helpers: timestamps, identifiers, accessors and the JSON deep copy."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from podplane.api.meta import (
    annotations_of,
    controller_ref,
    deepcopy_json,
    format_time,
    format_time_micro,
    generate_name,
    is_being_deleted,
    labels_of,
    name_of,
    namespace_of,
    new_uid,
    normalize_time,
    now_rfc3339,
    now_rfc3339_micro,
    object_key,
    owner_refs,
    parse_time,
)


def test_now_formats():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", now_rfc3339())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", now_rfc3339_micro())
    assert abs(parse_time(now_rfc3339()) - datetime.now(UTC)) < timedelta(seconds=5)


@pytest.mark.parametrize("text, expected", [
    pytest.param("2026-01-01T00:00:00Z", datetime(2026, 1, 1, tzinfo=UTC), id="zulu"),
    pytest.param("2026-01-01T00:00:00z", datetime(2026, 1, 1, tzinfo=UTC), id="lower-z"),
    pytest.param("2026-01-01T02:00:00+02:00", datetime(2026, 1, 1, tzinfo=UTC), id="positive-offset"),
    pytest.param("2025-12-31T19:00:00-05:00", datetime(2026, 1, 1, tzinfo=UTC), id="negative-offset"),
    pytest.param("2026-01-01T00:00:00+00:00", datetime(2026, 1, 1, tzinfo=UTC), id="plus-zero"),
    pytest.param("2026-01-01T00:00:00.5Z", datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC), id="fraction"),
    pytest.param("2026-01-01T00:00:00.123456789Z", datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC),
                 id="nanoseconds-truncated"),
])
def test_parse_time(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", [
    pytest.param("2026-01-01", id="date-only"),
    pytest.param("2026-01-01T00:00:00", id="no-zone"),
    pytest.param("yesterday", id="words"),
    pytest.param("2026-13-01T00:00:00Z", id="bad-month"),
])
def test_parse_time_rejects(text):
    with pytest.raises(ValueError):
        parse_time(text)


@pytest.mark.parametrize("text, micro, expected", [
    pytest.param("2026-01-01T02:00:00.75+02:00", False, "2026-01-01T00:00:00Z", id="seconds"),
    pytest.param("2026-01-01T02:00:00.75+02:00", True, "2026-01-01T00:00:00.750000Z", id="micro"),
])
def test_normalize_time(text, micro, expected):
    assert normalize_time(text, micro=micro) == expected


def test_format_naive_is_utc():
    assert format_time(datetime(2026, 1, 1)) == "2026-01-01T00:00:00Z"
    est = timezone(timedelta(hours=-5))
    assert format_time_micro(datetime(2025, 12, 31, 19, tzinfo=est)) == "2026-01-01T00:00:00.000000Z"


def test_new_uid_unique():
    uids = {new_uid() for _ in range(100)}
    assert len(uids) == 100
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", u) for u in uids)


@pytest.mark.parametrize("prefix, expected_prefix", [
    pytest.param("web-", "web-", id="short"),
    pytest.param("", "", id="empty"),
    pytest.param("x" * 70, "x" * 58, id="truncated-to-58"),
])
def test_generate_name(prefix, expected_prefix):
    name = generate_name(prefix)
    assert name.startswith(expected_prefix)
    assert len(name) == len(expected_prefix) + 5
    assert re.fullmatch(r"[bcdfghjklmnpqrstvwxz2456789]{5}", name[len(expected_prefix):])


POD = {
    "metadata": {
        "name": "p", "namespace": "ns", "labels": {"a": "b"}, "annotations": {"x": "y"},
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "1"},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "2", "controller": True},
        ],
    },
}


@pytest.mark.parametrize("fn, obj, expected", [
    pytest.param(namespace_of, POD, "ns", id="namespace"),
    pytest.param(namespace_of, {"metadata": {"name": "n"}}, "", id="namespace-cluster"),
    pytest.param(name_of, POD, "p", id="name"),
    pytest.param(name_of, {}, "", id="name-missing"),
    pytest.param(object_key, POD, ("ns", "p"), id="key"),
    pytest.param(object_key, {"metadata": {"name": "n"}}, ("", "n"), id="key-cluster"),
    pytest.param(labels_of, POD, {"a": "b"}, id="labels"),
    pytest.param(labels_of, {"metadata": {"labels": None}}, {}, id="labels-null"),
    pytest.param(annotations_of, POD, {"x": "y"}, id="annotations"),
    pytest.param(annotations_of, {}, {}, id="annotations-missing"),
    pytest.param(owner_refs, {}, [], id="owners-missing"),
    pytest.param(controller_ref, POD, POD["metadata"]["ownerReferences"][1], id="controller"),
    pytest.param(controller_ref, {"metadata": {"ownerReferences": [{"name": "x"}]}}, None, id="no-controller"),
    pytest.param(is_being_deleted, POD, False, id="not-deleting"),
    pytest.param(is_being_deleted, {"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}, True,
                 id="deleting"),
])
def test_accessors(fn, obj, expected):
    assert fn(obj) == expected


def test_deepcopy_json():
    copied = deepcopy_json(POD)
    assert copied == POD
    copied["metadata"]["labels"]["a"] = "changed"
    assert POD["metadata"]["labels"]["a"] == "b"
    # Values orjson cannot encode fall back to copy.deepcopy.
    odd = {1: [2**70]}
    assert deepcopy_json(odd) == odd and deepcopy_json(odd) is not odd
