"""Cluster DNS records: from Service, EndpointSlice and Namespace caches to DNS answers.

Pure: `ClusterRecords.lookup(qname, qtype)` reads informer caches and returns an
`Answer` (rcode and dnspython RRsets), or None when the name is not ours and must be
forwarded. No sockets, no awaits; `podplane.proxy.dns` does the I/O around it.

The records follow the Kubernetes DNS specification (kubernetes/dns
docs/specification.md) as CoreDNS's `kubernetes` plugin serves them with `pods
insecure`: `<svc>.<ns>.svc.<zone>` A/AAAA (ClusterIP, or every ready endpoint of a
headless Service), `<endpoint>.<svc>.<ns>.svc.<zone>` (the endpoint's hostname or its
dashed IP), `_<port>._<proto>.<svc>.<ns>.svc.<zone>` SRV (weight 100/n, A/AAAA of
the targets in the additional section), ExternalName → CNAME, `<a-b-c-d>.<ns>.pod.<zone>`,
PTR for ClusterIPs and endpoint addresses, and `dns-version.<zone>` TXT. A name that
exists without the asked type is NODATA (NOERROR, SOA in authority); a name that does
not exist is NXDOMAIN with the SOA. Until the caches have synced, cluster names get
SERVFAIL rather than a wrong NXDOMAIN that clients would cache.

Neighbours: `podplane.client.informer` (the caches; `from_informers` registers the
informers and the indexes it reads) and `podplane.proxy.dns` (the server).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.reversename
import dns.rrset
from dns.rdtypes.ANY.CNAME import CNAME
from dns.rdtypes.ANY.NS import NS
from dns.rdtypes.ANY.PTR import PTR
from dns.rdtypes.ANY.SOA import SOA
from dns.rdtypes.ANY.TXT import TXT
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA
from dns.rdtypes.IN.SRV import SRV

from podplane.client.informer import Informer, InformerFactory

__all__ = [
    "DNS_SCHEMA_VERSION",
    "IDX_ENDPOINT_ADDRESS",
    "IDX_POD_IP",
    "IDX_SERVICE_IP",
    "IDX_SLICE_SERVICE",
    "Answer",
    "ClusterRecords",
    "reverse_zone",
]

DNS_SCHEMA_VERSION = "1.1.0"
"""The schema version CoreDNS publishes in `dns-version.<zone>` TXT."""
SCHEMA_TTL = 28800
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
TOLERATE_UNREADY = "service.alpha.kubernetes.io/tolerate-unready-endpoints"
MAX_CNAME_CHAIN = 8
"""ExternalName → in-cluster name → ... hops followed before giving up (CoreDNS: 8)."""

IDX_SERVICE_IP = "dns/cluster-ip"
IDX_SLICE_SERVICE = "dns/service"
IDX_ENDPOINT_ADDRESS = "dns/address"
IDX_POD_IP = "dns/pod-ip"

_IN = dns.rdataclass.IN
_T = dns.rdatatype
_IN_ADDR = dns.name.from_text("in-addr.arpa.")
_IP6_ARPA = dns.name.from_text("ip6.arpa.")
_SOA_REFRESH, _SOA_RETRY, _SOA_EXPIRE = 7200, 1800, 86400  # CoreDNS's values


@dataclass
class Answer:
    """What to put in the response. `chase` is an out-of-cluster CNAME target (an
    ExternalName) that the server resolves upstream for `chase_type`, appending the
    records to `answer`."""

    rcode: int = dns.rcode.NOERROR
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    additional: list[dns.rrset.RRset] = field(default_factory=list)
    authoritative: bool = True
    chase: dns.name.Name | None = None
    chase_type: int = 0


@dataclass(frozen=True, slots=True)
class _Target:
    """One (address, port) a name stands for, like CoreDNS's msg.Service: `name` owns the
    address (the Service or the endpoint name), `port` is None for "no port"."""

    ip: str
    port: int | None
    name: dns.name.Name


class _NoItems(Exception):
    """The name does not exist (NXDOMAIN)."""


def reverse_zone(cidr: str) -> dns.name.Name:
    """The reverse zone covering `cidr`, rounded down to a label boundary
    (10.43.0.0/16 → 43.10.in-addr.arpa., 10.96.0.0/12 → 10.in-addr.arpa.)."""
    net = ipaddress.ip_network(cidr, strict=False)
    if net.version == 4:
        octets = str(net.network_address).split(".")[: net.prefixlen // 8]
        return dns.name.Name([o.encode() for o in reversed(octets)] + list(_IN_ADDR.labels))
    nibbles = net.network_address.exploded.replace(":", "")[: net.prefixlen // 4]
    return dns.name.Name([n.encode() for n in reversed(nibbles)] + list(_IP6_ARPA.labels))


def _name(*labels: str, zone: dns.name.Name) -> dns.name.Name:
    return dns.name.Name([label.encode() for label in labels] + list(zone.labels))


def _dashed(ip: str) -> str:
    return ip.replace(".", "-").replace(":", "-")


def _strip(label: str) -> str:
    return label[1:] if label.startswith("_") else label


def _match(want: str, have: str) -> bool:
    """CoreDNS's matchPortAndProtocol: an empty request part matches anything."""
    return not want or want == have.lower()


def _service_ips(svc: dict) -> list[str]:
    spec = svc.get("spec") or {}
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [ip for ip in ips if ip and ip != "None"]


def _is_headless(svc: dict) -> bool:
    return (svc.get("spec") or {}).get("clusterIP") == "None"


def _publishes_not_ready(svc: dict | None) -> bool:
    if svc is None:
        return False
    if (svc.get("spec") or {}).get("publishNotReadyAddresses"):
        return True
    return ((svc.get("metadata") or {}).get("annotations") or {}).get(TOLERATE_UNREADY) == "true"


def _endpoint_ready(endpoint: dict, publish_not_ready: bool) -> bool:
    # The API documents a missing `ready` as "unknown, treat as ready" (CoreDNS does).
    ready = (endpoint.get("conditions") or {}).get("ready")
    return ready is None or bool(ready) or publish_not_ready


def _ip_family(ip: str) -> int:
    return 6 if ":" in ip else 4


class ClusterRecords:
    """Answers for the cluster zone and the reverse zones of the Service/Pod ranges.

    `nameservers` are the server's own addresses, served as `ns.dns.<zone>` (the NS of
    the zone); `clock` (wall time) stamps the SOA serial with the last cache change,
    like CoreDNS. `pod_mode` is CoreDNS's `pods` option: "insecure" answers any
    well-formed `<a-b-c-d>.<ns>.pod.<zone>` in an existing namespace, "verified" only
    addresses of pods in that namespace (needs the pods cache), "disabled" none.
    """

    def __init__(self, services: Informer, endpointslices: Informer, namespaces: Informer | None = None,
                 pods: Informer | None = None, *, cluster_domain: str = "cluster.local", ttl: int = 5,
                 reverse_cidrs: Sequence[str] = (), pod_mode: str = "insecure",
                 nameservers: Sequence[str] = (), clock: Callable[[], float] = time.time) -> None:
        if pod_mode not in ("insecure", "verified", "disabled"):
            raise ValueError(f"pod_mode must be insecure, verified or disabled, not {pod_mode!r}")
        if pod_mode == "verified" and pods is None:
            raise ValueError("pod_mode 'verified' needs the pods cache")
        self.services = services
        self.slices = endpointslices
        self.namespaces = namespaces
        self.pods = pods
        self.zone = dns.name.from_text(cluster_domain.strip(".") + ".")
        self.ttl = ttl
        self.pod_mode = pod_mode
        self.nameservers = list(nameservers)
        self._clock = clock
        self.reverse_nets = [ipaddress.ip_network(c, strict=False) for c in reverse_cidrs]
        self.reverse_zones = [reverse_zone(c) for c in reverse_cidrs]
        self._ns_name = _name("ns", "dns", zone=self.zone)
        self._hostmaster = _name("hostmaster", zone=self.zone)
        self.serial = int(clock())
        self.generation = 0
        """Bumped on every cache event: answers computed under another generation are stale."""
        self._ensure_indexes()
        for informer in self._informers():
            informer.add_handler(self._changed, lambda old, new: self._changed(new), self._changed)

    @classmethod
    def from_informers(cls, informers: InformerFactory, *, pod_mode: str = "insecure", **kw) -> ClusterRecords:
        """Register the informers the records read (Services, EndpointSlices, Namespaces,
        and Pods in "verified" mode) on the caller's factory; the caller starts it."""
        pods = informers.resource("", "pods") if pod_mode == "verified" else None
        return cls(informers.resource("", "services"), informers.resource("discovery.k8s.io", "endpointslices"),
                   informers.resource("", "namespaces"), pods, pod_mode=pod_mode, **kw)

    def _informers(self) -> list[Informer]:
        return [i for i in (self.services, self.slices, self.namespaces, self.pods) if i is not None]

    def _ensure_indexes(self) -> None:
        def slice_service(s: dict) -> Iterable[str]:
            meta = s.get("metadata") or {}
            svc = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
            return [f"{meta.get('namespace') or ''}/{svc}"] if svc else []

        def slice_addresses(s: dict) -> Iterable[str]:
            if s.get("addressType") == "FQDN":
                return []
            return {a for ep in s.get("endpoints") or () for a in ep.get("addresses") or ()}

        def pod_ips(p: dict) -> Iterable[str]:
            status = p.get("status") or {}
            ips = {i.get("ip") for i in status.get("podIPs") or ()} | {status.get("podIP")}
            return [i for i in ips if i]

        self.services.add_indexer(IDX_SERVICE_IP, _service_ips)
        self.slices.add_indexer(IDX_SLICE_SERVICE, slice_service)
        self.slices.add_indexer(IDX_ENDPOINT_ADDRESS, slice_addresses)
        if self.pods is not None:
            self.pods.add_indexer(IDX_POD_IP, pod_ips)

    def _changed(self, _obj: dict) -> None:
        self.serial = int(self._clock()) & 0xFFFFFFFF
        self.generation += 1

    @property
    def synced(self) -> bool:
        return all(i.has_synced for i in self._informers())

    # -- entry point ---------------------------------------------------------------------
    def lookup(self, qname: dns.name.Name | str, rdtype: int) -> Answer | None:
        """The answer for (qname, rdtype), or None when the name is to be forwarded."""
        if isinstance(qname, str):
            qname = dns.name.from_text(qname)
        if qname.is_subdomain(self.zone):
            if not self.synced:
                return Answer(rcode=dns.rcode.SERVFAIL, authoritative=False)
            return self._cluster(qname, rdtype, [])
        if qname.is_subdomain(_IN_ADDR) or qname.is_subdomain(_IP6_ARPA):
            return self._reverse(qname, rdtype)
        return None

    def is_cluster_name(self, qname: dns.name.Name) -> bool:
        return qname.is_subdomain(self.zone)

    # -- helpers -------------------------------------------------------------------------
    def soa(self, zone: dns.name.Name | None = None) -> dns.rrset.RRset:
        """The zone's SOA as CoreDNS writes it: ns.dns.<zone>, hostmaster.<zone>, the serial
        of the last change, minimum = TTL (how long clients cache negative answers)."""
        rd = SOA(_IN, _T.SOA, self._ns_name, self._hostmaster, self.serial, _SOA_REFRESH, _SOA_RETRY,
                 _SOA_EXPIRE, self.ttl)
        return dns.rrset.from_rdata(zone or self.zone, min(self.ttl, 300), rd)

    def _negative(self, rcode: int, zone: dns.name.Name | None = None, answer: list | None = None) -> Answer:
        return Answer(rcode=rcode, answer=answer or [], authority=[self.soa(zone)])

    def _namespace_exists(self, ns: str) -> bool:
        if self.namespaces is not None:
            return self.namespaces.get(None, ns) is not None
        return bool(self.services.list(ns))  # without a namespaces cache: any Service in it

    def _svc_name(self, svc: str, ns: str) -> dns.name.Name:
        return _name(svc, ns, "svc", zone=self.zone)

    # -- the cluster zone ----------------------------------------------------------------
    def _cluster(self, qname: dns.name.Name, rdtype: int, chain: list[dns.rrset.RRset]) -> Answer:
        try:
            labels = [label.decode("ascii").lower() for label in qname.relativize(self.zone).labels]
        except UnicodeDecodeError:
            return self._negative(dns.rcode.NXDOMAIN, answer=chain)
        n = len(labels)
        if n == 0:
            return self._apex(qname, rdtype, self.zone)
        if labels == ["dns-version"]:
            if rdtype == _T.TXT:
                txt = TXT(_IN, _T.TXT, [DNS_SCHEMA_VERSION.encode()])
                return Answer(answer=[dns.rrset.from_rdata(qname, SCHEMA_TTL, txt)])
            return self._negative(dns.rcode.NOERROR)
        if labels[-1] == "dns" and self.nameservers:
            if labels == ["ns", "dns"]:
                return self._addresses(qname, rdtype, [_Target(ip, None, qname) for ip in self.nameservers], chain)
            return self._negative(dns.rcode.NOERROR if n == 1 else dns.rcode.NXDOMAIN)
        kind = labels[-1]
        if kind not in ("svc", "pod"):
            return self._negative(dns.rcode.NXDOMAIN, answer=chain)
        if n == 1:
            return self._negative(dns.rcode.NOERROR, answer=chain)  # svc.<zone> / pod.<zone>
        ns = labels[-2]
        if not self._namespace_exists(ns):
            return self._negative(dns.rcode.NXDOMAIN, answer=chain)
        if n == 2:
            return self._negative(dns.rcode.NOERROR, answer=chain)  # <ns>.svc.<zone>: an empty non-terminal
        try:
            if kind == "pod":
                if n != 3:
                    raise _NoItems
                return self._addresses(qname, rdtype, self._pod_targets(labels[0], ns, qname), chain)
            svc = self.services.get(ns, labels[-3])
            if svc is None:
                raise _NoItems
            if n == 3:
                return self._service(qname, rdtype, svc, chain)
            if n == 4 and labels[0].startswith("_"):
                # `_tcp.<svc>...`: the empty non-terminal above `_<port>._tcp.<svc>...`
                if not self._find(svc, proto=_strip(labels[0]))[1]:
                    raise _NoItems
                return self._negative(dns.rcode.NOERROR, answer=chain)
            if n == 4:
                targets = self._targets(svc, endpoint=labels[0])
            elif n == 5:
                targets = self._targets(svc, port=_strip(labels[0]), proto=_strip(labels[1]))
            else:
                raise _NoItems
            return self._addresses(qname, rdtype, targets, chain)
        except _NoItems:
            return self._negative(dns.rcode.NXDOMAIN, answer=chain)

    def _apex(self, qname: dns.name.Name, rdtype: int, zone: dns.name.Name) -> Answer:
        if rdtype == _T.SOA:
            soa = self.soa(zone)
            return Answer(answer=[dns.rrset.from_rdata_list(qname, soa.ttl, list(soa))])
        if rdtype == _T.NS and self.nameservers:
            ns = dns.rrset.from_rdata(qname, self.ttl, NS(_IN, _T.NS, self._ns_name))
            return Answer(answer=[ns], additional=self._glue(self._ns_name, self.nameservers))
        return self._negative(dns.rcode.NOERROR, zone)

    def _glue(self, name: dns.name.Name, ips: Iterable[str]) -> list[dns.rrset.RRset]:
        v4 = [A(_IN, _T.A, ip) for ip in ips if _ip_family(ip) == 4]
        v6 = [AAAA(_IN, _T.AAAA, ip) for ip in ips if _ip_family(ip) == 6]
        return [dns.rrset.from_rdata_list(name, self.ttl, rds) for rds in (v4, v6) if rds]

    def _service(self, qname: dns.name.Name, rdtype: int, svc: dict, chain: list) -> Answer:
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return self._external(qname, rdtype, spec.get("externalName") or "", chain)
        return self._addresses(qname, rdtype, self._targets(svc), chain)

    def _external(self, qname: dns.name.Name, rdtype: int, external: str, chain: list) -> Answer:
        try:
            ipaddress.ip_address(external)
            raise _NoItems  # CoreDNS serves only names as ExternalName, never addresses
        except ValueError:
            pass
        try:
            target = dns.name.from_text(external.rstrip(".") + ".") if external else None
        except dns.exception.DNSException:
            target = None
        if target is None or target == qname:
            return self._negative(dns.rcode.NXDOMAIN, answer=chain)
        if rdtype == _T.SRV:
            return self._negative(dns.rcode.NOERROR, answer=chain)  # no SRV for ExternalName (CoreDNS)
        cname = dns.rrset.from_rdata(qname, self.ttl, CNAME(_IN, _T.CNAME, target))
        answer = [*chain, cname]
        if rdtype in (_T.CNAME, _T.ANY):
            return Answer(answer=answer)
        if target.is_subdomain(self.zone):
            if len(chain) >= MAX_CNAME_CHAIN or any(r.name == target for r in chain):
                return Answer(answer=answer)  # a loop or too long: stop where we are
            return self._cluster(target, rdtype, answer)
        return Answer(answer=answer, chase=target, chase_type=rdtype)

    def _targets(self, svc: dict, **request: str) -> list[_Target]:
        targets, found = self._find(svc, **request)
        if not found:
            raise _NoItems
        return targets

    def _find(self, svc: dict, *, port: str = "", proto: str = "", endpoint: str = "") -> tuple[list[_Target], bool]:
        """CoreDNS's findServices for one Service: endpoints for headless Services and
        endpoint names, the ClusterIPs otherwise. `found` is False when the name does not
        exist (CoreDNS's errNoItems)."""
        meta = svc.get("metadata") or {}
        name, ns = meta.get("name", ""), meta.get("namespace", "")
        targets: list[_Target] = []
        found = False
        if (svc.get("spec") or {}).get("type") == "ExternalName":
            pass
        elif _is_headless(svc) or endpoint:
            publish = _publishes_not_ready(svc)
            for s in self.slices.by_index(IDX_SLICE_SERVICE, f"{ns}/{name}"):
                if s.get("addressType") == "FQDN":
                    continue
                ports = [(p.get("name") or "", (p.get("protocol") or "TCP").lower(), p.get("port"))
                         for p in s.get("ports") or ()] or [("", "", None)]
                for ep in s.get("endpoints") or ():
                    if not _endpoint_ready(ep, publish):
                        continue
                    for ip in ep.get("addresses") or ():
                        host = (ep.get("hostname") or _dashed(ip)).lower()
                        if endpoint and endpoint != host:
                            continue
                        try:
                            owner = _name(host, name, ns, "svc", zone=self.zone)
                        except dns.exception.DNSException:
                            continue
                        for p_name, p_proto, p_port in ports:
                            if p_port is None and (port or proto):
                                continue  # the "no ports" sentinel matches only port-less queries
                            if _match(port, p_name) and _match(proto, p_proto):
                                targets.append(_Target(ip, p_port, owner))
            found = bool(targets)
        else:
            owner = self._svc_name(name, ns)
            ips = _service_ips(svc)
            for p in (svc.get("spec") or {}).get("ports") or ():
                if _match(port, p.get("name") or "") and _match(proto, (p.get("protocol") or "TCP").lower()):
                    found = True
                    targets.extend(_Target(ip, p.get("port"), owner) for ip in ips)
        return targets, found

    def _pod_targets(self, label: str, ns: str, qname: dns.name.Name) -> list[_Target]:
        if self.pod_mode == "disabled":
            raise _NoItems
        ip = label.replace("-", ".") if label.count("-") == 3 and "--" not in label else label.replace("-", ":")
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise _NoItems from None
        if self.pod_mode == "verified":
            assert self.pods is not None
            if not any((p.get("metadata") or {}).get("namespace") == ns for p in self.pods.by_index(IDX_POD_IP, ip)):
                raise _NoItems
        return [_Target(ip, None, qname)]

    # -- rendering a set of targets as the asked type --------------------------------------
    def _addresses(self, qname: dns.name.Name, rdtype: int, targets: list[_Target], chain: list) -> Answer:
        if rdtype in (_T.A, _T.AAAA):
            family = 4 if rdtype == _T.A else 6
            cls = A if family == 4 else AAAA
            seen: dict[str, None] = {}
            for t in targets:
                if _ip_family(t.ip) == family:
                    seen.setdefault(t.ip)
            if not seen:
                return self._negative(dns.rcode.NOERROR, answer=chain)
            rrset = dns.rrset.from_rdata_list(qname, self.ttl, [cls(_IN, rdtype, ip) for ip in seen])
            return Answer(answer=[*chain, rrset])
        if rdtype == _T.SRV:
            return self._srv(qname, targets, chain)
        return self._negative(dns.rcode.NOERROR, answer=chain)

    def _srv(self, qname: dns.name.Name, targets: list[_Target], chain: list) -> Answer:
        # CoreDNS: every target has priority 0 and weight 100/n (at least 1), n counting all.
        weight = max(1, 100 // max(1, len(targets)))
        records: dict[tuple[dns.name.Name, int], SRV] = {}
        extra: dict[tuple[dns.name.Name, int], dict[str, None]] = {}
        for t in targets:
            if t.port is None:
                continue
            records.setdefault((t.name, t.port), SRV(_IN, _T.SRV, 0, weight, t.port, t.name))
            extra.setdefault((t.name, _ip_family(t.ip)), {}).setdefault(t.ip)
        if not records:
            return self._negative(dns.rcode.NOERROR, answer=chain)
        additional = []
        for (name, family), ips in extra.items():
            cls, rdtype = (A, _T.A) if family == 4 else (AAAA, _T.AAAA)
            additional.append(dns.rrset.from_rdata_list(name, self.ttl, [cls(_IN, rdtype, ip) for ip in ips]))
        rrset = dns.rrset.from_rdata_list(qname, self.ttl, list(records.values()))
        return Answer(answer=[*chain, rrset], additional=additional)

    # -- reverse zones -------------------------------------------------------------------
    def _reverse(self, qname: dns.name.Name, rdtype: int) -> Answer | None:
        zone = next((z for z in self.reverse_zones if qname.is_subdomain(z)), None)
        base = _IN_ADDR if qname.is_subdomain(_IN_ADDR) else _IP6_ARPA
        depth = len(qname) - len(base)
        full = 4 if base == _IN_ADDR else 32
        ip = None
        if depth == full:
            try:
                ip = ipaddress.ip_address(dns.reversename.to_address(qname))
            except (dns.exception.DNSException, ValueError):
                ip = None
        if ip is None:  # not an address: a zone apex, an empty non-terminal or garbage
            if zone is None:
                return None
            if qname == zone:
                return self._apex(qname, rdtype, zone)
            return self._negative(dns.rcode.NOERROR if depth < full else dns.rcode.NXDOMAIN, zone)
        ours = any(ip in net for net in self.reverse_nets)
        if not self.synced:
            return Answer(rcode=dns.rcode.SERVFAIL, authoritative=False) if ours else None
        names = self._ptr_names(str(ip))
        if names:
            if rdtype == _T.PTR:
                ptr = dns.rrset.from_rdata_list(qname, self.ttl, [PTR(_IN, _T.PTR, n) for n in names])
                return Answer(answer=[ptr])
            if ours:
                return self._negative(dns.rcode.NOERROR, zone)
            return None
        return self._negative(dns.rcode.NXDOMAIN, zone) if ours else None

    def _ptr_names(self, ip: str) -> list[dns.name.Name]:
        """CoreDNS's serviceRecordForIP: the Service owning a ClusterIP, else one name per
        ready endpoint with that address (hostname or dashed IP) in every Service."""
        for svc in sorted(self.services.by_index(IDX_SERVICE_IP, ip), key=lambda s: s["metadata"]["name"]):
            meta = svc["metadata"]
            return [self._svc_name(meta["name"], meta.get("namespace", ""))]
        names: dict[dns.name.Name, None] = {}
        for s in self.slices.by_index(IDX_ENDPOINT_ADDRESS, ip):
            meta = s.get("metadata") or {}
            svc_name = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
            ns = meta.get("namespace") or ""
            if not svc_name:
                continue
            publish = _publishes_not_ready(self.services.get(ns, svc_name))
            for ep in s.get("endpoints") or ():
                if ip in (ep.get("addresses") or ()) and _endpoint_ready(ep, publish):
                    host = (ep.get("hostname") or _dashed(ip)).lower()
                    try:
                        names.setdefault(_name(host, svc_name, ns, "svc", zone=self.zone))
                    except dns.exception.DNSException:
                        continue
        return list(names)
