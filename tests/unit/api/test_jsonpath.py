"""Kubernetes JSONPath: parsing, evaluation and rendering as client-go does them."""

from __future__ import annotations

import pytest

from podplane.api.jsonpath import JSONPath, JSONPathError, format_go_float, format_value, go_json

DATA = {
    "kind": "List",
    "metadata": {"name": "w1", "labels": {"app": "web", "app.kubernetes.io/name": "widget"},
                 "annotations": {"a.b": "dotted", "a": {"b": "nested"}}},
    "spec": {"replicas": 3, "ratio": 0.5, "enabled": False, "nothing": None,
             "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}, {"name": "metrics", "port": 9090}],
             "tags": ["a", "b", "c", "d"]},
    "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True",
                                                                    "weight": 2.5}]},
}


@pytest.mark.parametrize("template, expected", [
    pytest.param("{.spec.replicas}", [[3]], id="field"),
    pytest.param("{$.spec.replicas}", [[3]], id="dollar-root"),
    pytest.param("{.metadata.labels.app}", [["web"]], id="label"),
    pytest.param(r"{.metadata.labels.app\.kubernetes\.io/name}", [["widget"]], id="escaped-dots"),
    pytest.param(r"{.metadata.labels['app\.kubernetes\.io/name']}", [["widget"]], id="bracket-escaped"),
    pytest.param("{.metadata.annotations['a.b']}", [["nested"]], id="bracket-dot-is-path-upstream"),
    pytest.param("{.spec.ports[0]}", [[{"name": "http", "port": 80}]], id="index"),
    pytest.param("{.spec.ports[-1].port}", [[9090]], id="negative-index"),
    pytest.param("{.spec.ports[*].name}", [["http", "https", "metrics"]], id="wildcard-index"),
    pytest.param("{.spec.ports[0:2].port}", [[80, 443]], id="slice"),
    pytest.param("{.spec.tags[1:]}", [["b", "c", "d"]], id="open-slice"),
    pytest.param("{.spec.tags[::2]}", [["a", "c"]], id="step"),
    pytest.param("{.spec.tags[0,3]}", [["a", "d"]], id="union-index"),
    pytest.param("{.metadata['name','uid']}", [["w1"]], id="union-keys-missing-allowed"),
    pytest.param("{.metadata.labels.*}", [["web", "widget"]], id="map-wildcard-sorted"),
    pytest.param("{..port}", [[80, 443, 9090]], id="recursive"),
    pytest.param('{.status.conditions[?(@.type=="Ready")].status}', [["True"]], id="filter-eq"),
    pytest.param("{.status.conditions[?(@.type!='Ready')].type}", [["Synced"]], id="filter-ne-single-quotes"),
    pytest.param("{.spec.ports[?(@.port>100)].name}", [[]], id="filter-int-literal-vs-int-upstream"),
    pytest.param("{.spec.ports[?(@.port>100.0)].name}", [[]], id="filter-float-literal-vs-int"),
    pytest.param("{.status.conditions[?(@.weight>=2.5)].type}", [["Ready"]], id="filter-float"),
    pytest.param("{.status.conditions[?(@.weight)].type}", [["Ready"]], id="filter-exists"),
    pytest.param("{.spec.missing}", [[]], id="missing"),
    pytest.param("{.spec.nothing}", [[None]], id="null"),
    pytest.param("{.spec.nothing.deeper}", [[]], id="through-null"),
    pytest.param("{.spec.replicas.deeper}", [[]], id="through-scalar"),
    pytest.param("{.spec.replicas} of {.spec.ports[0].port}", [[3], [" of "], [80]], id="template-text"),
    pytest.param("plain", [["plain"]], id="text-only"),
])
def test_find_results(template, expected):
    assert JSONPath(template, allow_missing_keys=True).find_results(DATA) == expected


@pytest.mark.parametrize("template, data, message", [
    pytest.param("{.spec.missing}", DATA, "missing is not found", id="missing-key-strict"),
    pytest.param("{.spec.ports[7]}", DATA, "array index out of bounds: index 7, length 3", id="out-of-range"),
    pytest.param("{.spec.replicas[0]}", DATA, "int64 is not array or slice", id="index-scalar"),
    pytest.param("{.spec.tags[2:1]}", DATA, "starting index 2 is greater than ending index 1", id="reversed"),
    pytest.param("{.spec.tags[::0]}", DATA, "step must be > 0", id="zero-step"),
    pytest.param("{range .spec.tags}{end}", DATA, "range is not supported", id="range"),
])
def test_evaluation_errors(template, data, message):
    with pytest.raises(JSONPathError, match=message):
        JSONPath(template).find_results(data)


@pytest.mark.parametrize("template", [
    pytest.param("{.spec", id="unclosed"),
    pytest.param("{.spec[0}", id="unterminated-array"),
    pytest.param("{.spec[x]}", id="bad-index"),
    pytest.param("{.a[?(@.b=='x']}", id="unterminated-filter"),
    pytest.param("{....a}", id="adjacent-recursive"),
    pytest.param("{#}", id="bad-character"),
    pytest.param("{.a[?(@.b=='x')].c", id="unclosed-after-filter"),
])
def test_parse_errors(template):
    with pytest.raises(JSONPathError):
        JSONPath(template)


def test_field_names_run_to_a_terminator():
    assert JSONPath("{.a#b}").find_results({"a#b": 1}) == [[1]]
    assert JSONPath("{..a..b}", allow_missing_keys=True).find_results({"a": {"x": {"b": 2}}}) == [[2]]


@pytest.mark.parametrize("value, expected", [
    pytest.param("text", "text", id="string"),
    pytest.param(3, "3", id="int"),
    pytest.param(True, "true", id="bool"),
    pytest.param(None, "<no value>", id="null"),
    pytest.param(0.5, "0.5", id="float"),
    pytest.param(3.0, "3", id="integral-float"),
    pytest.param(1e6, "1e+06", id="float-exponent"),
    pytest.param(123456.0, "123456", id="float-below-exponent"),
    pytest.param(0.00001, "1e-05", id="small-float"),
    pytest.param({"b": 1, "a": [True, None, 1.5]}, '{"a":[true,null,1.5],"b":1}', id="map-as-json"),
    pytest.param(["<", "&"], '["\\u003c","\\u0026"]', id="html-escaped"),
])
def test_format_value(value, expected):
    assert format_value(value) == expected


def test_print_results_and_execute():
    path = JSONPath("{.spec.ports[*].port}")
    assert path.print_results(path.find_results(DATA)[0]) == "80 443 9090"
    assert JSONPath("x={.spec.replicas},y={.spec.ports[0]}").execute(DATA) == 'x=3,y={"name":"http","port":80}'


@pytest.mark.parametrize("value, expected", [
    pytest.param(1e21, "1e+21", id="large"),
    pytest.param(1e20, "100000000000000000000", id="below-large"),
    pytest.param(1e-7, "1e-7", id="small-trimmed"),
    pytest.param(2.5, "2.5", id="plain"),
    pytest.param(-0.0, "-0", id="negative-zero"),
])
def test_go_json_floats(value, expected):
    assert go_json(value) == expected


def test_go_float_specials():
    assert format_go_float(float("inf")) == "+Inf"
    assert format_go_float(float("nan")) == "NaN"
    assert format_go_float(-1234567.5) == "-1.2345675e+06"


@pytest.mark.parametrize("template, expected", [
    pytest.param('{.a[?(@.k=="x\\"y")].v}', [[1]], id="escaped-quote"),
    pytest.param("{.a[?(@.k=='tab\\there')].v}", [[2]], id="escape-sequence"),
    pytest.param("{.a[?(@.flag==true)].v}", [[3]], id="bool-literal"),
])
def test_filter_literals(template, expected):
    data = {"a": [{"k": 'x"y', "v": 1}, {"k": "tab\there", "v": 2}, {"flag": True, "v": 3}]}
    assert JSONPath(template, allow_missing_keys=True).find_results(data) == expected
