"""Node agent: registers nodes, renews their Leases and runs the pods bound to them.

`Agent` (agent.py) composes the pieces: `nodestatus` (Node objects and status),
`lease` (heartbeats in kube-node-lease), `pods` (the kubelet-like pod workers),
`podstatus` (pod status generation, pure), `addresses` (node and pod addresses),
`spread` (periodic work spread over its interval) and `runtime/` (the container
runtime contract and the `fake` runtime that simulates nodes, like kwok). The
composition root `podplane.node` builds the client and runs an `Agent`.
"""

from podplane.agent.agent import LARGE_SIMULATION, RUNTIMES, Agent, ConfigError

__all__ = ["LARGE_SIMULATION", "RUNTIMES", "Agent", "ConfigError"]
