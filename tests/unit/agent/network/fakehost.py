"""A fake host for the network layer's unit tests: plays `ip`, `sysctl` and CNI plugins.

`FakeHost` is a `Runner`: it records every call (argv, parsed stdin, env) and answers
like the real programs would, keeping namespaces as files in a temporary directory,
routes and sysctls in dicts, and host-local-like address leases per container. CNI
plugins are executables in a temporary CNI_PATH whose behaviour lives here; `fail`
makes one (plugin, command) fail with an error object.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podplane.agent.network._command import Completed


@dataclass
class Call:
    argv: tuple[str, ...]
    stdin: Any = None
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def plugin(self) -> str:
        return os.path.basename(self.argv[0])

    @property
    def command(self) -> str:
        return self.env.get("CNI_COMMAND", "")


class FakeHost:
    def __init__(
        self, root: str, plugins: Sequence[str] = ("bridge", "host-local", "portmap", "loopback")
    ) -> None:
        self.netns_dir = os.path.join(root, "netns")
        self.cni_bin = os.path.join(root, "cni-bin")
        os.makedirs(self.netns_dir)
        os.makedirs(self.cni_bin)
        for p in plugins:
            path = os.path.join(self.cni_bin, p)
            with open(path, "w") as f:
                f.write("#!/bin/false\n")
            os.chmod(path, 0o755)
        self.calls: list[Call] = []
        self.routes: dict[str, str] = {}  # prefix -> type ("unicast" for `dev ...` routes)
        self.sysctls: dict[str, str] = {"net.ipv4.ip_forward": "0", "net.bridge.bridge-nf-call-iptables": "0"}
        self.leases: dict[str, str] = {}  # container id/ifname -> address
        self.port_maps: dict[str, list[dict]] = {}
        self.fail: dict[tuple[str, str], tuple[int, dict | str]] = {}
        self.versions = ["0.3.1", "0.4.0", "1.0.0"]

    # -- views for assertions

    def plugin_calls(self) -> list[tuple[str, str, str]]:
        """(plugin, command, ifname) of every plugin run, in order."""
        return [(c.plugin, c.command, c.env.get("CNI_IFNAME", "")) for c in self.calls if c.command]

    def commands(self) -> list[str]:
        """Every non-plugin command line, in order."""
        return [" ".join(c.argv) for c in self.calls if not c.command]

    # -- the Runner

    async def __call__(self, argv, *, input=None, env=None, time_limit=30.0) -> Completed:
        argv = tuple(argv)
        stdin = json.loads(input) if input else None
        call = Call(argv, stdin, dict(env or {}))
        self.calls.append(call)
        if argv[0] == "ip":
            return self._ip(argv)
        if argv[0] == "sysctl":
            return self._sysctl(argv)
        if argv[0].startswith(self.cni_bin):
            return self._plugin(call)
        return Completed(argv, 127, b"", f"{argv[0]}: not faked".encode())

    def _ip(self, argv: tuple[str, ...]) -> Completed:
        ok = Completed(argv, 0, b"", b"")
        if argv[1:3] == ("netns", "add"):
            path = os.path.join(self.netns_dir, argv[3])
            if os.path.exists(path):
                return Completed(argv, 1, b"", f'Cannot create namespace file "{path}": File exists'.encode())
            open(path, "w").close()
            return ok
        if argv[1:3] == ("netns", "delete"):
            path = os.path.join(self.netns_dir, argv[3])
            if not os.path.exists(path):
                return Completed(argv, 1, b"", b"Cannot remove namespace file: No such file or directory")
            os.unlink(path)
            return ok
        if argv[2:5] == ("route", "show", "exact"):
            kind = self.routes.get(argv[5])
            if kind is None:
                return ok
            line = f"{argv[5]} dev eth0 scope link" if kind == "unicast" else f"{kind} {argv[5]}"
            return Completed(argv, 0, (line + "\n").encode(), b"")
        if argv[2:4] == ("route", "replace"):
            self.routes[argv[5]] = argv[4]
            return ok
        if argv[1] == "-n" and argv[3:] == ("link", "set", "lo", "up"):
            return ok
        return Completed(argv, 1, b"", f"fake ip: unsupported {argv}".encode())

    def _sysctl(self, argv: tuple[str, ...]) -> Completed:
        if argv[1] == "-n":
            if argv[2] not in self.sysctls:
                path = "/proc/sys/" + argv[2].replace(".", "/")
                return Completed(
                    argv, 255, b"", f"sysctl: cannot stat {path}: No such file or directory".encode()
                )
            return Completed(argv, 0, (self.sysctls[argv[2]] + "\n").encode(), b"")
        if argv[1] == "-w":
            key, _, value = argv[2].partition("=")
            if key not in self.sysctls:
                return Completed(argv, 255, b"", b"sysctl: cannot stat")
            self.sysctls[key] = value
            return Completed(argv, 0, f"{key} = {value}\n".encode(), b"")
        return Completed(argv, 1, b"", b"fake sysctl: unsupported")

    def _plugin(self, call: Call) -> Completed:
        kind, command, env, conf = call.plugin, call.command, call.env, call.stdin or {}
        if (kind, command) in self.fail:
            rc, out = self.fail[(kind, command)]
            body = json.dumps(out) if isinstance(out, dict) else out
            return Completed(call.argv, rc, body.encode(), b"plugin stderr")
        if command == "VERSION":
            return _json(call, {"cniVersion": "1.0.0", "supportedVersions": self.versions})
        key = f"{env['CNI_CONTAINERID']}/{env['CNI_IFNAME']}"
        if kind == "loopback":
            if command == "ADD":
                return _json(
                    call,
                    {
                        "cniVersion": conf["cniVersion"],
                        "interfaces": [{"name": "lo", "sandbox": env["CNI_NETNS"]}],
                        "ips": [{"interface": 0, "address": "127.0.0.1/8"}],
                    },
                )
            return _json(call, None)
        if kind == "bridge":
            return self._bridge(call, key, conf)
        if kind == "portmap":
            if command == "ADD":
                assert "prevResult" in conf, "portmap needs prevResult"
                self.port_maps[key] = (conf.get("runtimeConfig") or {}).get("portMappings", [])
                return _json(call, conf["prevResult"])
            if command == "DEL":
                self.port_maps.pop(key, None)
            return _json(call, None)
        return Completed(
            call.argv, 1, json.dumps({"code": 999, "msg": f"unknown plugin {kind}"}).encode(), b""
        )

    def _bridge(self, call: Call, key: str, conf: dict) -> Completed:
        command, env = call.command, call.env
        subnet = ipaddress.ip_network(conf["ipam"]["ranges"][0][0]["subnet"])
        if command == "ADD":
            used = set(self.leases.values())
            for host in list(subnet.hosts())[1:]:
                if str(host) not in used:
                    break
            else:
                return Completed(
                    call.argv,
                    1,
                    json.dumps(
                        {
                            "code": 999,
                            "msg": f"failed to allocate for range 0: no IP addresses available in range set: {subnet}",
                        }
                    ).encode(),
                    b"",
                )
            self.leases[key] = str(host)
            return _json(
                call,
                {
                    "cniVersion": conf["cniVersion"],
                    "interfaces": [
                        {"name": conf["bridge"], "mac": "aa:aa:aa:aa:aa:aa"},
                        {"name": "veth" + env["CNI_CONTAINERID"][:8], "mac": "bb:bb:bb:bb:bb:bb"},
                        {"name": env["CNI_IFNAME"], "mac": "cc:cc:cc:cc:cc:cc", "sandbox": env["CNI_NETNS"]},
                    ],
                    "ips": [
                        {
                            "interface": 2,
                            "address": f"{host}/{subnet.prefixlen}",
                            "gateway": str(subnet.network_address + 1),
                        }
                    ],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dns": {},
                },
            )
        if command == "DEL":
            self.leases.pop(key, None)
            return _json(call, None)
        if command == "CHECK":
            if key not in self.leases or "prevResult" not in conf:
                return Completed(call.argv, 1, json.dumps({"code": 999, "msg": "no lease"}).encode(), b"")
            return _json(call, None)
        return Completed(call.argv, 1, b"", b"unsupported")


def touch(path: str) -> None:
    """A plain file where a namespace would be (a stale entry, or a fake namespace)."""
    open(path, "w").close()


def _json(call: Call, obj: Any) -> Completed:
    return Completed(call.argv, 0, json.dumps(obj).encode() if obj is not None else b"", b"")
