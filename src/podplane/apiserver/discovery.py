"""Discovery documents: legacy (/api, /apis, /apis/<g>, per group-version) and aggregated.

Everything is derived from the `Registry`, so custom resources appear as soon as
their CRD is registered. kubectl asks for the aggregated form
(`application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`) and then
makes no per-group-version requests; `kubectl auth can-i` and the Python client's
DynamicClient still use the legacy per-group-version lists.
"""

from __future__ import annotations

import hashlib

from podplane.api.registry import REVIEW_GROUPS, Registry, ResourceInfo

__all__ = [
    "AGGREGATED_CONTENT_TYPE",
    "aggregated",
    "api_group",
    "api_group_list",
    "api_resource_list",
    "api_versions",
    "wants_aggregated",
]

AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str | None) -> bool:
    if not accept:
        return False
    first = accept.split(",")[0]
    return "as=APIGroupDiscoveryList" in first and "g=apidiscovery.k8s.io" in first and "v=v2" in first


def api_versions(server_address: str) -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group_entry(group: str, versions: list[str]) -> dict:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list(registry: Registry) -> dict:
    groups = [_group_entry(g, vs) for g, vs in registry.groups().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, group: str) -> dict | None:
    versions = registry.groups().get(group)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, versions)}


def _singular(info: ResourceInfo) -> str:
    # metrics-server's resources declare an empty singular name (kubectl then guesses podmetrics)
    return "" if info.handler else info.singular


def _storage_hash(info: ResourceInfo) -> str:
    import base64

    digest = hashlib.sha256(f"{info.group}/{info.storage_version}/{info.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def api_resource_list(registry: Registry, group: str, version: str) -> dict | None:
    infos = registry.resources_in(group, version)
    if not infos:
        return None
    resources = []
    for info in infos:
        entry = {"name": info.plural, "singularName": _singular(info), "namespaced": info.namespaced,
                 "kind": info.kind, "verbs": list(info.verbs)}
        if info.short_names:
            entry["shortNames"] = list(info.short_names)
        if info.categories:
            entry["categories"] = list(info.categories)
        if group not in REVIEW_GROUPS and not info.handler:
            entry["storageVersionHash"] = _storage_hash(info)
        resources.append(entry)
        for sub in info.subresources:
            sub_entry = {"name": f"{info.plural}/{sub.name}", "singularName": "", "namespaced": info.namespaced,
                         "kind": sub.kind or info.kind, "verbs": list(sub.verbs)}
            if sub.group is not None and (sub.group, sub.version) != (group, version):
                sub_entry["group"] = sub.group
                sub_entry["version"] = sub.version
            resources.append(sub_entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources}


def _aggregated_resource(info: ResourceInfo) -> dict:
    entry: dict = {
        "resource": info.plural,
        "responseKind": {"group": info.group, "version": info.version, "kind": info.kind},
        "scope": "Namespaced" if info.namespaced else "Cluster",
        "singularResource": _singular(info),
        "verbs": list(info.verbs),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    subs = []
    for sub in info.subresources:
        subs.append({
            "subresource": sub.name,
            "responseKind": {"group": info.group if sub.group is None else sub.group,
                             "version": sub.version or info.version, "kind": sub.kind or info.kind},
            "verbs": list(sub.verbs),
        })
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated(registry: Registry, core: bool) -> dict:
    """The aggregated discovery list for /api (core=True) or /apis (core=False)."""
    items = []
    for group, versions in registry.groups().items():
        if bool(group) == core:
            continue
        metadata = {"name": group, "creationTimestamp": None} if group else {"creationTimestamp": None}
        item = {"metadata": metadata, "versions": []}
        for version in versions:
            resources = [_aggregated_resource(i) for i in registry.resources_in(group, version)]
            item["versions"].append({"version": version, "resources": resources, "freshness": "Current"})
        items.append(item)
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
            "items": items}
