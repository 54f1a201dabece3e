"""Scheduler plugins, one module per upstream plugin (pkg/scheduler/framework/plugins).

Each module exposes `NAME`, the plugin class and `new(handle) -> plugin`;
`scheduler.registry` maps names to these factories and lists the default profile.
Filters report upstream's reason strings verbatim, since users read them in
`kubectl describe pod` events ("0/3 nodes are available: ...").
"""

__all__: list[str] = []
