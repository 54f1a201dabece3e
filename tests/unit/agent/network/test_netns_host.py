"""Named namespaces (`netns`) and host preparation (`host`) against a fake `ip`/`sysctl`."""

from __future__ import annotations

import os

import pytest

from podplane.agent.network import host as hostprep
from podplane.agent.network import netns
from podplane.agent.network._command import Completed, check, run
from podplane.agent.network.errors import CommandFailed, CommandTimeout, NetworkConfigError, ToolMissing

from .fakehost import FakeHost, touch


@pytest.fixture
def fake(tmp_path):
    return FakeHost(str(tmp_path))


# ----------------------------------------------------------------- netns


@pytest.mark.parametrize(
    "names,prefix,keep,want",
    [
        pytest.param(["pp-a", "pp-b", "other"], "pp-", ["a"], ["pp-b"], id="keeps-live-pods-and-foreign"),
        pytest.param(["pp-a"], "pp-", [], ["pp-a"], id="all-orphans"),
        pytest.param(["ppt-x-a", "pp-a"], "ppt-x-", ["zzz"], ["ppt-x-a"], id="prefix-is-exact"),
        pytest.param([], "pp-", [], [], id="none"),
    ],
)
def test_orphans(names, prefix, keep, want):
    assert netns.orphans(names, prefix, keep) == want


@pytest.mark.parametrize("name", ["", "../etc", "a/b", ".hidden", "x" * 201, "a b"])
def test_invalid_names(name):
    with pytest.raises(NetworkConfigError):
        netns.netns_path(name)


async def test_create_delete_and_idempotence(fake, monkeypatch):
    d = fake.netns_dir
    monkeypatch.setattr(netns, "is_live", lambda name, netns_dir=d: netns.exists(name, netns_dir))
    path = await netns.create("pp-a", runner=fake, netns_dir=d)
    assert path == os.path.join(d, "pp-a") and netns.exists("pp-a", d)
    assert await netns.create("pp-a", runner=fake, netns_dir=d) == path  # exist_ok
    with pytest.raises(CommandFailed, match="already exists"):
        await netns.create("pp-a", exist_ok=False, runner=fake, netns_dir=d)
    assert await netns.delete("pp-a", runner=fake, netns_dir=d) is True
    assert await netns.delete("pp-a", runner=fake, netns_dir=d) is False
    assert fake.commands() == ["ip netns add pp-a", "ip netns delete pp-a"]


async def test_create_replaces_a_stale_entry(fake):
    # A plain file is not a mount: `is_live` is False, so it is removed and recreated.
    d = fake.netns_dir
    touch(os.path.join(d, "pp-a"))
    assert not netns.is_live("pp-a", d)
    await netns.create("pp-a", runner=fake, netns_dir=d)
    assert fake.commands() == ["ip netns delete pp-a", "ip netns add pp-a"]


async def test_create_failure_is_reported(fake):
    async def failing(argv, **kw):
        return Completed(
            tuple(argv), 1, b"", b"mount --make-shared /run/netns failed: Operation not permitted"
        )

    with pytest.raises(CommandFailed) as err:
        await netns.create("pp-a", runner=failing, netns_dir=fake.netns_dir)
    assert err.value.returncode == 1
    assert "Operation not permitted" in str(err.value) and "ip netns add pp-a" in str(err.value)


async def test_gc_deletes_only_orphans_with_the_prefix(fake):
    d = fake.netns_dir
    for n in ("pp-a", "pp-b", "other"):
        touch(os.path.join(d, n))
    assert await netns.gc("pp-", ["a"], runner=fake, netns_dir=d) == ["pp-b"]
    assert sorted(os.listdir(d)) == ["other", "pp-a"]
    with pytest.raises(NetworkConfigError):
        await netns.gc("", [], runner=fake, netns_dir=d)


async def test_exec_in_and_link_up(fake):
    recorded = []

    async def runner(argv, **kw):
        recorded.append(tuple(argv))
        return Completed(tuple(argv), 0, b"ok", b"")

    done = await netns.exec_in("pp-a", ["ip", "addr"], runner=runner)
    assert done.stdout == b"ok"
    await netns.set_link_up("pp-a", runner=runner)
    assert recorded == [
        ("ip", "netns", "exec", "pp-a", "ip", "addr"),
        ("ip", "-n", "pp-a", "link", "set", "lo", "up"),
    ]


# ----------------------------------------------------------------- the real runner


async def test_run_checks_status_and_wraps_missing_programs():
    done = await run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (done.returncode, done.stdout, done.stderr) == (3, b"out\n", b"err\n")
    with pytest.raises(CommandFailed, match="exited with status 3: err"):
        check(done)
    assert (await run(["cat"], input=b"hello")).stdout == b"hello"
    with pytest.raises(ToolMissing):
        await run(["/nonexistent/podplane-tool"])


async def test_run_kills_on_timeout():
    with pytest.raises(CommandTimeout):
        await run(["sleep", "10"], time_limit=0.1)


def test_tool_missing_names_the_debian_package():
    assert str(ToolMissing("ip")) == "ip not found: install the Debian package iproute2"
    assert ToolMissing("nft").package == "nftables"
    assert not ToolMissing("ip").temporary


# ----------------------------------------------------------------- host preparation


async def test_service_route_installed_when_absent(fake):
    assert await hostprep.ensure_service_route("10.43.0.0/16", runner=fake) is True
    assert fake.routes == {"10.43.0.0/16": "unreachable"}
    assert fake.commands() == [
        "ip -4 route show exact 10.43.0.0/16 table main",
        "ip -4 route replace unreachable 10.43.0.0/16 table main",
        "ip -4 route show exact 10.43.0.0/16 table main",
    ]


async def test_existing_local_route_is_kept(fake):
    fake.routes["10.43.0.0/16"] = "blackhole"
    assert await hostprep.ensure_service_route("10.43.0.0/16", runner=fake) is False
    assert fake.routes == {"10.43.0.0/16": "blackhole"}


async def test_route_off_the_node_is_replaced(fake):
    fake.routes["10.43.0.0/16"] = "unicast"
    assert await hostprep.service_route("10.43.0.0/16", runner=fake) == "unicast"
    assert await hostprep.ensure_service_route("10.43.0.0/16", route_type="blackhole", runner=fake) is True
    assert fake.routes == {"10.43.0.0/16": "blackhole"}


async def test_route_that_does_not_stick_is_an_error():
    async def runner(argv, **kw):
        return Completed(tuple(argv), 0, b"", b"")  # `ip` "succeeds" but nothing shows up

    with pytest.raises(CommandFailed, match="missing after installing it"):
        await hostprep.ensure_service_route("10.43.0.0/16", runner=runner)


@pytest.mark.parametrize(
    "cidr,kind",
    [
        pytest.param("10.43.0.1/16", "unreachable", id="host-bits"),
        pytest.param("10.43.0.0/16", "via", id="bad-type"),
    ],
)
async def test_route_arguments_validated(fake, cidr, kind):
    with pytest.raises(NetworkConfigError):
        await hostprep.ensure_service_route(cidr, route_type=kind, runner=fake)
    assert fake.calls == []


async def test_sysctl(fake):
    assert await hostprep.set_sysctl("net.ipv4.ip_forward", "1", runner=fake) is True
    assert await hostprep.set_sysctl("net.ipv4.ip_forward", "1", runner=fake) is False
    assert fake.sysctls["net.ipv4.ip_forward"] == "1"
    assert await hostprep.get_sysctl("net.nope", runner=fake) is None
    assert await hostprep.set_sysctl("net.nope", "1", optional=True, runner=fake) is False
    with pytest.raises(CommandFailed, match="does not exist"):
        await hostprep.set_sysctl("net.nope", "1", runner=fake)


@pytest.mark.parametrize(
    "cidr,want",
    [
        pytest.param("10.43.0.0/16", "10.43.0.10", id="k3s-default"),
        pytest.param("10.96.0.0/12", "10.96.0.10", id="upstream"),
    ],
)
def test_cluster_dns_ip(cidr, want):
    assert hostprep.cluster_dns_ip(cidr) == want
