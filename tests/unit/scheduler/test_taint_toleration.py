"""TaintToleration: NoSchedule/NoExecute filtering with upstream's reason, PreferNoSchedule scoring."""

from __future__ import annotations

import pytest

from podplane.scheduler.plugins import taint_toleration

from .builders import Harness, make_node, make_pod, taint


@pytest.mark.parametrize("taints,tolerations,result", [
    pytest.param([], [], None, id="untainted"),
    pytest.param([taint("dedicated", "db")], [],
                 "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) had untolerated taint {dedicated: db}", id="untolerated"),
    pytest.param([taint("dedicated", "db")], [{"key": "dedicated", "operator": "Equal", "value": "db"}], None,
                 id="equal"),
    pytest.param([taint("dedicated", "db")], [{"key": "dedicated", "value": "web"}],
                 "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) had untolerated taint {dedicated: db}",
                 id="equal-other-value"),
    pytest.param([taint("dedicated", "db")], [{"key": "dedicated", "operator": "Exists"}], None, id="exists"),
    pytest.param([taint("dedicated", "db")], [{"operator": "Exists"}], None, id="empty-key-exists-tolerates-all"),
    pytest.param([taint("dedicated", "db")], [{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}],
                 "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) had untolerated taint {dedicated: db}",
                 id="effect-must-match"),
    pytest.param([taint("gone", effect="NoExecute")], [],
                 "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) had untolerated taint {gone: }", id="no-execute"),
    pytest.param([taint("soft", effect="PreferNoSchedule")], [], None, id="prefer-no-schedule-does-not-filter"),
    pytest.param([taint("a", "1"), taint("b", "2")], [{"key": "a", "operator": "Exists"}],
                 "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) had untolerated taint {b: 2}",
                 id="first-untolerated-is-reported"),
])
def test_filter(taints, tolerations, result):
    h = Harness()
    h.nodes(make_node("n", taints=taints))
    plugin = taint_toleration.new(h.handle)
    assert h.filter(plugin, make_pod("p", tolerations=tolerations)) == {"n": result}


def test_score_prefers_fewer_untolerated_prefer_no_schedule_taints():
    h = Harness()
    h.nodes(make_node("clean"), make_node("one", taints=[taint("a", effect="PreferNoSchedule")]),
            make_node("two", taints=[taint("a", effect="PreferNoSchedule"), taint("b", effect="PreferNoSchedule")]))
    plugin = taint_toleration.new(h.handle)
    assert h.score(plugin, make_pod("p")) == {"clean": 100, "one": 50, "two": 0}
    tolerant = make_pod("p", tolerations=[{"key": "a", "operator": "Exists", "effect": "PreferNoSchedule"}])
    assert h.score(plugin, tolerant) == {"clean": 100, "one": 100, "two": 0}


def test_score_is_skipped_without_prefer_no_schedule_taints():
    h = Harness()
    h.nodes(make_node("a"), make_node("b", taints=[taint("x")]))
    assert h.score(taint_toleration.new(h.handle), make_pod("p")) is None
