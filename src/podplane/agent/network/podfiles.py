"""Per-pod network files: /etc/resolv.conf, /etc/hosts and /etc/hostname, as the kubelet writes them.

Pure functions from the pod object and the node's settings to file contents:
- `pod_dns_config(pod, cluster_dns=, cluster_domain=, host=)` follows upstream's
  dnsPolicy: ClusterFirst (the default; `search <ns>.svc.<domain> svc.<domain>
  <domain>` plus the node's search domains, the cluster DNS nameserver, `ndots:5`),
  ClusterFirstWithHostNet, Default (the node's resolv.conf; also what ClusterFirst
  means for hostNetwork pods or when no cluster DNS is configured) and None; then
  spec.dnsConfig is merged in. `render_resolv_conf` writes it out.
- `pod_hosts_file(pod, pod_ips)`: localhost entries, each pod IP → its hostname (and
  FQDN with spec.subdomain), then spec.hostAliases.
`write_pod_files(dir, files)` writes them atomically for the runtime to bind-mount
into every container of the pod. The runtime (`agent.runtime`) consumes them; the
pod IP comes from `sandbox.PodNetwork.setup`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_DNS_SEARCHES",
    "MAX_NAMESERVERS",
    "DNSConfig",
    "PodFiles",
    "cluster_searches",
    "hosts_file",
    "parse_resolv_conf",
    "pod_dns_config",
    "pod_files",
    "pod_hostname",
    "pod_hosts_file",
    "render_resolv_conf",
    "resolv_conf",
    "write_pod_files",
]

MAX_NAMESERVERS = 3
"""glibc reads at most three nameservers (upstream kubelet's limit too)."""
MAX_DNS_SEARCHES = 32
"""Upstream's MaxDNSSearchPaths."""
MAX_DNS_SEARCH_CHARS = 2048
"""Upstream's MaxDNSSearchListChars."""
_HOSTNAME_MAX = 63


@dataclass(frozen=True)
class DNSConfig:
    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


def parse_resolv_conf(text: str) -> DNSConfig:
    """Nameservers, search domains (the last `search`/`domain` line wins) and options."""
    nameservers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        words = line.split()
        if not words:
            continue
        key, args = words[0], words[1:]
        if key == "nameserver" and args:
            nameservers.append(args[0])
        elif key in ("search", "domain"):
            searches = [a for a in args if a != "."]
        elif key == "options":
            options.extend(args)
    return DNSConfig(tuple(nameservers), tuple(searches), tuple(options))


def render_resolv_conf(config: DNSConfig) -> str:
    lines = []
    if config.searches:
        lines.append("search " + " ".join(config.searches))
    lines.extend(f"nameserver {ns}" for ns in config.nameservers)
    if config.options:
        lines.append("options " + " ".join(config.options))
    return "\n".join(lines) + "\n"


def cluster_searches(namespace: str, cluster_domain: str = "cluster.local") -> tuple[str, ...]:
    return (f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain)


def resolv_conf(
    namespace: str,
    nameservers: Sequence[str],
    *,
    cluster_domain: str = "cluster.local",
    extra_searches: Sequence[str] = (),
    options: Sequence[str] = ("ndots:5",),
) -> str:
    """The ClusterFirst resolv.conf of a pod in `namespace` (the common case)."""
    config = DNSConfig(
        tuple(nameservers[:MAX_NAMESERVERS]),
        _limit_searches(_dedupe([*cluster_searches(namespace, cluster_domain), *extra_searches])),
        tuple(options),
    )
    return render_resolv_conf(config)


def pod_dns_config(
    pod: Mapping[str, Any],
    *,
    cluster_dns: Sequence[str],
    cluster_domain: str = "cluster.local",
    host: DNSConfig = DNSConfig(),
) -> DNSConfig:
    """The pod's DNS configuration from spec.dnsPolicy and spec.dnsConfig (upstream rules).

    `host` is the node's own resolv.conf (`parse_resolv_conf`), used by the Default
    policy and appended to the cluster search list.
    """
    spec = pod.get("spec") or {}
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    host_network = bool(spec.get("hostNetwork"))
    if policy == "ClusterFirst" and host_network:
        policy = "Default"
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet") and not cluster_dns:
        policy = "Default"  # the kubelet does the same when it has no --cluster-dns
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet"):
        base = DNSConfig(
            tuple(cluster_dns),
            (*cluster_searches(namespace, cluster_domain), *host.searches),
            ("ndots:5",),
        )
    elif policy == "None":
        base = DNSConfig()
    else:  # Default
        base = host
    extra = spec.get("dnsConfig") or {}
    nameservers = _dedupe([*base.nameservers, *(extra.get("nameservers") or ())])
    searches = _dedupe([*base.searches, *(extra.get("searches") or ())])
    options = _merge_options(base.options, extra.get("options") or ())
    return DNSConfig(tuple(nameservers[:MAX_NAMESERVERS]), _limit_searches(searches), options)


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        if item:
            seen.setdefault(item, None)
    return list(seen)


def _limit_searches(searches: Sequence[str]) -> tuple[str, ...]:
    kept: list[str] = []
    length = 0
    for s in searches[:MAX_DNS_SEARCHES]:
        if length + len(s) + (1 if kept else 0) > MAX_DNS_SEARCH_CHARS:
            break
        length += len(s) + (1 if kept else 0)
        kept.append(s)
    return tuple(kept)


def _merge_options(base: Sequence[str], extra: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """Options by name, spec.dnsConfig options overriding the base (as upstream merges them)."""
    merged: dict[str, str] = {}
    for opt in base:
        name, _, value = opt.partition(":")
        merged[name] = opt
    for opt in extra:
        name = str(opt.get("name") or "")
        if not name:
            continue
        value = opt.get("value")
        merged[name] = f"{name}:{value}" if value not in (None, "") else name
    return tuple(merged.values())


def pod_hostname(pod: Mapping[str, Any], cluster_domain: str = "cluster.local") -> tuple[str, str]:
    """(hostname, fqdn): spec.hostname or the pod name, cut to 63 characters as the kubelet
    does; the FQDN `<hostname>.<subdomain>.<ns>.svc.<domain>` only with spec.subdomain."""
    spec = pod.get("spec") or {}
    meta = pod.get("metadata") or {}
    hostname = spec.get("hostname") or meta.get("name") or ""
    if len(hostname) > _HOSTNAME_MAX:
        hostname = hostname[:_HOSTNAME_MAX].rstrip("-.")
    subdomain = spec.get("subdomain") or ""
    fqdn = ""
    if subdomain:
        fqdn = f"{hostname}.{subdomain}.{meta.get('namespace') or 'default'}.svc.{cluster_domain}"
    return hostname, fqdn


def hosts_file(
    pod_ips: Sequence[str],
    hostname: str,
    *,
    fqdn: str = "",
    host_aliases: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The kubelet's managed /etc/hosts for a pod (not hostNetwork) with these addresses."""
    lines = [
        "# Kubernetes-managed hosts file.",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::0\tip6-mcastprefix",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
    ]
    for ip in pod_ips:
        lines.append(f"{ip}\t{fqdn}\t{hostname}" if fqdn else f"{ip}\t{hostname}")
    aliases = [a for a in host_aliases if a.get("ip") and a.get("hostnames")]
    if aliases:
        lines += ["", "# Entries added by HostAliases."]
        lines += [f"{a['ip']}\t" + "\t".join(a["hostnames"]) for a in aliases]
    return "\n".join(lines) + "\n"


def pod_hosts_file(
    pod: Mapping[str, Any], pod_ips: Sequence[str], *, cluster_domain: str = "cluster.local"
) -> str:
    hostname, fqdn = pod_hostname(pod, cluster_domain)
    aliases = (pod.get("spec") or {}).get("hostAliases") or ()
    return hosts_file(pod_ips, hostname, fqdn=fqdn, host_aliases=aliases)


@dataclass(frozen=True)
class PodFiles:
    resolv_conf: str
    hosts: str
    hostname: str
    """The content of /etc/hostname (the short hostname and a newline)."""


def pod_files(
    pod: Mapping[str, Any],
    pod_ips: Sequence[str],
    *,
    cluster_dns: Sequence[str],
    cluster_domain: str = "cluster.local",
    host_resolv_conf: str = "",
) -> PodFiles:
    """All three files for a pod on the pod network."""
    dns = pod_dns_config(
        pod, cluster_dns=cluster_dns, cluster_domain=cluster_domain, host=parse_resolv_conf(host_resolv_conf)
    )
    hostname, _ = pod_hostname(pod, cluster_domain)
    return PodFiles(
        render_resolv_conf(dns),
        pod_hosts_file(pod, pod_ips, cluster_domain=cluster_domain),
        hostname + "\n",
    )


def write_pod_files(directory: str, files: PodFiles) -> dict[str, str]:
    """Write `resolv.conf`, `hosts` and `hostname` into `directory` atomically (0644);
    return their paths by name, for the runtime's bind mounts."""
    os.makedirs(directory, exist_ok=True)
    paths = {}
    for name, content in (
        ("resolv.conf", files.resolv_conf),
        ("hosts", files.hosts),
        ("hostname", files.hostname),
    ):
        path = os.path.join(directory, name)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(content)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        paths[name] = path
    return paths
