"""CNI client: configuration generation, result and error parsing (pure), and the
plugin protocol (order, prevResult chaining, runtimeConfig, cache) against a fake host."""

from __future__ import annotations

import json
import os

import pytest

from podplane.agent.network.cni import (
    CNIClient,
    PortMapping,
    error_from_output,
    format_cni_args,
    load_conflist,
    loopback_conflist,
    node_conflist,
    parse_result,
    plugin_config,
    plugin_env,
    validate_conflist,
    write_conflist,
)
from podplane.agent.network.errors import CNIConfigError, CNIError, NetworkConfigError, ToolMissing

from .fakehost import FakeHost

# What Debian's bridge plugin (1.1.1) printed for a real ADD on the project's machines.
BRIDGE_RESULT = {
    "cniVersion": "1.0.0",
    "interfaces": [
        {"name": "podplane0", "mac": "22:45:52:85:ee:73"},
        {"name": "veth7b1a1861", "mac": "1a:ad:ae:3f:38:54"},
        {"name": "eth0", "mac": "82:6e:b7:9a:4d:33", "sandbox": "/var/run/netns/ppt-expp"},
    ],
    "ips": [{"interface": 2, "address": "10.244.3.2/24", "gateway": "10.244.3.1"}],
    "routes": [{"dst": "0.0.0.0/0"}],
    "dns": {},
}


# ----------------------------------------------------------------- configuration


def test_node_conflist_shape():
    conf = node_conflist("10.244.3.0/24", ipam_data_dir="/data/ipam")
    assert conf["cniVersion"] == "1.0.0"
    assert conf["name"] == "podplane"
    bridge, portmap = conf["plugins"]
    assert bridge == {
        "type": "bridge",
        "bridge": "podplane0",
        "isGateway": True,
        "ipMasq": True,
        "hairpinMode": True,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": "10.244.3.0/24"}]],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": "/data/ipam",
        },
    }
    assert portmap == {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}
    validate_conflist(conf)


def test_node_conflist_options():
    conf = node_conflist("10.0.0.0/16", name="net1", bridge="br-x", mtu=1400)
    assert conf["name"] == "net1"
    assert conf["plugins"][0]["bridge"] == "br-x"
    assert conf["plugins"][0]["mtu"] == 1400
    assert "dataDir" not in conf["plugins"][0]["ipam"]


@pytest.mark.parametrize(
    "cidr",
    [
        pytest.param("10.244.3.1/24", id="host-bits-set"),
        pytest.param("not-a-cidr", id="garbage"),
        pytest.param("fd00::/64", id="ipv6"),
        pytest.param("10.0.0.0/31", id="too-small"),
    ],
)
def test_node_conflist_rejects(cidr):
    with pytest.raises(NetworkConfigError):
        node_conflist(cidr)


def test_loopback_conflist():
    assert loopback_conflist() == {
        "cniVersion": "1.0.0",
        "name": "cni-loopback",
        "plugins": [{"type": "loopback"}],
    }


@pytest.mark.parametrize(
    "conf",
    [
        pytest.param([], id="not-object"),
        pytest.param({"cniVersion": "1.0.0", "plugins": [{"type": "bridge"}]}, id="no-name"),
        pytest.param({"name": "n", "plugins": [{"type": "bridge"}]}, id="no-version"),
        pytest.param({"name": "n", "cniVersion": "1.0.0", "plugins": []}, id="no-plugins"),
        pytest.param(
            {"name": "n", "cniVersion": "1.0.0", "plugins": [{"type": "../bin/sh"}]}, id="path-type"
        ),
    ],
)
def test_validate_conflist_rejects(conf):
    with pytest.raises(NetworkConfigError):
        validate_conflist(conf)


def test_write_and_load_conflist(tmp_path):
    conf = node_conflist("10.244.0.0/24")
    path = write_conflist(str(tmp_path / "net.d"), conf, "10-podplane.conflist")
    assert path.endswith("net.d/10-podplane.conflist")
    assert load_conflist(path) == conf
    assert [p.name for p in (tmp_path / "net.d").iterdir()] == ["10-podplane.conflist"]  # no temp files


def test_plugin_config_injects_name_version_prev_result_and_declared_capabilities():
    conf = node_conflist("10.244.0.0/24")
    caps = {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}], "bandwidth": {}}
    first = plugin_config(conf, 0, capability_args=caps)
    assert first["name"] == "podplane" and first["cniVersion"] == "1.0.0"
    assert "prevResult" not in first
    assert "runtimeConfig" not in first  # bridge declares no capabilities
    second = plugin_config(conf, 1, prev_result=BRIDGE_RESULT, capability_args=caps)
    assert second["prevResult"] == BRIDGE_RESULT
    assert second["runtimeConfig"] == {"portMappings": caps["portMappings"]}  # not "bandwidth"
    assert "runtimeConfig" not in conf["plugins"][1]  # the list itself is not changed


def test_format_cni_args():
    assert format_cni_args({"K8S_POD_NAME": "web-0"}) == "IgnoreUnknown=1;K8S_POD_NAME=web-0"
    with pytest.raises(NetworkConfigError):
        format_cni_args({"K8S_POD_NAME": "a;b=c"})


def test_plugin_env():
    env = plugin_env(
        "ADD",
        "uid-1",
        "/var/run/netns/pp-uid-1",
        "eth0",
        cni_args={"K8S_POD_NAMESPACE": "default"},
        cni_path=("/usr/lib/cni",),
        path="/usr/bin",
    )
    assert env["CNI_COMMAND"] == "ADD"
    assert env["CNI_CONTAINERID"] == "uid-1"
    assert env["CNI_NETNS"] == "/var/run/netns/pp-uid-1"
    assert env["CNI_IFNAME"] == "eth0"
    assert env["CNI_PATH"] == "/usr/lib/cni"
    assert env["CNI_ARGS"] == "IgnoreUnknown=1;K8S_POD_NAMESPACE=default"
    # iptables (run by bridge and portmap) lives in /usr/sbin
    assert env["PATH"].split(":")[0] == "/usr/bin" and "/usr/sbin" in env["PATH"].split(":")


def test_port_mapping_to_cni():
    assert PortMapping(8080, 80).to_cni() == {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}
    assert PortMapping(53, 53, "UDP", "10.0.0.1").to_cni() == {
        "hostPort": 53,
        "containerPort": 53,
        "protocol": "udp",
        "hostIP": "10.0.0.1",
    }


# ----------------------------------------------------------------- results and errors


def test_parse_result_of_the_real_bridge_plugin():
    result = parse_result(json.dumps(BRIDGE_RESULT))
    assert result.cni_version == "1.0.0"
    assert [i.name for i in result.interfaces] == ["podplane0", "veth7b1a1861", "eth0"]
    ip = result.ip_of("eth0")
    assert ip is not None
    assert str(ip.address) == "10.244.3.2/24"
    assert str(ip.gateway) == "10.244.3.1"
    assert result.interface("eth0").mac == "82:6e:b7:9a:4d:33"
    assert result.interface("podplane0") is None  # a host interface, not in the sandbox
    assert [str(r.dst) for r in result.routes] == ["0.0.0.0/0"]
    assert result.raw == BRIDGE_RESULT


def test_parse_result_0_4_0_and_unbound_ip():
    result = parse_result(
        {
            "cniVersion": "0.4.0",
            "ips": [{"version": "4", "address": "10.1.0.5/16", "gateway": "10.1.0.1"}],
        }
    )
    assert str(result.ip_of("eth0").address.ip) == "10.1.0.5"
    assert result.ip_of("eth0", version=6) is None


def test_parse_result_picks_the_named_sandbox_interface():
    result = parse_result(
        {
            "cniVersion": "1.0.0",
            "interfaces": [{"name": "net1", "sandbox": "/ns"}, {"name": "eth0", "sandbox": "/ns"}],
            "ips": [
                {"interface": 0, "address": "192.168.0.2/24"},
                {"interface": 1, "address": "10.0.0.2/24"},
            ],
        }
    )
    assert str(result.ip_of("eth0").address.ip) == "10.0.0.2"
    assert result.ip_of("eth0").gateway is None


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[1]", id="not-object"),
        pytest.param(b'{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.2/24"}}', id="cni-0.2"),
        pytest.param(b'{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.300/24"}]}', id="bad-address"),
        pytest.param(b'{"cniVersion":"1.0.0","interfaces":[{"mac":"x"}]}', id="interface-without-name"),
    ],
)
def test_parse_result_rejects(data):
    with pytest.raises(CNIError) as err:
        parse_result(data, plugin="bridge")
    assert err.value.code == 6 and err.value.plugin == "bridge"


@pytest.mark.parametrize(
    "stdout,stderr,cls,code,msg",
    [
        pytest.param(
            b'{"code": 999, "msg": "failed to find plugin \\"nope\\" in path [/usr/lib/cni]"}',
            b"",
            CNIError,
            999,
            'failed to find plugin "nope" in path [/usr/lib/cni]',
            id="plugin-error",
        ),
        pytest.param(
            b'{"cniVersion":"1.0.0","code": 7, "msg": "invalid config", "details": "bridge: missing"}',
            b"",
            CNIConfigError,
            7,
            "invalid config",
            id="permanent-code",
        ),
        pytest.param(
            b"",
            b"panic: runtime error",
            CNIError,
            0,
            "exited with status 2: panic: runtime error",
            id="no-error-object",
        ),
        pytest.param(b"", b"", CNIError, 0, "exited with status 2", id="silent"),
    ],
)
def test_error_from_output(stdout, stderr, cls, code, msg):
    err = error_from_output("bridge", "ADD", 2, stdout, stderr)
    assert type(err) is cls
    assert (err.plugin, err.command, err.code, err.msg) == ("bridge", "ADD", code, msg)
    assert err.temporary is (cls is CNIError)
    assert "CNI plugin bridge ADD failed" in str(err)


def test_error_details_in_message():
    err = error_from_output(
        "portmap", "ADD", 1, b'{"code":100,"msg":"iptables failed","details":"exit 4"}', b""
    )
    assert str(err) == "CNI plugin portmap ADD failed (code 100): iptables failed; exit 4"


# ----------------------------------------------------------------- the client


@pytest.fixture
def host(tmp_path):
    return FakeHost(str(tmp_path))


def client(host: FakeHost, tmp_path, conflist=None) -> CNIClient:
    return CNIClient(
        conflist or node_conflist("10.244.0.0/24"),
        cache_dir=str(tmp_path / "results"),
        cni_path=(host.cni_bin,),
        runner=host,
    )


async def test_add_runs_plugins_in_order_and_chains_prev_result(host, tmp_path):
    cni = client(host, tmp_path)
    ports = {"portMappings": [PortMapping(8080, 80).to_cni()]}
    result = await cni.add(
        "uid-1", "/var/run/netns/pp-uid-1", cni_args={"K8S_POD_NAME": "web"}, capability_args=ports
    )
    assert host.plugin_calls() == [("bridge", "ADD", "eth0"), ("portmap", "ADD", "eth0")]
    bridge_call, portmap_call = host.calls
    assert "prevResult" not in bridge_call.stdin
    assert portmap_call.stdin["prevResult"]["ips"][0]["address"] == "10.244.0.2/24"
    assert portmap_call.stdin["runtimeConfig"] == ports
    assert portmap_call.env["CNI_ARGS"] == "IgnoreUnknown=1;K8S_POD_NAME=web"
    assert str(result.ip_of().address) == "10.244.0.2/24"
    assert host.port_maps["uid-1/eth0"] == ports["portMappings"]
    cached = cni.cached("uid-1")
    assert cached.result == result.raw
    assert cached.netns == "/var/run/netns/pp-uid-1"
    assert cached.capability_args == ports
    assert os.path.basename(cni.cache_path("uid-1")) == "podplane-uid-1-eth0.json"


async def test_del_runs_in_reverse_with_cached_result_even_after_a_restart(host, tmp_path):
    first = client(host, tmp_path)
    added = await first.add(
        "uid-1", "/ns/a", capability_args={"portMappings": [PortMapping(80, 80).to_cni()]}
    )
    host.calls.clear()
    # A new client over the same cache: what a restarted agent has.
    await client(host, tmp_path).delete("uid-1", "/ns/a")
    assert host.plugin_calls() == [("portmap", "DEL", "eth0"), ("bridge", "DEL", "eth0")]
    for call in host.calls:
        assert call.stdin["prevResult"] == added.raw
    assert host.calls[0].stdin["runtimeConfig"] == {"portMappings": [PortMapping(80, 80).to_cni()]}
    assert host.leases == {} and host.port_maps == {}
    assert first.cached("uid-1") is None


async def test_del_uses_the_cached_configuration(host, tmp_path):
    await client(host, tmp_path, node_conflist("10.244.0.0/24")).add("uid-1", "/ns/a")
    host.calls.clear()
    await client(host, tmp_path, node_conflist("10.99.0.0/24")).delete("uid-1", "")
    assert host.calls[-1].stdin["ipam"]["ranges"] == [[{"subnet": "10.244.0.0/24"}]]


async def test_del_is_idempotent_without_cache(host, tmp_path):
    cni = client(host, tmp_path)
    await cni.delete("never-added", "")
    await cni.delete("never-added", "")
    assert host.plugin_calls() == [("portmap", "DEL", "eth0"), ("bridge", "DEL", "eth0")] * 2
    assert all("prevResult" not in c.stdin for c in host.calls)


async def test_failed_add_is_rolled_back_and_reports_the_plugin(host, tmp_path):
    host.fail[("portmap", "ADD")] = (1, {"code": 999, "msg": "unable to create chain CNI-HOSTPORT-SETMARK"})
    cni = client(host, tmp_path)
    with pytest.raises(CNIError) as err:
        await cni.add("uid-1", "/ns/a")
    assert err.value.plugin == "portmap" and err.value.command == "ADD"
    assert "unable to create chain" in str(err.value)
    assert err.value.temporary
    assert host.plugin_calls() == [
        ("bridge", "ADD", "eth0"),
        ("portmap", "ADD", "eth0"),
        ("portmap", "DEL", "eth0"),
        ("bridge", "DEL", "eth0"),
    ]
    assert host.leases == {}  # the address was given back
    assert cni.cached("uid-1") is None


async def test_failed_rollback_keeps_the_cache_for_a_later_delete(host, tmp_path):
    host.fail[("portmap", "ADD")] = (1, {"code": 999, "msg": "boom"})
    host.fail[("bridge", "DEL")] = (1, {"code": 999, "msg": "busy"})
    cni = client(host, tmp_path)
    with pytest.raises(CNIError, match="boom"):
        await cni.add("uid-1", "/ns/a")
    assert cni.cached("uid-1") is not None and cni.cached("uid-1").result is None
    del host.fail[("bridge", "DEL")]
    await cni.delete("uid-1", "")
    assert cni.cached("uid-1") is None and host.leases == {}


async def test_del_tries_every_plugin_and_raises_the_first_error(host, tmp_path):
    cni = client(host, tmp_path)
    await cni.add("uid-1", "/ns/a")
    host.fail[("portmap", "DEL")] = (1, {"code": 999, "msg": "iptables locked"})
    with pytest.raises(CNIError, match="iptables locked"):
        await cni.delete("uid-1", "/ns/a")
    assert host.leases == {}  # bridge still ran
    assert cni.cached("uid-1") is not None  # kept for the retry


async def test_permanent_plugin_error(host, tmp_path):
    host.fail[("bridge", "ADD")] = (1, {"code": 7, "msg": "invalid network config"})
    with pytest.raises(CNIConfigError) as err:
        await client(host, tmp_path).add("uid-1", "/ns/a")
    assert not err.value.temporary


async def test_missing_plugin(host, tmp_path):
    os.unlink(os.path.join(host.cni_bin, "portmap"))
    with pytest.raises(ToolMissing, match="containernetworking-plugins"):
        await client(host, tmp_path).add("uid-1", "/ns/a")


async def test_check_uses_cached_result(host, tmp_path):
    cni = client(host, tmp_path)
    added = await cni.add("uid-1", "/ns/a")
    host.calls.clear()
    await cni.check("uid-1", "/ns/a")
    assert host.plugin_calls() == [("bridge", "CHECK", "eth0"), ("portmap", "CHECK", "eth0")]
    assert all(c.stdin["prevResult"] == added.raw for c in host.calls)
    with pytest.raises(CNIError, match="no cached result"):
        await cni.check("uid-2", "/ns/b")


async def test_version(host, tmp_path):
    cni = client(host, tmp_path)
    assert await cni.version() == {"bridge": host.versions, "portmap": host.versions}
    host.versions = ["0.3.1", "0.4.0"]
    with pytest.raises(CNIConfigError, match="does not support cniVersion 1.0.0"):
        await cni.version()


async def test_list_cached_and_ignores_other_networks_and_garbage(host, tmp_path):
    cni = client(host, tmp_path)
    loopback = client(host, tmp_path, loopback_conflist())
    await cni.add("uid-1", "/ns/a")
    await cni.add("uid-2", "/ns/b")
    await loopback.add("uid-1", "/ns/a", ifname="lo")
    (tmp_path / "results" / "podplane-broken-eth0.json").write_text("{")
    assert sorted(a.container_id for a in cni.list_cached()) == ["uid-1", "uid-2"]
    assert [(a.container_id, a.ifname) for a in loopback.list_cached()] == [("uid-1", "lo")]


@pytest.mark.parametrize(
    "container_id,ifname",
    [
        pytest.param("../x", "eth0", id="path-in-id"),
        pytest.param("uid", "eth0/x", id="path-in-ifname"),
        pytest.param("", "eth0", id="empty"),
    ],
)
async def test_ids_are_validated(host, tmp_path, container_id, ifname):
    with pytest.raises(NetworkConfigError):
        await client(host, tmp_path).add(container_id, "/ns/a", ifname=ifname)
