"""Settings: frozen dataclasses, one per concern, every field defaulted and explained.

The CLI (`podplane.cli`) turns flags into these; the composition roots
(`podplane.server`, later `podplane.node`) hand each component only its own group.
Nothing here reads the environment or the disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ApiServerSettings", "ServerSettings", "StorageSettings"]


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


@dataclass(frozen=True)
class ServerSettings:
    data_dir: str = "/var/lib/podplane"
    """Where state.db, the CA, certificates, tokens and kubeconfig.yaml live."""
    storage: StorageSettings = field(default_factory=StorageSettings)
    apiserver: ApiServerSettings = field(default_factory=ApiServerSettings)
