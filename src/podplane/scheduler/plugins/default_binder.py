"""DefaultBinder: binds the pod by POSTing a Binding to the pod's `binding` subresource.

The apiserver sets spec.nodeName and the PodScheduled=True condition in one write.
API errors propagate to the scheduler's binding cycle, which tells "pod gone" and
"already bound" apart from failures worth a retry.
"""

from __future__ import annotations

from podplane.scheduler.framework import BindPlugin, CycleState, Handle, PodInfo, Status

__all__ = ["NAME", "DefaultBinder", "binding_body", "new"]

NAME = "DefaultBinder"


def binding_body(pod_name: str, node_name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod_name},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}


class DefaultBinder(BindPlugin):
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.client = handle.client
        self._pods = handle.client.resource("", "pods")

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        await self.client.create_subresource(self._pods, pod.name, "binding", binding_body(pod.name, node_name),
                                             pod.namespace)
        return None


def new(handle: Handle) -> DefaultBinder:
    return DefaultBinder(handle)
