"""Cluster DNS records: the Kubernetes DNS specification as CoreDNS serves it, from seeded caches."""

from __future__ import annotations

import dns.name
import dns.rcode
import dns.rdatatype as T
import pytest

from podplane.client.fake import FakeClient
from podplane.client.informer import InformerFactory
from podplane.proxy.dnsrecords import ClusterRecords, reverse_zone

Z = "cluster.local."
NOW = 1_800_000_000.0


# ---------------------------------------------------------------------------------- builders

def service(name: str, ns: str = "ns", *, ip: str | list[str] | None = None, ports=(("http", 80, "TCP"),),
            publish_not_ready: bool = False, **spec) -> dict:
    ips = [ip] if isinstance(ip, str) else list(ip or [])
    body = {"ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports], **spec}
    if ips:
        body.update(clusterIP=ips[0], clusterIPs=ips)
    if publish_not_ready:
        body["publishNotReadyAddresses"] = True
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns, "resourceVersion": "1"},
            "spec": body}


def headless(name: str, ns: str = "ns", **kw) -> dict:
    return service(name, ns, ip="None", **kw)


def external(name: str, target: str, ns: str = "ns") -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns, "resourceVersion": "1"},
            "spec": {"type": "ExternalName", "externalName": target}}


def endpoint(ip: str, hostname: str | None = None, ready: bool | None = True) -> dict:
    ep: dict = {"addresses": [ip], "conditions": {} if ready is None else {"ready": ready}}
    if hostname:
        ep["hostname"] = hostname
    return ep


def eps(name: str, svc: str, *endpoints: dict, ns: str = "ns", ports=(("http", 80, "TCP"),),
        family: str = "IPv4") -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": family,
            "metadata": {"name": name, "namespace": ns, "resourceVersion": "1",
                         "labels": {"kubernetes.io/service-name": svc}},
            "endpoints": list(endpoints),
            "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports]}


def namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "resourceVersion": "1"}}


def pod(name: str, ip: str, ns: str = "ns") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "resourceVersion": "1"},
            "status": {"podIP": ip, "podIPs": [{"ip": ip}]}}


SERVICES = [
    service("web", ip="10.43.0.5", ports=(("http", 80, "TCP"), ("metrics", 9090, "TCP"))),
    service("dual", ip=["10.43.0.6", "fd00:43::6"], ipFamilies=["IPv4", "IPv6"]),
    service("dns", ip="10.43.0.7", ports=(("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"))),
    headless("nginx", ports=(("web", 80, "TCP"),)),
    headless("db", ports=(("mysql", 3306, "TCP"),)),
    headless("pub", publish_not_ready=True),
    headless("empty"),
    external("ext", "example.com"),
    external("alias", "web.ns.svc.cluster.local"),
    external("loop", "loop.ns.svc.cluster.local"),
]
SLICES = [
    # a StatefulSet's pods behind their governing headless Service, across two slices
    eps("nginx-a", "nginx", endpoint("10.42.0.7", "web-0"), endpoint("10.42.0.9", "web-2", ready=False),
        ports=(("web", 8080, "TCP"),)),
    eps("nginx-b", "nginx", endpoint("10.42.1.8", "web-1"), endpoint("10.42.0.7", "web-0"),
        ports=(("web", 8080, "TCP"),)),
    eps("db-x", "db", endpoint("10.42.0.20", ready=None), endpoint("10.42.0.21", ready=False),
        ports=(("mysql", 3306, "TCP"),)),
    eps("pub-x", "pub", endpoint("10.42.0.30", "p-0", ready=False)),
    eps("web-x", "web", endpoint("10.42.0.40"), ports=(("http", 8080, "TCP"),)),
]


def make(*, services=SERVICES, slices=SLICES, namespaces=("ns", "other"), pods=(), pod_mode="insecure",
         sync=True, clock=lambda: NOW) -> tuple[ClusterRecords, InformerFactory]:
    factory = InformerFactory(FakeClient())
    records = ClusterRecords.from_informers(factory, reverse_cidrs=["10.43.0.0/16", "10.42.0.0/16", "fd00:43::/112"],
                                            nameservers=["10.43.0.10"], pod_mode=pod_mode, clock=clock)
    if sync:
        factory.resource("", "services").replace(list(services), "1")
        factory.resource("discovery.k8s.io", "endpointslices").replace(list(slices), "1")
        factory.resource("", "namespaces").replace([namespace(n) for n in namespaces], "1")
        if pod_mode == "verified":
            factory.resource("", "pods").replace(list(pods), "1")
    return records, factory


@pytest.fixture(scope="module")
def records() -> ClusterRecords:
    return make()[0]


def texts(rrsets) -> list[str]:
    return sorted(f"{rrset.name.to_text()} {T.to_text(rrset.rdtype)} {rd.to_text()}" for rrset in rrsets for rd in rrset)


def ask(records: ClusterRecords, qname: str, qtype: str):
    answer = records.lookup(dns.name.from_text(qname), T.from_text(qtype))
    assert answer is not None, f"{qname} was not ours"
    return answer


NODATA = ("NOERROR", [])


# ------------------------------------------------------------------------------ the table

@pytest.mark.parametrize(("qname", "qtype", "rcode", "answer"), [
    # Services with a ClusterIP (spec 2.3)
    pytest.param(f"web.ns.svc.{Z}", "A", "NOERROR", [f"web.ns.svc.{Z} A 10.43.0.5"], id="clusterip-a"),
    pytest.param(f"web.ns.svc.{Z}", "AAAA", *NODATA, id="ipv4-only-aaaa-is-nodata"),
    pytest.param(f"web.ns.svc.{Z}", "TXT", *NODATA, id="other-type-is-nodata"),
    pytest.param("WEB.Ns.svc.Cluster.Local.", "A", "NOERROR", ["WEB.Ns.svc.Cluster.Local. A 10.43.0.5"],
                 id="case-insensitive-owner-as-asked"),
    pytest.param(f"dual.ns.svc.{Z}", "AAAA", "NOERROR", [f"dual.ns.svc.{Z} AAAA fd00:43::6"], id="dual-stack-aaaa"),
    pytest.param(f"dual.ns.svc.{Z}", "A", "NOERROR", [f"dual.ns.svc.{Z} A 10.43.0.6"], id="dual-stack-a"),
    pytest.param(f"_http._tcp.web.ns.svc.{Z}", "SRV", "NOERROR",
                 [f"_http._tcp.web.ns.svc.{Z} SRV 0 100 80 web.ns.svc.{Z}"], id="clusterip-srv"),
    pytest.param(f"_dns._udp.dns.ns.svc.{Z}", "SRV", "NOERROR",
                 [f"_dns._udp.dns.ns.svc.{Z} SRV 0 100 53 dns.ns.svc.{Z}"], id="udp-srv"),
    pytest.param(f"_http._udp.web.ns.svc.{Z}", "SRV", "NXDOMAIN", [], id="srv-wrong-protocol"),
    pytest.param(f"_nope._tcp.web.ns.svc.{Z}", "SRV", "NXDOMAIN", [], id="srv-unknown-port"),
    pytest.param(f"web.ns.svc.{Z}", "SRV", "NOERROR",
                 [f"web.ns.svc.{Z} SRV 0 50 80 web.ns.svc.{Z}", f"web.ns.svc.{Z} SRV 0 50 9090 web.ns.svc.{Z}"],
                 id="service-srv-lists-every-port"),
    pytest.param(f"_tcp.web.ns.svc.{Z}", "A", *NODATA, id="protocol-label-is-empty-non-terminal"),
    pytest.param(f"_udp.web.ns.svc.{Z}", "A", "NXDOMAIN", [], id="protocol-label-without-ports"),
    # headless Services (spec 2.4)
    pytest.param(f"nginx.ns.svc.{Z}", "A", "NOERROR",
                 [f"nginx.ns.svc.{Z} A 10.42.0.7", f"nginx.ns.svc.{Z} A 10.42.1.8"],
                 id="headless-ready-endpoints-deduplicated"),
    pytest.param(f"web-0.nginx.ns.svc.{Z}", "A", "NOERROR", [f"web-0.nginx.ns.svc.{Z} A 10.42.0.7"],
                 id="statefulset-pod-hostname"),
    pytest.param(f"web-2.nginx.ns.svc.{Z}", "A", "NXDOMAIN", [], id="not-ready-hostname"),
    pytest.param(f"web-9.nginx.ns.svc.{Z}", "A", "NXDOMAIN", [], id="unknown-hostname"),
    pytest.param(f"10-42-0-20.db.ns.svc.{Z}", "A", "NOERROR", [f"10-42-0-20.db.ns.svc.{Z} A 10.42.0.20"],
                 id="endpoint-without-hostname-by-dashed-ip"),
    pytest.param(f"db.ns.svc.{Z}", "A", "NOERROR", [f"db.ns.svc.{Z} A 10.42.0.20"], id="ready-unset-counts-as-ready"),
    pytest.param(f"pub.ns.svc.{Z}", "A", "NOERROR", [f"pub.ns.svc.{Z} A 10.42.0.30"],
                 id="publish-not-ready-addresses"),
    pytest.param(f"empty.ns.svc.{Z}", "A", "NXDOMAIN", [], id="headless-without-endpoints"),
    pytest.param(f"_web._tcp.nginx.ns.svc.{Z}", "SRV", "NOERROR",
                 [f"_web._tcp.nginx.ns.svc.{Z} SRV 0 33 8080 web-0.nginx.ns.svc.{Z}",
                  f"_web._tcp.nginx.ns.svc.{Z} SRV 0 33 8080 web-1.nginx.ns.svc.{Z}"],
                 id="headless-srv-per-endpoint"),
    pytest.param(f"_mysql._tcp.db.ns.svc.{Z}", "SRV", "NOERROR",
                 [f"_mysql._tcp.db.ns.svc.{Z} SRV 0 100 3306 10-42-0-20.db.ns.svc.{Z}"],
                 id="headless-srv-dashed-target"),
    pytest.param(f"10-42-0-40.web.ns.svc.{Z}", "A", "NOERROR", [f"10-42-0-40.web.ns.svc.{Z} A 10.42.0.40"],
                 id="endpoint-name-of-clusterip-service"),
    # ExternalName (spec 2.5)
    pytest.param(f"ext.ns.svc.{Z}", "CNAME", "NOERROR", [f"ext.ns.svc.{Z} CNAME example.com."],
                 id="externalname-cname"),
    pytest.param(f"ext.ns.svc.{Z}", "SRV", *NODATA, id="externalname-has-no-srv"),
    pytest.param(f"alias.ns.svc.{Z}", "A", "NOERROR",
                 [f"alias.ns.svc.{Z} CNAME web.ns.svc.{Z}", f"web.ns.svc.{Z} A 10.43.0.5"],
                 id="externalname-into-the-cluster-is-followed"),
    pytest.param(f"loop.ns.svc.{Z}", "A", "NXDOMAIN", [], id="externalname-to-itself"),
    pytest.param(f"1-2-3-4.web.ns.svc.{Z}", "A", "NXDOMAIN", [], id="unknown-endpoint-of-clusterip-service"),
    # names that do not exist, and those that exist without records
    pytest.param(f"nope.ns.svc.{Z}", "A", "NXDOMAIN", [], id="unknown-service"),
    pytest.param(f"web.nope.svc.{Z}", "A", "NXDOMAIN", [], id="unknown-namespace"),
    pytest.param(f"ns.svc.{Z}", "A", *NODATA, id="namespace-is-empty-non-terminal"),
    pytest.param(f"other.svc.{Z}", "A", *NODATA, id="namespace-without-services"),
    pytest.param(f"nope.svc.{Z}", "A", "NXDOMAIN", [], id="unknown-namespace-name"),
    pytest.param(f"svc.{Z}", "A", *NODATA, id="svc-label"),
    pytest.param(f"pod.{Z}", "A", *NODATA, id="pod-label"),
    pytest.param(Z, "A", *NODATA, id="apex-a"),
    pytest.param(f"foo.{Z}", "A", "NXDOMAIN", [], id="neither-svc-nor-pod"),
    pytest.param(f"a.b.c.web.ns.svc.{Z}", "A", "NXDOMAIN", [], id="too-long"),
    # pods (CoreDNS `pods insecure`, spec 2.6)
    pytest.param(f"10-42-3-4.ns.pod.{Z}", "A", "NOERROR", [f"10-42-3-4.ns.pod.{Z} A 10.42.3.4"], id="pod-a"),
    pytest.param(f"10-42-3-4.ns.pod.{Z}", "AAAA", *NODATA, id="pod-aaaa-of-ipv4"),
    pytest.param(f"fd00--1.ns.pod.{Z}", "AAAA", "NOERROR", [f"fd00--1.ns.pod.{Z} AAAA fd00::1"], id="pod-ipv6"),
    pytest.param(f"10-42-3-4.nope.pod.{Z}", "A", "NXDOMAIN", [], id="pod-unknown-namespace"),
    pytest.param(f"not-an-ip.ns.pod.{Z}", "A", "NXDOMAIN", [], id="pod-bad-address"),
    pytest.param(f"ns.pod.{Z}", "A", *NODATA, id="pod-namespace"),
    # the zone itself
    pytest.param(f"dns-version.{Z}", "TXT", "NOERROR", [f'dns-version.{Z} TXT "1.1.0"'], id="schema-version"),
    pytest.param(Z, "NS", "NOERROR", [f"{Z} NS ns.dns.{Z}"], id="apex-ns"),
    pytest.param(f"ns.dns.{Z}", "A", "NOERROR", [f"ns.dns.{Z} A 10.43.0.10"], id="nameserver-address"),
    pytest.param(Z, "SOA", "NOERROR", [f"{Z} SOA ns.dns.{Z} hostmaster.{Z} 1800000000 7200 1800 86400 5"],
                 id="apex-soa"),
    # reverse (spec 2.3.3, 2.4.3; CoreDNS: every ready endpoint)
    pytest.param("5.0.43.10.in-addr.arpa.", "PTR", "NOERROR", [f"5.0.43.10.in-addr.arpa. PTR web.ns.svc.{Z}"],
                 id="ptr-clusterip"),
    pytest.param("6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.4.0.0.0.0.d.f.ip6.arpa.", "PTR", "NOERROR",
                 [f"6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.4.0.0.0.0.d.f.ip6.arpa. PTR dual.ns.svc.{Z}"],
                 id="ptr-ipv6-clusterip"),
    pytest.param("7.0.42.10.in-addr.arpa.", "PTR", "NOERROR", [f"7.0.42.10.in-addr.arpa. PTR web-0.nginx.ns.svc.{Z}"],
                 id="ptr-headless-endpoint-hostname"),
    pytest.param("20.0.42.10.in-addr.arpa.", "PTR", "NOERROR",
                 [f"20.0.42.10.in-addr.arpa. PTR 10-42-0-20.db.ns.svc.{Z}"], id="ptr-endpoint-dashed"),
    pytest.param("9.0.42.10.in-addr.arpa.", "PTR", "NXDOMAIN", [], id="ptr-not-ready-endpoint"),
    pytest.param("99.0.43.10.in-addr.arpa.", "PTR", "NXDOMAIN", [], id="ptr-unknown-in-service-range"),
    pytest.param("5.0.43.10.in-addr.arpa.", "A", *NODATA, id="ptr-name-other-type"),
    pytest.param("43.10.in-addr.arpa.", "SOA", "NOERROR",
                 [f"43.10.in-addr.arpa. SOA ns.dns.{Z} hostmaster.{Z} 1800000000 7200 1800 86400 5"],
                 id="reverse-zone-apex"),
    pytest.param("0.43.10.in-addr.arpa.", "PTR", *NODATA, id="reverse-empty-non-terminal"),
])
def test_records(records, qname, qtype, rcode, answer):
    got = ask(records, qname, qtype)
    assert dns.rcode.to_text(got.rcode) == rcode
    assert texts(got.answer) == sorted(answer)
    assert got.authoritative
    if not answer:  # negative answers carry the zone's SOA, whose minimum is the negative TTL
        assert [rrset.rdtype for rrset in got.authority] == [T.SOA]
        assert got.authority[0].ttl == 5 and got.authority[0][0].minimum == 5
    else:
        assert got.authority == []
    assert got.chase is None


@pytest.mark.parametrize(("qname", "qtype", "additional"), [
    pytest.param(f"_http._tcp.web.ns.svc.{Z}", "SRV", [f"web.ns.svc.{Z} A 10.43.0.5"], id="clusterip"),
    pytest.param(f"_web._tcp.nginx.ns.svc.{Z}", "SRV",
                 [f"web-0.nginx.ns.svc.{Z} A 10.42.0.7", f"web-1.nginx.ns.svc.{Z} A 10.42.1.8"], id="headless"),
    pytest.param(Z, "NS", [f"ns.dns.{Z} A 10.43.0.10"], id="ns-glue"),
])
def test_additional_section(records, qname, qtype, additional):
    assert texts(ask(records, qname, qtype).additional) == additional


def test_ttl_is_the_configured_one(records):
    assert {rrset.ttl for rrset in ask(records, f"nginx.ns.svc.{Z}", "A").answer} == {5}


def test_soa_owner_of_reverse_negative_answers(records):
    got = ask(records, "99.0.43.10.in-addr.arpa.", "PTR")
    assert got.authority[0].name == dns.name.from_text("43.10.in-addr.arpa.")


@pytest.mark.parametrize(("qname", "qtype"), [
    pytest.param("example.com.", "A", id="outside-the-cluster"),
    pytest.param("cluster.local.example.com.", "A", id="zone-name-as-a-prefix"),
    pytest.param("1.1.168.192.in-addr.arpa.", "PTR", id="ptr-outside-our-ranges"),
    pytest.param("168.192.in-addr.arpa.", "SOA", id="other-reverse-zone"),
    pytest.param(".", "NS", id="root"),
])
def test_other_names_are_forwarded(records, qname, qtype):
    assert records.lookup(dns.name.from_text(qname), T.from_text(qtype)) is None


def test_externalname_outside_the_cluster_asks_the_server_to_chase(records):
    got = ask(records, f"ext.ns.svc.{Z}", "A")
    assert texts(got.answer) == [f"ext.ns.svc.{Z} CNAME example.com."]
    assert got.chase == dns.name.from_text("example.com.") and got.chase_type == T.A


def test_ptr_of_an_endpoint_in_several_services_names_each():
    records, _ = make(services=[headless("a"), headless("b")],
                      slices=[eps("a-x", "a", endpoint("10.42.0.50", "h")), eps("b-x", "b", endpoint("10.42.0.50"))])
    got = ask(records, "50.0.42.10.in-addr.arpa.", "PTR")
    assert texts(got.answer) == [f"50.0.42.10.in-addr.arpa. PTR 10-42-0-50.b.ns.svc.{Z}",
                                 f"50.0.42.10.in-addr.arpa. PTR h.a.ns.svc.{Z}"]


def test_ptr_outside_our_ranges_is_answered_when_an_endpoint_has_it():
    # a hostNetwork pod behind a Service: its node address is an endpoint
    records, _ = make(services=[service("host", ip="10.43.0.60")],
                      slices=[eps("host-x", "host", endpoint("192.168.1.20"))])
    got = ask(records, "20.1.168.192.in-addr.arpa.", "PTR")
    assert texts(got.answer) == [f"20.1.168.192.in-addr.arpa. PTR 192-168-1-20.host.ns.svc.{Z}"]
    assert records.lookup(dns.name.from_text("20.1.168.192.in-addr.arpa."), T.A) is None


def test_srv_weights_split_between_targets():
    records, _ = make(services=[headless("h", ports=(("p", 1, "TCP"),))],
                      slices=[eps("h-x", "h", *(endpoint(f"10.42.0.{i}") for i in range(1, 4)), ports=(("p", 1, "TCP"),))])
    got = ask(records, f"_p._tcp.h.ns.svc.{Z}", "SRV")
    assert sorted((rd.priority, rd.weight) for rd in got.answer[0]) == [(0, 33)] * 3


@pytest.mark.parametrize(("pods", "qname", "rcode"), [
    pytest.param([pod("a", "10.42.3.4")], f"10-42-3-4.ns.pod.{Z}", "NOERROR", id="existing-pod"),
    pytest.param([pod("a", "10.42.3.4", ns="other")], f"10-42-3-4.ns.pod.{Z}", "NXDOMAIN", id="other-namespace"),
    pytest.param([], f"10-42-3-4.ns.pod.{Z}", "NXDOMAIN", id="no-such-pod"),
])
def test_pods_verified(pods, qname, rcode):
    records, _ = make(pods=pods, pod_mode="verified")
    assert dns.rcode.to_text(ask(records, qname, "A").rcode) == rcode


def test_pods_disabled():
    records, _ = make(pod_mode="disabled")
    assert ask(records, f"10-42-3-4.ns.pod.{Z}", "A").rcode == dns.rcode.NXDOMAIN


def test_servfail_until_the_caches_have_synced():
    records, factory = make(sync=False)
    got = ask(records, f"web.ns.svc.{Z}", "A")
    assert got.rcode == dns.rcode.SERVFAIL and not got.authoritative
    assert ask(records, "5.0.43.10.in-addr.arpa.", "PTR").rcode == dns.rcode.SERVFAIL
    assert records.lookup(dns.name.from_text("example.com."), T.A) is None
    factory.resource("", "services").replace(SERVICES, "1")
    factory.resource("discovery.k8s.io", "endpointslices").replace(SLICES, "1")
    factory.resource("", "namespaces").replace([namespace("ns")], "1")
    assert ask(records, f"web.ns.svc.{Z}", "A").rcode == dns.rcode.NOERROR


def test_answers_follow_cache_changes_and_the_serial_moves():
    now = [NOW]
    records, factory = make(clock=lambda: now[0])
    assert records.soa()[0].serial == int(NOW)
    now[0] += 60
    factory.resource("", "services")._apply("ADDED", service("late", ip="10.43.0.99"))
    assert texts(ask(records, f"late.ns.svc.{Z}", "A").answer) == [f"late.ns.svc.{Z} A 10.43.0.99"]
    assert records.soa()[0].serial == int(NOW) + 60
    factory.resource("discovery.k8s.io", "endpointslices")._apply(
        "MODIFIED", eps("nginx-b", "nginx", endpoint("10.42.1.8", "web-1", ready=False)))
    assert texts(ask(records, f"nginx.ns.svc.{Z}", "A").answer) == [f"nginx.ns.svc.{Z} A 10.42.0.7"]
    factory.resource("", "services")._apply("DELETED", service("late", ip="10.43.0.99"))
    assert ask(records, f"late.ns.svc.{Z}", "A").rcode == dns.rcode.NXDOMAIN
    assert ask(records, "99.0.43.10.in-addr.arpa.", "PTR").rcode == dns.rcode.NXDOMAIN


def test_without_a_namespaces_cache_a_namespace_exists_when_it_has_services():
    factory = InformerFactory(FakeClient())
    services = factory.resource("", "services")
    slices = factory.resource("discovery.k8s.io", "endpointslices")
    records = ClusterRecords(services, slices)
    services.replace(SERVICES, "1")
    slices.replace(SLICES, "1")
    assert ask(records, f"ns.svc.{Z}", "A").rcode == dns.rcode.NOERROR
    assert ask(records, f"other.svc.{Z}", "A").rcode == dns.rcode.NXDOMAIN


def test_other_cluster_domain():
    factory = InformerFactory(FakeClient())
    records = ClusterRecords.from_informers(factory, cluster_domain="corp.example")
    factory.resource("", "services").replace([service("web", ip="10.43.0.5")], "1")
    factory.resource("discovery.k8s.io", "endpointslices").replace([], "1")
    factory.resource("", "namespaces").replace([namespace("ns")], "1")
    assert texts(ask(records, "web.ns.svc.corp.example.", "A").answer) == ["web.ns.svc.corp.example. A 10.43.0.5"]
    assert records.lookup(dns.name.from_text(f"web.ns.svc.{Z}"), T.A) is None


@pytest.mark.parametrize(("cidr", "zone"), [
    pytest.param("10.43.0.0/16", "43.10.in-addr.arpa.", id="octet-aligned"),
    pytest.param("10.96.0.0/12", "10.in-addr.arpa.", id="rounded-down"),
    pytest.param("192.168.7.0/24", "7.168.192.in-addr.arpa.", id="slash-24"),
    pytest.param("fd00:43::/112", "0." * 20 + "3.4.0.0.0.0.d.f.ip6.arpa.",
                 id="ipv6"),
])
def test_reverse_zone(cidr, zone):
    assert reverse_zone(cidr).to_text() == zone


def test_pod_mode_is_checked():
    factory = InformerFactory(FakeClient())
    with pytest.raises(ValueError):
        ClusterRecords.from_informers(factory, pod_mode="sometimes")
