"""The per-node Service proxy: Services and EndpointSlices → one nftables table.

`ServiceProxy` (proxier) watches Services, EndpointSlices and its own Node through
shared informers and keeps the table `ip podplane` equal to what they describe,
following kube-proxy's nftables mode: ClusterIP, NodePort, externalIPs and LoadBalancer
ingress IPs DNATed with random load balancing over ready endpoints, ClientIP session
affinity, external/internal traffic policies, hairpin and off-cluster masquerading,
reject for Services without endpoints. The whole table is replaced in one `nft -f`
transaction whenever the computed ruleset changes.

Modules: `rules` (pure: objects → ruleset text), `nft` (atomic apply, read-back),
`routes` (the /32 routes that let node processes reach ClusterIPs), `conntrack` (stale
UDP entries), `fake` (`FakeHost`, an in-memory node for unit tests). The cluster DNS
server (`dns`, `dnsrecords`) runs beside it on the node; the proxy leaves its address
alone.
"""

from podplane.proxy._command import CommandFailed, CommandTimeout, ProxyError, ToolMissing
from podplane.proxy.proxier import ServiceProxy, SyncResult
from podplane.proxy.rules import NodeFacts, Ruleset, build, node_facts

__all__ = [
    "CommandFailed",
    "CommandTimeout",
    "NodeFacts",
    "ProxyError",
    "Ruleset",
    "ServiceProxy",
    "SyncResult",
    "ToolMissing",
    "build",
    "node_facts",
]
