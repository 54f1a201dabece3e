"""Pod network for the node agent: network namespaces, CNI plugins, host preparation.

A pod worker uses `PodNetwork` (sandbox.py): `prepare_host` once at start, then
`setup(uid, name, namespace, ports) -> SandboxNetwork` before the pod's containers are
created (runc joins `netns_path`; `ip` goes into the pod's status), `teardown(uid)`
after they stopped, and `adopt()`/`gc(keep)` after an agent restart. Beneath it:
`netns` (named namespaces through iproute2), `cni` (the CNI 1.0.0 client and the node's
bridge/host-local/portmap/loopback configuration), `host` (service-CIDR route, sysctls)
and `podfiles` (the pod's resolv.conf, hosts and hostname). `fake.FakePodNetwork` has
the same API without touching the host. Errors: `errors` (all `NetworkError`).
Host requirements (Debian): iproute2, procps, iptables (used by the bridge and portmap
plugins), containernetworking-plugins; the agent runs as root.
"""

from podplane.agent.network.cni import CNIClient, CNIResult, PortMapping
from podplane.agent.network.errors import (
    CNIConfigError,
    CNIError,
    CommandFailed,
    CommandTimeout,
    NetworkConfigError,
    NetworkError,
    PermanentNetworkError,
    ToolMissing,
)
from podplane.agent.network.fake import FakePodNetwork
from podplane.agent.network.host import cluster_dns_ip
from podplane.agent.network.podfiles import PodFiles, pod_files, write_pod_files
from podplane.agent.network.sandbox import (
    HostPreparation,
    PodNetwork,
    PodNetworkAPI,
    SandboxNetwork,
    port_mappings_from_pod,
)

__all__ = [
    "CNIClient",
    "CNIConfigError",
    "CNIError",
    "CNIResult",
    "CommandFailed",
    "CommandTimeout",
    "FakePodNetwork",
    "HostPreparation",
    "NetworkConfigError",
    "NetworkError",
    "PermanentNetworkError",
    "PodFiles",
    "PodNetwork",
    "PodNetworkAPI",
    "PortMapping",
    "SandboxNetwork",
    "ToolMissing",
    "cluster_dns_ip",
    "pod_files",
    "port_mappings_from_pod",
    "write_pod_files",
]
