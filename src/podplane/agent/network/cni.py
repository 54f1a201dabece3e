"""CNI client (spec 1.0.0): the node's network configuration and the plugin protocol.

`node_conflist(pod_cidr)` is the node's network: `bridge` (podplane0, gateway, IP
masquerade, hairpin) with `host-local` IPAM over the node's pod CIDR, then `portmap`
for hostPorts; `loopback_conflist()` brings up each pod's `lo`. Both are written as
files by `write_conflist` and run by a `CNIClient`:

  ADD    each plugin in order; the result of one is the `prevResult` of the next and
         the last one is the attachment's result. `runtimeConfig` carries only the
         capabilities a plugin declares (portMappings for portmap).
  DEL    each plugin in reverse order, with the cached ADD result as `prevResult`;
         idempotent: without a cached result it still runs, so addresses are freed.
  CHECK  each plugin in order, with the cached result.

A plugin is the program `<CNI_PATH>/<type>` with CNI_COMMAND, CNI_CONTAINERID,
CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH in its environment and its configuration on
stdin; it prints a result (ADD) or an error object. Results are cached per attachment
under the data dir (like libcni's /var/lib/cni/results), written *before* ADD starts
and completed after it, so DEL works after an agent restart or a crash mid-ADD.
Pure helpers (config, results, errors) are unit tested; `sandbox.PodNetwork` uses the client.
"""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import json
import logging
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podplane.agent.network._command import Runner, run
from podplane.agent.network.errors import (
    CNIConfigError,
    CNIError,
    NetworkConfigError,
    NetworkError,
    ToolMissing,
)

__all__ = [
    "BRIDGE_NAME",
    "CNI_VERSION",
    "CONFLIST_FILE",
    "DEFAULT_CNI_PATH",
    "LOOPBACK_CONFLIST_FILE",
    "LOOPBACK_NETWORK",
    "NETWORK_NAME",
    "Attachment",
    "CNIClient",
    "CNIResult",
    "IPConfig",
    "Interface",
    "PortMapping",
    "Route",
    "error_from_output",
    "format_cni_args",
    "load_conflist",
    "loopback_conflist",
    "cache_path",
    "list_cached",
    "node_conflist",
    "parse_result",
    "plugin_config",
    "plugin_env",
    "read_cached",
    "validate_conflist",
    "write_conflist",
]

log = logging.getLogger(__name__)

CNI_VERSION = "1.0.0"
DEFAULT_CNI_PATH = ("/usr/lib/cni", "/opt/cni/bin")
"""Debian's containernetworking-plugins install to /usr/lib/cni; upstream tarballs to /opt/cni/bin."""
NETWORK_NAME = "podplane"
BRIDGE_NAME = "podplane0"
LOOPBACK_NETWORK = "cni-loopback"
"""containerd's name for the loopback network; it has its own cache entries (ifname lo)."""
CONFLIST_FILE = "10-podplane.conflist"
LOOPBACK_CONFLIST_FILE = "99-loopback.conflist"
PLUGIN_TIMEOUT = 60.0
"""Seconds one plugin invocation may take (a bridge ADD takes ~10-50 ms; iptables locks can stall)."""

_STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Spec error codes that mean "your configuration or environment is wrong": retrying is useless.
_PERMANENT_CODES = frozenset({1, 2, 4, 6, 7})
_CONTAINER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_IFNAME = re.compile(r"^[^/:\s]{1,15}$")
_PLUGIN_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_CACHE_KIND = "cniCacheV1"


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class PortMapping:
    """One hostPort, as the portmap plugin's `runtimeConfig.portMappings` entry."""

    host_port: int
    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""

    def to_cni(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "hostPort": self.host_port,
            "containerPort": self.container_port,
            "protocol": self.protocol.lower(),
        }
        if self.host_ip:
            entry["hostIP"] = self.host_ip
        return entry


def node_conflist(
    pod_cidr: str,
    *,
    name: str = NETWORK_NAME,
    bridge: str = BRIDGE_NAME,
    ipam_data_dir: str = "",
    mtu: int = 0,
) -> dict[str, Any]:
    """The node's pod network: bridge + host-local over `pod_cidr`, then portmap.

    `ipam_data_dir` keeps host-local's address leases under the agent's data dir
    instead of the shared /var/lib/cni/networks; `mtu` 0 leaves the kernel default.
    """
    try:
        net = ipaddress.ip_network(pod_cidr, strict=True)
    except ValueError as e:
        raise NetworkConfigError(f"invalid pod CIDR {pod_cidr!r}: {e}") from e
    if net.version != 4 or net.prefixlen > 30:
        raise NetworkConfigError(f"pod CIDR {pod_cidr} must be an IPv4 network of at least 4 addresses (/30)")
    if not _IFNAME.match(bridge):
        raise NetworkConfigError(f"invalid bridge name {bridge!r}")
    ipam: dict[str, Any] = {
        "type": "host-local",
        "ranges": [[{"subnet": str(net)}]],
        "routes": [{"dst": "0.0.0.0/0"}],
    }
    if ipam_data_dir:
        ipam["dataDir"] = ipam_data_dir
    bridge_plugin: dict[str, Any] = {
        "type": "bridge",
        "bridge": bridge,
        "isGateway": True,  # the bridge holds the pod CIDR's first address, the pods' default gateway
        "ipMasq": True,  # pods reach the node's networks with the node's address
        "hairpinMode": True,  # a pod reaching itself through a Service IP or hostPort
        "ipam": ipam,
    }
    if mtu:
        bridge_plugin["mtu"] = mtu
    return {
        "cniVersion": CNI_VERSION,
        "name": name,
        "plugins": [
            bridge_plugin,
            {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
        ],
    }


def loopback_conflist() -> dict[str, Any]:
    """The pod's `lo` (run with CNI_IFNAME=lo), kept separate as containerd does."""
    return {"cniVersion": CNI_VERSION, "name": LOOPBACK_NETWORK, "plugins": [{"type": "loopback"}]}


def validate_conflist(conflist: Any) -> dict[str, Any]:
    """`conflist` if it has the shape of a network configuration list, else `NetworkConfigError`."""
    if not isinstance(conflist, dict):
        raise NetworkConfigError("a CNI network configuration list must be a JSON object")
    name = conflist.get("name")
    if not isinstance(name, str) or not _CONTAINER_ID.match(name):
        raise NetworkConfigError(f"invalid CNI network name {name!r}")
    if not isinstance(conflist.get("cniVersion"), str):
        raise NetworkConfigError(f"CNI network {name}: cniVersion is missing")
    plugins = conflist.get("plugins")
    if not isinstance(plugins, list) or not plugins:
        raise NetworkConfigError(f"CNI network {name}: plugins must be a non-empty list")
    for plugin in plugins:
        kind = plugin.get("type") if isinstance(plugin, dict) else None
        if not isinstance(kind, str) or not _PLUGIN_TYPE.match(kind):
            raise NetworkConfigError(f"CNI network {name}: invalid plugin type {kind!r}")
    return conflist


def write_conflist(conf_dir: str, conflist: Mapping[str, Any], filename: str = "") -> str:
    """Write `conflist` as `<conf_dir>/<filename>` atomically; return the path."""
    validate_conflist(conflist)
    path = os.path.join(conf_dir, filename or f"{conflist['name']}.conflist")
    _write_json(path, conflist)
    return path


def load_conflist(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise NetworkConfigError(f"cannot read CNI configuration {path}: {e}") from e
    return validate_conflist(data)


def plugin_config(
    conflist: Mapping[str, Any],
    index: int,
    *,
    prev_result: Mapping[str, Any] | None = None,
    capability_args: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The stdin configuration of the `index`-th plugin of `conflist` (pure).

    The list's `name` and `cniVersion` are copied in, `prevResult` is set when given,
    and `runtimeConfig` receives only the capability arguments the plugin declares in
    its `capabilities` (as libcni does).
    """
    conf = copy.deepcopy(dict(conflist["plugins"][index]))
    conf["cniVersion"] = conflist["cniVersion"]
    conf["name"] = conflist["name"]
    if prev_result is not None:
        conf["prevResult"] = copy.deepcopy(dict(prev_result))
    declared = conf.get("capabilities") or {}
    runtime = {k: copy.deepcopy(v) for k, v in (capability_args or {}).items() if declared.get(k)}
    if runtime:
        conf["runtimeConfig"] = {**conf.get("runtimeConfig", {}), **runtime}
    return conf


def format_cni_args(args: Mapping[str, str]) -> str:
    """CNI_ARGS: `K=V;K=V`, with IgnoreUnknown so plugins accept keys they do not know."""
    items = {"IgnoreUnknown": "1", **args}
    for k, v in items.items():
        if not k or any(c in f"{k}{v}" for c in ";=\0"):
            raise NetworkConfigError(f"invalid CNI argument {k}={v!r}")
    return ";".join(f"{k}={v}" for k, v in items.items())


def plugin_env(
    command: str,
    container_id: str,
    netns: str,
    ifname: str,
    *,
    cni_args: Mapping[str, str] | None = None,
    cni_path: Sequence[str] = DEFAULT_CNI_PATH,
    path: str | None = None,
) -> dict[str, str]:
    """The environment of one plugin invocation (pure).

    PATH is kept (with the standard sbin directories) because bridge (ipMasq) and
    portmap run `iptables`.
    """
    search = path if path is not None else os.environ.get("PATH", "")
    dirs = [d for d in search.split(":") if d]
    dirs += [d for d in _STANDARD_PATH.split(":") if d not in dirs]
    return {
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": container_id,
        "CNI_NETNS": netns,
        "CNI_IFNAME": ifname,
        "CNI_ARGS": format_cni_args(cni_args or {}),
        "CNI_PATH": ":".join(cni_path),
        "PATH": ":".join(dirs),
    }


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Interface:
    name: str
    mac: str = ""
    sandbox: str = ""
    """The namespace path for interfaces inside the container; empty for host interfaces."""


@dataclass(frozen=True)
class IPConfig:
    address: ipaddress.IPv4Interface | ipaddress.IPv6Interface
    gateway: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    interface: int | None = None
    """Index into `CNIResult.interfaces`."""


@dataclass(frozen=True)
class Route:
    dst: ipaddress.IPv4Network | ipaddress.IPv6Network
    gw: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None


@dataclass(frozen=True)
class CNIResult:
    cni_version: str
    interfaces: tuple[Interface, ...] = ()
    ips: tuple[IPConfig, ...] = ()
    routes: tuple[Route, ...] = ()
    dns: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def ip_of(self, ifname: str = "eth0", version: int = 4) -> IPConfig | None:
        """The first address of `version` on the sandbox interface `ifname`.

        Falls back to an address without an interface index (allowed by the spec).
        """
        unbound = None
        for ip in self.ips:
            if ip.address.version != version:
                continue
            if ip.interface is None:
                unbound = unbound or ip
                continue
            if 0 <= ip.interface < len(self.interfaces):
                itf = self.interfaces[ip.interface]
                if itf.name == ifname and itf.sandbox:
                    return ip
        return unbound

    def interface(self, ifname: str = "eth0") -> Interface | None:
        return next((i for i in self.interfaces if i.name == ifname and i.sandbox), None)


def parse_result(
    data: bytes | str | Mapping[str, Any], *, plugin: str = "", command: str = "ADD"
) -> CNIResult:
    """A CNI result (spec 0.3.0-1.0.0 shape) from a plugin's stdout or the cache.

    Raises `CNIError` (code 6, "failed to decode") for output that is not a result.
    """

    def bad(why: str) -> CNIError:
        return CNIError(plugin or "?", command, 6, f"invalid result: {why}")

    if isinstance(data, (bytes, str)):
        try:
            obj = json.loads(data)
        except ValueError as e:
            raise bad(f"not JSON ({e})") from e
    else:
        obj = data
    if not isinstance(obj, Mapping):
        raise bad("not a JSON object")
    if "ip4" in obj or "ip6" in obj:
        raise bad("CNI 0.2.0 results are not supported")
    try:
        interfaces = tuple(
            Interface(str(i["name"]), str(i.get("mac", "")), str(i.get("sandbox", "")))
            for i in obj.get("interfaces") or ()
        )
        ips = tuple(
            IPConfig(
                ipaddress.ip_interface(ip["address"]),
                ipaddress.ip_address(ip["gateway"]) if ip.get("gateway") else None,
                int(ip["interface"]) if ip.get("interface") is not None else None,
            )
            for ip in obj.get("ips") or ()
        )
        routes = tuple(
            Route(
                ipaddress.ip_network(r["dst"], strict=False),
                ipaddress.ip_address(r["gw"]) if r.get("gw") else None,
            )
            for r in obj.get("routes") or ()
        )
    except (KeyError, TypeError, ValueError) as e:
        raise bad(f"{type(e).__name__}: {e}") from e
    dns = obj.get("dns") or {}
    return CNIResult(str(obj.get("cniVersion", "")), interfaces, ips, routes, dict(dns), dict(obj))


def error_from_output(plugin: str, command: str, returncode: int, stdout: bytes, stderr: bytes) -> CNIError:
    """The typed error for a failed plugin run, from the error object it printed (pure)."""
    code, msg, details = 0, "", ""
    try:
        obj = json.loads(stdout) if stdout.strip() else None
    except ValueError:
        obj = None
    if isinstance(obj, Mapping) and ("code" in obj or "msg" in obj):
        try:
            code = int(obj.get("code", 0))
        except (TypeError, ValueError):
            code = 0
        msg = str(obj.get("msg", ""))
        details = str(obj.get("details", ""))
    if not msg:
        text = (stderr or stdout).decode(errors="replace").strip()
        msg = f"exited with status {returncode}" + (f": {text[-2000:]}" if text else "")
    cls = CNIConfigError if code in _PERMANENT_CODES else CNIError
    return cls(plugin, command, code, msg, details)


# --------------------------------------------------------------------------- the cache


@dataclass(frozen=True)
class Attachment:
    """One cached attachment (network × container × interface), as libcni caches them.

    `result` is None while ADD has started but not finished: DEL must still run then.
    """

    network_name: str
    container_id: str
    ifname: str
    netns: str
    config: Mapping[str, Any]
    """The configuration list ADD used; DEL and CHECK use it too, even if the node's changed."""
    cni_args: Mapping[str, str] = field(default_factory=dict)
    capability_args: Mapping[str, Any] = field(default_factory=dict)
    result: Mapping[str, Any] | None = None

    def parsed(self) -> CNIResult | None:
        return None if self.result is None else parse_result(self.result, command="cache")

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": _CACHE_KIND,
            "networkName": self.network_name,
            "containerId": self.container_id,
            "ifName": self.ifname,
            "netns": self.netns,
            "config": self.config,
            "cniArgs": dict(self.cni_args),
            "capabilityArgs": dict(self.capability_args),
            "result": self.result,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Attachment:
        if obj.get("kind") != _CACHE_KIND:
            raise ValueError(f"not a {_CACHE_KIND} record")
        return cls(
            network_name=str(obj["networkName"]),
            container_id=str(obj["containerId"]),
            ifname=str(obj["ifName"]),
            netns=str(obj.get("netns", "")),
            config=validate_conflist(obj["config"]),
            cni_args=dict(obj.get("cniArgs") or {}),
            capability_args=dict(obj.get("capabilityArgs") or {}),
            result=obj.get("result"),
        )


def _write_json(path: str, obj: Any) -> None:
    """Write atomically and durably: a reader sees the old or the new file, never half."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def cache_path(cache_dir: str, network: str, container_id: str, ifname: str = "eth0") -> str:
    """`<cache_dir>/<network>-<container id>-<ifname>.json`, libcni's naming."""
    _check_ids(container_id, ifname)
    return os.path.join(cache_dir, f"{network}-{container_id}-{ifname}.json")


def read_cached(cache_dir: str, network: str, container_id: str, ifname: str = "eth0") -> Attachment | None:
    """The cached attachment, or None (also for an unreadable entry, which is logged)."""
    path = cache_path(cache_dir, network, container_id, ifname)
    try:
        with open(path, "rb") as f:
            return Attachment.from_json(json.load(f))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, NetworkError) as e:
        log.warning("ignoring unreadable CNI cache entry %s: %s", path, e)
        return None


def list_cached(cache_dir: str, network: str) -> list[Attachment]:
    """Every readable cached attachment of `network`, sorted by file name."""
    try:
        names = sorted(os.listdir(cache_dir))
    except FileNotFoundError:
        return []
    found = []
    for fname in names:
        if not (fname.startswith(f"{network}-") and fname.endswith(".json")):
            continue
        try:
            with open(os.path.join(cache_dir, fname), "rb") as f:
                att = Attachment.from_json(json.load(f))
        except (OSError, ValueError, KeyError, TypeError, NetworkError) as e:
            log.warning("ignoring unreadable CNI cache entry %s: %s", fname, e)
            continue
        if att.network_name == network:
            found.append(att)
    return found


# --------------------------------------------------------------------------- the client


class CNIClient:
    """Runs one network configuration list's plugins for containers (libcni's role)."""

    def __init__(
        self,
        conflist: Mapping[str, Any],
        *,
        cache_dir: str,
        cni_path: Sequence[str] = DEFAULT_CNI_PATH,
        runner: Runner = run,
        timeout: float = PLUGIN_TIMEOUT,
    ) -> None:
        self.conflist = validate_conflist(copy.deepcopy(dict(conflist)))
        self.cache_dir = cache_dir
        self.cni_path = tuple(cni_path)
        self._run = runner
        self.timeout = timeout

    @property
    def name(self) -> str:
        return self.conflist["name"]

    # -- plugins

    def find_plugin(self, kind: str) -> str:
        for d in self.cni_path:
            path = os.path.join(d, kind)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
        raise ToolMissing(
            f"CNI plugin {kind!r} (searched {':'.join(self.cni_path)})", "containernetworking-plugins"
        )

    async def version(self) -> dict[str, list[str]]:
        """Each plugin's supported versions (CNI_COMMAND=VERSION); `CNIConfigError` if one
        does not support this list's cniVersion, `ToolMissing` if one is not installed."""
        out: dict[str, list[str]] = {}
        want = self.conflist["cniVersion"]
        for plugin in self.conflist["plugins"]:
            kind = plugin["type"]
            conf = json.dumps({"cniVersion": want}).encode()
            env = {"CNI_COMMAND": "VERSION", "CNI_PATH": ":".join(self.cni_path)}
            stdout = await self._exec(kind, "VERSION", conf, env)
            try:
                versions = [str(v) for v in json.loads(stdout).get("supportedVersions", [])]
            except (ValueError, AttributeError) as e:
                raise CNIError(kind, "VERSION", 6, f"invalid VERSION output: {e}") from e
            if want not in versions:
                raise CNIConfigError(
                    kind, "VERSION", 1, f"does not support cniVersion {want} (only {versions})"
                )
            out[kind] = versions
        return out

    async def _exec(self, kind: str, command: str, conf: bytes, env: Mapping[str, str]) -> bytes:
        path = self.find_plugin(kind)
        done = await self._run((path,), input=conf, env=env, time_limit=self.timeout)
        if done.stderr:
            log.debug("CNI %s %s stderr: %s", kind, command, done.stderr.decode(errors="replace").strip())
        if done.returncode != 0:
            raise error_from_output(kind, command, done.returncode, done.stdout, done.stderr)
        return done.stdout

    async def _invoke(
        self,
        config: Mapping[str, Any],
        index: int,
        command: str,
        container_id: str,
        netns: str,
        ifname: str,
        *,
        cni_args: Mapping[str, str],
        capability_args: Mapping[str, Any],
        prev_result: Mapping[str, Any] | None,
    ) -> bytes:
        conf = plugin_config(config, index, prev_result=prev_result, capability_args=capability_args)
        env = plugin_env(command, container_id, netns, ifname, cni_args=cni_args, cni_path=self.cni_path)
        return await self._exec(conf["type"], command, json.dumps(conf).encode(), env)

    # -- the cache

    def cache_path(self, container_id: str, ifname: str = "eth0") -> str:
        return cache_path(self.cache_dir, self.name, container_id, ifname)

    def cached(self, container_id: str, ifname: str = "eth0") -> Attachment | None:
        return read_cached(self.cache_dir, self.name, container_id, ifname)

    def list_cached(self) -> list[Attachment]:
        """Every attachment of this network in the cache (after a restart: what to adopt)."""
        return list_cached(self.cache_dir, self.name)

    def _forget(self, container_id: str, ifname: str) -> None:
        try:
            os.unlink(self.cache_path(container_id, ifname))
        except FileNotFoundError:
            pass

    # -- the operations

    async def add(
        self,
        container_id: str,
        netns: str,
        *,
        ifname: str = "eth0",
        cni_args: Mapping[str, str] | None = None,
        capability_args: Mapping[str, Any] | None = None,
    ) -> CNIResult:
        """Attach the container's namespace to this network; return the final result.

        On failure the plugins that may have run are deleted again (best effort) and the
        plugin's error is raised; if that cleanup fails too, the cache entry stays so a
        later `delete` can finish it.
        """
        _check_ids(container_id, ifname)
        if not netns:
            raise NetworkConfigError("CNI ADD needs a network namespace path")
        att = Attachment(
            self.name,
            container_id,
            ifname,
            netns,
            self.conflist,
            dict(cni_args or {}),
            copy.deepcopy(dict(capability_args or {})),
        )
        _write_json(self.cache_path(container_id, ifname), att.to_json())  # intent: DEL must follow
        prev: Mapping[str, Any] | None = None
        try:
            for index in range(len(self.conflist["plugins"])):
                stdout = await self._invoke(
                    self.conflist,
                    index,
                    "ADD",
                    container_id,
                    netns,
                    ifname,
                    cni_args=att.cni_args,
                    capability_args=att.capability_args,
                    prev_result=prev,
                )
                prev = parse_result(stdout, plugin=self.conflist["plugins"][index]["type"]).raw
        except (NetworkError, OSError) as failure:
            # (Cancelled: the intent entry stays, and the pod's teardown or gc deletes it.)
            try:
                await self.delete(container_id, netns, ifname=ifname)
            except (NetworkError, OSError) as e:
                log.warning("cleanup after failed CNI ADD of %s/%s: %s", container_id, ifname, e)
            if isinstance(failure, OSError):
                raise NetworkError(f"CNI ADD of {container_id}/{ifname}: {failure}") from failure
            raise
        assert prev is not None
        final = dataclasses.replace(att, result=dict(prev))
        _write_json(self.cache_path(container_id, ifname), final.to_json())
        return parse_result(prev)

    async def check(self, container_id: str, netns: str, *, ifname: str = "eth0") -> None:
        """Ask every plugin whether the attachment is still as ADD left it (raises if not)."""
        att = self.cached(container_id, ifname)
        if att is None or att.result is None:
            raise CNIError(self.name, "CHECK", 3, f"no cached result for {container_id}/{ifname}")
        if att.config.get("disableCheck"):
            return
        for index in range(len(att.config["plugins"])):
            await self._invoke(
                att.config,
                index,
                "CHECK",
                container_id,
                netns,
                ifname,
                cni_args=att.cni_args,
                capability_args=att.capability_args,
                prev_result=att.result,
            )

    async def delete(self, container_id: str, netns: str = "", *, ifname: str = "eth0") -> None:
        """Detach: every plugin in reverse order; idempotent, also without a cached result.

        `netns` is empty when the namespace is already gone (plugins then only release
        what lives outside it: addresses, port mappings). Every plugin is tried even if
        one fails, so one failure does not leak the others' state; the first error is
        raised and the cache entry is kept for the retry.
        """
        att = self.cached(container_id, ifname)
        config = att.config if att is not None else self.conflist
        first: NetworkError | None = None
        for index in reversed(range(len(config["plugins"]))):
            try:
                await self._invoke(
                    config,
                    index,
                    "DEL",
                    container_id,
                    netns,
                    ifname,
                    cni_args=att.cni_args if att else {},
                    capability_args=att.capability_args if att else {},
                    prev_result=att.result if att else None,
                )
            except NetworkError as e:
                log.warning("CNI DEL of %s/%s: %s", container_id, ifname, e)
                first = first or e
        if first is not None:
            raise first
        self._forget(container_id, ifname)


def _check_ids(container_id: str, ifname: str) -> None:
    if not _CONTAINER_ID.match(container_id):
        raise NetworkConfigError(f"invalid CNI container id {container_id!r}")
    if not _IFNAME.match(ifname):
        raise NetworkConfigError(f"invalid interface name {ifname!r}")
