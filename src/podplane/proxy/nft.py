"""Applying a `rules.Ruleset` to the kernel: one atomic `nft -f -` transaction.

`apply(ruleset)` feeds nft one file:

    table ip podplane {}            create it if missing, so the delete cannot fail
    delete table ip podplane        drop every old chain, map, set and rule
    table ip podplane { ... }       the complete new definition
    table ip podplane { chain sync-info { comment "sha256:<digest>" } }
    add element ip podplane affinity-... { <client> timeout Ns expires Ms }   (kept entries)

nft commits a file as one transaction, so packets see either the old or the new table,
never a mix, and established flows keep their conntrack NAT bindings. (A plain reload of
a table file would ADD to the existing table.) A failure raises `CommandFailed` with
nft's stderr and leaves the old table in place.

`installed_digest` reads the digest back (a restarted proxy with unchanged state then
leaves the kernel alone); `affinity_entries` reads the ClientIP affinity entries so a
reload keeps sessions sticky; `delete_table` removes the table (idempotent).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Mapping, Sequence

from podplane.proxy._command import DEFAULT_TIMEOUT, CommandFailed, Runner, check, run
from podplane.proxy.rules import FAMILY, Ruleset

__all__ = ["AffinityEntries", "affinity_entries", "apply", "delete_table", "installed_digest", "transaction"]

log = logging.getLogger(__name__)

AffinityEntries = Mapping[str, Sequence[tuple[str, int]]]
"""Affinity set name → [(client IP, seconds until it expires)]."""

SYNC_INFO_CHAIN = "sync-info"
_DIGEST = re.compile(r'comment "sha256:([0-9a-f]{64})"')
_MISSING = ("No such file or directory", "does not exist")


def transaction(ruleset: Ruleset, keep: AffinityEntries | None = None) -> str:
    """The nft input that replaces the table with `ruleset` (see the module docstring)."""
    t = f"{FAMILY} {ruleset.table}"
    lines = [f"table {t} {{}}", f"delete table {t}", ruleset.text.rstrip("\n"),
             f'table {t} {{\n\tchain {SYNC_INFO_CHAIN} {{\n\t\tcomment "sha256:{ruleset.digest}"\n\t}}\n}}']
    for name, entries in sorted((keep or {}).items()):
        timeout = ruleset.affinity_sets.get(name)
        if not timeout:
            continue  # the endpoint or the affinity is gone
        items = [f"{ip} timeout {timeout}s expires {max(1, min(int(expires), timeout))}s"
                 for ip, expires in entries if expires > 0 and _is_ipv4(ip)]
        if items:
            lines.append(f"add element {t} {name} {{ {', '.join(items)} }}")
    return "\n".join(lines) + "\n"


def _is_ipv4(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 4
    except ValueError:
        return False


async def apply(ruleset: Ruleset, *, keep: AffinityEntries | None = None, runner: Runner = run,
                time_limit: float = DEFAULT_TIMEOUT) -> None:
    """Replace the table atomically; `CommandFailed` (nft's stderr) leaves the old one."""
    check(await runner(("nft", "-f", "-"), input=transaction(ruleset, keep).encode(), time_limit=time_limit))


async def delete_table(table: str, *, runner: Runner = run) -> None:
    """Remove the table if it exists (create-then-delete in one transaction: never 'not found')."""
    text = f"table {FAMILY} {table} {{}}\ndelete table {FAMILY} {table}\n"
    check(await runner(("nft", "-f", "-"), input=text.encode()))


async def installed_digest(table: str, *, runner: Runner = run) -> str | None:
    """The digest of the ruleset the table was last replaced with; None if there is none."""
    done = await runner(("nft", "list", "chain", FAMILY, table, SYNC_INFO_CHAIN))
    if done.returncode != 0:
        if any(m in done.error_text() for m in _MISSING):
            return None
        check(done)
    m = _DIGEST.search(done.text())
    return m.group(1) if m else None


async def affinity_entries(table: str, *, prefix: str = "affinity-", runner: Runner = run) -> dict[str, list]:
    """The live entries of the table's affinity sets ({} when the table does not exist)."""
    done = await runner(("nft", "-j", "list", "sets", "table", FAMILY, table))
    if done.returncode != 0:
        if any(m in done.error_text() for m in _MISSING):
            return {}
        check(done)
    try:
        doc = json.loads(done.text() or "{}")
    except ValueError as e:
        raise CommandFailed(done.argv, 0, f"cannot parse nft's JSON: {e}") from e
    out: dict[str, list] = {}
    for item in doc.get("nftables") or ():
        s = item.get("set") if isinstance(item, dict) else None
        # nft 1.0.6 lists the sets of every ip table here, whatever the table argument says
        if not s or s.get("table") != table or not str(s.get("name", "")).startswith(prefix):
            continue
        entries = []
        for elem in s.get("elem") or ():
            # {"elem": {"val": "10.0.0.1", "expires": 4999}}; a bare address has no expiry
            if isinstance(elem, dict) and isinstance(elem.get("elem"), dict):
                val, expires = elem["elem"].get("val"), elem["elem"].get("expires", 0)
                if isinstance(val, str) and int(expires or 0) > 0:
                    entries.append((val, int(expires)))
        if entries:
            out[s["name"]] = entries
    return out
