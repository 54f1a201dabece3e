"""`FakeHost`: a `Runner` that answers nft, ip and conntrack like a node would, in memory.

Unit tests of the proxier pass it as `runner=`. It records every call in `calls` as
(argv, stdin text), keeps the tables the transactions defined (by the digest in their
`sync-info` chain, with the affinity entries of `affinity`), the proxy's routes, the
service-CIDR route type and a list of UDP conntrack flows, and fails the next call of a
program given to `fail_next(program, stderr)`. It understands exactly the commands the
proxy modules issue, and answers anything else with status 1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from podplane.proxy._command import DEFAULT_TIMEOUT, Completed
from podplane.proxy.conntrack import Flow

__all__ = ["FakeHost"]


class FakeHost:
    def __init__(self, *, service_route: str = "unreachable", devices: Sequence[str] = ("podplane0",)) -> None:
        self.calls: list[tuple[tuple[str, ...], str]] = []
        self.tables: dict[str, str] = {}
        """table name → digest (or "" for a table without sync-info)."""
        self.transactions: list[str] = []
        self.affinity: dict[str, dict[str, list[tuple[str, int]]]] = {}
        self.routes: dict[str, str] = {}
        """the proxy's routes: IP → device."""
        self.service_route = service_route
        self.devices = set(devices)
        self.flows: list[Flow] = []
        self._failures: dict[str, list[str]] = {}

    def fail_next(self, program: str, stderr: str = "Error: injected failure") -> None:
        self._failures.setdefault(program, []).append(stderr)

    def programs(self) -> list[str]:
        """`nft -f`, `ip -batch`, ... for each call, in order."""
        return [" ".join(argv[:2]) for argv, _ in self.calls]

    async def __call__(self, argv: Sequence[str], *, input: bytes | None = None,
                       time_limit: float = DEFAULT_TIMEOUT) -> Completed:
        argv = tuple(argv)
        text = input.decode() if input is not None else ""
        self.calls.append((argv, text))
        pending = self._failures.get(argv[0])
        if pending:
            return Completed(argv, 1, b"", pending.pop(0).encode())
        handler = {"nft": self._nft, "ip": self._ip, "conntrack": self._conntrack}.get(argv[0])
        if handler is None:
            return Completed(argv, 127, b"", f"{argv[0]}: not faked".encode())
        code, out, err = handler(argv, text)
        return Completed(argv, code, out.encode(), err.encode())

    # -- nft ---------------------------------------------------------------------------
    def _nft(self, argv: tuple[str, ...], text: str) -> tuple[int, str, str]:
        missing = "Error: No such file or directory\n"
        if argv[1:] == ("-f", "-"):
            self.transactions.append(text)
            current = ""
            for line in text.splitlines():  # in order, as nft runs the transaction
                if m := re.match(r"^table ip (\S+) \{", line):
                    current = m.group(1)
                    self.tables.setdefault(current, "")
                elif m := re.match(r"^delete table ip (\S+)$", line):
                    self.tables.pop(m.group(1), None)
                    self.affinity.pop(m.group(1), None)
                elif m := re.search(r'^\s*comment "sha256:([0-9a-f]+)"', line):
                    self.tables[current] = m.group(1)
                elif m := re.match(r"^add element ip (\S+) (\S+) \{ (.*) \}$", line):
                    for item in m.group(3).split(", "):
                        words = item.split()
                        self.affinity.setdefault(m.group(1), {}).setdefault(m.group(2), []).append(
                            (words[0], int(words[words.index("expires") + 1].rstrip("s"))))
            return 0, "", ""
        if argv[1:3] == ("list", "chain"):
            table = argv[4]
            if table not in self.tables:
                return 1, "", missing
            return 0, (f'table ip {table} {{\n\tchain sync-info {{\n\t\tcomment "sha256:{self.tables[table]}"\n'
                       f"\t}}\n}}\n"), ""
        if argv[1:4] == ("-j", "list", "sets"):
            table = argv[-1]
            if table not in self.tables:
                return 1, "", missing
            sets = [{"set": {"family": "ip", "table": table, "name": name, "type": "ipv4_addr",
                             "elem": [{"elem": {"val": ip, "expires": exp}} for ip, exp in entries]}}
                    for name, entries in self.affinity.get(table, {}).items()]
            return 0, json.dumps({"nftables": [{"metainfo": {"version": "1.0.6"}}, *sets]}), ""
        return 1, "", "Error: syntax error (not faked)\n"

    # -- ip ----------------------------------------------------------------------------
    def _ip(self, argv: tuple[str, ...], text: str) -> tuple[int, str, str]:
        if argv[1:] == ("-batch", "-"):
            for n, line in enumerate(text.splitlines(), 1):
                words = line.split()
                ip = words[2].removesuffix("/32")
                if words[:2] == ["route", "replace"]:
                    device = words[words.index("dev") + 1]
                    if device not in self.devices:
                        return 1, "", f'Cannot find device "{device}"\nCommand failed -:{n}\n'
                    self.routes[ip] = device
                elif words[:2] == ["route", "del"]:
                    if self.routes.pop(ip, None) is None:
                        return 1, "", f"RTNETLINK answers: No such process\nCommand failed -:{n}\n"
            return 0, "", ""
        if "proto" in argv and argv[1:4] == ("-4", "route", "show"):
            return 0, "".join(f"{ip} dev {dev} scope link \n" for ip, dev in sorted(self.routes.items())), ""
        if "exact" in argv:
            cidr = argv[argv.index("exact") + 1]
            return 0, f"{self.service_route} {cidr} \n" if self.service_route else "", ""
        return 1, "", "not faked\n"

    # -- conntrack ---------------------------------------------------------------------
    def _conntrack(self, argv: tuple[str, ...], text: str) -> tuple[int, str, str]:
        if argv[1:] == ("-L", "-p", "udp"):
            lines = [f"udp      17 29 src={f.orig_src} dst={f.orig_dst} sport={f.orig_sport} dport={f.orig_dport} "
                     f"src={f.reply_src} dst={f.orig_src} sport={f.reply_sport} dport={f.orig_sport} mark=0 use=1"
                     for f in self.flows]
            return 0, "\n".join(lines) + ("\n" if lines else ""), f"{len(lines)} flow entries have been shown.\n"
        if argv[1] == "-D":
            opts = dict(zip(argv[4::2], argv[5::2], strict=False))
            keep = [f for f in self.flows if not (
                f.orig_dst == opts["--orig-dst"] and str(f.orig_dport) == opts["--orig-port-dst"]
                and f.reply_src == opts["--reply-src"])]
            deleted = len(self.flows) - len(keep)
            self.flows = keep
            msg = f"conntrack v1.4.7 (conntrack-tools): {deleted} flow entries have been deleted.\n"
            return (0 if deleted else 1), "", msg
        return 1, "", "not faked\n"
