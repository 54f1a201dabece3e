"""The pod's resolv.conf, hosts and hostname, as the kubelet renders them."""

from __future__ import annotations

import os
import stat

import pytest

from podplane.agent.network.podfiles import (
    DNSConfig,
    hosts_file,
    parse_resolv_conf,
    pod_dns_config,
    pod_files,
    pod_hostname,
    render_resolv_conf,
    resolv_conf,
    write_pod_files,
)

HOST = DNSConfig(("192.0.2.53", "192.0.2.54"), ("corp.example",), ("edns0",))
DNS = ["10.43.0.10"]


def pod(name="web", namespace="shop", **spec):
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


def test_resolv_conf_cluster_first():
    assert resolv_conf("shop", ["10.43.0.10"]) == (
        "search shop.svc.cluster.local svc.cluster.local cluster.local\n"
        "nameserver 10.43.0.10\n"
        "options ndots:5\n"
    )


@pytest.mark.parametrize(
    "spec,want",
    [
        pytest.param(
            {},
            DNSConfig(
                DNS,
                ("shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"),
                ("ndots:5",),
            ),
            id="cluster-first-default",
        ),
        pytest.param({"hostNetwork": True}, HOST, id="host-network-falls-back-to-default"),
        pytest.param(
            {"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"},
            DNSConfig(
                DNS,
                ("shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"),
                ("ndots:5",),
            ),
            id="cluster-first-with-host-net",
        ),
        pytest.param({"dnsPolicy": "Default"}, HOST, id="default"),
        pytest.param(
            {
                "dnsPolicy": "None",
                "dnsConfig": {
                    "nameservers": ["1.1.1.1"],
                    "searches": ["a.example"],
                    "options": [{"name": "ndots", "value": "2"}, {"name": "rotate"}],
                },
            },
            DNSConfig(("1.1.1.1",), ("a.example",), ("ndots:2", "rotate")),
            id="none-with-dns-config",
        ),
        pytest.param(
            {
                "dnsConfig": {
                    "nameservers": ["10.43.0.10", "9.9.9.9"],
                    "searches": ["cluster.local", "x.example"],
                    "options": [{"name": "ndots", "value": "1"}, {"name": "edns0"}],
                }
            },
            DNSConfig(
                ("10.43.0.10", "9.9.9.9"),
                ("shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example", "x.example"),
                ("ndots:1", "edns0"),
            ),
            id="dns-config-merged-deduplicated",
        ),
        pytest.param(
            {"dnsPolicy": "Default", "dnsConfig": {"nameservers": ["1.1.1.1", "8.8.8.8"]}},
            DNSConfig(("192.0.2.53", "192.0.2.54", "1.1.1.1"), ("corp.example",), ("edns0",)),
            id="at-most-three-nameservers",
        ),
    ],
)
def test_pod_dns_config(spec, want):
    got = pod_dns_config(pod(**spec), cluster_dns=DNS, host=HOST)
    assert got == DNSConfig(tuple(want.nameservers), tuple(want.searches), tuple(want.options))


def test_cluster_first_without_cluster_dns_uses_the_host():
    assert pod_dns_config(pod(), cluster_dns=[], host=HOST) == HOST


def test_custom_cluster_domain():
    got = pod_dns_config(pod(), cluster_dns=DNS, cluster_domain="k8s.test")
    assert got.searches == ("shop.svc.k8s.test", "svc.k8s.test", "k8s.test")


def test_parse_and_render_resolv_conf():
    text = "# generated\nnameserver 192.0.2.53\ndomain old.example\nsearch a.example b.example ; comment\noptions edns0 ndots:2\n"
    cfg = parse_resolv_conf(text)
    assert cfg == DNSConfig(("192.0.2.53",), ("a.example", "b.example"), ("edns0", "ndots:2"))
    assert (
        render_resolv_conf(cfg)
        == "search a.example b.example\nnameserver 192.0.2.53\noptions edns0 ndots:2\n"
    )
    assert parse_resolv_conf("") == DNSConfig()


def test_hosts_file():
    assert hosts_file(["10.244.0.5"], "web") == (
        "# Kubernetes-managed hosts file.\n"
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\n"
        "fe00::0\tip6-mcastprefix\n"
        "fe00::1\tip6-allnodes\n"
        "fe00::2\tip6-allrouters\n"
        "10.244.0.5\tweb\n"
    )


def test_hosts_file_with_subdomain_and_aliases():
    p = pod(
        "web-0",
        "db",
        hostname="web-0",
        subdomain="web",
        hostAliases=[{"ip": "127.0.0.1", "hostnames": ["foo.local", "bar.local"]}, {"ip": "10.1.2.3"}],
    )
    text = pod_files(p, ["10.244.0.7"], cluster_dns=DNS).hosts
    assert "10.244.0.7\tweb-0.web.db.svc.cluster.local\tweb-0\n" in text
    assert text.endswith("\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n")


@pytest.mark.parametrize(
    "meta_name,spec,want",
    [
        pytest.param("web", {}, ("web", ""), id="pod-name"),
        pytest.param("web", {"hostname": "h"}, ("h", ""), id="spec-hostname"),
        pytest.param(
            "web", {"hostname": "h", "subdomain": "s"}, ("h", "h.s.shop.svc.cluster.local"), id="fqdn"
        ),
        pytest.param(
            "a" * 62 + "-b" + "c" * 10, {}, ("a" * 62, ""), id="truncated-to-63-without-trailing-dash"
        ),
    ],
)
def test_pod_hostname(meta_name, spec, want):
    assert pod_hostname(pod(meta_name, **spec)) == want


def test_write_pod_files(tmp_path):
    files = pod_files(pod(), ["10.244.0.5"], cluster_dns=DNS, host_resolv_conf="search corp.example\n")
    paths = write_pod_files(str(tmp_path / "pod"), files)
    assert sorted(paths) == ["hostname", "hosts", "resolv.conf"]
    assert open(paths["resolv.conf"]).read() == (
        "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
        "nameserver 10.43.0.10\noptions ndots:5\n"
    )
    assert open(paths["hostname"]).read() == "web\n"
    assert stat.S_IMODE(os.stat(paths["hosts"]).st_mode) == 0o644
    assert sorted(os.listdir(tmp_path / "pod")) == ["hostname", "hosts", "resolv.conf"]  # no temp files
