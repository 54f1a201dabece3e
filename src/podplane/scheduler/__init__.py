"""The scheduler: assigns pending pods to nodes with a framework of filter and score plugins.

`run_scheduler(client, informers, settings, started=None)` is the entry point that
`podplane.server` runs. Modules: `framework` (statuses, cycle state, plugin
interfaces, the runner), `nodeinfo` (parsed pods and node aggregates), `cache`,
`queue` (activeQ / backoffQ / unschedulable), `registry` (plugin names and the
default profile), `plugins/` (one module per upstream plugin) and `scheduler` (the
scheduling and binding cycles). Like upstream's kube-scheduler it reads only from
informers and writes only bindings, events and pod conditions through the API.
"""

from podplane.scheduler.scheduler import Scheduler, run_scheduler

__all__ = ["Scheduler", "run_scheduler"]
