"""Plugin registry and the default profile (upstream plugins/registry.go and the v1 defaults).

`REGISTRY` maps plugin names to factories `new(handle) -> plugin`. `DEFAULT_PROFILE`
lists the enabled plugins in upstream's order, which is also the order each
extension point runs them in (so a node failing several filters reports the same
first reason upstream would), with upstream's score weights: TaintToleration 3,
NodeAffinity 2, PodTopologySpread 2, InterPodAffinity 2, NodeResourcesFit 1,
NodeResourcesBalancedAllocation 1. `new_framework` instantiates a profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from podplane.scheduler.framework import Framework, Handle, PluginFactory, PluginSpec
from podplane.scheduler.plugins import (
    default_binder,
    default_preemption,
    inter_pod_affinity,
    node_affinity,
    node_name,
    node_ports,
    node_resources_fit,
    node_unschedulable,
    pod_topology_spread,
    taint_toleration,
    volume_binding,
)

__all__ = ["DEFAULT_PROFILE", "REGISTRY", "new_framework"]

REGISTRY: dict[str, PluginFactory] = {
    node_unschedulable.NAME: node_unschedulable.new,
    node_name.NAME: node_name.new,
    taint_toleration.NAME: taint_toleration.new,
    node_affinity.NAME: node_affinity.new,
    node_ports.NAME: node_ports.new,
    node_resources_fit.NAME: node_resources_fit.new,
    volume_binding.NAME: volume_binding.new,
    pod_topology_spread.NAME: pod_topology_spread.new,
    inter_pod_affinity.NAME: inter_pod_affinity.new,
    default_preemption.NAME: default_preemption.new,
    node_resources_fit.BALANCED_NAME: node_resources_fit.new_balanced,
    default_binder.NAME: default_binder.new,
}

DEFAULT_PROFILE: tuple[PluginSpec, ...] = (
    PluginSpec(node_unschedulable.NAME),
    PluginSpec(node_name.NAME),
    PluginSpec(taint_toleration.NAME, 3),
    PluginSpec(node_affinity.NAME, 2),
    PluginSpec(node_ports.NAME),
    PluginSpec(node_resources_fit.NAME, 1),
    PluginSpec(volume_binding.NAME),
    PluginSpec(pod_topology_spread.NAME, 2),
    PluginSpec(inter_pod_affinity.NAME, 2),
    PluginSpec(default_preemption.NAME),
    PluginSpec(node_resources_fit.BALANCED_NAME, 1),
    PluginSpec(default_binder.NAME),
)


def new_framework(handle: Handle, profile: Sequence[PluginSpec] = DEFAULT_PROFILE,
                  registry: Mapping[str, PluginFactory] = REGISTRY, *,
                  scheduler_name: str = "default-scheduler") -> Framework:
    plugins = []
    for spec in profile:
        factory = registry.get(spec.name)
        if factory is None:
            raise KeyError(f"unknown scheduler plugin {spec.name!r}; known: {sorted(registry)}")
        plugins.append((factory(handle), spec.weight))
    return Framework(plugins, scheduler_name=scheduler_name)
