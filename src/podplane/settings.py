"""Settings: frozen dataclasses, one per concern, every field defaulted and explained.

The CLI (`podplane.cli`) turns flags into these; the composition roots
(`podplane.server`, later `podplane.node`) hand each component only its own group.
Nothing here reads the environment or the disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "AgentSettings",
    "ApiServerSettings",
    "ControllerSettings",
    "SchedulerSettings",
    "ServerSettings",
    "StorageSettings",
]


@dataclass(frozen=True)
class StorageSettings:
    datastore: str = ""
    """Datastore URL. Empty means `sqlite://` under the data dir (`<data-dir>/state.db`):
    a single-node cluster needs no other service. `memory://` keeps nothing across
    restarts and is meant for tests."""
    compact_interval: float = 300.0
    """Seconds between compactions. Upstream's apiserver compacts etcd every 5 minutes."""
    compact_retain: int = 10_000
    """Revisions kept behind the current one at each compaction, so that watchers that
    reconnect within a few minutes can resume instead of relisting (410 Gone)."""


@dataclass(frozen=True)
class ApiServerSettings:
    bind_address: str = "127.0.0.1"
    """Address the HTTPS API listens on. Loopback by default: a single-node cluster is
    reached by `podplane kubectl` on the same machine. Use 0.0.0.0 to serve other nodes."""
    port: int = 6443
    """HTTPS port; 6443 is the port every Kubernetes distribution uses."""
    advertise_address: str = ""
    """Host written into the kubeconfig; empty means the bind address (or 127.0.0.1 when
    binding to all addresses)."""
    max_body_bytes: int = 3 * 1024 * 1024
    """Largest accepted request body. Upstream refuses bodies over 3 MiB as well."""
    watch_bookmark_interval: float = 60.0
    """Seconds between BOOKMARK events on watches that asked for them (upstream: ~1 min)."""
    default_watch_timeout: float = 1800.0
    """Server-side cap on a watch without timeoutSeconds (upstream: 30-60 min, jittered)."""
    extra_sans: tuple[str, ...] = ()
    """Extra names/addresses for the serving certificate (the VIP, a DNS name)."""
    service_cidr: str = "10.43.0.0/16"
    """Virtual IPs for Services (k3s's default range). The first address is the `kubernetes`
    Service's; cluster DNS gets the tenth (10.43.0.10)."""
    service_node_port_range: str = "30000-32767"
    """NodePort range, as upstream."""
    cluster_dns: str = "10.43.0.10"
    """ClusterIP of kube-system/kube-dns, the cluster DNS every node answers on (k3s's default);
    the agents' --cluster-dns must match."""
    default_toleration_seconds: int = 300
    """tolerationSeconds of the not-ready/unreachable NoExecute tolerations added to every new
    pod (upstream DefaultTolerationSeconds admission): pods leave a lost node after 5 min."""


@dataclass(frozen=True)
class ControllerSettings:
    enabled: tuple[str, ...] = ("*",)
    """Controllers to run; "*" means all, "-name" disables one (like kube-controller-manager's
    --controllers flag)."""
    workers: int = 4
    """Concurrent sync workers per controller (upstream defaults are 5 for Deployments and
    ReplicaSets, 1-5 elsewhere; 4 keeps a 2-core machine responsive)."""
    node_monitor_grace_period: float = 40.0
    """Seconds without a lease renewal before a node is marked NotReady/Unknown. Upstream's
    default; agents renew every 10 s, so four renewals may be lost first."""
    node_monitor_period: float = 5.0
    """How often the node lifecycle controller checks node leases (upstream: 5 s)."""
    gc_interval: float = 30.0
    """Seconds between full garbage-collector sweeps in addition to event-driven checks."""
    job_pod_failure_backoff: float = 10.0
    """Base back-off in seconds before a Job replaces a failed pod; doubles per failure up to
    6 minutes (upstream's DefaultJobPodFailureBackOff)."""
    local_path_root: str = "/var/lib/podplane/storage"
    """Where the local-path provisioner creates one directory per PersistentVolume."""
    cluster_cidr: str = "10.42.0.0/16"
    """Pod addresses of the whole cluster; the node IPAM controller cuts it into node blocks
    (k3s's default)."""
    node_cidr_mask_size: int = 24
    """Prefix length of each node's pod CIDR (upstream default /24: 254 pods per node)."""


@dataclass(frozen=True)
class SchedulerSettings:
    enabled: bool = True
    """Run the scheduler in this server."""
    name: str = "default-scheduler"
    """Pods whose spec.schedulerName equals this are scheduled here (upstream's default name)."""
    percentage_of_nodes_to_score: int = 0
    """0 = adaptive, as upstream (50% at 100 nodes shrinking to 5% for large clusters, at least
    100 nodes); 100 scores every feasible node."""
    parallelism: int = 64
    """Concurrent binding requests in flight (upstream binds each pod in its own goroutine, with
    no fixed cap; 16 left bindings queued behind a create flood: p50 407-426 → 597-702 pods/s in
    bench/scheduler.py --no-agent)."""
    unschedulable_retry: float = 60.0
    """Upper bound before an unschedulable pod is retried even without a cluster change
    (upstream: podMaxInUnschedulablePodsDuration, 5 min; shorter here for small clusters)."""


@dataclass(frozen=True)
class AgentSettings:
    kubeconfig: str = ""
    """Kubeconfig of the cluster to join; empty means <data-dir>/kubeconfig.yaml."""
    data_dir: str = "/var/lib/podplane"
    """Where the agent keeps its state (pod directories, logs, images)."""
    runtime: str = "fake"
    """Container runtime: `fake` simulates nodes and pods (like kwok) for scale tests."""
    node_name: str = ""
    """Name of the node; empty means the host name. With --nodes N > 1 it is a prefix."""
    nodes: int = 1
    """Simulated nodes (fake runtime only)."""
    node_labels: tuple[str, ...] = ()
    """Extra `key=value` labels for the node(s)."""
    lease_duration: int = 40
    """Node Lease duration in seconds (upstream kubelet default)."""
    lease_renew_interval: float = 10.0
    """Seconds between lease renewals (upstream: a quarter of the lease duration)."""
    status_update_interval: float = 60.0
    """Seconds between full node status reports when nothing changes (upstream: 5 min)."""
    capacity_cpu: str = "4"
    """Simulated CPU capacity per fake node."""
    capacity_memory: str = "16Gi"
    """Simulated memory capacity per fake node."""
    capacity_pods: int = 110
    """Pods per node (upstream kubelet default maxPods)."""
    fake_start_delay: float = 0.05
    """Seconds a fake container takes to start."""
    node_ip: str = ""
    """InternalIP of a real node; empty: the default route's source address, else the first
    global address (`agent.hostnode.node_ip`)."""
    kubelet_port: int = 10250
    """HTTPS port of the agent's kubelet API (logs, exec, attach, port-forward, stats)."""
    cgroup_parent: str = "/podplane"
    """cgroup under which pods of a real node run (`<parent>/[burstable|besteffort/]pod<uid>`)."""
    service_cidr: str = "10.43.0.0/16"
    """The cluster's Service range: a real node routes it nowhere until the proxy programs it."""
    cluster_dns: str = "10.43.0.10"
    """Nameserver written into pods' resolv.conf (dnsPolicy ClusterFirst)."""
    cluster_domain: str = "cluster.local"
    cluster_cidr: str = "10.42.0.0/16"
    """Pod addresses of the whole cluster (the server's --cluster-cidr): masqueraded traffic and
    reverse DNS are decided by it."""
    image_catalog: str = ""
    """Extra host-image catalog file (YAML) layered over the built-in one."""
    netns_prefix: str = "pp-"
    """Prefix of the pods' named network namespaces (/var/run/netns/<prefix><uid>)."""


@dataclass(frozen=True)
class ServerSettings:
    data_dir: str = "/var/lib/podplane"
    """Where state.db, the CA, certificates, tokens and kubeconfig.yaml live."""
    storage: StorageSettings = field(default_factory=StorageSettings)
    apiserver: ApiServerSettings = field(default_factory=ApiServerSettings)
    controllers: ControllerSettings = field(default_factory=ControllerSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
