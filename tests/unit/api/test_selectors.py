"""Label and field selectors: grammar, matching, canonical strings, upstream error text."""

from __future__ import annotations

import pytest

from podplane.api.errors import ApiError
from podplane.api.registry import ResourceInfo, default_registry
from podplane.api.selectors import (
    EVERYTHING,
    NOTHING,
    FieldSelector,
    LabelSelector,
    escape_field_value,
    field_set,
    label_key_errors,
    label_value_errors,
    parse_field_selector,
    parse_label_selector,
    selector_from_dict,
    selector_from_set,
    selector_to_string,
    validate_field_selector,
)

REG = default_registry()
PODS = REG.get("", "v1", "pods")
EVENTS = REG.get("", "v1", "events")
NODES = REG.get("", "v1", "nodes")
NAMESPACES = REG.get("", "v1", "namespaces")
SECRETS = REG.get("", "v1", "secrets")
SERVICES = REG.get("", "v1", "services")
DEPLOYMENTS = REG.get("apps", "v1", "deployments")
REPLICASETS = REG.get("apps", "v1", "replicasets")
JOBS = REG.get("batch", "v1", "jobs")
CONFIGMAPS = REG.get("", "v1", "configmaps")
WIDGETS = ResourceInfo("example.com", "v1", "Widget", "widgets", custom=True)
CLUSTER_WIDGETS = ResourceInfo("example.com", "v1", "Gadget", "gadgets", namespaced=False, custom=True)

KEY_REGEX_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                 "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                 "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
VALUE_REGEX_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                   "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
                   "'my_value',  or '12345', regex used for validation is "
                   "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


# ------------------------------------------------------------------ label parsing


@pytest.mark.parametrize("text, canonical", [
    pytest.param("", "", id="empty"),
    pytest.param("a=b", "a=b", id="equals"),
    pytest.param("a==b", "a==b", id="double-equals"),
    pytest.param("a!=b", "a!=b", id="not-equals"),
    pytest.param("a", "a", id="exists"),
    pytest.param("!a", "!a", id="does-not-exist"),
    pytest.param("a in (b,c)", "a in (b,c)", id="in"),
    pytest.param("a notin (c,b)", "a notin (b,c)", id="notin-values-sorted"),
    pytest.param("a in (b)", "a in (b)", id="in-single"),
    pytest.param("a>1", "a>1", id="gt"),
    pytest.param("a<10", "a<10", id="lt"),
    pytest.param("a=", "a=", id="equals-empty-value"),
    pytest.param("a in ()", "a in ()", id="in-empty-parens"),
    pytest.param("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()", id="upstream-example"),
    pytest.param("  env  in  ( prod , dev ) ", "env in (dev,prod)", id="whitespace"),
    pytest.param("a=b\t,\nc=d", "a=b,c=d", id="tab-newline"),
    pytest.param("z=1,a=2,m", "a=2,m,z=1", id="sorted-by-key"),
    pytest.param("in in (in,notin)", "in in (in,notin)", id="keywords-as-identifiers"),
    pytest.param("example.com/app=web", "example.com/app=web", id="prefixed-key"),
    pytest.param("a in (b,b,c)", "a in (b,c)", id="duplicate-values"),
])
def test_parse_label_selector_canonical(text, canonical):
    sel = parse_label_selector(text)
    assert str(sel) == canonical
    # The canonical form parses back to the same selector.
    assert parse_label_selector(str(sel)) == sel


@pytest.mark.parametrize("text, labels, expected", [
    pytest.param("", {"a": "b"}, True, id="empty-matches-all"),
    pytest.param("", None, True, id="empty-matches-none-labels"),
    pytest.param("a=b", {"a": "b"}, True, id="eq-match"),
    pytest.param("a=b", {"a": "c"}, False, id="eq-mismatch"),
    pytest.param("a=b", {}, False, id="eq-missing"),
    pytest.param("a==b", {"a": "b"}, True, id="deq-match"),
    pytest.param("a!=b", {"a": "c"}, True, id="neq-other"),
    pytest.param("a!=b", {}, True, id="neq-missing"),
    pytest.param("a!=b", {"a": "b"}, False, id="neq-same"),
    pytest.param("a in (b,c)", {"a": "c"}, True, id="in-match"),
    pytest.param("a in (b,c)", {"a": "d"}, False, id="in-mismatch"),
    pytest.param("a in (b,c)", {}, False, id="in-missing"),
    pytest.param("a notin (b,c)", {"a": "d"}, True, id="notin-other"),
    pytest.param("a notin (b,c)", {}, True, id="notin-missing"),
    pytest.param("a notin (b,c)", {"a": "b"}, False, id="notin-member"),
    pytest.param("a", {"a": ""}, True, id="exists"),
    pytest.param("a", {"b": "x"}, False, id="exists-missing"),
    pytest.param("!a", {"b": "x"}, True, id="dne"),
    pytest.param("!a", {"a": "x"}, False, id="dne-present"),
    pytest.param("a>1", {"a": "2"}, True, id="gt-true"),
    pytest.param("a>1", {"a": "1"}, False, id="gt-equal"),
    pytest.param("a>1", {"a": "x"}, False, id="gt-non-integer-label"),
    pytest.param("a>1", {}, False, id="gt-missing"),
    pytest.param("a<10", {"a": "9"}, True, id="lt-true"),
    pytest.param("a<10", {"a": "-3"}, True, id="lt-negative-label"),
    pytest.param("a=", {"a": ""}, True, id="eq-empty-value"),
    pytest.param("a in ()", {"a": ""}, True, id="in-empty-value"),
    pytest.param("app=web,tier in (fe,be),!canary", {"app": "web", "tier": "fe"}, True, id="and-all"),
    pytest.param("app=web,tier in (fe,be),!canary", {"app": "web", "tier": "fe", "canary": "1"}, False,
                 id="and-one-fails"),
])
def test_label_selector_matches(text, labels, expected):
    assert parse_label_selector(text).matches(labels) is expected


W = "unable to parse requirement: "


@pytest.mark.parametrize("text, message", [
    pytest.param("a b", W + "found 'b', expected: in, notin, =, ==, !=, gt, lt", id="missing-operator"),
    pytest.param("a=b c", "found 'c', expected: ',' or 'end of string'", id="trailing-garbage"),
    pytest.param("a=b,", "found '', expected: identifier after ','", id="trailing-comma"),
    pytest.param("a,,b", "found ',', expected: identifier after ','", id="double-comma"),
    pytest.param(",a", "found ',', expected: !, identifier, or 'end of string'", id="leading-comma"),
    pytest.param("!=a", "found '!=', expected: !, identifier, or 'end of string'", id="leading-operator"),
    pytest.param("!!a", W + "found '!', expected: identifier", id="double-bang"),
    pytest.param("!a=b", "found '=', expected: ',' or 'end of string'", id="dne-with-value"),
    pytest.param("a===b", W + "found '=', expected: identifier", id="triple-equals"),
    pytest.param("a=(b)", W + "found '(', expected: identifier", id="paren-value"),
    pytest.param("a in b", W + "found 'b' expected: '('", id="in-without-parens"),
    pytest.param("a in (b", W + "found '', expected: ',' or ')'", id="in-unclosed"),
    pytest.param("a in (b c)", W + "found 'c', expected: ',' or ')'", id="in-missing-comma"),
    pytest.param("a in (=)", W + "found '=', expected: ',', ')' or identifier", id="in-operator-value"),
    pytest.param("a in (b,=)", W + "found '=', expected: ',', or identifier", id="in-operator-after-comma"),
    pytest.param("a>b", W + "values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be "
                 "an integer", id="gt-non-integer"),
    pytest.param("a>-1", W + 'values[0][a]: Invalid value: "-1": ' + VALUE_REGEX_MSG, id="gt-negative"),
    pytest.param("a>1.5", W + "values[0]: Invalid value: \"1.5\": for 'Gt', 'Lt' operators, the value "
                 "must be an integer", id="gt-float"),
    pytest.param("a=b/c", W + 'values[0][a]: Invalid value: "b/c": ' + VALUE_REGEX_MSG, id="bad-value"),
    pytest.param("a=" + "v" * 64, W + "values[0][a]: Invalid value: \"" + "v" * 64 + "\": must be no more "
                 "than 63 bytes", id="value-too-long"),
    pytest.param("-a", W + '<nil>: Invalid value: "-a": name part ' + KEY_REGEX_MSG, id="bad-key"),
    pytest.param("app:web", W + '<nil>: Invalid value: "app:web": name part ' + KEY_REGEX_MSG,
                 id="colon-key"),
    pytest.param("a/b/c", W + '<nil>: Invalid value: "a/b/c": a valid label key ' + KEY_REGEX_MSG
                 + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                 id="two-slashes"),
    pytest.param("/a", W + '<nil>: Invalid value: "/a": prefix part must be non-empty', id="empty-prefix"),
    pytest.param("Ex.com/a", W + '<nil>: Invalid value: "Ex.com/a": prefix part a lowercase RFC 1123 '
                 "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
                 "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')", id="bad-prefix"),
    pytest.param("k" * 64, W + '<nil>: Invalid value: "' + "k" * 64 + '": name part must be no more than 63 '
                 "bytes", id="key-too-long"),
    pytest.param('a"b', W + '<nil>: Invalid value: "a\\"b": name part ' + KEY_REGEX_MSG, id="go-quoting"),
])
def test_parse_label_selector_errors(text, message):
    with pytest.raises(ApiError) as exc:
        parse_label_selector(text)
    assert exc.value.code == 400
    assert exc.value.reason == "BadRequest"
    assert exc.value.message == message


def test_gt_multiple_errors_are_aggregated():
    with pytest.raises(ApiError) as exc:
        parse_label_selector("a>1x-")
    assert exc.value.message == (
        W + "[values[0]: Invalid value: \"1x-\": for 'Gt', 'Lt' operators, the value must be an integer, "
        'values[0][a]: Invalid value: "1x-": ' + VALUE_REGEX_MSG + "]")


@pytest.mark.parametrize("key, ok", [
    pytest.param("app", True, id="simple"),
    pytest.param("app.kubernetes.io/name", True, id="prefixed"),
    pytest.param("A_b-c.d", True, id="mixed"),
    pytest.param("a" * 63, True, id="max-length"),
    pytest.param("a" * 64, False, id="too-long"),
    pytest.param("", False, id="empty"),
    pytest.param("a\n", False, id="trailing-newline"),
    pytest.param("-a", False, id="leading-dash"),
])
def test_label_key_validation(key, ok):
    assert (label_key_errors(key) == []) is ok


@pytest.mark.parametrize("value, ok", [
    pytest.param("", True, id="empty"),
    pytest.param("v1.2_3-x", True, id="chars"),
    pytest.param("a" * 63, True, id="max"),
    pytest.param("a" * 64, False, id="too-long"),
    pytest.param("a b", False, id="space"),
    pytest.param("-a", False, id="leading-dash"),
])
def test_label_value_validation(value, ok):
    assert (label_value_errors(value) == []) is ok


def test_requires_exact_match():
    sel = parse_label_selector("a=1,b in (2),c in (3,4),d!=5")
    assert sel.requires_exact_match("a") == "1"
    assert sel.requires_exact_match("b") == "2"
    assert sel.requires_exact_match("c") is None
    assert sel.requires_exact_match("d") is None
    assert sel.requires_exact_match("zz") is None


def test_everything_and_nothing():
    assert EVERYTHING.empty and EVERYTHING.matches({"x": "y"}) and str(EVERYTHING) == ""
    assert not NOTHING.empty and not NOTHING.matches({}) and str(NOTHING) == ""
    assert NOTHING.add(*parse_label_selector("a").requirements) is NOTHING
    assert isinstance(parse_label_selector("a=b"), LabelSelector)


# ----------------------------------------------------------- metav1.LabelSelector


@pytest.mark.parametrize("sel, canonical, labels, expected", [
    pytest.param(None, "", {"a": "b"}, False, id="nil-matches-nothing"),
    pytest.param({}, "", {"a": "b"}, True, id="empty-matches-everything"),
    pytest.param({"matchLabels": {}, "matchExpressions": []}, "", {}, True, id="empty-parts"),
    pytest.param({"matchLabels": {"b": "2", "a": "1"}}, "a=1,b=2", {"a": "1", "b": "2"}, True,
                 id="match-labels-sorted"),
    pytest.param({"matchExpressions": [{"key": "t", "operator": "In", "values": ["y", "x"]}]},
                 "t in (x,y)", {"t": "x"}, True, id="in"),
    pytest.param({"matchExpressions": [{"key": "t", "operator": "NotIn", "values": ["x"]}]},
                 "t notin (x)", {"t": "x"}, False, id="notin"),
    pytest.param({"matchExpressions": [{"key": "t", "operator": "Exists"}]}, "t", {"t": ""}, True,
                 id="exists"),
    pytest.param({"matchExpressions": [{"key": "t", "operator": "DoesNotExist"}]}, "!t", {}, True,
                 id="does-not-exist"),
    pytest.param({"matchLabels": {"z": "1"}, "matchExpressions": [{"key": "a", "operator": "Exists"}]},
                 "a,z=1", {"a": "", "z": "1"}, True, id="mixed-sorted"),
])
def test_selector_from_dict(sel, canonical, labels, expected):
    s = selector_from_dict(sel)
    assert str(s) == canonical
    assert selector_to_string(sel) == canonical
    assert s.matches(labels) is expected


@pytest.mark.parametrize("sel, message", [
    pytest.param({"matchExpressions": [{"key": "a", "operator": "Foo"}]},
                 '"Foo" is not a valid label selector operator', id="bad-operator"),
    pytest.param({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
                 "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty",
                 id="in-empty"),
    pytest.param({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
                 'values: Invalid value: []string{"x"}: values set must be empty for exists and does not '
                 "exist", id="exists-with-values"),
    pytest.param({"matchLabels": {"-a": "b"}}, 'key: Invalid value: "-a": name part ' + KEY_REGEX_MSG,
                 id="bad-key"),
    pytest.param({"matchLabels": {"a": "b c"}}, 'values[0][a]: Invalid value: "b c": ' + VALUE_REGEX_MSG,
                 id="bad-value"),
])
def test_selector_from_dict_errors(sel, message):
    with pytest.raises(ApiError) as exc:
        selector_from_dict(sel)
    assert exc.value.code == 400
    assert exc.value.message == message


def test_selector_from_set():
    assert str(selector_from_set({"b": "2", "a": "1"})) == "a=1,b=2"
    assert selector_from_set(None).empty
    assert selector_from_set({}).matches({"x": "y"})


# ------------------------------------------------------------------ field parsing


@pytest.mark.parametrize("text, canonical, fields, expected", [
    pytest.param("", "", {"a": "b"}, True, id="empty"),
    pytest.param("metadata.name=foo", "metadata.name=foo", {"metadata.name": "foo"}, True, id="equals"),
    pytest.param("metadata.name==foo", "metadata.name=foo", {"metadata.name": "foo"}, True,
                 id="double-equals"),
    pytest.param("metadata.name!=foo", "metadata.name!=foo", {"metadata.name": "bar"}, True,
                 id="not-equals"),
    pytest.param("metadata.name!=foo", "metadata.name!=foo", {"metadata.name": "foo"}, False,
                 id="not-equals-same"),
    pytest.param("spec.nodeName=", "spec.nodeName=", {"spec.nodeName": ""}, True, id="empty-value"),
    pytest.param("spec.nodeName=", "spec.nodeName=", {}, True, id="missing-field-is-empty"),
    pytest.param("b=2,a=1", "a=1,b=2", {"a": "1", "b": "2"}, True, id="sorted-and"),
    pytest.param("b=2,a=1", "a=1,b=2", {"a": "1", "b": "3"}, False, id="and-fails"),
    pytest.param("a=x\\,y", "a=x\\,y", {"a": "x,y"}, True, id="escaped-comma"),
    pytest.param("a=x\\=y", "a=x\\=y", {"a": "x=y"}, True, id="escaped-equals"),
    pytest.param("a=x\\\\y", "a=x\\\\y", {"a": "x\\y"}, True, id="escaped-backslash"),
    pytest.param("a=1,", "a=1", {"a": "1"}, True, id="trailing-comma"),
])
def test_field_selector(text, canonical, fields, expected):
    sel = parse_field_selector(text)
    assert str(sel) == canonical
    assert sel.matches(fields) is expected


@pytest.mark.parametrize("text, message", [
    pytest.param("foo", "invalid selector: 'foo'; can't understand 'foo'", id="no-operator"),
    pytest.param("a=1,foo", "invalid selector: 'a=1,foo'; can't understand 'foo'", id="second-term"),
    pytest.param("a=b=c", "invalid field selector: unescaped character in value: 61", id="unescaped-equals"),
    pytest.param("a=b\\x", "invalid field selector: invalid escape sequence: \\x", id="bad-escape"),
    pytest.param("a=b\\", "invalid field selector: invalid escape sequence: \\", id="trailing-backslash"),
])
def test_field_selector_errors(text, message):
    with pytest.raises(ApiError) as exc:
        parse_field_selector(text)
    assert exc.value.code == 400
    assert exc.value.message == message


def test_field_selector_helpers():
    assert escape_field_value("a,b=c\\d") == "a\\,b\\=c\\\\d"
    sel = parse_field_selector("spec.nodeName=n1,status.phase!=Failed")
    assert sel.requires_exact_match("spec.nodeName") == "n1"
    assert sel.requires_exact_match("status.phase") is None
    assert FieldSelector().empty and not sel.empty


# ------------------------------------------------------------------ field labels


@pytest.mark.parametrize("info, text, message", [
    pytest.param(PODS, "spec.foo=1", "field label not supported: spec.foo", id="pods"),
    pytest.param(NODES, "metadata.namespace=x", "field label not supported: metadata.namespace",
                 id="nodes-have-no-namespace"),
    pytest.param(NAMESPACES, "metadata.namespace=x", "field label not supported: metadata.namespace",
                 id="namespaces"),
    pytest.param(EVENTS, "involvedObject.foo=x", "field label not supported: involvedObject.foo",
                 id="events"),
    pytest.param(SECRETS, "data=x", "field label not supported: data", id="secrets"),
    pytest.param(SERVICES, "spec.ports=x", "field label not supported: spec.ports", id="services"),
    pytest.param(JOBS, "status.active=1", 'field label "status.active" not supported for Job', id="jobs"),
    pytest.param(DEPLOYMENTS, "spec.replicas=1",
                 '"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"',
                 id="default-conversion"),
    pytest.param(REPLICASETS, "status.replicas=1",
                 '"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"',
                 id="apps-registers-no-conversion"),
    pytest.param(WIDGETS, "spec.color=red", "field label not supported: spec.color", id="crd"),
    pytest.param(CLUSTER_WIDGETS, "metadata.namespace=x", "field label not supported: metadata.namespace",
                 id="cluster-crd-namespace"),
])
def test_validate_field_selector_rejects(info, text, message):
    with pytest.raises(ApiError) as exc:
        validate_field_selector(info, parse_field_selector(text))
    assert exc.value.code == 400
    assert exc.value.message == message


@pytest.mark.parametrize("info, text, canonical", [
    pytest.param(PODS, "spec.nodeName=n1,status.phase=Running", "spec.nodeName=n1,status.phase=Running",
                 id="pods"),
    pytest.param(PODS, "spec.host=n1", "spec.nodeName=n1", id="pods-legacy-alias"),
    pytest.param(PODS, "status.podIPs=10.0.0.1", "status.podIPs=10.0.0.1", id="pods-podips-accepted"),
    pytest.param(EVENTS, "involvedObject.kind=Pod,involvedObject.uid=u", "involvedObject.kind=Pod,"
                 "involvedObject.uid=u", id="events"),
    pytest.param(CONFIGMAPS, "metadata.name=x,metadata.namespace=y", "metadata.name=x,metadata.namespace=y",
                 id="metadata-everywhere"),
    pytest.param(JOBS, "status.successful=1", "status.successful=1", id="jobs"),
    pytest.param(NODES, "spec.unschedulable=true", "spec.unschedulable=true", id="nodes"),
    pytest.param(CLUSTER_WIDGETS, "metadata.name=x", "metadata.name=x", id="crd-name"),
])
def test_validate_field_selector_accepts(info, text, canonical):
    assert str(validate_field_selector(info, parse_field_selector(text))) == canonical


def test_validate_field_selector_crd_selectable_fields():
    sel = parse_field_selector("spec.color=red")
    assert str(validate_field_selector(WIDGETS, sel, selectable_fields=[".spec.color"])) == "spec.color=red"
    obj = {"metadata": {"name": "w", "namespace": "ns"}, "spec": {"color": "red", "size": 3, "on": True}}
    fields = field_set(WIDGETS, obj, selectable_fields=[".spec.color", ".spec.size", ".spec.on", ".spec.x"])
    assert fields == {"metadata.name": "w", "metadata.namespace": "ns", "spec.color": "red",
                      "spec.size": "3", "spec.on": "true"}
    assert sel.matches(fields)


POD = {
    "metadata": {"name": "p", "namespace": "ns"},
    "spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "default-scheduler",
             "serviceAccountName": "default"},
    "status": {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
               "nominatedNodeName": "n2"},
}
EVENT = {
    "metadata": {"name": "e", "namespace": "ns"},
    "involvedObject": {"kind": "Pod", "namespace": "ns", "name": "p", "uid": "u1", "apiVersion": "v1",
                       "resourceVersion": "7", "fieldPath": "spec.containers{c}"},
    "reason": "Started", "type": "Normal", "reportingComponent": "kubelet",
    "source": {"component": "kubelet", "host": "n1"},
}


@pytest.mark.parametrize("info, obj, expected", [
    pytest.param(PODS, POD, {
        "metadata.name": "p", "metadata.namespace": "ns", "spec.nodeName": "n1",
        "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
        "spec.serviceAccountName": "default", "spec.hostNetwork": "false", "status.phase": "Running",
        "status.podIP": "10.0.0.5", "status.nominatedNodeName": "n2"}, id="pod"),
    pytest.param(PODS, {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"hostNetwork": True}}, {
        "metadata.name": "p", "metadata.namespace": "ns", "spec.nodeName": "", "spec.restartPolicy": "",
        "spec.schedulerName": "", "spec.serviceAccountName": "", "spec.hostNetwork": "true",
        "status.phase": "", "status.podIP": "", "status.nominatedNodeName": ""}, id="pod-minimal"),
    pytest.param(EVENTS, EVENT, {
        "metadata.name": "e", "metadata.namespace": "ns", "involvedObject.kind": "Pod",
        "involvedObject.namespace": "ns", "involvedObject.name": "p", "involvedObject.uid": "u1",
        "involvedObject.apiVersion": "v1", "involvedObject.resourceVersion": "7",
        "involvedObject.fieldPath": "spec.containers{c}", "reason": "Started",
        "reportingComponent": "kubelet", "source": "kubelet", "type": "Normal"}, id="event"),
    pytest.param(NODES, {"metadata": {"name": "n"}, "spec": {"unschedulable": True}},
                 {"metadata.name": "n", "spec.unschedulable": "true"}, id="node"),
    pytest.param(NAMESPACES, {"metadata": {"name": "ns"}, "status": {"phase": "Active"}},
                 {"metadata.name": "ns", "status.phase": "Active", "name": "ns"}, id="namespace"),
    pytest.param(SECRETS, {"metadata": {"name": "s", "namespace": "ns"}, "type": "Opaque"},
                 {"metadata.name": "s", "metadata.namespace": "ns", "type": "Opaque"}, id="secret"),
    pytest.param(SERVICES, {"metadata": {"name": "s", "namespace": "ns"},
                            "spec": {"clusterIP": "10.96.0.1", "type": "ClusterIP"}},
                 {"metadata.name": "s", "metadata.namespace": "ns", "spec.clusterIP": "10.96.0.1",
                  "spec.type": "ClusterIP"}, id="service"),
    pytest.param(REPLICASETS, {"metadata": {"name": "r", "namespace": "ns"}, "status": {"replicas": 3}},
                 {"metadata.name": "r", "metadata.namespace": "ns", "status.replicas": "3"}, id="replicaset"),
    pytest.param(JOBS, {"metadata": {"name": "j", "namespace": "ns"}, "status": {"succeeded": 2}},
                 {"metadata.name": "j", "metadata.namespace": "ns", "status.successful": "2"}, id="job"),
    pytest.param(JOBS, {"metadata": {"name": "j", "namespace": "ns"}},
                 {"metadata.name": "j", "metadata.namespace": "ns", "status.successful": "0"},
                 id="job-no-status"),
    pytest.param(DEPLOYMENTS, {"metadata": {"name": "d", "namespace": "ns"}},
                 {"metadata.name": "d", "metadata.namespace": "ns"}, id="deployment"),
    pytest.param(WIDGETS, {"metadata": {"name": "w", "namespace": "ns"}, "spec": {"color": "red"}},
                 {"metadata.name": "w", "metadata.namespace": "ns"}, id="crd-without-selectable"),
])
def test_field_set(info, obj, expected):
    assert field_set(info, obj) == expected


def test_event_source_falls_back_to_reporting_component():
    event = {"metadata": {"name": "e", "namespace": "ns"}, "reportingComponent": "ctrl"}
    assert field_set(EVENTS, event)["source"] == "ctrl"


def test_kubectl_drain_and_describe_selectors():
    drain = validate_field_selector(PODS, parse_field_selector("spec.nodeName=n1"))
    assert drain.matches(field_set(PODS, POD))
    describe = validate_field_selector(EVENTS, parse_field_selector(
        "involvedObject.name=p,involvedObject.namespace=ns,involvedObject.kind=Pod,involvedObject.uid=u1"))
    assert describe.matches(field_set(EVENTS, EVENT))
    assert not describe.matches(field_set(EVENTS, {**EVENT, "involvedObject": {"uid": "other"}}))
