"""rules.build: the ruleset text for each Service feature (table-driven).

Each case builds Services and EndpointSlices, renders the table, and compares the
chains, map elements and set declarations it names exactly, with the 8-character hash
in chain names left out (`service-default/web/tcp/http`). Chains not named are not
checked, except those listed under "absent".
"""

from __future__ import annotations

import random
import re

import pytest

from podplane.proxy import rules

from .builders import (
    DNS_IP,
    NODE,
    NODE_IP,
    POD_CIDR,
    endpoint,
    endpoint_slice,
    facts,
    node_object,
    port,
    service,
)

WEB = "default/web/tcp/http"
SVC = f"service-{WEB}"
MASQ_INTERNAL = f"ip daddr 10.43.0.20 tcp dport 80 ip saddr != {{ {POD_CIDR} }} jump mark-for-masquerade"


def ep_chain(ip: str, port: int = 8080, base: str = WEB) -> str:
    return f"endpoint-{base}__{ip}/{port}"


def endpoint_rules(ip: str, port: int = 8080, proto: str = "tcp", affinity: str = "") -> list[str]:
    """An affinity service's per-endpoint chain."""
    return [f"update @affinity-{affinity}__{ip}/{port} {{ ip saddr }}", f"meta l4proto {proto} dnat to {ip}:{port}"]


def dnat(*ips: str, port: int = 8080, proto: str = "tcp") -> str:
    """The load-balancing rule of a service port without affinity."""
    if len(ips) == 1:
        return f"meta l4proto {proto} dnat to {ips[0]}:{port}"
    targets = ", ".join(f"{i} : {ip} . {port}" for i, ip in enumerate(ips))
    return f"meta l4proto {proto} dnat ip addr . port to numgen random mod {len(ips)} map {{ {targets} }}"


def parse(text: str) -> dict[str, list[str]]:
    """{"chain NAME": [rules], "elements NAME": [elements], "set NAME": [declaration lines]}."""
    text = re.sub(r"\b(service|local|external|endpoint|affinity|firewall)-[A-Z2-7]{8}-", r"\1-", text)
    out: dict[str, list[str]] = {}
    current = None
    elements = None
    for line in text.splitlines():
        s = line.strip()
        if m := re.fullmatch(r"(chain|set|map) (\S+) \{", s):
            current = f"{'chain' if m.group(1) == 'chain' else 'set'} {m.group(2)}"
            out[current] = []
            if m.group(1) != "chain":
                out[f"elements {m.group(2)}"] = []
            continue
        if s == "}":
            current = None
            continue
        if current is None:
            continue
        if s.startswith("elements = {") or elements is not None:
            body = s.removeprefix("elements = {").strip()
            done = body.endswith("}")
            body = body.removesuffix("}").strip()
            name = current.split(" ", 1)[1]
            out[f"elements {name}"] += [e.strip() for e in body.split(",") if e.strip()]
            elements = None if done else name
            continue
        if s.startswith("type ") and "hook" in s or current.startswith("set") and not s.startswith("elements"):
            if current.startswith("set"):
                out[current].append(s)
            continue
        out[current].append(s)
    return out


def web(*eps: dict, **spec) -> tuple[list[dict], list[dict]]:
    return [service("web", "10.43.0.20", **spec)], [endpoint_slice("web", *eps)]


THREE = [endpoint("10.244.1.11"), endpoint("10.244.1.12"), endpoint("10.244.1.13", node="n2")]

CASES = [
    pytest.param(
        *web(*THREE), {}, {
            "elements service-ips": [f"10.43.0.20 . tcp . 80 : goto {SVC}"],
            "elements no-endpoint-services": [],
            f"chain {SVC}": [
                MASQ_INTERNAL, dnat("10.244.1.11", "10.244.1.12", "10.244.1.13")],
            "elements cluster-ips": ["10.43.0.20"],
            "elements hairpin-endpoints": ["10.244.1.11 . 10.244.1.11", "10.244.1.12 . 10.244.1.12",
                                           "10.244.1.13 . 10.244.1.13"],
        }, [f"chain external-{WEB}", f"chain local-{WEB}", f"chain {ep_chain('10.244.1.11')}"],
        id="clusterip-tcp-random-over-ready-endpoints"),
    pytest.param(
        [service("dns2", "10.43.0.53", port(53, "dns", "UDP"), port(53, "dns-tcp", "TCP"))],
        [endpoint_slice("dns2", endpoint("10.244.1.5"),
                        ports=[{"name": "dns", "port": 5353, "protocol": "UDP"},
                               {"name": "dns-tcp", "port": 5353, "protocol": "TCP"}])], {}, {
            "elements service-ips": [
                "10.43.0.53 . tcp . 53 : goto service-default/dns2/tcp/dns-tcp",
                "10.43.0.53 . udp . 53 : goto service-default/dns2/udp/dns"],
            "chain service-default/dns2/udp/dns": [
                "ip daddr 10.43.0.53 udp dport 53 ip saddr != { 10.244.1.0/24 } jump mark-for-masquerade",
                dnat("10.244.1.5", port=5353, proto="udp")],
            "chain service-default/dns2/tcp/dns-tcp": [
                "ip daddr 10.43.0.53 tcp dport 53 ip saddr != { 10.244.1.0/24 } jump mark-for-masquerade",
                dnat("10.244.1.5", port=5353)],
        }, [], id="udp-and-tcp-on-one-port"),
    pytest.param(
        [service("s", "10.43.0.30", port(9999, "", "SCTP"))],
        [endpoint_slice("s", endpoint("10.244.1.5"), ports=[{"port": 9999, "protocol": "SCTP"}])], {}, {
            "elements service-ips": ["10.43.0.30 . sctp . 9999 : goto service-default/s/sctp/"],
            "chain service-default/s/sctp/": [
                "ip daddr 10.43.0.30 sctp dport 9999 ip saddr != { 10.244.1.0/24 } jump mark-for-masquerade",
                dnat("10.244.1.5", port=9999, proto="sctp")],
        }, [], id="sctp"),
    pytest.param(
        *web(), {}, {
            "elements service-ips": [],
            "elements no-endpoint-services": ["10.43.0.20 . tcp . 80 : goto reject-chain"],
            "chain reject-chain": ["meta l4proto tcp reject with tcp reset", "reject"],
            "elements cluster-ips": ["10.43.0.20"],
        }, [f"chain {SVC}"], id="no-endpoints-rejected"),
    pytest.param(
        *web(endpoint("10.244.1.11", ready=False), endpoint("10.244.1.12", ready=False, serving=False)), {}, {
            "elements no-endpoint-services": ["10.43.0.20 . tcp . 80 : goto reject-chain"],
        }, [f"chain {SVC}"], id="only-unready-endpoints-rejected"),
    pytest.param(
        *web(endpoint("10.244.1.11", ready=False, serving=True, terminating=True),
             endpoint("10.244.1.12", ready=False, serving=False, terminating=True)), {}, {
            f"chain {SVC}": [MASQ_INTERNAL,
                             dnat("10.244.1.11")],
        }, [f"chain {ep_chain('10.244.1.12')}"], id="serving-terminating-used-when-none-ready"),
    pytest.param(
        *web(endpoint("10.244.1.11"), endpoint("10.244.1.12", ready=False, serving=True, terminating=True)), {}, {
            f"chain {SVC}": [MASQ_INTERNAL,
                             dnat("10.244.1.11")],
        }, [f"chain {ep_chain('10.244.1.12')}"], id="terminating-ignored-while-one-is-ready"),
    pytest.param(
        *web(endpoint("10.244.1.11", ready=None)), {}, {
            f"chain {SVC}": [MASQ_INTERNAL,
                             dnat("10.244.1.11")],
        }, [], id="unset-ready-means-ready"),
    pytest.param(
        *web(*THREE, type="NodePort", ports=[port(80, nodePort=30080)]), {}, {
            "elements service-nodeports": [f"tcp . 30080 : goto external-{WEB}"],
            "elements service-ips": [f"10.43.0.20 . tcp . 80 : goto {SVC}"],
            f"chain external-{WEB}": ["jump mark-for-masquerade", f"goto {SVC}"],
            "elements nodeport-ips": [NODE_IP],
            "chain services": ["ip daddr . meta l4proto . th dport vmap @service-ips",
                               "ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports"],
        }, [], id="nodeport-cluster-policy-masquerades"),
    pytest.param(
        *web(*THREE, type="NodePort", ports=[port(80, nodePort=30080)], externalTrafficPolicy="Local"), {}, {
            f"chain external-{WEB}": [
                f'ip saddr {{ {POD_CIDR} }} goto {SVC} comment "short-circuit pod traffic"',
                'fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"',
                f'fib saddr type local goto {SVC} comment "short-circuit local traffic"',
                f"goto local-{WEB}"],
            f"chain local-{WEB}": [
                dnat("10.244.1.11", "10.244.1.12")],
            "elements no-endpoint-nodeports": [],
        }, [], id="external-policy-local-keeps-client-ip"),
    pytest.param(
        *web(endpoint("10.244.9.11", node="n2"), type="NodePort", ports=[port(80, nodePort=30080)],
             externalTrafficPolicy="Local"), {}, {
            f"chain external-{WEB}": [
                f'ip saddr {{ {POD_CIDR} }} goto {SVC} comment "short-circuit pod traffic"',
                'fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"',
                f'fib saddr type local goto {SVC} comment "short-circuit local traffic"'],
            "elements no-endpoint-nodeports": ["tcp . 30080 : drop"],
            "elements service-nodeports": [f"tcp . 30080 : goto external-{WEB}"],
            "elements service-ips": [f"10.43.0.20 . tcp . 80 : goto {SVC}"],
        }, [f"chain local-{WEB}"], id="external-policy-local-without-local-endpoints-drops"),
    pytest.param(
        *web(endpoint("10.244.1.11"), endpoint("10.244.9.12", node="n2"), internalTrafficPolicy="Local"), {}, {
            "elements service-ips": [f"10.43.0.20 . tcp . 80 : goto local-{WEB}"],
            f"chain local-{WEB}": [MASQ_INTERNAL,
                                   dnat("10.244.1.11")],
        }, [f"chain {SVC}", f"chain {ep_chain('10.244.9.12')}"], id="internal-policy-local"),
    pytest.param(
        *web(endpoint("10.244.9.12", node="n2"), internalTrafficPolicy="Local"), {}, {
            "elements service-ips": [],
            "elements no-endpoint-services": ["10.43.0.20 . tcp . 80 : drop"],
        }, [f"chain {SVC}"], id="internal-policy-local-without-local-endpoints-drops"),
    pytest.param(
        [service("web", "10.43.0.20", type="LoadBalancer", externalIPs=["192.0.2.7"],
                 status={"loadBalancer": {"ingress": [{"ip": "192.0.2.9", "ipMode": "VIP"},
                                                      {"ip": "192.0.2.10", "ipMode": "Proxy"},
                                                      {"hostname": "lb.example"}]}})],
        [endpoint_slice("web", endpoint("10.244.1.11"))], {}, {
            "elements service-ips": [f"10.43.0.20 . tcp . 80 : goto {SVC}",
                                     f"192.0.2.7 . tcp . 80 : goto external-{WEB}",
                                     f"192.0.2.9 . tcp . 80 : goto external-{WEB}"],
            f"chain external-{WEB}": ["jump mark-for-masquerade", f"goto {SVC}"],
            "elements service-nodeports": [],
            "elements firewall-ips": [],
        }, [], id="loadbalancer-ingress-and-external-ips"),
    pytest.param(
        [service("web", "10.43.0.20", type="LoadBalancer", loadBalancerSourceRanges=["203.0.113.0/24"],
                 status={"loadBalancer": {"ingress": [{"ip": "192.0.2.9"}]}})],
        [endpoint_slice("web", endpoint("10.244.1.11"))], {}, {
            "elements firewall-ips": [f"192.0.2.9 . tcp . 80 : goto firewall-{WEB}"],
            f"chain firewall-{WEB}": ["ip saddr != { 203.0.113.0/24 } drop"],
            "chain filter-prerouting": ["ct state new jump firewall-check"],
        }, [], id="loadbalancer-source-ranges"),
    pytest.param(
        *web(endpoint("10.244.1.11"), endpoint("10.244.1.12"), sessionAffinity="ClientIP",
             sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}), {}, {
            f"set affinity-{WEB}__10.244.1.11/8080": ["type ipv4_addr", "flags dynamic,timeout", "timeout 60s"],
            f"set affinity-{WEB}__10.244.1.12/8080": ["type ipv4_addr", "flags dynamic,timeout", "timeout 60s"],
            f"chain {SVC}": [
                MASQ_INTERNAL,
                f"ip saddr @affinity-{WEB}__10.244.1.11/8080 goto {ep_chain('10.244.1.11')}",
                f"ip saddr @affinity-{WEB}__10.244.1.12/8080 goto {ep_chain('10.244.1.12')}",
                f"numgen random mod 2 vmap {{ 0 : goto {ep_chain('10.244.1.11')}, "
                f"1 : goto {ep_chain('10.244.1.12')} }}"],
            f"chain {ep_chain('10.244.1.11')}": endpoint_rules("10.244.1.11", affinity=WEB),
            "elements hairpin-endpoints": ["10.244.1.11 . 10.244.1.11", "10.244.1.12 . 10.244.1.12"],
        }, [], id="session-affinity-client-ip"),
    pytest.param(
        *web(endpoint("10.244.1.11"), sessionAffinity="ClientIP"), {}, {
            f"set affinity-{WEB}__10.244.1.11/8080": ["type ipv4_addr", "flags dynamic,timeout", "timeout 10800s"],
        }, [], id="session-affinity-default-timeout"),
    pytest.param(
        *web(endpoint("10.244.1.11")), {"pod_cidrs": ()}, {
            f"chain {SVC}": [dnat("10.244.1.11")],
        }, [], id="pod-cidr-unknown-no-off-cluster-masquerade"),
    pytest.param(
        [service("kube-dns", DNS_IP, port(53, "dns", "UDP"), namespace="kube-system")],
        [endpoint_slice("kube-dns", endpoint("10.244.1.53"), namespace="kube-system",
                        ports=[{"name": "dns", "port": 53, "protocol": "UDP"}])], {}, {
            "elements service-ips": [], "elements cluster-ips": [], "elements no-endpoint-services": [],
            "chain cluster-ips-check": [
                f'ip daddr {DNS_IP} return comment "node-local cluster DNS"',
                'ip daddr @cluster-ips goto reject-chain comment "Reject traffic to invalid ports of ClusterIPs"'],
            "chain filter-output-post-dnat": [
                "ct state new jump endpoints-check", "ct state new jump cluster-ips-check",
                f'ct state new ip daddr 10.43.0.0/16 ip daddr != {DNS_IP} drop '
                'comment "Drop traffic to unallocated ClusterIPs"'],
        }, [], id="cluster-dns-service-left-alone"),
    pytest.param(
        [service("headless", "None"), service("ext", "", type="ExternalName", externalName="example.com"),
         service("other", "10.43.0.40", labels={"service.kubernetes.io/service-proxy-name": "foo"}),
         service("v6", "fd00::1")],
        [endpoint_slice("headless", endpoint("10.244.1.11")), endpoint_slice("other", endpoint("10.244.1.11"))],
        {}, {"elements service-ips": [], "elements cluster-ips": [], "elements no-endpoint-services": []},
        [], id="headless-externalname-other-proxy-ipv6-skipped"),
    pytest.param(
        [service("web", "10.43.0.20", port(80, "http"), port(443, "https"))],
        [endpoint_slice("web", endpoint("10.244.1.11"), ports=[{"name": "http", "port": 8080, "protocol": "TCP"}]),
         endpoint_slice("web", endpoint("10.244.1.12"), ports=[{"name": "https", "port": 8443}], name="web-2")],
        {}, {
            "elements service-ips": [f"10.43.0.20 . tcp . 80 : goto {SVC}",
                                     "10.43.0.20 . tcp . 443 : goto service-default/web/tcp/https"],
            "chain service-default/web/tcp/https": [
                "ip daddr 10.43.0.20 tcp dport 443 ip saddr != { 10.244.1.0/24 } jump mark-for-masquerade",
                dnat("10.244.1.12", port=8443)],
        }, [], id="multi-port-by-port-name"),
    pytest.param(
        [service("web", "10.43.0.20", port(80, "http"))],
        [endpoint_slice("web", endpoint("10.244.1.11"), ports=[{"name": "other", "port": 8080}])], {}, {
            "elements no-endpoint-services": ["10.43.0.20 . tcp . 80 : goto reject-chain"],
        }, [], id="slice-port-name-mismatch-means-no-endpoints"),
    pytest.param(
        [service("web", "10.43.0.20")],
        [endpoint_slice("web", endpoint("10.244.1.11", ready=False), name="a"),
         endpoint_slice("web", endpoint("10.244.1.11"), name="b"),
         endpoint_slice("web", endpoint("fd00::5"), address_type="IPv6", name="c"),
         endpoint_slice("web", endpoint("10.244.1.12"), name="d",
                        labels={"service.kubernetes.io/headless": ""})], {}, {
            f"chain {SVC}": [MASQ_INTERNAL,
                             dnat("10.244.1.11")],
        }, [], id="duplicate-endpoint-ready-wins-ipv6-slices-ignored"),
    pytest.param(
        *web(endpoint("10.244.1.11")), {"ips": (NODE_IP, "127.0.0.1", "192.168.60.10")}, {
            "elements nodeport-ips": [NODE_IP, "192.168.60.10"],
        }, [], id="nodeport-addresses-all-node-ips-never-localhost"),
    pytest.param(
        *web(endpoint("10.244.1.11")), {}, {
            "chain nat-prerouting": ["jump services"],
            "chain nat-output": ["jump services"],
            "chain nat-postrouting": [
                "ct status dnat ip saddr . ip daddr @hairpin-endpoints jump mark-for-masquerade",
                "jump masquerading"],
            "chain filter-prerouting": ["ct state new jump firewall-check"],
            "chain filter-prerouting-post-dnat": ["ct state new jump endpoints-check",
                                                  "ct state new jump cluster-ips-check"],
            "chain filter-output": ["ct state new jump firewall-check"],
            "chain mark-for-masquerade": ["meta mark set meta mark | 0x00004000"],
            "chain masquerading": ["meta mark & 0x00004000 == 0 return", "meta mark set meta mark ^ 0x00004000",
                                   "masquerade fully-random"],
        }, ["chain filter-input", "chain filter-forward"], id="static-chains"),
]


@pytest.mark.parametrize(("services", "slices", "node_kw", "expected", "absent"), CASES)
def test_ruleset(services, slices, node_kw, expected, absent):
    text = rules.build(services, slices, facts(**node_kw)).text
    parsed = parse(text)
    for key, want in expected.items():
        assert parsed.get(key) == want, f"{key}:\n{text}"
    for key in absent:
        assert key not in parsed, f"{key} should not exist:\n{text}"


def test_base_chain_hooks_and_priorities():
    text = rules.build(*web(endpoint("10.244.1.11")), facts()).text
    for line in ("type filter hook prerouting priority -110; policy accept;",
                 "type filter hook prerouting priority -90; policy accept;",
                 "type filter hook output priority -110; policy accept;",
                 "type filter hook output priority -90; policy accept;",
                 "type nat hook prerouting priority -100; policy accept;",
                 "type nat hook output priority -100; policy accept;",
                 "type nat hook postrouting priority 100; policy accept;"):
        assert f"\t\t{line}\n" in text
    assert text.startswith("table ip podplane {\n")


def test_same_state_in_any_order_gives_the_same_text():
    services = [service(f"s{i}", f"10.43.1.{i}") for i in range(1, 20)]
    slices = [endpoint_slice(f"s{i}", *(endpoint(f"10.244.1.{j}") for j in range(i, i + 5))) for i in range(1, 20)]
    first = rules.build(services, slices, facts())
    rng = random.Random(7)
    for _ in range(3):
        rng.shuffle(services)
        rng.shuffle(slices)
        for s in slices:
            rng.shuffle(s["endpoints"])
        again = rules.build(services, slices, facts())
        assert again.text == first.text and again.digest == first.digest
    assert first.service_ports == 19 and first.endpoints == 95


def test_endpoint_change_changes_digest():
    a = rules.build(*web(endpoint("10.244.1.11")), facts())
    b = rules.build(*web(endpoint("10.244.1.12")), facts())
    assert a.digest != b.digest


def test_cluster_ips_for_routes_and_udp_view():
    services = [service("dns2", "10.43.0.53", port(53, "dns", "UDP"), type="NodePort",
                        externalIPs=["192.0.2.7"]),
                service("web", "10.43.0.20"),
                service("kube-dns", DNS_IP, port(53, "dns", "UDP"))]
    services[0]["spec"]["ports"][0]["nodePort"] = 30053
    slices = [endpoint_slice("dns2", endpoint("10.244.1.5"), endpoint("10.244.1.6", ready=False, serving=False),
                             endpoint("10.244.1.7", ready=False, serving=True, terminating=True),
                             ports=[{"name": "dns", "port": 5353, "protocol": "UDP"}])]
    rs = rules.build(services, slices, facts())
    assert rs.cluster_ips == ("10.43.0.20", "10.43.0.53")
    serving = frozenset({"10.244.1.5", "10.244.1.7"})
    assert rs.udp.frontends == {("10.43.0.53", 53): serving, ("192.0.2.7", 53): serving}
    assert rs.udp.node_ports == {30053: serving}
    assert rs.udp.node_ips == (NODE_IP,) and rs.udp.cluster_dns_ip == DNS_IP
    assert rs.udp.service_cidr == "10.43.0.0/16"


def test_node_facts_from_node_object():
    node = node_object(ips=("192.168.50.10", "127.0.0.1", "fd00::1"), pod_cidr="10.244.7.0/24")
    f = rules.node_facts(NODE, ["192.168.50.11"], service_cidr="10.43.0.0/16", cluster_dns_ip=DNS_IP, node=node)
    assert f.ips == ("192.168.50.10", "192.168.50.11")
    assert f.pod_cidrs == ("10.244.7.0/24",)
    configured = rules.node_facts(NODE, [], node=node, pod_cidrs=["10.244.1.0/24"])
    assert configured.pod_cidrs == ("10.244.1.0/24",)


@pytest.mark.parametrize(("kwargs", "message"), [
    pytest.param({"service_cidr": "10.43.0.0/33"}, "service CIDR", id="service-cidr"),
    pytest.param({"cluster_dns_ip": "dns"}, "cluster DNS", id="dns-ip"),
    pytest.param({"pod_cidrs": ["x"]}, "pod CIDR", id="pod-cidr"),
])
def test_node_facts_rejects_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rules.node_facts(NODE, [NODE_IP], **kwargs)
    with pytest.raises(ValueError, match="not an IPv4 address"):
        rules.node_facts(NODE, ["node-1"])


@pytest.mark.parametrize("table", ["", "1abc", "pod plane", "x;flush ruleset", "a" * 65])
def test_bad_table_name(table):
    with pytest.raises(ValueError, match="table name"):
        rules.render([], facts(), table=table)


def test_names_are_sanitized_and_bounded():
    long = "n" * 63
    services = [service(long, "10.43.0.20", port(80, "p" * 15), namespace="x" * 63)]
    slices = [endpoint_slice(long, endpoint("10.244.1.11"), namespace="x" * 63,
                             ports=[{"name": "p" * 15, "port": 8080}])]
    text = rules.build(services, slices, facts()).text
    names = re.findall(r"chain (\S+) \{", text)
    assert names and all(len(n) <= 256 and re.fullmatch(r"[A-Za-z][A-Za-z0-9_./-]*(\.\.\.)?", n) for n in names)
    # object fields never reach the text unvalidated
    bad = [service("web", "10.43.0.20; flush ruleset", externalIPs=["1.2.3.4 }"])]
    assert "flush" not in rules.build(bad, [], facts()).text
