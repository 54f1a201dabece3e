"""Backend and client programs for the proxy integration tests and bench/proxy.py.

Run inside a test-owned network namespace (`ip netns exec NS python netprobe.py ...`):

    serve NAME          TCP 8080: answers "NAME PEER-IP" and closes; TCP 8081: echoes
                        "NAME PEER-IP LINE" per line; UDP 5353: answers "NAME PEER-IP";
                        HTTP 8090: a minimal HTTP/1.0 server (for the benchmark).
                        Prints "ready" once listening.
    tcp IP PORT N [TIMEOUT]        N connections, one after the other
    udp IP PORT N SPORT [TIMEOUT]  N datagrams from one source port (one conntrack flow)
    hold IP PORT        one echo connection; a line on stdin is sent, the answer printed
    http IP PORT SECONDS CONCURRENCY   requests/s, a new connection per request

Results are JSON on stdout: a list of {"name", "peer"} or {"error", "errno", "ms"}.
"""

from __future__ import annotations

import asyncio
import errno as errnos
import json
import socket
import sys
import time


def serve(name: str) -> None:
    async def oneshot(reader, writer):
        writer.write(f"{name} {writer.get_extra_info('peername')[0]}\n".encode())
        await writer.drain()
        writer.close()

    async def echo(reader, writer):
        peer = writer.get_extra_info("peername")[0]
        while line := await reader.readline():
            writer.write(f"{name} {peer} {line.decode().strip()}\n".encode())
            await writer.drain()
        writer.close()

    body = f"{name}\n".encode()

    async def http(reader, writer):
        try:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
            await writer.drain()
        finally:
            writer.close()

    class Udp(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            self.transport.sendto(f"{name} {addr[0]}".encode(), addr)

    async def main():
        loop = asyncio.get_running_loop()
        servers = [await asyncio.start_server(oneshot, "0.0.0.0", 8080, backlog=512),
                   await asyncio.start_server(echo, "0.0.0.0", 8081),
                   await asyncio.start_server(http, "0.0.0.0", 8090, backlog=1024)]
        await loop.create_datagram_endpoint(Udp, local_addr=("0.0.0.0", 5353))
        print("ready", flush=True)
        async with servers[0]:
            await asyncio.Event().wait()

    asyncio.run(main())


def _error(e: OSError, start: float) -> dict:
    code = e.errno if e.errno is not None else (errnos.ETIMEDOUT if isinstance(e, TimeoutError) else None)
    return {"error": type(e).__name__, "errno": errnos.errorcode.get(code, str(code)),
            "ms": round((time.monotonic() - start) * 1e3, 1)}


def tcp(ip: str, port: int, n: int, timeout: float) -> list[dict]:
    out = []
    for _ in range(n):
        start = time.monotonic()
        try:
            with socket.create_connection((ip, port), timeout=timeout) as s:
                data = b""
                while not data.endswith(b"\n"):
                    chunk = s.recv(256)
                    if not chunk:
                        break
                    data += chunk
            words = data.decode().split()
            out.append({"name": words[0], "peer": words[1]} if len(words) >= 2 else {"error": "short read"})
        except OSError as e:
            out.append(_error(e, start))
    return out


def udp(ip: str, port: int, n: int, sport: int, timeout: float) -> list[dict]:
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", sport))
        s.settimeout(timeout)
        for i in range(n):
            start = time.monotonic()
            try:
                s.sendto(f"ping {i}".encode(), (ip, port))
                data, _ = s.recvfrom(256)
                words = data.decode().split()
                out.append({"name": words[0], "peer": words[1]})
            except OSError as e:
                out.append(_error(e, start))
    return out


def hold(ip: str, port: int) -> None:
    with socket.create_connection((ip, port), timeout=5) as s:
        reader = s.makefile("r")
        print("connected", flush=True)
        for line in sys.stdin:
            s.sendall(line.encode())
            print(reader.readline().strip(), flush=True)


def http(ip: str, port: int, seconds: float, concurrency: int) -> dict:
    request = f"GET / HTTP/1.0\r\nHost: {ip}\r\n\r\n".encode()

    async def worker(deadline: float, counts: dict) -> None:
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection(ip, port)
                writer.write(request)
                await writer.drain()
                data = await reader.read()
                writer.close()
                counts["ok" if data.startswith(b"HTTP/1.0 200") else "bad"] += 1
            except OSError:
                counts["errors"] += 1

    async def main() -> dict:
        counts = {"ok": 0, "bad": 0, "errors": 0}
        start = time.monotonic()
        await asyncio.gather(*(worker(start + seconds, counts) for _ in range(concurrency)))
        elapsed = time.monotonic() - start
        return {**counts, "seconds": round(elapsed, 3), "rps": round(counts["ok"] / elapsed, 1)}

    return asyncio.run(main())


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "serve":
        serve(argv[1])
    elif mode == "tcp":
        print(json.dumps(tcp(argv[1], int(argv[2]), int(argv[3]), float(argv[4]) if len(argv) > 4 else 2.0)))
    elif mode == "udp":
        print(json.dumps(udp(argv[1], int(argv[2]), int(argv[3]), int(argv[4]),
                             float(argv[5]) if len(argv) > 5 else 1.0)))
    elif mode == "hold":
        hold(argv[1], int(argv[2]))
    elif mode == "http":
        print(json.dumps(http(argv[1], int(argv[2]), float(argv[3]), int(argv[4]))))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv[1:])
