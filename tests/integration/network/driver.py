"""Runs one `PodNetwork` operation inside a test-owned "host" network namespace.

The integration tests start it as
    nsenter --net=/var/run/netns/ppt-host-<id> -- python driver.py '<json request>'
so everything PodNetwork does (the bridge, veths, routes, sysctls, iptables rules of
the CNI plugins) lands in that namespace, never in the real host's. Each call is a new
process with a new PodNetwork over the same data dir: every call is an agent restart.
It refuses to run in the network namespace of the test process or of PID 1.
Prints one JSON object: {"ok": result} or {"error": type, "message": text}.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
import time


def _refuse_host_namespace(forbidden: str) -> None:
    mine = os.readlink("/proc/self/ns/net")
    host = {forbidden}
    try:
        host.add(os.readlink("/proc/1/ns/net"))
    except OSError:
        pass  # not readable in every sandbox; the test process's namespace is the one that matters
    if mine in host:
        print(json.dumps({"error": "Unsafe", "message": f"driver is in a host network namespace ({mine})"}))
        sys.exit(3)


async def _main(req: dict) -> object:
    from podplane.agent.network import NetworkError, PodNetwork, PortMapping

    net = PodNetwork(req["data_dir"], pod_cidr=req.get("pod_cidr", ""), netns_prefix=req["prefix"])
    op = req["op"]
    try:
        if op == "prepare":
            return await net.prepare_host(req["service_cidr"], req.get("pod_cidr") or None)
        if op == "setup":
            ports = [PortMapping(**p) for p in req.get("ports", [])]
            return await net.setup(req["uid"], req["name"], req["namespace"], ports)
        if op == "setup_many":  # concurrently, as independent pod workers would

            async def one(uid: str) -> dict:
                start = time.monotonic()
                sandbox = await net.setup(uid, uid, "default")
                return {"ip": sandbox.ip, "seconds": time.monotonic() - start}

            results = await asyncio.gather(*(one(uid) for uid in req["uids"]))
            return dict(zip(req["uids"], results, strict=True))
        if op == "teardown_many":
            await asyncio.gather(*(net.teardown(uid) for uid in req["uids"]))
            return None
        if op == "teardown":
            return await net.teardown(req["uid"])
        if op == "status":
            return await net.status(req["uid"])
        if op == "check":
            return await net.check(req["uid"])
        if op == "adopt":
            return await net.adopt()
        if op == "gc":
            return await net.gc(req["keep"])
    except NetworkError as e:
        return {"__error__": type(e).__name__, "message": str(e)}
    raise SystemExit(f"unknown op {op}")


def main() -> None:
    req = json.loads(sys.argv[1])
    _refuse_host_namespace(req["forbidden_netns"])
    result = asyncio.run(_main(req))
    if isinstance(result, dict) and "__error__" in result:
        print(json.dumps({"error": result["__error__"], "message": result["message"]}))
        sys.exit(1)

    def encode(o: object) -> object:
        if dataclasses.is_dataclass(o):
            return dataclasses.asdict(o)
        if isinstance(o, dict):
            return {k: encode(v) for k, v in o.items()}
        return o

    print(json.dumps({"ok": encode(result)}, default=str))


if __name__ == "__main__":
    main()
